#!/bin/bash
# web.sh — the browser tests of trmx serve's pages (issue 18, acceptance 1): a fresh home with
# sudoku4 in two versions, a maze and a canary, `trmx serve` on an ephemeral loopback port with
# bearer tokens, then tests/web/browser.js drives Debian's chromium headless with Playwright
# (npm playwright-core, from tools/node_deps.sh): the learner's page (typing a puzzle, the
# streamed steps, the verdict, feedback), the console (sign in, canary verdict, swap the
# version), the next solve served by the new version, the analyst's view (SVG charts, CSV), a
# maze, and framing. The feedback and the runs are then checked in log.db; curl checks the
# headers (CSP, ETag, 304) and the 404 page. Screenshots: BUILD/tests/screenshots/*.png.
#   tests/http/web.sh [BUILD]      one line per check (ok - / not ok -), then "N passed, M failed"
# A chromium that does not start fails the test (it is never skipped).
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
case $build in /*) ;; *) build=$root/$build ;; esac
trmx=$build/trmx
W=$(mktemp -d "${TMPDIR:-/tmp}/trmx-web.XXXXXX") || exit 1
H=$W/home
shots=$build/tests/screenshots
pid=""
cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	wait 2>/dev/null
	chmod -R u+w "$W" 2>/dev/null # the store is read-only
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
t_start=$(date +%s)

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
	echo "$passed passed, $failed failed ($(( $(date +%s) - t_start )) s)"
	[ "$failed" -eq 0 ]
	exit
}
die() { nok "$@"; finish; }
why=""
truth() { local name=$1; shift; if "$@"; then ok "$name"; else nok "$name" "$why"; fi; why=""; }
eq() { [ "$1" = "$2" ] && return 0; why="got '$1', expected '$2'${3:+; $3}"; return 1; }
if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=python3; fi
sql() { "$trmx" sql --home "$H" --csv "$1" 2>&1 | tail -n +2; }

[ -x "$trmx" ] || die "$trmx is built"
command -v node >/dev/null 2>&1 || die "node is installed (make deps)"
[ -x /usr/bin/chromium ] || die "Debian's chromium is installed at /usr/bin/chromium (make deps)"
nm=$("$root/tools/node_deps.sh" "${build#"$root"/}" 2>"$W/npm.err") || die "the npm packages install (tools/node_deps.sh)" "$(cat "$W/npm.err")"
[ -d "$nm/playwright-core" ] || die "playwright-core is in $nm"

# ---- A home: sudoku4 as V1 and V2, a maze, three contexts (one with a canary), tokens ---------

P4=1.3..4.22.4..3.1
STEPS=6
V2=99.1.0
setup() {
	local m=$W/m v1
	v1=$(sed -n 's/^version: *//p' "$root/modules/sudoku4/manifest.yaml") || return 1
	"$trmx" pack "$root/modules/sudoku4" -o "$W/s4-a.trmx" && mkdir "$m" && cp -r "$root/modules/sudoku4/." "$m/" &&
		sed -i "s/^version: .*/version: $V2/" "$m/manifest.yaml" && "$trmx" pack "$m" -o "$W/s4-b.trmx" &&
		"$trmx" pack "$root/modules/maze" -o "$W/maze.trmx" &&
		"$trmx" install -q --home "$H" "$W/s4-a.trmx" "$W/s4-b.trmx" "$W/maze.trmx" &&
		"$trmx" bind --home "$H" course/unit-1 "sudoku4@$v1" &&
		"$trmx" bind --home "$H" course/maze maze &&
		"$trmx" bind --home "$H" course/canary "sudoku4@$v1" --canary "sudoku4@$V2" --share 50% &&
		"$trmx" gen sudoku --size 4 -n 3 --seed 9 -o "$W/p4.csv" || return 1
	# runs on both arms of the canary, for its verdict: learners go to an arm by their pseudonym,
	# which depends on the home's random secret, so 8 learners all land on one arm once in 128
	# homes; add learners until both arms have runs
	local i=0 arms=0
	while [ "$i" -lt 8 ] || [ "$arms" != 2 ]; do
		i=$((i + 1))
		[ "$i" -le 64 ] || return 1
		"$trmx" run --home "$H" course/canary --batch "$W/p4.csv" --learner "web-learner-$i" >/dev/null || return 1
		arms=$("$trmx" sql --home "$H" --csv "SELECT count(DISTINCT arm) FROM runs WHERE context = 'course/canary'" | tail -n 1)
	done
	"$trmx" token add admin --scopes admin --home "$H" >"$W/tok.admin" &&
		"$trmx" token add learner --scopes solve,feedback,read --context course/unit-1 --home "$H" >"$W/tok.learner" &&
		"$trmx" token add mazer --scopes solve,feedback,read --context course/maze --home "$H" >"$W/tok.maze" &&
		"$trmx" token add reader --scopes read --home "$H" >"$W/tok.reader" || return 1
	echo "$v1" >"$W/v1"
} >"$W/setup.log" 2>&1
setup || die "a home with two sudoku4 versions, a maze, a canary and tokens is made" "$(tail -n 20 "$W/setup.log")"
V1=$(cat "$W/v1")
ok "a home with sudoku4 $V1 and $V2, a maze, a canary and tokens is made"

rm -f "$W/port"
"$trmx" serve --home "$H" --listen 127.0.0.1:0 --port-file "$W/port" --plugins "$build/plugins" --threads 2 \
	>"$W/serve.out" 2>"$W/serve.err" &
pid=$!
n=400
while [ ! -s "$W/port" ] && kill -0 "$pid" 2>/dev/null && [ $n -gt 0 ]; do sleep 0.05; n=$((n - 1)); done
[ -s "$W/port" ] || die "trmx serve starts" "$(cat "$W/serve.err")"
U=http://127.0.0.1:$(cat "$W/port")
ok "trmx serve starts on an ephemeral loopback port (${U#http://})"

# ---- Headers and the 404 page, with curl ------------------------------------------------------

hdr() { curl -s -o "$W/body" -D - --max-time 10 "$@" | tr -d '\r'; }
h=$(hdr "$U/learn/course/unit-1")
truth "GET /learn/{context}: 200 HTML, CSP default-src 'self' with frame-ancestors *" \
	eq "$(echo "$h" | sed -n '1p;s/^Content-Security-Policy: //Ip' | tr '\n' '|')" \
	"HTTP/1.1 200 OK|default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors *|"
truth "the learner page names its context in a meta tag" grep -q '<meta name="trmx-context" content="course/unit-1">' "$W/body"
h=$(hdr "$U/console")
truth "GET /console: 200, and it may not be framed (frame-ancestors 'none')" \
	eq "$(echo "$h" | sed -n '1p' ; echo "$h" | grep -ci "^Content-Security-Policy: .*frame-ancestors 'none'")" "HTTP/1.1 200 OK
1"
h=$(hdr "$U/learn/course/%3Cb%3Enone")
truth "GET /learn/ of a context not bound: a 404 HTML page, the name escaped" \
	eq "$(echo "$h" | sed -n '1p'; grep -c '&lt;b&gt;none' "$W/body"; grep -c '<b>' "$W/body")" "HTTP/1.1 404 Not Found
1
0"
h=$(hdr "$U/assets/learn.js")
etag=$(echo "$h" | sed -n 's/^ETag: //Ip')
truth "GET /assets/learn.js: JavaScript, cacheable, with a strong ETag" \
	eq "$(echo "$h" | grep -ci -e '^Content-Type: text/javascript' -e '^Cache-Control: public' ) ${etag:0:1}" "2 \""
code=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$U/assets/learn.js")
truth "GET /assets/learn.js with If-None-Match of its ETag: 304" eq "$code" 304
code=$(curl -s -o /dev/null -w '%{http_code}' "$U/assets/none.js")
truth "GET /assets/ of a file that is not there: 404" eq "$code" 404

# ---- The browser ------------------------------------------------------------------------------

mkdir -p "$shots"
rm -f "$shots"/*.png
"$PY" -c 'import json, sys; a = sys.argv
json.dump({"url": a[1], "screenshots": a[2], "puzzle": a[3], "steps": int(a[4]), "v1": a[5], "v2": a[6],
           "tokens": {"learner": a[7], "maze": a[8], "admin": a[9], "reader": a[10]},
           "open_puzzle": "1...............", "solutions": ["1234341221434321", "1243342121344312"]},
          open(a[11], "w"))' \
	"$U" "$shots" "$P4" "$STEPS" "$V1" "$V2" "$(cat "$W/tok.learner")" "$(cat "$W/tok.maze")" "$(cat "$W/tok.admin")" \
	"$(cat "$W/tok.reader")" "$W/browser.json"
t0=$(date +%s)
timeout 120 node "$root/tests/web/browser.js" "$nm" "$W/browser.json" >"$W/browser.out" 2>"$W/browser.err"
brc=$?
grep -E '^(ok|not ok) - |^#' "$W/browser.out"
passed=$((passed + $(grep -c '^ok - ' "$W/browser.out")))
failed=$((failed + $(grep -c '^not ok - ' "$W/browser.out")))
if [ $brc -ne 0 ] && ! grep -q '^not ok - ' "$W/browser.out"; then
	nok "the browser script ends cleanly (exit $brc)" "$(tail -n 20 "$W/browser.err")"
fi
echo "# browser: $(( $(date +%s) - t0 )) s"
R=$(sed -n 's/^RESULT //p' "$W/browser.out")
r() { "$PY" -c 'import json, sys; d = json.loads(sys.argv[1] or "{}"); v = d.get(sys.argv[2]); print("" if v is None else v)' "$R" "$1" 2>/dev/null; }
RUN1=$(r run1) RUN2=$(r run2) EXP=$(r expected)

# ---- What the browser did, in log.db ----------------------------------------------------------

truth "the browser's first solve is in log.db: course/unit-1, $V1, $STEPS fixed steps, completed" \
	eq "$(sql "SELECT context, version, steps, status FROM runs WHERE id = '$RUN1'")" "course/unit-1,$V1,$STEPS,completed"
truth "its feedback row is in log.db: correct, from the learner" \
	eq "$(sql "SELECT verdict, source, expected IS NULL FROM feedback WHERE run_id = '$RUN1' AND source = 'learner'")" "correct,learner,1"
truth "the solve after the console's swap is in log.db as $V2" eq "$(sql "SELECT version FROM runs WHERE id = '$RUN2'")" "$V2"
truth "the correction typed on the grid is in log.db as the expected answer" \
	eq "$(sql "SELECT verdict, source, expected FROM feedback WHERE run_id = '$RUN2' AND source = 'learner'")" "incorrect,learner,$EXP"
truth "the console's bind is in the history with actor serve:admin" \
	eq "$("$trmx" history --home "$H" 2>&1 | grep -c "serve:admin.*course/unit-1.*sudoku4@$V2")" 1
for s in learn console report maze; do
	truth "screenshot $s.png is written under BUILD/tests/screenshots" test -s "$shots/$s.png"
done

kill -TERM "$pid"
n=400
while kill -0 "$pid" 2>/dev/null && [ $n -gt 0 ]; do sleep 0.05; n=$((n - 1)); done
wait "$pid" 2>/dev/null
rc=$?
pid=""
truth "trmx serve exits 0 on SIGTERM" eq "$rc" 0 "$(tail -n 5 "$W/serve.err")"
finish
