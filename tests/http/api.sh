#!/bin/bash
# api.sh — the HTTP tests of `trmx serve` (acceptance point 1): start it on an ephemeral loopback
# port over a fresh home and drive every endpoint with curl: solve, batch solve, the SSE stream,
# feedback, the reading routes, the admin changes (bind, rollback, alias, quarantine, install)
# each seen by the next solve, every error status with its JSON body, bearer tokens (none, wrong,
# wrong scope, outside its contexts, revoked then SIGHUP), /metrics through promtool, the access
# log, and SIGTERM. Checks are cross-checked against log.db with `trmx sql`.
#   tests/http/api.sh [BUILD]      one line per check (ok - / not ok -), then "N passed, M failed"
# Needs curl, python3 and promtool (Debian package prometheus). Exits non-zero when a check fails
# or a server cannot start.
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
case $build in /*) ;; *) build=$root/$build ;; esac
trmx=$build/trmx
W=$(mktemp -d "${TMPDIR:-/tmp}/trmx-http.XXXXXX") || exit 1
H=$W/home
bgpids=()
cleanup() {
	local p
	for p in "${bgpids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	chmod -R u+w "$W" 2>/dev/null # the store is read-only
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
# nok NAME [DETAIL...]: a failed check, with what was seen
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
die() { # a check that the rest depends on failed: stop here, as a failure
	nok "$@"
	finish
}
last() { echo "last response: HTTP $code: $(head -c 600 "$W/body" 2>/dev/null)"; }

# Debian's python3 first: a shim (pyenv) in PATH can cost most of a second a call
if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=python3; fi
python3() { "$PY" "$@"; }
for tool in curl "$PY" promtool; do
	command -v "$tool" >/dev/null 2>&1 || nok "$tool is installed (promtool: Debian package prometheus)"
done
command -v curl >/dev/null 2>&1 && command -v "$PY" >/dev/null 2>&1 || finish
[ -x "$trmx" ] || die "$trmx is built"

# ---- Helpers -------------------------------------------------------------------------------------

URL=""
code=""
# req TOKEN METHOD PATH [curl args...]: $code gets the status, $W/body the body, $W/hdr the headers
req() {
	local tok=$1 m=$2 p=$3
	shift 3
	local auth=()
	[ -n "$tok" ] && auth=(-H "Authorization: Bearer $tok")
	code=$(curl -s -o "$W/body" -D "$W/hdr" -w '%{http_code}' --max-time 30 -X "$m" "${auth[@]}" "$@" "$URL$p") ||
		code="no answer (curl exit $?)"
}
post() { local tok=$1 p=$2 body=$3; shift 3; req "$tok" POST "$p" -H 'Content-Type: application/json' --data-binary "$body" "$@"; }
get() { req "$1" GET "$2"; }
# js EXPR [FILE]: a Python expression over the JSON `d` of FILE (default: the last body); strings
# print as they are, anything else as JSON; exit 1 when the file is not JSON or EXPR fails
js() {
	python3 -c '
import json, sys
try:
    d = json.load(open(sys.argv[2]))
    v = eval(sys.argv[1])
except Exception as e:
    print("error: %s" % e, file=sys.stderr); sys.exit(1)
print(v if isinstance(v, str) else json.dumps(v))' "$1" "${2:-$W/body}" 2>/dev/null
}
header() { tr -d '\r' <"$W/hdr" | sed -n "s/^$1: *//Ip" | tail -n 1; }
sql() { "$trmx" sql --home "$H" --csv "$1" 2>&1 | tail -n +2; }

# expect NAME STATUS: the last answer had STATUS (and a JSON body unless it is an SSE stream)
expect() {
	if [ "$code" = "$2" ]; then ok "$1"; else nok "$1" "expected HTTP $2; $(last)"; fi
}
# expect_error NAME STATUS CODE [MESSAGE-PART]: STATUS with the body {"error": {"code": CODE,
# "message": "..."}} (and nothing else), as application/json; the message contains MESSAGE-PART
expect_error() {
	local name=$1 st=$2 ec=$3 part=${4:-}
	local shape
	shape=$(python3 -c '
import json, sys
try:
    d = json.load(open(sys.argv[1]))
    e = d["error"]
    print(sorted(d) == ["error"] and sorted(e) == ["code", "message"] and e["code"] == sys.argv[2]
          and isinstance(e["message"], str) and len(e["message"]) > 0 and sys.argv[3] in e["message"])
except Exception:
    print(False)' "$W/body" "$ec" "$part")
	local ct
	ct=$(header Content-Type)
	if [ "$code" = "$st" ] && [ "$shape" = True ] && [[ $ct == application/json* ]]; then
		ok "$name"
	else
		nok "$name" "expected HTTP $st with {\"error\": {\"code\": \"$ec\", \"message\": \"${part:+...$part...}\"}} as application/json; got Content-Type '$ct'; $(last)"
	fi
}
# truth NAME COMMAND...: a check that COMMAND succeeds
truth() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else nok "$name" "${why:-}"; fi
	why=""
}
why=""
eq() { # eq GOT WANT [CONTEXT]: for truth
	[ "$1" = "$2" ] && return 0
	why="got '$1', expected '$2'${3:+; $3}"
	return 1
}
# wait_until SECONDS COMMAND...: poll COMMAND every 50 ms
wait_until() {
	local n=$(($1 * 20))
	shift
	while [ $n -gt 0 ]; do
		"$@" && return 0
		sleep 0.05
		n=$((n - 1))
	done
	return 1
}

# start NAME [serve options...]: a server on 127.0.0.1:0 over $H; $URL, $pid_NAME; a server that
# does not come up is a failure of the whole script
start() {
	local name=$1
	shift
	rm -f "$W/$name.port"
	"$trmx" serve --home "$H" --listen 127.0.0.1:0 --port-file "$W/$name.port" --plugins "$build/plugins" \
		--threads 2 "$@" >"$W/$name.out" 2>"$W/$name.err" &
	local pid=$!
	bgpids+=("$pid")
	eval "pid_$name=$pid"
	if ! wait_until 20 test -s "$W/$name.port" || ! kill -0 "$pid" 2>/dev/null; then
		die "server $name starts" "trmx serve $*: $(cat "$W/$name.err")"
	fi
	URL=http://127.0.0.1:$(cat "$W/$name.port")
	ok "server $name starts on an ephemeral loopback port and writes it to --port-file (${URL#http://})"
}
# stop NAME: SIGTERM, then its exit code in $rc (bounded wait)
stop() {
	local pid
	eval "pid=\$pid_$1"
	rc=""
	kill -TERM "$pid"
	local n=600
	while kill -0 "$pid" 2>/dev/null && [ $n -gt 0 ]; do sleep 0.05; n=$((n - 1)); done
	if kill -0 "$pid" 2>/dev/null; then
		rc="still running 30 s after SIGTERM"
		kill -KILL "$pid"
	fi
	wait "$pid" 2>/dev/null
	local w=$?
	[ -z "$rc" ] && rc=$w
}

# ---- A home: sudoku4 in four versions (one installed over HTTP), sudoku9, contexts, tokens -------

P4=1.3..4.22.4..3.1 # its solution: 1234341221434321
S4=1234341221434321
L1=learner-7c1f-alice L2=learner-93ab-bob L3=learner-55de-carol # must never show in logs or metrics
setup() {
	local v1 m=$W/m
	v1=$(sed -n 's/^version: *//p' "$root/modules/sudoku4/manifest.yaml") || return 1
	"$trmx" pack "$root/modules/sudoku4" -o "$W/s4-a.trmx" && mkdir "$m" && cp -r "$root/modules/sudoku4/." "$m/" &&
		sed -i 's/^version: .*/version: 99.1.0/' "$m/manifest.yaml" && "$trmx" pack "$m" -o "$W/s4-b.trmx" &&
		sed -i 's/^version: .*/version: 99.2.0/' "$m/manifest.yaml" && "$trmx" pack "$m" -o "$W/s4-c.trmx" &&
		sed -i 's/^version: .*/version: 99.0.5/' "$m/manifest.yaml" && printf 'halting:\n  threshold: 100\n  max_steps: 12\n' >>"$m/manifest.yaml" &&
		"$trmx" pack "$m" -o "$W/s4-t.trmx" &&
		"$trmx" pack "$root/modules/sudoku9" -o "$W/s9.trmx" &&
		"$trmx" install -q --home "$H" "$W/s4-a.trmx" "$W/s4-b.trmx" "$W/s4-t.trmx" "$W/s9.trmx" &&
		"$trmx" bind --home "$H" course/unit-1 "sudoku4@$v1" &&
		"$trmx" bind --home "$H" course/patient sudoku4@99.0.5 &&
		"$trmx" bind --home "$H" course/nine sudoku9 &&
		"$trmx" gen sudoku --size 4 -n 3 --seed 5 -o "$W/p4.csv" &&
		"$trmx" gen sudoku --size 9 -n 64 --seed 7 -o "$W/p9.csv" || return 1
	local t s
	for t in admin:admin solver:solve reader:read fb:feedback gone:solve; do
		"$trmx" token add "${t%%:*}" --scopes "${t#*:}" --home "$H" >"$W/tok.${t%%:*}" || return 1
	done
	# tokens limited to contexts under other/: in course/unit-1 they are outside their contexts
	"$trmx" token add scoped --scopes solve,feedback,read --context 'other/*' --home "$H" >"$W/tok.scoped" &&
		"$trmx" token add radmin --scopes admin --context 'other/*' --home "$H" >"$W/tok.radmin" || return 1
	echo "$v1" >"$W/v1"
} >"$W/setup.log" 2>&1
setup || die "a home with modules, contexts and tokens is made" "$(tail -n 20 "$W/setup.log")"
V1=$(cat "$W/v1")
TA=$(cat "$W/tok.admin") TS=$(cat "$W/tok.solver") TR=$(cat "$W/tok.reader") TF=$(cat "$W/tok.fb")
TG=$(cat "$W/tok.gone") TC=$(cat "$W/tok.scoped") TRA=$(cat "$W/tok.radmin")
TW=trmx_NotATokenNotATokenNotATokenNotATokenNotAToke # well formed, unknown
mapfile -t PZ < <(tail -n +2 "$W/p4.csv" | cut -d, -f1)

# ---- Server A: tokens from HOME/tokens.json, default limits ------------------------------------------

start A
SOLVE=/v1/contexts/course/unit-1/solve

# Health: open without a token.
get "" /healthz
truth "GET /healthz without a token: 200 {\"status\": \"ok\"}" eq "$code $(js 'd["status"]')" "200 ok" "$(last)"
get "" /readyz
truth "GET /readyz without a token: 200 ready" eq "$code $(js 'd["status"]')" "200 ready" "$(last)"

# Solve: one puzzle, JSON.
post "$TS" $SOLVE "{\"puzzle\": \"$P4\", \"learner\": \"$L1\"}"
expect "POST solve: 200" 200
RUN1=$(js 'd["runs"][0]["run_id"]')
truth "solve answers the context, module, version and one run with the answer" \
	eq "$(js '[d["context"], d["module"], d["version"], len(d["runs"]), d["runs"][0]["puzzle"], d["runs"][0]["answer"], d["runs"][0]["verdict"]]')" \
	"[\"course/unit-1\", \"sudoku4\", \"$V1\", 1, \"$P4\", \"$S4\", \"valid\"]" "$(last)"
truth "the solve's run is in log.db once answered, with its context and version" \
	eq "$(sql "SELECT context, version, status FROM runs WHERE id = '$RUN1'")" "course/unit-1,$V1,halted"
truth "log.db keeps no plain learner id" eq "$(sql "SELECT learner IS NOT NULL AND learner != '$L1' FROM runs WHERE id = '$RUN1'")" 1

# The manifest's halting (docs/FORMAT.md) reaches solves: sudoku4 halts after one step at the
# official threshold 0; 99.0.5 (the same weights, threshold 100, max_steps 12) runs every puzzle to
# its cap: the manifest's max_steps (above the model's halt_max_steps, 8), or the request's.
post "$TS" $SOLVE "{\"puzzles\": [\"${PZ[0]}\", \"${PZ[1]}\"]}"
truth "adaptive solves at the manifest's threshold 0 halt after 1 step" eq "$code $(js '[r["steps"] for r in d["runs"]]')" "200 [1, 1]" "$(last)"
post "$TS" /v1/contexts/course/patient/solve "{\"puzzles\": [\"${PZ[0]}\", \"${PZ[1]}\"]}"
truth "a version with halting threshold 100, max_steps 12 runs every adaptive solve to 12 steps, right" \
	eq "$code $(js '[d["version"], d["halt"]] + [r["steps"] for r in d["runs"]] + [r["verdict"] for r in d["runs"]]')" \
	'200 ["99.0.5", "adaptive", 12, 12, "valid", "valid"]' "$(last)"
post "$TS" /v1/contexts/course/patient/solve "{\"puzzle\": \"${PZ[0]}\", \"halt\": \"fixed\"}"
truth "... and a fixed solve naming no max_steps to the manifest's 12" eq "$code $(js '[r["steps"] for r in d["runs"]]')" "200 [12]" "$(last)"
post "$TS" /v1/contexts/course/patient/solve "{\"puzzle\": \"${PZ[0]}\", \"max_steps\": 5}"
truth "... or to the request's max_steps" eq "$code $(js '[r["steps"] for r in d["runs"]]')" "200 [5]" "$(last)"

# Batch solve, with run ids and fixed halting.
U1=01890000-0000-7000-8000-0000000000a1 U2=01890000-0000-7000-8000-0000000000a2 U3=01890000-0000-7000-8000-0000000000a3
post "$TS" $SOLVE "{\"puzzles\": [\"${PZ[0]}\", \"${PZ[1]}\", \"${PZ[2]}\"], \"learner\": \"$L2\", \"run_ids\": [\"$U1\", \"$U2\", \"$U3\"], \"halt\": \"fixed\", \"max_steps\": 3}"
expect "POST solve with 3 puzzles: 200" 200
BATCH=$(js 'd["batch_id"]')
truth "the batch answers 3 runs in order, with the given run ids, fixed halting, 3 steps each" \
	eq "$(js '[r["run_id"] for r in d["runs"]] + [r["puzzle"] for r in d["runs"]] + [d["halt"]] + [r["steps"] for r in d["runs"]]')" \
	"[\"$U1\", \"$U2\", \"$U3\", \"${PZ[0]}\", \"${PZ[1]}\", \"${PZ[2]}\", \"fixed\", 3, 3, 3]" "$(last)"
truth "the batch's 3 runs are in log.db under its batch id" \
	eq "$(sql "SELECT count(*), count(DISTINCT batch_id), max(batch_id) = '$BATCH' FROM runs WHERE id IN ('$U1', '$U2', '$U3')")" "3,1,1"
post "$TS" $SOLVE "{\"puzzle\": \"${PZ[0]}\", \"learner\": \"$L2\", \"run_id\": \"$U1\", \"halt\": \"fixed\", \"max_steps\": 3}"
truth "the same request again under its logged run id (a retry): 200, logged once" \
	eq "$code $(sql "SELECT count(*) FROM runs WHERE id = '$U1'")" "200 1" "$(last)"
post "$TS" $SOLVE "{\"puzzle\": \"$P4\", \"run_id\": \"$U1\"}"
truth "another request under a logged run id: 409 naming the id, the log keeps the first" \
	eq "$code $(js '"already in the log for another request" in d["error"]["message"]') $(sql "SELECT count(*), max(input) = '${PZ[0]}' FROM runs WHERE id = '$U1'")" "409 true 1,1" "$(last)"
post "$TS" $SOLVE "{\"puzzles\": [\"$P4\", \"not a sudoku\"]}"
truth "a batch with one unreadable puzzle: 200, that run an error with the codec's message" \
	eq "$code $(js '[r["status"] for r in d["runs"]] + ["expected a digit" in d["runs"][1]["error"]]')" \
	'200 ["halted", "error", true]' "$(last)"

# SSE: every ACT step as an event, then the result.
req "$TS" POST $SOLVE -H 'Accept: text/event-stream' --data-binary "{\"puzzle\": \"$P4\", \"halt\": \"fixed\", \"max_steps\": 4, \"learner\": \"$L3\"}"
cp "$W/body" "$W/sse1"
truth "SSE: 200 as text/event-stream" eq "$code $(header Content-Type)" "200 text/event-stream" "$(last)"
sse_summary() { # the events of an SSE body: [names...], the steps of row 0, the result's run count and steps
	python3 -c '
import json, sys
ev = []
for block in open(sys.argv[1]).read().split("\n\n"):
    name, data = None, None
    for line in block.split("\n"):
        if line.startswith("event: "): name = line[7:]
        elif line.startswith("data: "): data = json.loads(line[6:])
    if name: ev.append((name, data))
names = [n for n, _ in ev]
steps = [d["step"] for n, d in ev if n == "step" and d["row"] == 0]
keys = sorted(set(tuple(sorted(d)) for n, d in ev if n == "step"))
res = ev[-1][1] if ev and ev[-1][0] == "result" else None
print(json.dumps([names.count("step"), names.index("result") if "result" in names else -1, len(names), steps,
                  [list(k) for k in keys], res and len(res["runs"]), res and res["runs"][0].get("steps"),
                  res and res["runs"][0]["run_id"]]))' "$1" 2>&1
}
sum=$(sse_summary "$W/sse1")
RUNS=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])[7])' "$sum" 2>/dev/null)
truth "SSE: 4 step events (steps 1-4, each {row, step, answer, halt_confidence}), then the result last" \
	eq "$(python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1])[:7]))' "$sum" 2>&1)" \
	'[4, 4, 5, [1, 2, 3, 4], [["answer", "halt_confidence", "row", "step"]], 1, 4]' "stream: $(head -c 800 "$W/sse1")"
truth "SSE: the streamed run is in log.db" eq "$(sql "SELECT count(*) FROM runs WHERE id = '$RUNS'")" 1

# Feedback.
F1=01890000-0000-7000-8000-0000000000f1
# (partial: the model answered $S4 itself, and "incorrect" with its own answer is refused below)
post "$TF" /v1/runs/$RUN1/feedback "{\"verdict\": \"partial\", \"expected\": \"$S4\", \"comment\": \"row 2\", \"source\": \"instructor\", \"score\": 0.25, \"id\": \"$F1\"}"
truth "POST feedback: 201, recorded" eq "$code $(js '[d["feedback_id"], d["run_id"], d["recorded"], d["verdict"], d["source"], d["expected"]]')" \
	"201 [\"$F1\", \"$RUN1\", true, \"partial\", \"instructor\", \"$S4\"]" "$(last)"
truth "the feedback is in log.db's feedback table" \
	eq "$(sql "SELECT run_id, verdict, source, expected, score, comment FROM feedback WHERE id = '$F1'")" "$RUN1,partial,instructor,$S4,0.25,row 2"
post "$TF" /v1/runs/$RUN1/feedback "{\"verdict\": \"incorrect\", \"id\": \"$F1\"}"
truth "the same feedback id again: 200, not recorded twice" \
	eq "$code $(js 'd["recorded"]') $(sql "SELECT count(*) FROM feedback WHERE id = '$F1'")" "200 false 1" "$(last)"
post "$TF" /v1/runs/$U2/feedback '{"verdict": "correct"}'
truth "feedback without an id or source: 201, from the learner" eq "$code $(js 'd["source"]')" "201 learner" "$(last)"
post "$TF" /v1/runs/01890000-0000-7000-8000-00000000dead/feedback '{"verdict": "correct"}'
expect_error "feedback on a run that is not logged: 404" 404 not_found
post "$TF" /v1/runs/not-a-run/feedback '{"verdict": "correct"}'
expect_error "feedback on a run id that is not a UUID: 404" 404 not_found
post "$TF" /v1/runs/$RUN1/feedback '{"verdict": "great"}'
expect_error "feedback with a verdict that is not one: 400" 400 bad_request "great"
post "$TF" /v1/runs/$RUN1/feedback '{"verdict": "correct", "expected": "12"}'
expect_error "feedback whose expected answer does not read: 400 with the codec's message" 400 bad_request "expected"
post "$TF" /v1/runs/$RUN1/feedback '{"verdict": "incorrect", "expected": "1111111111111111"}'
expect_error "feedback whose correction fails the checker: 400 with the checker's problem" 400 bad_request "fails the sudoku checker"
post "$TF" /v1/runs/$RUN1/feedback "{\"verdict\": \"incorrect\", \"expected\": \"$S4\"}"
expect_error "feedback 'incorrect' with the model's own answer: 400" 400 bad_request "the model's own answer"
post "$TF" /v1/runs/$RUN1/feedback '{"verdict": '
expect_error "feedback with malformed JSON: 400" 400 bad_request "not JSON"

# Reading.
get "$TR" /v1/contexts
truth "GET /v1/contexts: 200, every bound context" eq "$code $(js 'sorted(c["context"] for c in d["contexts"])')" \
	'200 ["course/nine", "course/patient", "course/unit-1"]' "$(last)"
get "$TR" /v1/contexts/course/unit-1
truth "GET /v1/contexts/{context}: 200, its target and what it serves" \
	eq "$code $(js '[d["context"], d["target"], d["serving"]["version"]]')" "200 [\"course/unit-1\", \"sudoku4@$V1\", \"$V1\"]" "$(last)"
get "$TR" /v1/contexts/course/none
expect_error "GET /v1/contexts/{context} not bound: 404" 404 not_found
get "$TR" /v1/modules
truth "GET /v1/modules: 200, every installed version" \
	eq "$code $(js 'sorted(m["module"] + "@" + m["version"] for m in d["modules"])')" \
	"200 [\"sudoku4@$V1\", \"sudoku4@99.0.5\", \"sudoku4@99.1.0\", \"sudoku9@$(sed -n 's/^version: *//p' "$root/modules/sudoku9/manifest.yaml")\"]" "$(last)"
get "$TR" "/v1/report?context=course/unit-1&since=1d"
truth "GET /v1/report?context=&since=: 200, the context's runs" \
	eq "$code $(js '[d["context"], d["runs"] >= 6]')" '200 ["course/unit-1", true]' "$(last)"
get "$TR" "/v1/report?context=course/unit-1&since=yesterdayish"
expect_error "GET /v1/report with a bad since: 400" 400 bad_request
# The learners' runs by default, evaluations apart (kind=), the errors column, a context prefix
# (context=course/*), as trmx report does.
"$trmx" eval --home "$H" course/unit-1 "$W/p4.csv" >/dev/null 2>"$W/eval.err" || nok "trmx eval in course/unit-1" "$(cat "$W/eval.err")"
n_run=$(sql "SELECT count(*) FROM runs WHERE context = 'course/unit-1' AND kind = 'run'")
n_eval=$(sql "SELECT count(*) FROM runs WHERE context = 'course/unit-1' AND kind = 'eval'")
n_course=$(sql "SELECT count(*) FROM runs WHERE context LIKE 'course/%' AND kind = 'run'")
get "$TR" "/v1/report?context=course/unit-1"
truth "GET /v1/report: the learners' runs only by default ($n_run, not the $n_eval of trmx eval), each group with its errors" \
	eq "$code $(js '[d["kinds"], d["runs"], sum(g["runs"] for g in d["groups"]), all(isinstance(g["errors"], int) for g in d["groups"])]')" \
	"200 [\"run\", $n_run, $n_run, true]" "$(last)"
get "$TR" "/v1/report?context=course/unit-1&kind=eval"
truth "GET /v1/report?kind=eval: the evaluations apart" eq "$code $(js '[d["kinds"], d["runs"]]')" "200 [\"eval\", $n_eval]" "$(last)"
get "$TR" "/v1/report?context=course/unit-1&kind=all"
truth "GET /v1/report?kind=all: both" eq "$code $(js '[d["kinds"], d["runs"]]')" "200 [\"all\", $((n_run + n_eval))]" "$(last)"
get "$TR" "/v1/report?context=course/unit-1&kind=run,eval"
truth "GET /v1/report?kind=run,eval: both" eq "$code $(js 'd["runs"]')" "200 $((n_run + n_eval))" "$(last)"
get "$TR" "/v1/report?kind=learners"
expect_error "GET /v1/report?kind=learners: 400" 400 bad_request "'kind'"
get "$TR" "/v1/report?context=course/*"
truth "GET /v1/report?context=course/*: every context that begins with course/ ($n_course runs)" \
	eq "$code $(js '[d["runs"], all(g["context"].startswith("course/") for g in d["groups"]), len(d["groups"]) > 0]')" \
	"200 [$n_course, true, true]" "$(last)"
get "$TC" "/v1/report?context=course/*"
expect_error "GET /v1/report?context=course/* with a token for other/*: 403" 403 forbidden
get "$TC" "/v1/report?context=other/*"
truth "GET /v1/report?context=other/* with a token for other/*: 200, no runs" eq "$code $(js 'd["runs"]')" "200 0" "$(last)"
get "$TR" "/v1/history?subject=course/unit-1"
truth "GET /v1/history?subject=: 200, the context's bind" eq "$code $(js '[h["action"] for h in d["history"]]')" '200 ["bind"]' "$(last)"

# Admin: swap the version, then the next solve is served by it; each change in the history.
post "$TA" /v1/admin/bind '{"context": "course/unit-1", "target": "sudoku4@99.1.0"}'
expect "POST /v1/admin/bind to sudoku4@99.1.0: 200" 200
post "$TS" $SOLVE "{\"puzzle\": \"$P4\"}"
R=$(js 'd["runs"][0]["run_id"]')
truth "the next solve is served by 99.1.0 (answer and log.db)" \
	eq "$code $(js 'd["version"] + " " + d["target"]') $(sql "SELECT version FROM runs WHERE id = '$R'")" "200 99.1.0 sudoku4@99.1.0 99.1.0" "$(last)"
get "$TR" "/v1/history?subject=course/unit-1"
truth "the bind is in the history with actor serve:admin" \
	eq "$(js '[d["history"][-1][k] for k in ("actor", "action", "new")]')" '["serve:admin", "bind", "sudoku4@99.1.0"]' "$(last)"
post "$TA" /v1/admin/rollback '{"context": "course/unit-1"}'
expect "POST /v1/admin/rollback: 200" 200
post "$TS" $SOLVE "{\"puzzle\": \"$P4\"}"
truth "after the rollback the next solve is served by $V1 again" eq "$code $(js 'd["version"]')" "200 $V1" "$(last)"
post "$TA" /v1/admin/alias '{"module": "sudoku4", "alias": "champion", "version": "99.1.0"}'
expect "POST /v1/admin/alias champion -> 99.1.0: 200" 200
post "$TA" /v1/admin/bind '{"context": "course/unit-2", "target": "sudoku4@champion"}'
post "$TS" /v1/contexts/course/unit-2/solve "{\"puzzle\": \"$P4\"}"
truth "a context bound to the alias is served by 99.1.0" eq "$code $(js '[d["version"], d["alias"]]')" '200 ["99.1.0", "champion"]' "$(last)"
post "$TA" /v1/admin/alias "{\"module\": \"sudoku4\", \"alias\": \"champion\", \"version\": \"$V1\"}"
post "$TS" /v1/contexts/course/unit-2/solve "{\"puzzle\": \"$P4\"}"
truth "after the alias moves to $V1 the next solve follows it" eq "$code $(js 'd["version"]')" "200 $V1" "$(last)"
post "$TA" /v1/admin/bind '{"context": "course/unit-3", "target": "sudoku4@99.1.0"}'
post "$TA" /v1/admin/quarantine '{"module": "sudoku4", "version": "99.1.0", "reason": "wrong answers"}'
truth "POST /v1/admin/quarantine: 200, quarantined" eq "$code $(js 'd["quarantined"]')" "200 true" "$(last)"
post "$TS" /v1/contexts/course/unit-3/solve "{\"puzzle\": \"$P4\"}"
expect_error "a solve in a context bound to the quarantined version: 409" 409 conflict quarantined
post "$TA" /v1/admin/quarantine '{"module": "sudoku4", "version": "99.1.0", "release": true}'
post "$TS" /v1/contexts/course/unit-3/solve "{\"puzzle\": \"$P4\"}"
truth "released, the context is served by 99.1.0 again" eq "$code $(js 'd["version"]')" "200 99.1.0" "$(last)"
req "$TA" POST /v1/admin/install -H 'Content-Type: application/octet-stream' --data-binary "@$W/s4-c.trmx"
truth "POST /v1/admin/install of a package: 201, installed" eq "$code $(js '[d["module"], d["version"], d["already"]]')" \
	'201 ["sudoku4", "99.2.0", false]' "$(last)"
req "$TA" POST /v1/admin/install -H 'Content-Type: application/octet-stream' --data-binary "@$W/s4-c.trmx"
truth "the same package again: 200, already installed" eq "$code $(js 'd["already"]')" "200 true" "$(last)"
head -c 2000 /dev/urandom >"$W/junk.trmx"
req "$TA" POST /v1/admin/install -H 'Content-Type: application/octet-stream' --data-binary "@$W/junk.trmx"
expect_error "POST /v1/admin/install of bytes that are no package: 400" 400 bad_request
post "$TA" /v1/admin/bind '{"context": "course/unit-1", "target": "sudoku4@99.2.0"}'
post "$TS" $SOLVE "{\"puzzle\": \"$P4\"}"
truth "bound to the version installed over HTTP, the next solve is served by it" eq "$code $(js 'd["version"]')" "200 99.2.0" "$(last)"
get "$TR" /v1/modules
truth "GET /v1/modules shows it installed by serve:admin" \
	eq "$(js '[m["installed_by"] for m in d["modules"] if m["version"] == "99.2.0"]')" '["serve:admin"]' "$(last)"
truth "log.db's history records the admin changes with actor serve:admin" \
	eq "$(sql "SELECT group_concat(action, ' ') FROM (SELECT action FROM registry.history WHERE actor = 'serve:admin' ORDER BY id)")" \
	"bind rollback alias-set bind alias-set bind quarantine release install bind"
post "$TA" /v1/admin/bind '{"context": "course/unit-1", "target": "sudoku9"}'
expect_error "POST /v1/admin/bind to a module for another task: 400 saying what differs" 400 bad_request \
	"sudoku9 solves sudoku with size 9; course/unit-1 serves sudoku with size 4"
post "$TA" /v1/admin/bind '{"context": "course/unit-1", "target": "sudoku9", "force": "yes"}'
expect_error "POST /v1/admin/bind with a 'force' that is no boolean: 400" 400 bad_request "'force' is true or false"
post "$TA" /v1/admin/bind '{"context": "course/unit-1", "target": "sudoku4@7.7.7"}'
expect_error "bind to a version not installed: 404" 404 not_found
post "$TA" /v1/admin/bind '{"context": "course/unit-1", "traget": "sudoku4"}'
expect_error "bind with a misspelt field: 400" 400 bad_request traget
post "$TA" /v1/admin/rollback '{"context": '
expect_error "admin with malformed JSON: 400" 400 bad_request

# Errors of the solve route.
post "$TS" /v1/contexts/course/none/solve "{\"puzzle\": \"$P4\"}"
expect_error "solve in an unknown context: 404" 404 not_found course/none
post "$TS" $SOLVE '{"puzzle": "1.3..4.2'
expect_error "solve with malformed JSON: 400" 400 bad_request "not JSON"
post "$TS" $SOLVE '["1.3..4.22.4..3.1"]'
expect_error "solve with a body that is not an object: 400" 400 bad_request
post "$TS" $SOLVE '{"puzzle": "not a sudoku"}'
expect_error "solve with a malformed puzzle: 400 with the codec's message" 400 bad_request "expected a digit 1-4"
post "$TS" $SOLVE '{"puzzles": ["nope", "1.3"]}'
expect_error "a batch where no puzzle reads: 400 with the codec's message" 400 bad_request "no puzzle could be read"
post "$TS" $SOLVE "{\"puzzle\": \"$P4\", \"colour\": 1}"
expect_error "solve with an unknown field: 400" 400 bad_request colour
post "$TS" $SOLVE "{\"puzzle\": \"$P4\", \"halt\": \"sometimes\"}"
expect_error "solve with a bad halt: 400" 400 bad_request halt
post "$TS" $SOLVE "{\"puzzle\": \"$P4\", \"deadline_ms\": 0}"
expect_error "solve with deadline_ms 0: 400" 400 bad_request deadline_ms
python3 -c 'import json,sys; print(json.dumps({"puzzles": [sys.argv[1]] * 60000}))' "$P4" >"$W/big.json"
req "$TS" POST $SOLVE --data-binary "@$W/big.json"
expect_error "a body over the default --max-body (1 MiB): 413" 413 payload_too_large
get "$TS" $SOLVE
expect_error "GET on the solve route: 405" 405 method_not_allowed
truth "the 405 says Allow: POST" eq "$(header Allow)" POST
req "$TR" DELETE /v1/contexts
expect_error "DELETE /v1/contexts: 405" 405 method_not_allowed
truth "the 405 says Allow: GET, HEAD" eq "$(header Allow)" "GET, HEAD"
post "" /healthz '{}'
expect_error "POST /healthz: 405" 405 method_not_allowed
truth "HEAD /healthz: 200 (a GET's headers)" eq "$(curl -s -o /dev/null -I --max-time 10 -w '%{http_code}' "$URL/healthz")" 200
req "$TS" POST "/v1/contexts/bad@ctx/solve" -d '{"puzzle": "1"}'
expect_error "a malformed context name: 400" 400 bad_request "not a context name"
get "$TR" /v2/everything
expect_error "an unknown route: 404" 404 not_found
# SSE asked for, but refused before the stream: a plain JSON error
req "$TS" POST /v1/contexts/course/none/solve -H 'Accept: text/event-stream' --data-binary "{\"puzzle\": \"$P4\"}"
expect_error "an SSE solve in an unknown context: 404 JSON, no stream" 404 not_found

# Auth: no token, wrong token, wrong scope, outside its contexts.
post "" $SOLVE "{\"puzzle\": \"$P4\"}"
expect_error "solve without a token: 401" 401 unauthorized
truth "the 401 says WWW-Authenticate: Bearer" eval '[[ $(header WWW-Authenticate) == Bearer* ]]'
post "$TW" $SOLVE "{\"puzzle\": \"$P4\"}"
expect_error "solve with a wrong token: 401" 401 unauthorized
req "" POST $SOLVE -H 'Authorization: Basic YWRtaW46YWRtaW4=' --data-binary "{\"puzzle\": \"$P4\"}"
expect_error "solve with Basic instead of a bearer token: 401" 401 unauthorized
post "$TR" $SOLVE "{\"puzzle\": \"$P4\"}"
expect_error "solve with a read-only token: 403" 403 forbidden
post "$TC" $SOLVE "{\"puzzle\": \"$P4\"}"
expect_error "solve with a token for other/* in course/unit-1: 403" 403 forbidden
post "$TC" /v1/runs/$RUN1/feedback '{"verdict": "correct"}'
expect_error "feedback with a token for other/* on a run of course/unit-1: 403" 403 forbidden
post "$TS" /v1/runs/$RUN1/feedback '{"verdict": "correct"}'
expect_error "feedback with a solve-only token: 403" 403 forbidden
get "$TF" /v1/contexts
expect_error "GET /v1/contexts with a feedback-only token: 403" 403 forbidden
get "" /v1/modules
expect_error "GET /v1/modules without a token: 401" 401 unauthorized
get "$TC" "/v1/report?context=course/unit-1"
expect_error "GET /v1/report of course/unit-1 with a token for other/*: 403" 403 forbidden
post "$TS" /v1/admin/bind '{"context": "course/unit-1", "target": "sudoku4@99.1.0"}'
expect_error "admin bind with a solve token: 403" 403 forbidden
post "" /v1/admin/rollback '{"context": "course/unit-1"}'
expect_error "admin rollback without a token: 401" 401 unauthorized
# the server refuses before it reads the upload; curl waits for its answer to "Expect: 100-continue"
# (1 s by default, after which it sends the body into a connection the server may close: curl
# exit 55, seen once on a loaded machine)
req "$TR" POST /v1/admin/install -H 'Content-Type: application/octet-stream' --expect100-timeout 30 \
	--data-binary "@$W/s4-c.trmx"
expect_error "admin install with a read token: 403" 403 forbidden
# tokens.h: "A token with TRMX_SCOPE_ADMIN has every scope; its contexts still apply."
post "$TRA" /v1/admin/bind '{"context": "course/unit-1", "target": "sudoku4@99.1.0"}'
expect_error "admin bind of course/unit-1 with an admin token for other/* only: 403" 403 forbidden
post "$TA" /v1/admin/bind '{"context": "course/unit-1", "target": "sudoku4@99.2.0"}' # put it back if it moved

# Revoked after SIGHUP; a token added, and a broken tokens file, on SIGHUP.
hups() { grep -c 'tokens loaded from' "$W/A.err"; }
post "$TG" $SOLVE "{\"puzzle\": \"$P4\"}"
expect "solve with token 'gone' before it is revoked: 200" 200
"$trmx" token revoke gone --home "$H" >/dev/null 2>&1 || nok "trmx token revoke gone"
post "$TG" $SOLVE "{\"puzzle\": \"$P4\"}"
expect "revoked but no SIGHUP yet: still 200 (the server reads the file on SIGHUP)" 200
"$trmx" token add late --scopes solve --home "$H" >"$W/tok.late" 2>/dev/null || nok "trmx token add late"
TL=$(cat "$W/tok.late")
n0=$(hups)
kill -HUP "$pid_A"
truth "SIGHUP: the server says it read the tokens again" wait_until 10 eval '[ "$(hups)" -gt "$n0" ]'
post "$TG" $SOLVE "{\"puzzle\": \"$P4\"}"
expect_error "solve with the revoked token after SIGHUP: 401" 401 unauthorized
post "$TL" $SOLVE "{\"puzzle\": \"$P4\"}"
expect "solve with a token added before the SIGHUP: 200" 200
chmod 644 "$H/tokens.json"
kill -HUP "$pid_A"
truth "SIGHUP with a tokens file others may read: refused, the tokens stay" wait_until 10 grep -q 'the tokens stay as they were' "$W/A.err"
post "$TL" $SOLVE "{\"puzzle\": \"$P4\"}"
expect "... and the tokens loaded before still work: 200" 200
chmod 600 "$H/tokens.json"

# /metrics: read scope, valid Prometheus text, no learner id.
get "" /metrics
expect_error "GET /metrics without a token: 401" 401 unauthorized
get "$TS" /metrics
expect_error "GET /metrics with a solve token: 403" 403 forbidden
get "$TR" /metrics
cp "$W/body" "$W/metrics.txt"
truth "GET /metrics with a read token: 200 as text/plain" eval '[ "$code" = 200 ] && [[ $(header Content-Type) == text/plain* ]]'
if command -v promtool >/dev/null 2>&1; then
	out=$(promtool check metrics <"$W/metrics.txt" 2>&1)
	prc=$?
	if [ $prc -eq 0 ] && [ -z "$out" ]; then
		ok "promtool check metrics passes"
	else
		nok "promtool check metrics passes" "exit $prc: $out"
	fi
else
	nok "promtool check metrics passes" "promtool is missing (Debian package prometheus)"
fi
truth "the metrics count the solves answered 200 and the 401s" \
	eval 'grep -q "^trmx_http_requests_total{route=\"solve\",status=\"200\"} " "$W/metrics.txt" && grep -q "^trmx_http_requests_total{route=\"solve\",status=\"401\"} " "$W/metrics.txt"'
truth "the metrics hold no learner id sent" eval '! grep -qF -e "$L1" -e "$L2" -e "$L3" -e learner- "$W/metrics.txt"'

# Deadlines. A 1 ms deadline on an idle server: the answer must not depend on which thread runs
# first (the engine failing every row, or the request noticing the deadline).
dl_codes=""
for i in $(seq 40); do
	post "$TS" /v1/contexts/course/nine/solve "{\"puzzle\": \"$(sed -n 2p "$W/p9.csv" | cut -d, -f1)\", \"deadline_ms\": 1}"
	dl_codes+="$code"$'\n'
	[ "$code" = 200 ] && cp "$W/body" "$W/dl200"
done
n504=$(grep -c '^504$' <<<"$dl_codes")
if [ "$n504" = 40 ]; then
	ok "deadline_ms 1 on an idle server: 504 every time (40 of 40)"
else
	nok "deadline_ms 1 on an idle server: 504 every time (40 of 40)" \
		"got: $(sort <<<"$dl_codes" | uniq -c | awk 'NF == 2 { printf "%s%s x HTTP %s", (n++ ? ", " : ""), $1, $2 }')" "a 200 body: $(head -c 700 "$W/dl200" 2>/dev/null)"
fi

# A long SSE batch (64 9x9 puzzles, 24 fixed steps) keeps the engine busy: its first steps arrive
# before its result; meanwhile a 1 ms deadline in another context waits in the queue and gets 504;
# then SIGTERM: the stream is still answered to the end, and the server exits 0.
tail -n +2 "$W/p9.csv" | cut -d, -f1 | python3 -c 'import json,sys; print(json.dumps({"puzzles": [l.strip() for l in sys.stdin], "halt": "fixed", "max_steps": 24, "learner": sys.argv[1]}))' "$L3" >"$W/bg.json"
curl -s -N --max-time 120 -o "$W/bg.sse" -H "Authorization: Bearer $TS" -H 'Accept: text/event-stream' \
	--data-binary "@$W/bg.json" "$URL/v1/contexts/course/nine/solve" &
bg=$!
bgpids+=("$bg")
if wait_until 30 grep -qs '^event: step' "$W/bg.sse"; then
	truth "SSE: a long batch's first step arrives while it still runs (no result yet)" eval '! grep -q "^event: result" "$W/bg.sse"'
else
	nok "SSE: a long batch's first step arrives while it still runs (no result yet)" "stream: $(head -c 600 "$W/bg.sse")"
fi
DL=01890000-0000-7000-8000-0000000000d1
post "$TS" $SOLVE "{\"puzzle\": \"$P4\", \"deadline_ms\": 1, \"run_id\": \"$DL\"}"
expect_error "deadline_ms 1 while the engine is busy: 504" 504 deadline_exceeded
busy=$(grep -c '^event: result' "$W/bg.sse")
stop A
truth "SIGTERM: trmx serve exits 0" eq "$rc" 0 "$(tail -n 5 "$W/A.err")"
truth "SIGTERM: it says \"stopped\"" eval 'tail -n 1 "$W/A.err" | grep -q "stopped"'
wait "$bg" 2>/dev/null
sum=$(sse_summary "$W/bg.sse")
truth "SIGTERM during the stream$([ "$busy" = 0 ] || echo ' (it had ended already)'): the stream ends with the result of its 64 runs, 24 steps each" \
	eq "$(python3 -c 'import json,sys; s=json.loads(sys.argv[1]); print(json.dumps([s[1] == s[2] - 1, s[5], s[6]]))' "$sum" 2>&1)" \
	'[true, 64, 24]' "$(tail -c 600 "$W/bg.sse")"
truth "the stream's 64 runs are in log.db" eq "$(sql "SELECT count(*) FROM runs WHERE context = 'course/nine' AND max_steps = 24 AND status != 'error'")" 64
truth "the 504's puzzle is logged as an error run" eq "$(sql "SELECT status FROM runs WHERE id = '$DL'")" error

# The access log (standard error): JSON lines per request, never a token or a learner id.
truth "the access log has a line per request, naming the token" \
	eval '[ "$(grep -c "\"route\":\"solve\"" "$W/A.err")" -ge 40 ] && grep -q "\"token\":\"solver\"" "$W/A.err"'
leaks=$(grep -nF -e "$TA" -e "$TS" -e "$TR" -e "$TF" -e "$TG" -e "$TC" -e "$TRA" -e "$TL" -e "$TW" -e "$L1" -e "$L2" -e "$L3" -e learner- "$W/A.err" "$W/A.out" | head -n 3)
truth "the access log holds no token and no learner id" eq "$leaks" "" 

# ---- Server B: --max-queue 1, --max-body 1024, --tokens FILE ---------------------------------------

start B --max-queue 1 --max-body 1024 --tokens "$H/tokens.json"
post "$TS" $SOLVE "{\"puzzles\": [\"$P4\", \"${PZ[0]}\"]}"
expect_error "a batch of 2 puzzles past --max-queue 1: 503" 503 unavailable
truth "the 503 says Retry-After" eval '[ -n "$(header Retry-After)" ]'
post "$TS" $SOLVE "{\"puzzle\": \"$P4\"}"
expect "one puzzle within --max-queue 1: 200" 200
pad=$(head -c 1100 /dev/zero | tr '\0' ' ')
post "$TS" $SOLVE "{\"puzzle\": \"$P4\"$pad}"
expect_error "a body over --max-body 1024 (Content-Length): 413" 413 payload_too_large
req "$TS" POST $SOLVE -H 'Transfer-Encoding: chunked' --data-binary "{\"puzzle\": \"$P4\"$pad}"
expect_error "a chunked body over --max-body 1024: 413" 413 payload_too_large
pad=$(head -c 900 /dev/zero | tr '\0' ' ')
post "$TS" $SOLVE "{\"puzzle\": \"$P4\"$pad}"
expect "a body under --max-body 1024: 200" 200
get "$TR" /metrics
truth "the metrics count the 503" eval 'grep -q "^trmx_queue_full_total 1$" "$W/body"'
stop B
truth "SIGTERM: server B exits 0, \"stopped\"" eval '[ "$rc" = 0 ] && tail -n 1 "$W/B.err" | grep -q stopped'
leaks=$(grep -nF -e "$TS" -e "$TR" -e "$L1" -e "$L2" -e "$L3" -e learner- "$W/B.err" "$W/B.out" | head -n 3)
truth "server B's access log holds no token and no learner id either" eq "$leaks" ""

finish
