# syntax=docker/dockerfile:1
# Airlock in a container: `docker build -t airlock .` then
#   docker run -v /etc/airlock:/etc/airlock:ro -v airlock-state:/var/lib/airlock \
#     -p 6432:6432 -p 2222:2222 -p 8080:8080 airlock
# The config must listen on 0.0.0.0 (container ports) and keep state in /var/lib/airlock.
# See docs/operations.md ("Docker").

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- builder: compilers and headers; builds the venv exactly as `make .venv` does --------
FROM ${PYTHON_IMAGE} AS builder
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends build-essential libldap2-dev libsasl2-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/airlock
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY protocols ./protocols
# The Makefile's `.venv` recipe, minus the test extras (no test tools in the image).
RUN python3 -m venv .venv \
 && .venv/bin/pip install -q --upgrade pip \
 && .venv/bin/pip install -q '.[ldap]' \
 && .venv/bin/airlock --help >/dev/null

# --- runtime: only the shared libraries python-ldap links against -------------------------
FROM ${PYTHON_IMAGE} AS runtime
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends libldap-2.5-0 libsasl2-2 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system airlock \
 && useradd --system --gid airlock --home-dir /var/lib/airlock --shell /usr/sbin/nologin airlock \
 && install -d -o airlock -g airlock -m 0700 /var/lib/airlock \
 && install -d -o root -g airlock -m 0750 /etc/airlock
COPY --from=builder /opt/airlock/.venv /opt/airlock/.venv
ENV PATH=/opt/airlock/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER airlock
WORKDIR /var/lib/airlock
VOLUME ["/var/lib/airlock"]
EXPOSE 6432 2222 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/opt/airlock/.venv/bin/python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/opt/airlock/.venv/bin/airlock", "serve"]
CMD ["--config", "/etc/airlock/airlock.toml"]
