#!/usr/bin/env bash
# Install the Debian packages Airlock's tests and build need, only those missing.
# Runs apt only as root; otherwise prints what is missing and carries on.
set -euo pipefail
packages=(
  postgresql-15 postgresql-client-15 postgresql-contrib  # real PostgreSQL 15 for tests and `make run`
  libpq5                        # the system libpq: psycopg's pure-Python client in tests (issue 19)
  pgbouncer                     # the incumbent in bench/pg.sh
  openssh-server openssh-client # real sshd upstream and OpenSSH clients for SSH tests
  slapd ldap-utils              # real OpenLDAP for identity tests
  systemd                       # systemd-analyze verify of the unit (tests/test_packaging.py)
  libldap2-dev libsasl2-dev     # to build python-ldap
)
missing=()
for p in "${packages[@]}"; do
  [[ "$p" == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "sysdeps: missing Debian packages (install as root): ${missing[*]}" >&2
  exit 0
fi
echo "sysdeps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Don't let package scripts start system services: tests start their own servers.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
