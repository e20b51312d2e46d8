# The README's two commands: `make run` and `make test`. `make .venv` builds the env alone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STATE ?= .airlock

.PHONY: run test lint check-fast sysdeps bench clean

sysdeps:
	@scripts/sysdeps.sh

$(VENV)/.installed: pyproject.toml
	@scripts/sysdeps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	@# setuptools' editable-install notice is a UserWarning from the build backend: 10 lines
	@# per install that say nothing about this project.
	PYTHONWARNINGS=ignore::UserWarning $(BIN)/pip install -q -e '.[test]'
	@if [ -e /usr/include/ldap.h ] && [ -e /usr/include/sasl/sasl.h ]; then \
	  PYTHONWARNINGS=ignore::UserWarning $(BIN)/pip install -q -e '.[test,ldap]'; \
	else echo "note: libldap2-dev/libsasl2-dev missing; python-ldap not installed" >&2; fi
	@touch $@

.venv: $(VENV)/.installed

run: $(VENV)/.installed
	@STATE=$(STATE) scripts/run.sh

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: sysdeps $(VENV)/.installed lint
	$(BIN)/pytest -q

bench: $(VENV)/.installed
	bench/pg.sh

clean:
	rm -rf $(VENV) $(STATE) .pytest_cache .mypy_cache .ruff_cache
