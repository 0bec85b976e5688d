# lib.sh — a throwaway PostgreSQL cluster for the central log's tests (sourced by tests/pg/*.sh and
# bench/): Debian's initdb and pg_ctl in a temporary folder, listening on a Unix socket only, run
# as an unprivileged user when the tests run as root (PostgreSQL refuses to run as root; CI runs
# as root): `nobody`. Trust authentication on the socket, which only this folder holds.
# PG_FSYNC=off (the tests: they kill clients and the server, never the machine, so the OS keeps
# what PostgreSQL wrote) makes commits cheap; the default, on, is what the benchmarks measure.
#   pg_start DIR      make and start a cluster in DIR/pg; sets PGBIN, PGSOCK, PGPORT, PG_URL (the
#                     database trmx, made here); fails (non-zero) when it cannot start
#   pg_stop_now       pg_ctl stop -m immediate (a crash, as far as PostgreSQL can tell)
#   pg_restart        start it again after pg_stop_now
#   pg_stop           stop it (fast) for good
#   pg_sql SQL        run SQL with psql on database trmx, unaligned and tuples only
#   pg_newdb NAME     make another database; prints its URL

pg_as() { # run a PostgreSQL program as the cluster's owner
	if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}

pg_start() {
	local dir=$1
	PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
		echo "pg_start: no PostgreSQL server (Debian package postgresql: make deps)" >&2
		return 1
	fi
	PGDIR=$dir/pg
	PGSOCK=$dir/pgsock
	PGPORT=5432
	mkdir -p "$PGDIR" "$PGSOCK" || return 1
	chmod 755 "$dir"
	if [ "$(id -u)" = 0 ]; then chown nobody "$PGDIR" "$PGSOCK" || return 1; fi
	pg_as "$PGBIN/initdb" -D "$PGDIR/data" -U trmx --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
		echo "pg_start: initdb failed:" >&2
		tail -n 20 "$dir/initdb.log" >&2
		return 1
	}
	PG_OPTS="-c listen_addresses= -c unix_socket_directories=$PGSOCK -c port=$PGPORT -c fsync=${PG_FSYNC:-on} -c max_connections=50"
	pg_restart || return 1
	pg_as "$PGBIN/createdb" -h "$PGSOCK" -p "$PGPORT" -U trmx trmx || return 1
	PG_URL="postgresql://trmx@/trmx?host=$PGSOCK&port=$PGPORT"
	export PG_URL
}

pg_restart() {
	pg_as "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -o "$PG_OPTS" -w -t 60 start >/dev/null || {
		echo "pg_start: the server did not start:" >&2
		tail -n 20 "$PGDIR/server.log" >&2
		return 1
	}
}

pg_stop_now() {
	pg_as "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate -w stop >/dev/null
}

pg_stop() {
	[ -n "${PGDIR:-}" ] && [ -d "$PGDIR/data" ] && pg_as "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast -w stop >/dev/null 2>&1
	return 0
}

pg_sql() {
	"$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$PGSOCK" -p "$PGPORT" -U trmx -d "${PGDATABASE_OVERRIDE:-trmx}" -c "$1"
}

pg_newdb() {
	pg_as "$PGBIN/createdb" -h "$PGSOCK" -p "$PGPORT" -U trmx "$1" || return 1
	echo "postgresql://trmx@/$1?host=$PGSOCK&port=$PGPORT"
}
