#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432: starts the local cluster if it is
# down, installs PostgreSQL from the distribution if it is missing.
set -euo pipefail
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  exit 0
fi
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "PostgreSQL is not installed; installing it from the distribution's packages" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
version=$(ls /etc/postgresql | sort -V | tail -n 1)
if [ ! -d "/etc/postgresql/$version/main" ]; then
  pg_createcluster "$version" main >/dev/null
fi
# Depot connects over TCP as 'postgres' without a password (local development only).
hba="/etc/postgresql/$version/main/pg_hba.conf"
if ! grep -q "depot: trust loopback" "$hba"; then
  sed -i '1i host all all 127.0.0.1/32 trust # depot: trust loopback\nhost all all ::1/128 trust # depot: trust loopback' "$hba"
fi
pg_ctlcluster --skip-systemctl-redirect "$version" main start
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p 5432 && exit 0
  sleep 1
done
echo "PostgreSQL did not come up on 127.0.0.1:5432" >&2
exit 1
