#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on 127.0.0.1 for the store tests.
#
# Usage (either form):
#   export BEHOLDER_TEST_POSTGRES_URL="$(bash .ci/postgres.sh)"   # prints the URL
#   source .ci/postgres.sh        # exports BEHOLDER_TEST_POSTGRES_URL itself
#
# Installs Debian's postgresql package when no server binaries are found
# (needs root), creates a cluster in $BEHOLDER_PG_DIR (default
# /tmp/beholder-postgres) listening only on 127.0.0.1:$BEHOLDER_PG_PORT
# (default 55432) with a random password, and reuses it when it is already
# running. Stop it with: pg_ctl -D "$BEHOLDER_PG_DIR/data" stop
# Progress goes to stderr; stdout carries only the database URL.

_beholder_pg_main() {
  set -euo pipefail
  local root="${BEHOLDER_PG_DIR:-/tmp/beholder-postgres}"
  local port="${BEHOLDER_PG_PORT:-55432}"
  local data="$root/data"
  local user="beholder"
  local database="beholder_test"

  local bindir
  bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    echo "postgres.sh: installing postgresql with apt-get" >&2
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2
    bindir="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  fi

  # initdb and postgres refuse to run as root; use the package's account.
  local run_as=()
  if [ "$(id -u)" = "0" ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir "$root" postgres
    run_as=(runuser -u postgres --)
  fi

  mkdir -p "$root"
  if [ ! -s "$root/password" ]; then
    (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$root/password")
  fi
  if [ "$(id -u)" = "0" ]; then
    chown -R postgres "$root"
  fi

  if [ ! -f "$data/PG_VERSION" ]; then
    echo "postgres.sh: creating a cluster in $data" >&2
    "${run_as[@]}" "$bindir/initdb" -D "$data" -U "$user" \
      --pwfile="$root/password" --auth-host=scram-sha-256 --auth-local=peer \
      --encoding=UTF8 --locale=C.UTF-8 >&2
  fi

  if ! "${run_as[@]}" "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    echo "postgres.sh: starting the server on 127.0.0.1:$port" >&2
    "${run_as[@]}" "$bindir/pg_ctl" -D "$data" -l "$root/server.log" -w \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $root" start >&2
  fi

  local password
  password="$(cat "$root/password")"
  if ! PGPASSWORD="$password" "$bindir/psql" -h 127.0.0.1 -p "$port" -U "$user" \
      -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$database'" \
      | grep -q 1; then
    PGPASSWORD="$password" "$bindir/createdb" -h 127.0.0.1 -p "$port" -U "$user" "$database" >&2
  fi
  echo "postgresql+psycopg://$user:$password@127.0.0.1:$port/$database"
}

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
  # Sourced: run in a subshell so `set -e` cannot end the caller's shell.
  BEHOLDER_TEST_POSTGRES_URL="$( (_beholder_pg_main) )" && export BEHOLDER_TEST_POSTGRES_URL
  unset -f _beholder_pg_main
else
  _beholder_pg_main
fi
