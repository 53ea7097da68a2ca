#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests (never for real data: fsync is off, auth is trust).
#
#   scripts/pg_cluster.sh start DIR [PORT]   initdb DIR/data if needed, start it, print its URL
#   scripts/pg_cluster.sh stop  DIR          stop it (fast mode); nothing to do if it is stopped
#   scripts/pg_cluster.sh url   DIR [PORT]   print the admin SQLAlchemy URL
#
# The URL is postgresql+psycopg://postgres@127.0.0.1:PORT/postgres (superuser "postgres", no
# password: trust authentication on 127.0.0.1 and on the socket directory DIR/sock). PORT
# defaults to 54329. Both commands are idempotent. The server binaries are found with
# `pg_config --bindir`, else in the highest /usr/lib/postgresql/*/bin, else on the PATH
# (override with PG_BINDIR=...). PostgreSQL refuses to run as root: as root, initdb and pg_ctl
# run as the user "postgres" when it exists, else as a system user "cartosoins-pg" created
# here (PG_CLUSTER_USER=name picks another one); DIR is given to that user and its parent
# folders made traversable (o+x).
# Files: DIR/data (cluster), DIR/sock (socket), DIR/log/postgres.log (server log).
set -euo pipefail

usage() {
  echo "usage: $0 start|stop|url DIR [PORT]" >&2
  exit 2
}

[ $# -ge 2 ] || usage
cmd=$1
dir=$2
port_arg=${3:-}
port=${port_arg:-54329}
case "$cmd" in start | stop | url) ;; *) usage ;; esac
case "$port" in '' | *[!0-9]*) echo "pg_cluster: PORT must be a number, got '$port'" >&2 && exit 2 ;; esac
superuser=postgres

mkdir -p "$dir"
dir=$(cd "$dir" && pwd -P)
data=$dir/data
sock=$dir/sock
log=$dir/log/postgres.log

find_bindir() {
  if [ -n "${PG_BINDIR:-}" ]; then
    echo "$PG_BINDIR"
    return
  fi
  local candidate
  if command -v pg_config >/dev/null 2>&1; then
    candidate=$(pg_config --bindir 2>/dev/null || true)
    if [ -n "$candidate" ] && [ -x "$candidate/initdb" ] && [ -x "$candidate/pg_ctl" ]; then
      echo "$candidate"
      return
    fi
  fi
  candidate=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null |
    sort -t/ -k5,5n | tail -n 1 || true)
  if [ -n "$candidate" ] && [ -x "$candidate/initdb" ]; then
    echo "$candidate"
    return
  fi
  candidate=$(command -v initdb 2>/dev/null || true)
  if [ -n "$candidate" ]; then
    dirname "$candidate"
    return
  fi
  echo "pg_cluster: PostgreSQL server binaries (initdb, pg_ctl) not found; install them" \
    "(Debian: apt-get install postgresql) or set PG_BINDIR" >&2
  exit 3
}

# the user that runs the server, and how to run a command as that user
run_as=()
owner=$(id -un)
if [ "$(id -u)" = "0" ]; then
  if [ -n "${PG_CLUSTER_USER:-}" ]; then
    owner=$PG_CLUSTER_USER
  elif id -u postgres >/dev/null 2>&1; then
    owner=postgres
  else
    owner=cartosoins-pg
  fi
  if ! id -u "$owner" >/dev/null 2>&1; then
    # two scripts may race to create it: the loser finds it made
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
      "$owner" 2>/dev/null || id -u "$owner" >/dev/null
  fi
  run_as=(runuser -u "$owner" --)
fi

as_owner() {
  if [ ${#run_as[@]} -gt 0 ]; then
    "${run_as[@]}" "$@"
  else
    "$@"
  fi
}

# port of the running server (postmaster.pid, line 4), else the one asked, else the last one
# started (DIR/port), else the default
print_url() {
  local p=
  if [ -f "$data/postmaster.pid" ]; then
    p=$(sed -n 4p "$data/postmaster.pid" 2>/dev/null || true)
  fi
  if [ -z "$p" ] && [ -z "$port_arg" ] && [ -f "$dir/port" ]; then
    p=$(cat "$dir/port")
  fi
  echo "postgresql+psycopg://$superuser@127.0.0.1:${p:-$port}/postgres"
}

is_running() {
  [ -f "$data/PG_VERSION" ] && as_owner "$bindir/pg_ctl" status -D "$data" >/dev/null 2>&1
}

case "$cmd" in
  url)
    print_url
    exit 0
    ;;
  stop)
    if [ ! -f "$data/PG_VERSION" ]; then
      exit 0
    fi
    bindir=$(find_bindir)
    if is_running; then
      as_owner "$bindir/pg_ctl" stop -D "$data" -m fast -w -t 60 >/dev/null
    fi
    exit 0
    ;;
esac

# start
bindir=$(find_bindir)
socket_path="$sock/.s.PGSQL.$port"
if [ ${#socket_path} -gt 100 ]; then
  echo "pg_cluster: socket path $socket_path is too long for a Unix socket; use a shorter DIR" >&2
  exit 2
fi

mkdir -p "$sock" "$dir/log"
if [ ${#run_as[@]} -gt 0 ]; then
  chown -R "$owner" "$dir"
  # the server user must reach DIR: let it traverse (not list) every parent folder
  parent=$(dirname "$dir")
  while [ "$parent" != "/" ]; do
    if ! as_owner test -x "$parent"; then
      echo "pg_cluster: making $parent traversable (o+x) for the user $owner" >&2
      chmod o+x "$parent"
    fi
    parent=$(dirname "$parent")
  done
fi
chmod 700 "$dir"

if is_running; then
  print_url
  exit 0
fi

if [ ! -f "$data/PG_VERSION" ]; then
  rm -rf "$data"
  locale=C
  if locale -a 2>/dev/null | grep -qix 'c\.utf-\?8'; then
    locale=C.UTF-8
  fi
  as_owner "$bindir/initdb" -D "$data" -U "$superuser" --auth=trust -E UTF8 \
    --locale="$locale" --no-sync >"$dir/log/initdb.log" 2>&1 || {
    cat "$dir/log/initdb.log" >&2
    echo "pg_cluster: initdb failed (log above)" >&2
    exit 1
  }
  cat >>"$data/postgresql.conf" <<'EOF'

# --- scripts/pg_cluster.sh: a throwaway test cluster, speed over durability ---
include_if_exists = 'cartosoins.conf'
EOF
fi

# settings rewritten at every start (the port may change)
echo "$port" >"$dir/port"
as_owner tee "$data/cartosoins.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sock'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 32MB
max_wal_size = 1GB
log_min_messages = warning
EOF

if ! as_owner "$bindir/pg_ctl" start -D "$data" -l "$log" -w -t 60 >/dev/null 2>&1; then
  tail -n 30 "$log" >&2 || true
  echo "pg_cluster: the server did not start (log: $log)" >&2
  exit 1
fi
if command -v "$bindir/pg_isready" >/dev/null 2>&1; then
  for _ in $(seq 1 50); do
    "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -d postgres && break
    sleep 0.1
  done
fi
print_url
