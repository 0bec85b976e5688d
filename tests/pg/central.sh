#!/bin/bash
# central.sh — the central log on PostgreSQL (issue 19): a throwaway cluster started here
# (tests/pg/lib.sh: initdb and pg_ctl, a Unix socket, as `nobody` when run as root), then homes
# pointed at it with `trmx config set log.url`: runs and feedback land there with their host;
# `trmx sql` reads it in a read-only transaction with a time limit; a host with another secret is
# refused; four hosts write 5,000 runs each at once into a fresh database (migrated by whichever
# comes first); the server stopped with `pg_ctl stop -m immediate` in the middle of a load, runs
# keep being accepted into the outbox, and after a restart and `trmx log push` every run that was
# reported committed is there exactly once; `trmx serve` pushes its outbox by itself.
#   tests/pg/central.sh [BUILD]    one line per check (ok - / not ok -), then "N passed, M failed"
# A PostgreSQL that cannot start fails the script (make deps installs Debian's postgresql).
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
case $build in /*) ;; *) build=$root/$build ;; esac
trmx=$build/trmx
. "$root/tests/pg/lib.sh"
# kills of clients and of the server, never of the machine: the OS keeps what PostgreSQL wrote
export PG_FSYNC=off
W=$(mktemp -d "${TMPDIR:-/tmp}/trmx-pg.XXXXXX") || exit 1
bgpids=()
cleanup() {
	local p
	for p in "${bgpids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	pg_stop
	chmod -R u+w "$W" 2>/dev/null # the store is read-only
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0 failed=0
T0=$(date +%s)
ok() { passed=$((passed + 1)); echo "ok - $1 [$(($(date +%s) - T0)) s]"; }
nok() {
	failed=$((failed + 1))
	echo "not ok - $1"
	shift
	local l
	for l in "$@"; do { printf '%s' "$l" | head -c 1500; echo; } | sed 's/^/#   /'; done
}
finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}
die() { nok "$@"; finish; }
# truth NAME eq|ne|ge GOT WANT [DETAIL]
truth() {
	local name=$1 op=$2 got=$3 want=$4 detail=${5:-}
	case $op in
	eq) [ "$got" = "$want" ] ;;
	ne) [ "$got" != "$want" ] ;;
	ge) [ "$got" -ge "$want" ] 2>/dev/null ;;
	esac && ok "$name" || nok "$name" "got:  $got" "want: $op $want" "$detail"
}
wait_until() { # wait_until SECONDS CMD...: true once CMD is
	local n=$(($1 * 10))
	shift
	while [ $n -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}
if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=python3; fi
[ -x "$trmx" ] || die "$trmx is built"

# ---- The cluster ----------------------------------------------------------------------------------

pg_start "$W" >"$W/pg-start.log" 2>&1 || die "a throwaway PostgreSQL cluster starts (initdb, pg_ctl)" "$(cat "$W/pg-start.log")"
ok "a throwaway PostgreSQL cluster starts on a Unix socket ($("$PGBIN/postgres" --version))"
q() { pg_sql "$1" 2>&1; }

# ---- The log's and the analysts' unit tests on PostgreSQL -----------------------------------------------

URLT=$(pg_newdb unit) || die "a database for the unit tests is made"
if [ -x "$build/tests/test_log" ]; then
	TRMX_TEST_LOG_URL=$URLT "$build/tests/test_log" >"$W/test_log.out" 2>&1
	truth "test_log on the central log: appends, retries, reused ids, feedback, views, the secret, SIGKILL mid-load, 4 writers" \
		eq "$? $(grep -c '^\[  PASSED  \] 5 test' "$W/test_log.out") $(grep -c '^\[  FAILED' "$W/test_log.out")" "0 1 0" "$(tail -n 30 "$W/test_log.out")"
else
	nok "$build/tests/test_log is built (make tests)"
fi
URLA=$(pg_newdb analytics) || die "a database for the analysts' unit tests is made"
if [ -x "$build/tests/test_analytics" ]; then
	TRMX_TEST_LOG_URL=$URLA "$build/tests/test_analytics" >"$W/test_analytics.out" 2>&1
	truth "test_analytics on the central log: the report against hand-written SQL, HTML, xAPI, data sets, erase and purge with module databases" \
		eq "$? $(grep -c '^\[  PASSED  \] 8 test' "$W/test_analytics.out") $(grep -c '^\[  FAILED' "$W/test_analytics.out") $(grep -c "^\[  SKIPPED \] test_sql_" "$W/test_analytics.out")" \
		"0 1 0 4" "$(tail -n 30 "$W/test_analytics.out")"
	truth "test_analytics really wrote into the central log" ne "$(PGDATABASE_OVERRIDE=analytics pg_sql 'SELECT count(*) FROM runs')" 0
else
	nok "$build/tests/test_analytics is built (make tests)"
fi

# ---- A home on the central log ----------------------------------------------------------------------

H=$W/h1
{
	"$trmx" pack "$root/modules/sudoku4" -o "$W/s4.trmx" &&
		"$trmx" install -q --home "$H" "$W/s4.trmx" &&
		"$trmx" bind --home "$H" course/unit-1 sudoku4 &&
		"$trmx" gen sudoku --size 4 -n 5000 --seed 19 >"$W/p5k.csv" &&
		head -n 101 "$W/p5k.csv" >"$W/p100.csv" && head -n 6 "$W/p5k.csv" >"$W/p5.csv"
} >"$W/setup.log" 2>&1 || die "a home with sudoku4 and a context is made" "$(tail -n 20 "$W/setup.log")"
P=$(sed -n 2p "$W/p5k.csv" | cut -d, -f1)

"$trmx" config --home "$H" set log.url "$PG_URL" && "$trmx" config --home "$H" set host.id h1
truth "trmx config set log.url, host.id; config.json is mode 0600" eq "$(stat -c %a "$H/config.json")" 600
"$trmx" config --home "$H" set log.url "mysql://x" 2>"$W/err" && nok "a log.url that is not postgresql:// is refused" ||
	truth "a log.url that is not postgresql:// is refused, saying what it must be" eq \
		"$(grep -c 'not a postgresql:// URL' "$W/err")" 1 "$(cat "$W/err")"

RID=$("$trmx" run --home "$H" course/unit-1 "$P" --learner alice --json 2>"$W/err" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
truth "trmx run logs the run in PostgreSQL with its host, context and pseudonymised learner" eq \
	"$(q "SELECT host, context, length(learner), status FROM runs WHERE id = '$RID'")" "h1|course/unit-1|64|halted" "$(cat "$W/err")"
truth "the run's checker verdict is there too" eq "$(q "SELECT source FROM feedback WHERE run_id = '$RID'")" checker
[ ! -e "$H/log.db" ] && ok "nothing went to HOME/log.db" || nok "nothing went to HOME/log.db"
"$trmx" feedback --home "$H" "$RID" --verdict incorrect --comment "a learner disagrees" >/dev/null 2>"$W/err"
truth "trmx feedback finds the run in PostgreSQL and logs there" eq \
	"$(q "SELECT verdict, comment FROM feedback WHERE run_id = '$RID' AND source <> 'checker'")" "incorrect|a learner disagrees" "$(cat "$W/err")"
truth "the schema's migrations are recorded in trmx_schema" eq "$(q "SELECT string_agg(name, ',' ORDER BY version) FROM trmx_schema")" \
	"0001_log.sql,0002_views.sql,0003_xapi_outbox.sql"
st=$("$trmx" log status --home "$H" --json)
truth "trmx log status: postgresql, reached, no outbox, password-free URL" eq \
	"$(echo "$st" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d["backend"], d["reachable"], d["outbox_runs"], d["host"])')" \
	"postgresql True 0 h1" "$st"

# ---- trmx sql over PostgreSQL -----------------------------------------------------------------------

truth "trmx sql reads the central log (its views too)" eq \
	"$("$trmx" sql --home "$H" "SELECT runs, errors FROM version_summary" --format csv 2>&1)" "$(printf 'runs,errors\n1,0')"
truth "trmx sql --format json keeps numbers numbers" eq \
	"$("$trmx" sql --home "$H" "SELECT count(*) AS n, avg(halt_confidence) > 0.5 AS high FROM runs" --format json 2>&1 | tr -d '\n ')" \
	'[{"n":1,"high":1}]'
"$trmx" sql --home "$H" "DELETE FROM feedback" >/dev/null 2>"$W/err" && nok "trmx sql refuses a DELETE" ||
	truth "trmx sql refuses a DELETE (read-only transaction) and nothing is deleted" eq \
		"$(grep -c 'only statements that read' "$W/err") $(q 'SELECT count(*) FROM feedback')" "1 2" "$(cat "$W/err")"
"$trmx" sql --home "$H" "SELECT 1; DELETE FROM runs" >/dev/null 2>"$W/err" && nok "trmx sql refuses two statements" ||
	truth "trmx sql refuses two statements in one" eq "$(q 'SELECT count(*) FROM runs')" 1 "$(cat "$W/err")"
t0=$(date +%s)
"$trmx" sql --home "$H" "SELECT pg_sleep(30)" --timeout 1 >/dev/null 2>"$W/err" && nok "trmx sql --timeout stops a long statement" ||
	truth "trmx sql --timeout 1 stops a 30 s statement within seconds" eq "$(grep -c 'stopped after 1 s' "$W/err") $(($(date +%s) - t0 < 10))" \
		"1 1" "$(cat "$W/err")"

# ---- xAPI from the central log to an LRS (tests/lrs/lrs.js: validates every statement) ------------------
# The queue is filled only once an LRS is registered: the first registration queues what the log
# holds; then new rows are queued as they commit, read below the oldest running transaction.
NM=$("$root/tools/node_deps.sh" "${build#"$root/"}" 2>"$W/npm.err") || die "the tests' npm packages install" "$(cat "$W/npm.err")"
node "$root/tests/lrs/lrs.js" "$NM" "$W/lrs.jsonl" --port 0 --port-file "$W/lrs.port" >"$W/lrs.out" 2>"$W/lrs.err" &
bgpids+=("$!")
wait_until 15 test -s "$W/lrs.port" || die "the LRS stand-in starts" "$(cat "$W/lrs.err")"
LRS=http://127.0.0.1:$(cat "$W/lrs.port")/xapi
lrs() { curl -s --max-time 5 "http://127.0.0.1:$(cat "$W/lrs.port")/_state" | "$PY" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
truth "no xAPI queue entry is made while no LRS is registered" eq "$(q 'SELECT count(*) FROM xapi_queue')" 0
"$trmx" export xapi --home "$H" --lrs "$LRS" >/dev/null 2>"$W/err"
truth "trmx export xapi --lrs from the central log: every run and feedback row it holds, valid, the learner not credited" eq \
	"$(lrs 'd["count"], d["invalid"], d["miscredited"], d["runs"]')" "$(q 'SELECT (SELECT count(*) FROM runs) + (SELECT count(*) FROM feedback)') 0 0 $(q 'SELECT count(*) FROM runs')" \
	"$(cat "$W/err")"
"$trmx" run --home "$H" course/unit-1 --batch "$W/p5.csv" --learner bob >/dev/null 2>"$W/err"
"$trmx" export xapi --home "$H" --lrs "$LRS" >"$W/lrs2.out" 2>"$W/err"
truth "rows logged after the registration are queued as they commit and sent once: 5 runs and their verdicts, no duplicate" eq \
	"$(lrs 'd["count"], d["duplicates"]') $(q 'SELECT count(*) FROM xapi_queue')" \
	"$(($(q 'SELECT count(*) FROM runs') + $(q 'SELECT count(*) FROM feedback'))) 0 $(($(q 'SELECT count(*) FROM runs') + $(q 'SELECT count(*) FROM feedback')))" "$(cat "$W/err")"
p0=$(lrs 'd["posts"]')
"$trmx" export xapi --home "$H" --lrs "$LRS" >/dev/null 2>"$W/err"
truth "a second sync finds nothing to send (no post)" eq "$(lrs 'd["posts"]') $(grep -c '^0 statements: the LRS has everything' "$W/err")" "$p0 1" "$(cat "$W/err")"

# ---- The same runs give the same report on both backends ---------------------------------------------
# A home on log.db logs a load with learners, feedback of every kind and an evaluation; its log.db
# then becomes the outbox of a home on an empty central database, and a push moves exactly those
# rows there: the two reports (text, JSON with every figure) must be the same.
HS=$W/sqlite-home
cp -a "$H" "$HS" && "$trmx" config --home "$HS" unset log.url && rm -f "$HS"/log-outbox.db*
{
	for l in ann bob cid; do "$trmx" run --home "$HS" course/unit-1 --batch "$W/p100.csv" --learner "$l" --json >"$W/s-$l.out" || exit 1; done
	ids=$(cut -d'"' -f4 "$W/s-ann.out" | head -n 12)
	set -- $ids
	ans2=$(sed -n 2p "$W/s-ann.out" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["answer"])')
	"$trmx" feedback --home "$HS" "$1" --verdict incorrect --source learner &&
		"$trmx" feedback --home "$HS" "$2" --verdict correct --source instructor --expected "$ans2" &&
		"$trmx" feedback --home "$HS" "$3" --verdict incorrect --source instructor --comment "checked by hand" &&
		"$trmx" eval --home "$HS" course/unit-1 "$W/p100.csv"
} >"$W/same.log" 2>&1 || nok "a load with feedback and an evaluation is logged in log.db" "$(tail -n 5 "$W/same.log")"
URLS=$(pg_newdb same) || die "a database for the comparison is made"
HP=$W/pg-home
cp -a "$HS" "$HP" && mv "$HP/log.db" "$HP/log-outbox.db" && rm -f "$HP"/log.db-* &&
	"$trmx" config --home "$HP" set log.url "$URLS" && "$trmx" log push --home "$HP" >"$W/push.out" 2>&1
truth "the log.db rows pushed into an empty central log: all of them" eq "$(cut -d' ' -f1 "$W/push.out")" \
	"$("$trmx" sql --home "$HS" "SELECT (SELECT count(*) FROM runs) + (SELECT count(*) FROM feedback) AS n" --format csv | tail -n 1)" "$(cat "$W/push.out")"
same_json() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); [d.pop(k, None) for k in ("generated_at", "home")]; print(json.dumps(d, sort_keys=True))' "$1"; }
for kind in run eval; do
	"$trmx" report --home "$HS" --kind $kind --format json >"$W/rs-$kind.json" 2>"$W/err" &&
		"$trmx" report --home "$HP" --kind $kind --format json >"$W/rp-$kind.json" 2>>"$W/err"
	truth "trmx report --kind $kind --format json: the same figures from log.db and from PostgreSQL" eq \
		"$(same_json "$W/rp-$kind.json")" "$(same_json "$W/rs-$kind.json")" \
		"$(cat "$W/err"; diff <(same_json "$W/rs-$kind.json" | tr ',' '\n') <(same_json "$W/rp-$kind.json" | tr ',' '\n') | head -n 20)"
done
truth "the comparison is not empty: 300 learner runs, 3 learners, judged by checker, instructor and an expected answer (a learner's verdict ranks below the checker's)" eq \
	"$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["runs"], d["learners"], d["groups"][0]["verdict_sources"]["instructor"], d["groups"][0]["verdict_sources"]["expected"], d["groups"][0]["verdict_sources"]["learner"])' "$W/rs-run.json" 2>&1)" \
	"300 3 1 1 0"
"$trmx" export xapi --home "$HS" >"$W/xs.jsonl" 2>"$W/err" && "$trmx" export xapi --home "$HP" >"$W/xp.jsonl" 2>>"$W/err"
truth "trmx export xapi: the same statements, byte for byte, from log.db and from PostgreSQL ($(wc -l <"$W/xs.jsonl") of them)" eq \
	"$(cmp "$W/xs.jsonl" "$W/xp.jsonl" >/dev/null 2>&1 && echo same || echo differ) $(($(wc -l <"$W/xs.jsonl") > 600))" "same 1" \
	"$(cat "$W/err"; diff "$W/xs.jsonl" "$W/xp.jsonl" | head -c 1500)"
"$trmx" export dataset --module sudoku4 --home "$HS" >"$W/ds.csv" 2>"$W/err" &&
	"$trmx" export dataset --module sudoku4 --home "$HP" >"$W/dp.csv" 2>>"$W/err"
truth "trmx export dataset: the same corrections from log.db and from PostgreSQL" eq \
	"$(cmp "$W/ds.csv" "$W/dp.csv" >/dev/null 2>&1 && echo same || echo differ) $(wc -l <"$W/ds.csv")" "same 2" "$(cat "$W/err"; cat "$W/ds.csv" "$W/dp.csv")"
"$trmx" report --home "$HS" | grep -v '^trmx report of' >"$W/rs.txt"
"$trmx" report --home "$HP" | grep -v '^trmx report of' >"$W/rp.txt"
truth "trmx report (text): the same from both" eq "$(diff "$W/rs.txt" "$W/rp.txt" | wc -l)" 0 "$(diff "$W/rs.txt" "$W/rp.txt" | head -n 20)"

# The same on a log of many groups (bench/bench_report.c: 20 contexts, 6 versions, canaries in 4
# contexts, learners, every kind of feedback, 60 days), and through each filter the report takes:
# the central log's report streams the join (binary COPY, the filter's values inlined as
# literals) and folds it with log.db's code.
HB=$W/bench-sqlite
"$build/bench/bench_report" gen "$HB" 20000 >"$W/gen.out" 2>&1 || nok "bench_report gen makes a log of 20,000 runs" "$(cat "$W/gen.out")"
URLB=$(pg_newdb many) || die "a database for the larger comparison is made"
HBP=$W/bench-pg
mkdir -p "$HBP" && cp "$HB/log.db" "$HBP/log-outbox.db" && cp -p "$HB/secret" "$HBP/secret" &&
	"$trmx" config --home "$HBP" set log.url "$URLB" && "$trmx" log push --home "$HBP" >"$W/pushb.out" 2>&1 ||
	nok "the 20,000 runs are pushed into the central log" "$(cat "$W/pushb.out")"
ctx=$("$trmx" sql --home "$HB" "SELECT context FROM runs WHERE context IS NOT NULL ORDER BY id LIMIT 1" --format csv | tail -n 1)
mod=$("$trmx" sql --home "$HB" "SELECT module FROM runs ORDER BY id DESC LIMIT 1" --format csv | tail -n 1)
since=$("$trmx" sql --home "$HB" "SELECT substr(time, 1, 10) FROM runs ORDER BY time LIMIT 1 OFFSET 9000" --format csv | tail -n 1)
fails=""
nfilters=0
for args in "--kind run --kind eval --kind selftest" "--kind run" "--kind eval" "--context ${ctx%%/*}/*" "--context $ctx" "--module $mod" \
	"--since $since" "--context o'brien/*" "--bins 7 --kind eval"; do
	nfilters=$((nfilters + 1))
	# shellcheck disable=SC2086 # the filters are words
	"$trmx" report --home "$HB" $args --format json >"$W/bs.json" 2>"$W/err" &&
		"$trmx" report --home "$HBP" $args --format json >"$W/bp.json" 2>>"$W/err" ||
		{ fails="$fails [$args: $(cat "$W/err")]"; continue; }
	[ "$args" = "--kind run --kind eval --kind selftest" ] && cp "$W/bs.json" "$W/bs-all.json"
	[ "$(same_json "$W/bs.json")" = "$(same_json "$W/bp.json")" ] ||
		fails="$fails [$args: $(diff <(same_json "$W/bs.json" | tr ',' '\n') <(same_json "$W/bp.json" | tr ',' '\n') | head -n 6)]"
done
truth "trmx report over 20,000 runs of many groups: the same figures from log.db and PostgreSQL, through $nfilters filters" \
	eq "$fails" "" "$fails"
truth "the larger comparison is not empty: groups, versions and canaries" eq \
	"$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["runs"] == 20000, len(d["groups"]) > 20, len(d["versions"]) >= 6, len(d["canaries"]) >= 4)' "$W/bs-all.json" 2>&1)" \
	"True True True True"

# ---- Another secret is refused -------------------------------------------------------------------------

H2=$W/other
cp -a "$H" "$H2" && rm -f "$H2/secret" "$H2"/log-outbox.db*
"$trmx" run --home "$H2" course/unit-1 "$P" >/dev/null 2>"$W/err" && nok "a host without the secret is refused" ||
	truth "a host whose secret is missing is refused (a new one would not agree), and makes none" eq \
		"$(grep -c 'copy HOME/secret from one of its hosts' "$W/err") $(ls "$H2/secret" 2>/dev/null | wc -l)" "1 0" "$(cat "$W/err")"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$H2/secret" && echo >>"$H2/secret" && chmod 600 "$H2/secret"
nr=$(q 'SELECT count(*) FROM runs')
"$trmx" run --home "$H2" course/unit-1 "$P" >/dev/null 2>"$W/err" && nok "a host with another secret is refused" ||
	truth "a host with another secret is refused (pseudonyms would not agree), nothing written" eq \
		"$(grep -c 'another secret' "$W/err") $(q 'SELECT count(*) FROM runs') $(ls "$H2"/log-outbox.db 2>/dev/null | wc -l)" "1 $nr 0" "$(cat "$W/err")"

# ---- Four hosts x 5,000 runs at once into one fresh database ---------------------------------------------

URL4=$(pg_newdb load4) || die "a second database is made"
for i in 1 2 3 4; do
	cp -a "$H" "$W/host$i" && rm -f "$W/host$i"/log-outbox.db* &&
		"$trmx" config --home "$W/host$i" set log.url "$URL4" && "$trmx" config --home "$W/host$i" set host.id "host$i" ||
		die "home host$i is made"
done
t0=$(date +%s.%N)
pids=()
for i in 1 2 3 4; do
	"$trmx" --threads 1 run --home "$W/host$i" course/unit-1 --batch "$W/p5k.csv" --learner "learner$i" \
		>"$W/load$i.out" 2>"$W/load$i.err" &
	pids+=($!)
done
rcs=""
for p in "${pids[@]}"; do wait "$p"; rcs="$rcs$?"; done
t1=$(date +%s.%N)
PGDATABASE_OVERRIDE=load4
truth "4 hosts x 5,000 runs at once: every trmx run exits 0" eq "$rcs" 0000 "$(cat "$W"/load*.err | head -n 5)"
truth "exactly 20,000 runs, 5,000 per host, 20,000 checker verdicts" eq \
	"$(q "SELECT count(*) FROM runs")/$(q "SELECT string_agg(host || '=' || n, ',' ORDER BY host) FROM (SELECT host, count(*) n FROM runs GROUP BY host) x")/$(q "SELECT count(*) FROM feedback")" \
	"20000/host1=5000,host2=5000,host3=5000,host4=5000/20000"
truth "no host kept anything in its outbox" eq "$(ls "$W"/host*/log-outbox.db 2>/dev/null | wc -l)" 0
truth "the migrations ran once (four hosts opened a new log at once)" eq "$(q "SELECT count(*) FROM trmx_schema")" 3
"$trmx" report --home "$W/host1" --format json >"$W/r4.json" 2>"$W/err"
truth "trmx report over the central log equals a hand-written SQL count (runs, learners, judged, correct)" eq \
	"$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["runs"], d["learners"], d["judged"], d["correct"])' "$W/r4.json" 2>&1)" \
	"$(q "SELECT count(*) || ' ' || count(DISTINCT learner) || ' ' || count(*) || ' ' || count(*) FILTER (WHERE verdict = 'valid') FROM runs WHERE kind = 'run'")" "$(cat "$W/err")"
truth "trmx sql over the views equals a hand-written count (version_summary, context_summary)" eq \
	"$("$trmx" sql --home "$W/host1" "SELECT (SELECT runs FROM version_summary) || ' ' || (SELECT sum(runs) FROM context_summary) || ' ' || (SELECT sum(learners) FROM context_summary) AS x" --format csv | tail -n 1)" \
	"$(q "SELECT count(*) || ' ' || count(*) FILTER (WHERE context IS NOT NULL) || ' ' || count(DISTINCT learner) FROM runs")"
ok "4 x 5,000 runs took $(echo "$t1 - $t0" | bc 2>/dev/null || echo "?") s ($(nproc) cores, engine included)"

# erase and purge on the central log: from any host (they share the secret), everywhere
dry=$("$trmx" erase --home "$W/host2" --learner learner1 --dry-run --json 2>&1)
truth "trmx erase --dry-run on the central log counts the learner's runs and feedback" eq \
	"$(echo "$dry" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d["runs"], d["feedback"])' 2>&1)/$(q 'SELECT count(*) FROM runs')" \
	"5000 5000/20000" "$dry"
er=$("$trmx" erase --home "$W/host2" --learner learner1 --json 2>&1)
truth "trmx erase --learner from another host removes the learner's runs from the central log, records the counts" eq \
	"$(echo "$er" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d["runs"], d["feedback"])' 2>&1)/$(q "SELECT count(*) FROM runs")/$(q "SELECT count(DISTINCT host) FROM runs")/$(q "SELECT action || ' ' || runs || ' ' || feedback FROM erasures")" \
	"5000 5000/15000/3/erase 5000 5000" "$er"
truth "no run, feedback or erasure record holds the erased learner's pseudonym" eq \
	"$(q "SELECT count(*) FROM runs r WHERE learner = (SELECT learner FROM runs LIMIT 0)")$(q "SELECT count(*) FROM feedback WHERE run_id NOT IN (SELECT id FROM runs)")" "00"
"$trmx" purge --home "$W/host3" --before 2000-01-01 --yes >/dev/null 2>&1
# a day: the load above made every run minutes ago (a minute was too short on a loaded machine,
# where the 4 x 5,000 runs alone take 80 s)
pu=$("$trmx" purge --home "$W/host3" --older-than 1d --json --yes 2>&1)
truth "trmx purge on the central log removes runs older than the cutoff (none are), then all with --before tomorrow" eq \
	"$(echo "$pu" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d["runs"])' 2>&1)/$("$trmx" purge --home "$W/host3" --before "$(date -u -d tomorrow +%Y-%m-%d)" --yes --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["runs"])')/$(q 'SELECT count(*) FROM runs')/$(q 'SELECT count(*) FROM erasures')" \
	"0/15000/0/4" "$pu"
unset PGDATABASE_OVERRIDE

# ---- The server stops: runs wait in the outbox, and are pushed once ------------------------------------

pg_stop_now
"$trmx" run --home "$H" course/unit-1 --batch "$W/p5.csv" --json >"$W/off.out" 2>"$W/off.err"
truth "with PostgreSQL down, trmx run still succeeds and says where the runs wait" eq \
	"$? $(grep -c 'log-outbox.db' "$W/off.err") $(wc -l <"$W/off.out")" "0 1 5" "$(cat "$W/off.err")"
OFF1=$(head -n 1 "$W/off.out" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
"$trmx" feedback --home "$H" "$OFF1" --verdict correct >/dev/null 2>"$W/err"
truth "feedback on a run that waits in the outbox is taken (into the outbox)" eq "$?" 0 "$(cat "$W/err")"
st=$("$trmx" log status --home "$H" --json)
truth "trmx log status: not reached, 5 runs and 6 feedback rows waiting, the reason" eq \
	"$(echo "$st" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d["reachable"], d["outbox_runs"], d["outbox_feedback"], "connect" in d["error"])')" \
	"False 5 6 True" "$st"
"$trmx" log push --home "$H" >"$W/push.out" 2>"$W/err" && nok "trmx log push fails while PostgreSQL is down" ||
	truth "trmx log push fails while PostgreSQL is down, and keeps the outbox" eq \
		"$("$trmx" log status --home "$H" --json | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d["outbox_runs"])')" 5 "$(cat "$W/err")"
pg_restart || die "PostgreSQL restarts"
"$trmx" log push --home "$H" >"$W/push.out" 2>"$W/err"
truth "trmx log push moves 11 rows once PostgreSQL is back" eq "$? $(cat "$W/push.out" | cut -d' ' -f1)" "0 11" "$(cat "$W/err")"
truth "the offline runs are in PostgreSQL once each, with their feedback" eq \
	"$(q "SELECT count(*), count(DISTINCT id) FROM runs WHERE id IN ($(cut -d'"' -f4 "$W/off.out" | sed "s/.*/'&'/" | paste -sd,))") $(q "SELECT count(*) FROM feedback WHERE run_id = '$OFF1'")" \
	"5|5 2"
"$trmx" log push --home "$H" >"$W/push.out" 2>&1
truth "a second push moves nothing" eq "$(cut -d' ' -f1 "$W/push.out")" 0
GHOST=01900000-0000-7000-8000-000000000000
"$trmx" feedback --home "$H" "$GHOST" --verdict correct >/dev/null 2>"$W/err" && nok "feedback on a run that is nowhere is refused" ||
	truth "feedback on a run that is nowhere is refused (not kept in the outbox)" eq \
		"$(grep -c 'no run' "$W/err") $("$trmx" log status --home "$H" --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["outbox_feedback"])')" "1 0" "$(cat "$W/err")"
# a row the central log refuses stays in the outbox for a person, and holds no later write up
"$PY" - "$H/log-outbox.db" "$GHOST" <<'PYEOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("PRAGMA foreign_keys = OFF")
db.execute("INSERT INTO feedback (id, run_id, time, source, verdict) VALUES ('01900000-0000-7000-8000-0000000000ff', ?, '2026-01-01T00:00:00.000Z', 'learner', 'correct')", (sys.argv[2],))
db.commit()
PYEOF
"$trmx" log push --home "$H" >"$W/push.out" 2>"$W/err" && nok "a push with a row the central log refuses fails and says why" ||
	truth "a push with a row the central log refuses fails, says why, keeps the row" eq \
		"$(grep -c 'refused by the central log' "$W/err") $("$trmx" log status --home "$H" --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["outbox_feedback"])')" "1 1" "$(cat "$W/err")"
before=$(q "SELECT count(*) FROM runs")
"$trmx" run --home "$H" course/unit-1 "$P" >/dev/null 2>"$W/err"
truth "with only refused rows in the outbox, a new run goes to PostgreSQL directly" eq \
	"$(($(q "SELECT count(*) FROM runs") - before)) $("$trmx" log status --home "$H" --json | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d["outbox_runs"])')" "1 0" "$(cat "$W/err")"
"$PY" -c 'import sqlite3,sys; db=sqlite3.connect(sys.argv[1]); db.execute("DELETE FROM feedback"); db.commit()' "$H/log-outbox.db"

# ---- Fault: PostgreSQL killed in the middle of a load ------------------------------------------------------

: >"$W/committed"
(
	for i in $(seq 1 40); do
		if "$trmx" --threads 1 run --home "$H" course/unit-1 --batch "$W/p100.csv" --json >"$W/b$i.out" 2>>"$W/b.err"; then
			cut -d'"' -f4 "$W/b$i.out" >>"$W/committed"
		else
			echo "batch $i failed" >>"$W/failed"
		fi
	done
) &
loader=$!
bgpids+=("$loader")
sleep 2
before=$(wc -l <"$W/committed")
pg_stop_now
sleep 2
pg_restart || die "PostgreSQL restarts after an immediate stop"
wait "$loader"
"$trmx" log push --home "$H" >"$W/push.out" 2>"$W/err"
truth "after the load, trmx log push succeeds" eq "$?" 0 "$(cat "$W/err")"
truth "runs of the load waited in the outbox while PostgreSQL was down (pushed now, or by the load's own writes)" ge \
	"$(grep -c 'log-outbox.db' "$W/b.err")" 1 "$(tail -n 3 "$W/b.err")"
n=$(wc -l <"$W/committed")
pg_sql "CREATE TABLE committed (id text)" >/dev/null && pg_sql "\\copy committed FROM '$W/committed'" >/dev/null 2>&1 ||
	"$PGBIN/psql" -X -q -h "$PGSOCK" -p "$PGPORT" -U trmx -d trmx -c "\\copy committed FROM '$W/committed'" >/dev/null
truth "every run reported committed ($n, of which $before before the stop) is in PostgreSQL exactly once" eq \
	"$(q "SELECT count(*) FROM committed c JOIN runs r ON r.id = c.id")/$(q "SELECT count(*) FROM (SELECT id FROM committed GROUP BY id HAVING count(*) > 1) x")" \
	"$n/0"
truth "no batch failed while PostgreSQL was down (they went to the outbox)" eq "$(cat "$W/failed" 2>/dev/null | wc -l)" 0 "$(tail -n 5 "$W/b.err")"
truth "the load ran before, during and after the stop (4,000 runs)" eq "$n" 4000
truth "the outbox is empty after the push" eq \
	"$("$trmx" log status --home "$H" --json | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d["outbox_runs"] + d["outbox_feedback"])')" 0

# ---- trmx serve pushes its outbox by itself --------------------------------------------------------------

rm -f "$W/serve.port"
"$trmx" serve --home "$H" --listen 127.0.0.1:0 --port-file "$W/serve.port" --plugins "$build/plugins" --threads 2 \
	--xapi-lrs "$LRS" >"$W/serve.out" 2>"$W/serve.err" &
spid=$!
bgpids+=("$spid")
wait_until 20 test -s "$W/serve.port" || die "trmx serve starts on the central log" "$(cat "$W/serve.err")"
URL=http://127.0.0.1:$(cat "$W/serve.port")
solve() { curl -s --max-time 30 -H 'Content-Type: application/json' --data-binary "{\"puzzle\": \"$P\"}" "$URL/v1/contexts/course/unit-1/solve"; }
r1=$(solve | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["runs"][0]["run_id"])')
truth "a solve through trmx serve is logged in PostgreSQL" eq "$(q "SELECT count(*) FROM runs WHERE id = '$r1'")" 1
lrs_all() { [ "$(lrs 'd["count"]')" = "$(q 'SELECT (SELECT count(*) FROM runs) + (SELECT count(*) FROM feedback)')" ]; }
wait_until 30 lrs_all
truth "trmx serve --xapi-lrs on the central log forwards the solve and its verdict, and every row before it" eq \
	"$(lrs 'd["count"], d["invalid"], d["miscredited"], d["duplicates"]')" "$(q 'SELECT (SELECT count(*) FROM runs) + (SELECT count(*) FROM feedback)') 0 0 0" \
	"$(tail -n 5 "$W/serve.err")"
pg_stop_now
r2=$(solve | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["runs"][0]["run_id"])' 2>/dev/null)
truth "with PostgreSQL down, trmx serve still answers the solve" ne "$r2" ""
pg_restart || die "PostgreSQL restarts"
wait_until 30 sh -c "[ \"\$(PGBIN=$PGBIN; \"$PGBIN/psql\" -X -At -h \"$PGSOCK\" -p \"$PGPORT\" -U trmx -d trmx -c \"SELECT count(*) FROM runs WHERE id = '$r2'\" 2>/dev/null)\" = 1 ]"
truth "trmx serve pushed the run by itself once PostgreSQL was back" eq "$(q "SELECT count(*) FROM runs WHERE id = '$r2'")" 1 "$(tail -n 5 "$W/serve.err")"
kill -TERM "$spid"
wait "$spid"
truth "trmx serve stops cleanly" eq "$?" 0

finish
