#!/usr/bin/env bash
# Runs a command with ZITADEL_GATEWAY_TEST_POSTGRES_URL pointing at a PostgreSQL server.
#
#   scripts/with-postgres.sh swift test --skip-build
#
# When the variable is already set (a server of your own), the command just runs. Otherwise this starts a
# throwaway cluster (initdb in a temporary directory, listening on 127.0.0.1 only, on a free port; as the
# `postgres` user when run as root), exports the URL, runs the command, and stops and deletes the cluster on
# exit. Without PostgreSQL's server binaries it runs the command without the variable: the PostgreSQL tests then
# skip locally and fail under CI (where `.ci/run` installs Debian's `postgresql`).
set -euo pipefail

if [[ -n "${ZITADEL_GATEWAY_TEST_POSTGRES_URL:-}" ]]; then
    exec "$@"
fi

bindir=""
for candidate in ${PG_BINDIR:-} $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [[ -x "$candidate/initdb" && -x "$candidate/pg_ctl" ]]; then bindir="$candidate"; break; fi
done
if [[ -z "$bindir" ]] && command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
    bindir="$(dirname "$(command -v initdb)")"
fi
if [[ -z "$bindir" ]]; then
    echo "with-postgres: no PostgreSQL server binaries (initdb, pg_ctl); running without a server" >&2
    exec "$@"
fi

run_as=()
if [[ "$(id -u)" == 0 ]]; then
    if command -v runuser >/dev/null; then run_as=(runuser -u postgres --); else run_as=(su postgres -s /bin/sh -c); fi
fi
# Runs a server command from the data directory (the server's user may not be allowed into the working directory).
as_server() (
    cd "$datadir"
    if [[ ${#run_as[@]} -eq 0 ]]; then
        "$@"
    elif [[ "${run_as[0]}" == runuser ]]; then
        "${run_as[@]}" "$@"
    else
        "${run_as[@]}" "$(printf '%q ' "$@")"
    fi
)

datadir="$(mktemp -d "${TMPDIR:-/tmp}/zitadel-gateway-pg.XXXXXX")"
[[ "$(id -u)" == 0 ]] && chown postgres: "$datadir"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"

stop() {
    as_server "$bindir/pg_ctl" -D "$datadir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$datadir"
}
trap stop EXIT

as_server "$bindir/initdb" -D "$datadir/data" -U gateway --auth=trust -E UTF8 --no-sync >"$datadir/initdb.log" 2>&1 ||
    { cat "$datadir/initdb.log" >&2; exit 1; }
# Loopback only, no Unix socket in a shared directory; small settings for a short test run.
as_server "$bindir/pg_ctl" -D "$datadir/data" -l "$datadir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories='$datadir' -c fsync=off \
        -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null ||
    { cat "$datadir/server.log" >&2; exit 1; }
"$bindir/createdb" -h 127.0.0.1 -p "$port" -U gateway gateway_test

export ZITADEL_GATEWAY_TEST_POSTGRES_URL="postgres://gateway@127.0.0.1:$port/gateway_test?sslmode=disable"
echo "with-postgres: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data in $datadir)"
"$@"
