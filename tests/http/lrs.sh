#!/bin/bash
# lrs.sh — xAPI statements delivered to a learning record store (issue 18, acceptance point 3):
# `trmx serve --xapi-lrs` forwards runs and feedback as they are committed to an LRS stand-in
# (tests/lrs/lrs.js: checks the version header and Basic auth, validates every statement with npm
# xapi-validation, keeps statements by id in a file, 409 on an id with other content); the
# stand-in is SIGKILLed in the middle of the stream and started again on the same port, serve is
# restarted, and at the end the stand-in must hold exactly the statements `trmx export xapi`
# makes, each once, none invalid. Then `trmx export xapi --lrs` to fresh stand-ins: everything,
# then nothing new; an LRS failing with 500 then recovering; 409; bad URL, refused credentials,
# an unreachable LRS.
#   tests/http/lrs.sh [BUILD]      one line per check (ok - / not ok -), then "N passed, M failed"
# Needs curl, python3 and node with npm (tools/node_deps.sh installs the pinned packages). Exits
# non-zero when a check fails or anything cannot start. Loopback only.
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
case $build in /*) ;; *) build=$root/$build ;; esac
trmx=$build/trmx
W=$(mktemp -d "${TMPDIR:-/tmp}/trmx-lrs.XXXXXX") || exit 1
H=$W/home
bgpids=()
cleanup() {
	local p
	{
		for p in "${bgpids[@]}"; do kill -KILL "$p"; done
		wait
		chmod -R u+w "$W" # the store is read-only
	} 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
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
why=""
truth() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else nok "$name" "${why:-}"; fi
	why=""
}
eq() {
	[ "$1" = "$2" ] && return 0
	why="got '$1', expected '$2'${3:+; $3}"
	return 1
}
wait_until() { # wait_until SECONDS COMMAND...: poll every 100 ms
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
for tool in curl "$PY" node; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is installed"
done
[ -x "$trmx" ] || die "$trmx is built"
NM=$("$root/tools/node_deps.sh" "${build#"$root/"}" 2>"$W/npm.err") || die "the tests' npm packages install" "$(cat "$W/npm.err")"
[ -d "$NM/xapi-validation" ] || die "npm xapi-validation is in $NM"

# ---- The stand-in ---------------------------------------------------------------------------------

# lrs_start NAME STORE PORT [lrs.js options...]: $lrs_pid_NAME, $lrs_port_NAME; not starting fails all
lrs_start() {
	local name=$1 store=$2 port=$3
	shift 3
	rm -f "$W/lrs-$name.port"
	node "$root/tests/lrs/lrs.js" "$NM" "$store" --port "$port" --port-file "$W/lrs-$name.port" "$@" \
		>>"$W/lrs-$name.out" 2>>"$W/lrs-$name.err" &
	local pid=$!
	bgpids+=("$pid")
	eval "lrs_pid_$name=$pid"
	if ! wait_until 15 test -s "$W/lrs-$name.port" || ! kill -0 "$pid" 2>/dev/null; then
		die "LRS stand-in $name starts" "$(cat "$W/lrs-$name.err")"
	fi
	eval "lrs_port_$name=$(cat "$W/lrs-$name.port")"
}
# lrs_state NAME EXPR: a Python expression over the stand-in's /_state `d`
lrs_state() {
	local port
	eval "port=\$lrs_port_$1"
	curl -s --max-time 5 "http://127.0.0.1:$port/_state" >"$W/state.json" || { echo "no answer"; return 1; }
	"$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); v = eval(sys.argv[2]); print(v if isinstance(v, str) else json.dumps(v))' \
		"$W/state.json" "$2" 2>&1
}
# ids_of FILE: the sorted statement ids of a JSON lines export
ids_of() { "$PY" -c 'import json, sys; print("\n".join(sorted(json.loads(l)["id"] for l in open(sys.argv[1]) if l.strip())))' "$1"; }
# holds NAME N: the stand-in holds N statements (for wait_until)
holds() { [ "$(lrs_state "$1" 'd["count"]')" = "$2" ]; }
# metric NAME: its value on serve's /metrics
metric() { curl -s --max-time 5 "$URL/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
# xapi_failing: /metrics counts failed attempts and statements waiting
xapi_failing() { [ "$(metric trmx_xapi_errors_total)" -gt 0 ] 2>/dev/null && [ "$(metric trmx_xapi_pending)" -gt 0 ] 2>/dev/null; }
# held NAME: the sorted ids the stand-in holds
held() { lrs_state "$1" '"\n".join(sorted(d["ids"]))'; }
# same_as_export NAME WHAT: the stand-in holds exactly the statements of a fresh export, each once
same_as_export() {
	local name=$1 what=$2
	"$trmx" export xapi --home "$H" -o "$W/export.jsonl" 2>"$W/export.err" || { nok "$what" "$(cat "$W/export.err")"; return; }
	ids_of "$W/export.jsonl" >"$W/want"
	held "$name" >"$W/got"
	local n want_n dup inv lines conf
	want_n=$(wc -l <"$W/want")
	n=$(lrs_state "$name" 'd["count"]')
	lines=$(lrs_state "$name" 'd["stored_lines"]')
	inv=$(lrs_state "$name" 'd["invalid"]')
	conf=$(lrs_state "$name" 'd["conflicts"]')
	dup=$(lrs_state "$name" 'd["duplicates"]')
	if cmp -s "$W/want" "$W/got" && [ "$n" = "$want_n" ] && [ "$lines" = "$n" ] && [ "$inv" = 0 ] && [ "$conf" = 0 ]; then
		ok "$what ($n statements, each stored once; $dup resent duplicates taken as held; none invalid)"
	else
		nok "$what" "export: $want_n ids; stand-in: $n held, $lines stored lines, $inv invalid, $conf conflicts, $dup duplicates" \
			"missing: $(comm -23 "$W/want" "$W/got" | head -n 5 | tr '\n' ' ')" "extra: $(comm -13 "$W/want" "$W/got" | head -n 5 | tr '\n' ' ')" \
			"$(tail -n 5 "$W/lrs-$name.err" 2>/dev/null)"
	fi
}

# ---- The server -----------------------------------------------------------------------------------

URL=""
serve_start() {
	rm -f "$W/serve.port"
	"$trmx" serve --home "$H" --listen 127.0.0.1:0 --port-file "$W/serve.port" --plugins "$build/plugins" --threads 2 \
		"$@" >>"$W/serve.out" 2>>"$W/serve.err" &
	serve_pid=$!
	bgpids+=("$serve_pid")
	if ! wait_until 20 test -s "$W/serve.port" || ! kill -0 "$serve_pid" 2>/dev/null; then
		die "trmx serve starts" "$(tail -n 20 "$W/serve.err")"
	fi
	URL=http://127.0.0.1:$(cat "$W/serve.port")
}
serve_stop() {
	kill -TERM "$serve_pid"
	local n=300
	while kill -0 "$serve_pid" 2>/dev/null && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
	kill -0 "$serve_pid" 2>/dev/null && kill -KILL "$serve_pid"
	wait "$serve_pid" 2>/dev/null
	serve_rc=$?
}
# solve LEARNER PUZZLE [RUN_ID]: the run id in $run ("" when the solve failed)
solve() {
	run=$(curl -s --max-time 30 -H 'Content-Type: application/json' \
		--data-binary "{\"puzzle\": \"$2\", \"learner\": \"$1\"${3:+, \"run_id\": \"$3\"}}" "$URL/v1/contexts/course/u1/solve" |
		sed -n 's/.*"run_id": *"\([0-9a-f-]*\)".*/\1/p')
}
feedback() { # feedback RUN BODY: the HTTP status in $fcode
	fcode=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 -H 'Content-Type: application/json' \
		--data-binary "$2" "$URL/v1/runs/$1/feedback")
}

# ---- A home: the tiny sudoku4 module bound to one context -----------------------------------------

{
	"$trmx" pack "$root/tests/fixtures/module-sudoku4-tiny" -o "$W/tiny.trmx" &&
		"$trmx" install -q --home "$H" "$W/tiny.trmx" &&
		"$trmx" bind --home "$H" course/u1 sudoku4-tiny &&
		"$trmx" gen sudoku --size 4 -n 60 --seed 11 -o "$W/p4.csv"
} >"$W/setup.log" 2>&1 || die "a home with the tiny sudoku4 bound to course/u1" "$(tail -n 20 "$W/setup.log")"
mapfile -t PUZZLES < <(tail -n +2 "$W/p4.csv" | cut -d, -f1)

# ---- 1. serve forwards as it goes; the LRS is killed mid-stream and comes back -------------------

t0=$(date +%s)
lrs_start a "$W/a.jsonl" 0 --auth trmx:s3cret
PA=$lrs_port_a
TRMX_XAPI_AUTH=trmx:s3cret serve_start --xapi-lrs "http://127.0.0.1:$PA/xapi/"
runs_ok=0 fb_ok=0
# client-chosen run ids: older than every run logged (an id is no order), and one retried (no new row)
run_id_of() {
	case $1 in
	20) echo 01890000-0000-7000-8000-0000000000a1 ;;
	21) echo 01890000-0000-7000-8000-0000000000a1 ;;
	30) echo 00000000-0000-4000-8000-0000000000b2 ;;
	esac
}
stream() { # stream FROM TO: solves, and feedback on every third run
	local i
	for ((i = $1; i < $2; i++)); do
		local k=$i
		[ "$i" = 21 ] && k=20 # a retry is the same request again
		solve "learner-$((k % 4))" "${PUZZLES[$((k % ${#PUZZLES[@]}))]}" "$(run_id_of "$i")"
		[ -n "$run" ] && runs_ok=$((runs_ok + 1))
		if [ -n "$run" ] && [ $((i % 3)) = 0 ]; then
			feedback "$run" "{\"verdict\": \"incorrect\", \"source\": \"instructor\", \"comment\": \"try $i\"}"
			[ "$fcode" = 201 ] && fb_ok=$((fb_ok + 1))
		fi
	done
}
stream 0 15
some() { [ "$(lrs_state a 'd["count"]')" -gt 0 ] 2>/dev/null; }
truth "the stand-in takes statements while serve solves" wait_until 10 some
kill -KILL "$lrs_pid_a"
wait "$lrs_pid_a" 2>/dev/null
stream 15 45
truth "every solve and feedback was answered while the LRS was down (45 solves, one a retried run id; 15 feedback)" \
	eq "$runs_ok $fb_ok $("$trmx" sql --home "$H" --csv "SELECT count(*) FROM runs WHERE learner IS NOT NULL" | tail -n 1)" "45 15 44"
why="errors $(metric trmx_xapi_errors_total), pending $(metric trmx_xapi_pending)"
truth "/metrics counts the LRS's failures (trmx_xapi_errors_total > 0) and what waits (trmx_xapi_pending > 0)" \
	wait_until 10 xapi_failing
# back, but it dies once more after storing its first batch and before answering: serve never
# hears yes; meanwhile feedback changes the verdict of a run in that batch, so a statement made
# again would differ from the one the stand-in keeps (409): the resend must be the stored batch
lrs_start a "$W/a.jsonl" "$PA" --auth trmx:s3cret --die-after-store 1
{ # (bash's "Killed" notice of the stand-in's own SIGKILL goes nowhere)
	truth "the stand-in came back on the same port ($PA), took a batch and died before answering" \
		wait_until 20 eval '! kill -0 "$lrs_pid_a"'
	wait "$lrs_pid_a"
} 2>/dev/null
staged=$("$trmx" sql --home "$H" --csv "SELECT o.run_id FROM xapi_outbox o JOIN runs r ON r.id = o.run_id WHERE r.learner IS NOT NULL ORDER BY o.seq LIMIT 1" | tail -n +2)
# the opposite of the checker's verdict, so that the run's verdict (and its statement) changes
was=$("$trmx" sql --home "$H" --csv "SELECT verdict FROM runs WHERE id = '$staged'" | tail -n +2)
feedback "$staged" "{\"verdict\": \"$([ "$was" = valid ] && echo incorrect || echo correct)\", \"source\": \"instructor\"}"
truth "an instructor's correction of a run in the unanswered batch is taken (its statement today would differ)" \
	eq "$fcode" 201 "run '$staged'"
lrs_start a "$W/a.jsonl" "$PA" --auth trmx:s3cret
truth "the stand-in came back again on the same port" eq "$lrs_port_a" "$PA"
"$trmx" export xapi --home "$H" -o "$W/export.jsonl" 2>/dev/null
want=$(grep -c . "$W/export.jsonl")
truth "after the restart the forwarder delivers everything (bounded wait: its back-off is at most 8 s here)" \
	wait_until 25 holds a "$want"
same_as_export a "the stand-in holds exactly the statements of trmx export xapi (runs + feedback), each once"
truth "the unanswered batch was sent again as it was: duplicates taken as held, no conflict" \
	eval '[ "$(lrs_state a "[d[\"duplicates\"] > 0, d[\"conflicts\"]]")" = "[true, 0]" ]'
truth "... although the corrected run's statement made today differs from the one the LRS holds" "$PY" -c '
import json, sys
run_id = sys.argv[3]
def find(path):
    for l in open(path):
        if l.strip():
            s = json.loads(l)
            if s.get("context", {}).get("extensions", {}).get("https://trmx.invalid/xapi/extensions/run-id") == run_id and "platform" in s["context"]:
                return s
held, today = find(sys.argv[1]), find(sys.argv[2])
sys.exit(not (held and today and held["id"] == today["id"] and held != today))' "$W/a.jsonl" "$W/export.jsonl" "$staged"
truth "/metrics: trmx_xapi_sent_total is what the stand-in holds, trmx_xapi_pending 0" \
	eq "$(metric trmx_xapi_sent_total) $(metric trmx_xapi_pending)" "$want 0"
serve_stop
truth "serve stops cleanly (exit 0) with the forwarder" eq "$serve_rc" 0

# serve down: runs and feedback from other processes; serve again: it resumes from the cursor
for i in 1 2 3; do
	"$trmx" run --home "$H" course/u1 "${PUZZLES[$i]}" --learner "cli-$i" >/dev/null 2>&1 || nok "trmx run $i"
done
TRMX_XAPI_AUTH=trmx:s3cret serve_start --xapi-lrs "http://127.0.0.1:$PA/xapi"
"$trmx" export xapi --home "$H" -o "$W/export.jsonl" 2>/dev/null
want=$(grep -c . "$W/export.jsonl")
truth "a restarted serve sends what was logged while it was down" wait_until 10 holds a "$want"
last_run=$("$trmx" sql --home "$H" --csv "SELECT id FROM runs WHERE learner IS NOT NULL ORDER BY time DESC LIMIT 1" | tail -n 1)
"$trmx" feedback --home "$H" "$last_run" --verdict correct --source instructor >/dev/null 2>&1 || nok "trmx feedback"
want=$((want + 1))
truth "feedback another process logs reaches the LRS by the forwarder's poll (within 5 s)" \
	wait_until 10 holds a "$want"
same_as_export a "after serve's restart: still exactly the export's statements, each once"
truth "serve forwards each run as the learner requesting a solution and the module version (context.team) answering, never as the learner's success" \
	eq "$(lrs_state a 'd["miscredited"]') $(lrs_state a 'd["runs"] > 0')" "0 true" "$(lrs_state a 'd["runs"]') runs as they should be"
serve_stop
truth "stand-in a saw the version header and the credentials on every request" \
	eq "$(lrs_state a '[d["refused_version"], d["refused_auth"], d["invalid"]]')" "[0, 0, 0]"
echo "# serve part: $(($(date +%s) - t0)) s"

# ---- 2. trmx export xapi --lrs ---------------------------------------------------------------------

lrs_start b "$W/b.jsonl" 0 --auth u:pw
LB=http://127.0.0.1:$lrs_port_b/xapi
"$trmx" export xapi --home "$H" --lrs "$LB" --auth u:pw >"$W/x1.out" 2>"$W/x1.err"
truth "export --lrs to a fresh LRS: exit 0, progress and the count on stderr" \
	eq "$? $(grep -c 'sent [0-9]* of [0-9]* statements' "$W/x1.err" | sed 's/^[1-9][0-9]*$/progress/') $(tail -n 1 "$W/x1.err" | cut -d' ' -f1-3)" \
	"0 progress $want statements sent" "$(cat "$W/x1.err")"
same_as_export b "export --lrs delivers every statement of the export, each once"
truth "export --lrs: each run the learner's request and the module's answer (none miscredited)" \
	eq "$(lrs_state b 'd["miscredited"]') $(lrs_state b 'd["runs"] > 0')" "0 true" "$(lrs_state b 'd["runs"]') runs as they should be"
truth "what the LRS got is what trmx export xapi writes, statement for statement" "$PY" -c '
import json, sys
want = {json.loads(l)["id"]: json.loads(l) for l in open(sys.argv[1]) if l.strip()}
got = {json.loads(l)["id"]: json.loads(l) for l in open(sys.argv[2]) if l.strip()}
sys.exit(want != got)' "$W/export.jsonl" "$W/b.jsonl"
posts=$(lrs_state b 'd["posts"]')
TRMX_XAPI_AUTH=u:pw "$trmx" export xapi --home "$H" --lrs "$LB" >"$W/x2.out" 2>"$W/x2.err"
truth "export --lrs again (credentials from \$TRMX_XAPI_AUTH): nothing sent, it says so" \
	eq "$? $(tail -n 1 "$W/x2.err" | cut -d'(' -f1) $(lrs_state b 'd["posts"]')" "0 0 statements: the LRS has everything  $posts" "$(cat "$W/x2.err")"
truth "batches of at most 100: $want statements took $posts POSTs" test "$posts" -ge $(((want + 99) / 100))

# an erase between deliveries (it deletes rows, then VACUUM renumbers every rowid): runs of the
# erased learner that had not gone out are never sent, nothing is sent twice, nothing is skipped
ids_of "$W/export.jsonl" >"$W/before"
for i in 1 2; do "$trmx" run --home "$H" course/u1 "${PUZZLES[$i]}" --learner gone-learner >/dev/null 2>&1; done
"$trmx" erase --home "$H" --learner gone-learner >"$W/erase.out" 2>&1 || nok "trmx erase" "$(cat "$W/erase.out")"
for i in 3 4; do "$trmx" run --home "$H" course/u1 "${PUZZLES[$i]}" --learner kept-learner >/dev/null 2>&1; done
"$trmx" export xapi --home "$H" -o "$W/export.jsonl" 2>/dev/null
ids_of "$W/export.jsonl" | sort -u - "$W/before" >"$W/want"
new=$(comm -13 "$W/before" "$W/want" | wc -l)
"$trmx" export xapi --home "$H" --lrs "$LB" --auth u:pw >/dev/null 2>"$W/x2b.err"
rc=$?
held b >"$W/got"
truth "after an erase: exit 0, only the $new new statements sent, none of the erased learner's, nothing twice" \
	eq "$rc $(tail -n 1 "$W/x2b.err" | cut -d' ' -f1) $(cmp -s "$W/want" "$W/got" && echo same) $(lrs_state b '[d["count"] == d["stored_lines"], d["duplicates"]]')" \
	"0 $new same [true, 0]" "$(cat "$W/x2b.err")"
want=$(grep -c . "$W/export.jsonl")

# refused credentials, with something to send
lrs_start c "$W/c.jsonl" 0 --auth u:pw
"$trmx" export xapi --home "$H" --lrs "http://127.0.0.1:$lrs_port_c/xapi" --auth u:wrong >"$W/x3.out" 2>"$W/x3.err"
truth "export --lrs with wrong credentials: exit 1, the LRS refused them (HTTP 401)" \
	eq "$? $(grep -c 'refused the credentials (HTTP 401' "$W/x3.err")" "1 1" "$(cat "$W/x3.err")"
"$trmx" export xapi --home "$H" --lrs "http://127.0.0.1:$lrs_port_c/xapi" >"$W/x3b.out" 2>"$W/x3b.err"
truth "export --lrs without credentials where they are needed: exit 1, says to give --auth" \
	eq "$? $(grep -c 'give them with --auth' "$W/x3b.err")" "1 1" "$(cat "$W/x3b.err")"

# bad URLs
for u in "ftp://127.0.0.1/xapi" "not a url" "http://u:p@127.0.0.1:1/xapi" "http://127.0.0.1:1/xapi?x=1"; do
	"$trmx" export xapi --home "$H" --lrs "$u" >/dev/null 2>"$W/x4.err"
	rc=$?
	truth "export --lrs '$u': exit 1 with a message ($(head -c 70 "$W/x4.err")...)" eq "$rc $(grep -c "'$u'" "$W/x4.err")" "1 1" "$(cat "$W/x4.err")"
done
"$trmx" export xapi --home "$H" --lrs "http://127.0.0.1:1/xapi" -o "$W/f.jsonl" >/dev/null 2>"$W/x5.err"
truth "--lrs with -o is a usage error (exit 2)" eq "$?" 2 "$(cat "$W/x5.err")"

# unreachable: a port nothing listens on (the killed stand-in c's)
kill -KILL "$lrs_pid_c"
wait "$lrs_pid_c" 2>/dev/null
t1=$(date +%s)
"$trmx" export xapi --home "$H" --lrs "http://127.0.0.1:$lrs_port_c/xapi" --auth u:pw --retries 1 >"$W/x6.out" 2>"$W/x6.err"
truth "export --lrs to an unreachable LRS: exit 1, 'could not be reached', how many were sent before, one retry after 1 s" \
	eq "$? $(grep -c 'could not be reached.*2 attempts; 0 statements were sent before' "$W/x6.err") $(grep -c 'retrying in 1 s' "$W/x6.err")" "1 1 1" \
	"$(cat "$W/x6.err")"

# 500 twice with Retry-After: 1, then it recovers
lrs_start d "$W/d.jsonl" 0 --fail 3 --retry-after 1
t1=$(date +%s.%N)
"$trmx" export xapi --home "$H" --lrs "http://127.0.0.1:$lrs_port_d/xapi" >"$W/x7.out" 2>"$W/x7.err"
rc=$?
dt=$("$PY" -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 1))" "$t1" "$(date +%s.%N)")
truth "an LRS answering 500 three times then recovering: exit 0, three retries, all delivered" \
	eq "$rc $(grep -c 'HTTP 500: failing on purpose); retrying in 1 s' "$W/x7.err") $(lrs_state d '[d["failed"], d["count"]]')" \
	"0 3 [3, $want]" "$(cat "$W/x7.err")"
truth "Retry-After: 1 honoured (3 waits of 1 s, not 1+2+4: ${dt} s)" "$PY" -c "import sys; sys.exit(not 2.5 <= float(sys.argv[1]) < 6)" "$dt"
same_as_export d "after the 500s: every statement once"

# 409: the LRS holds one of the ids with other content
head -n 1 "$W/export.jsonl" | "$PY" -c 'import json, sys; s = json.loads(sys.stdin.read()); s["timestamp"] = "2000-01-01T00:00:00.000Z"; print(json.dumps(s))' >"$W/e.jsonl"
lrs_start e "$W/e.jsonl" 0
"$trmx" export xapi --home "$H" --lrs "http://127.0.0.1:$lrs_port_e/xapi" >"$W/x8.out" 2>"$W/x8.err"
truth "an LRS holding a statement id with other content: exit 1, a loud 409 naming the conflict" \
	eq "$? $(grep -c '409 Conflict' "$W/x8.err")" "1 1" "$(cat "$W/x8.err")"
"$trmx" export xapi --home "$H" --lrs "http://127.0.0.1:$lrs_port_e/xapi" >/dev/null 2>"$W/x9.err"
truth "after a 409 the cursor has not moved: the same batch is refused again, nothing skipped" \
	eq "$? $(grep -c '409 Conflict' "$W/x9.err") $(lrs_state e 'd["count"]')" "1 1 1" "$(cat "$W/x9.err")"

echo "# whole test: $(($(date +%s) - t0)) s"
finish
