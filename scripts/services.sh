#!/usr/bin/env bash
# Start the services the tests need, on 127.0.0.1 only: a throwaway PostgreSQL cluster.
# Usage: source scripts/services.sh   (exports AFFAGENT_TEST_POSTGRES_URL)
# Installs PostgreSQL from Debian's packages when it is missing. Safe to run twice.
set -euo pipefail
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PGPORT=${AFFAGENT_PGPORT:-55432}
PGDATA=${AFFAGENT_PGDATA:-/tmp/affagent-pgdata}
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
if [ -z "$pgbin" ] || [ ! -x "$pgbin/pg_ctl" ]; then
  echo "[services] installing PostgreSQL" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >/dev/null
  pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
fi
run_pg() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi
}
if ! run_pg "$pgbin/pg_ctl -D $PGDATA status" >/dev/null 2>&1; then
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    mkdir -p "$PGDATA"
    [ "$(id -u)" = 0 ] && chown postgres "$PGDATA"
    run_pg "$pgbin/initdb -D $PGDATA -U postgres -A trust" >/dev/null
  fi
  # a server killed without shutdown (the end of a previous session) leaves its lock file
  rm -f "$PGDATA/postmaster.pid"
  run_pg "$pgbin/pg_ctl -D $PGDATA -l $PGDATA/log -w -o '-p $PGPORT -k /tmp -h 127.0.0.1' start" >/dev/null
fi
run_pg "$pgbin/psql -h 127.0.0.1 -p $PGPORT -U postgres -tc \"SELECT 1 FROM pg_database WHERE datname='affagent_test'\"" | grep -q 1 \
  || run_pg "$pgbin/createdb -h 127.0.0.1 -p $PGPORT -U postgres affagent_test"
export AFFAGENT_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$PGPORT/affagent_test"
echo "[services] PostgreSQL at $AFFAGENT_TEST_POSTGRES_URL" >&2
