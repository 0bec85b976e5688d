#!/bin/bash
# lti.sh — the LTI 1.3 test of `trmx serve` (issue 18, acceptance point 2): `trmx lti` registers
# platforms (and refuses bad ones); a server over a home without platforms answers /lti/jwks and
# a clear page at /lti/login; then a platform stand-in written with npm `jose` (tests/lti/platform.js:
# keys, JWKS, signed id_tokens, an auth, a token and an AGS scores endpoint) launches the tool:
# a valid launch opens the learner page of the mapped context and its session solves and gives
# feedback; a wrong signature, a wrong audience, an expired token, a replayed nonce, an unknown
# deployment (and alg none, HS256, a used state) are each refused with a page and its status;
# deep linking returns a signed ltiResourceLink the stand-in verifies against the tool's JWKS;
# the score of the solve reaches the stand-in's AGS endpoint with a valid access token. Then
# log.db holds exactly the solve's run, under a pseudonym.
#   tests/http/lti.sh [BUILD]      one line per check (ok - / not ok -), then "N passed, M failed"
# Needs curl, node and npm (tools/node_deps.sh installs the pinned npm packages into BUILD/node).
# Everything listens on 127.0.0.1 and is stopped by the script; anything that cannot start fails it.
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
case $build in /*) ;; *) build=$root/$build ;; esac
trmx=$build/trmx
W=$(mktemp -d "${TMPDIR:-/tmp}/trmx-lti.XXXXXX") || exit 1
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
wait_until() { # wait_until SECONDS COMMAND...: poll every 50 ms
	local n=$(($1 * 20))
	shift
	while [ $n -gt 0 ]; do
		"$@" && return 0
		sleep 0.05
		n=$((n - 1))
	done
	return 1
}
# expect NAME WANT GOT [DETAIL]
expect() { if [ "$3" = "$2" ]; then ok "$1"; else nok "$1" "got '$3', expected '$2'" "${4:-}"; fi; }

for tool in curl node npm; do command -v "$tool" >/dev/null 2>&1 || die "$tool is installed"; done
[ -x "$trmx" ] || die "$trmx is built"

# start NAME HOME: trmx serve on 127.0.0.1:0 over HOME; $URL, $pid_NAME
start() {
	local name=$1 home=$2
	rm -f "$W/$name.port"
	"$trmx" serve --home "$home" --listen 127.0.0.1:0 --port-file "$W/$name.port" --plugins "$build/plugins" \
		--threads 2 >"$W/$name.out" 2>"$W/$name.err" &
	local pid=$!
	bgpids+=("$pid")
	eval "pid_$name=$pid"
	if ! wait_until 20 test -s "$W/$name.port" || ! kill -0 "$pid" 2>/dev/null; then
		die "server $name starts" "$(cat "$W/$name.err")"
	fi
	URL=http://127.0.0.1:$(cat "$W/$name.port")
	ok "server $name starts on an ephemeral loopback port"
}
# stop NAME: SIGTERM; $rc its exit status
stop() {
	local pid n=600
	eval "pid=\$pid_$1"
	kill -TERM "$pid"
	while kill -0 "$pid" 2>/dev/null && [ $n -gt 0 ]; do sleep 0.05; n=$((n - 1)); done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	rc=$?
}

# ---- A home with a bound context and an alias --------------------------------------------------

setup() {
	local v1
	v1=$(sed -n 's/^version: *//p' "$root/modules/sudoku4/manifest.yaml") || return 1
	"$trmx" pack "$root/modules/sudoku4" -o "$W/s4.trmx" && "$trmx" install -q --home "$H" "$W/s4.trmx" &&
		"$trmx" bind --home "$H" course/unit-1 "sudoku4@$v1" && "$trmx" alias set --home "$H" sudoku4@champion "$v1"
} >"$W/setup.log" 2>&1
setup || die "a home with a bound context and an alias is made" "$(tail -n 20 "$W/setup.log")"
ok "a home with a bound context (course/unit-1) and an alias (sudoku4@champion) is made"

# ---- trmx lti: registering platforms ------------------------------------------------------------

P="--client-id c1 --deployment d1 --jwks http://127.0.0.1:9/jwks --auth http://127.0.0.1:9/auth --token http://127.0.0.1:9/token"
X=$W/cli-home
# shellcheck disable=SC2086
"$trmx" lti add-platform --home "$X" --issuer ftp://lms.example.org $P >/dev/null 2>"$W/e1"
expect "add-platform refuses an issuer that is not http(s) (exit 1, says so)" "1 yes" "$? $(grep -q 'not an http:// or https:// URL' "$W/e1" && echo yes)" "$(cat "$W/e1")"
"$trmx" lti add-platform --home "$X" --issuer https://lms.example.org --client-id c1 --deployment d1 \
	--jwks https://lms.example.org/jwks --auth https://lms.example.org/auth >/dev/null 2>"$W/e2"
expect "add-platform without --token is a usage error (exit 2, names the option)" "2 yes" "$? $(grep -q -- '--token' "$W/e2" && echo yes)" "$(cat "$W/e2")"
# shellcheck disable=SC2086
"$trmx" lti add-platform --home "$X" --issuer https://lms.example.org $P --name "Test LMS" >"$W/o3" 2>&1
expect "add-platform registers a platform" 0 $? "$(cat "$W/o3")"
# shellcheck disable=SC2086
"$trmx" lti add-platform --home "$X" --issuer https://lms.example.org $P >/dev/null 2>"$W/e4"
expect "add-platform refuses the same issuer and client id twice (exit 1, says so)" "1 yes" "$? $(grep -q 'registered already' "$W/e4" && echo yes)" "$(cat "$W/e4")"
"$trmx" lti list --json --home "$X" >"$W/o5" 2>&1
expect "lti list --json shows it with its deployments" yes "$(node -e '
const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const p = d.platforms[0];
console.log(d.platforms.length === 1 && p.issuer === "https://lms.example.org" && p.client_id === "c1" &&
	p.deployments.join() === "d1" && p.name === "Test LMS" ? "yes" : "no")' "$W/o5" 2>&1)" "$(cat "$W/o5")"
expect "the tool key is made, mode 0600" 600 "$(stat -c %a "$X/lti/tool-key.pem" 2>&1)"
"$trmx" lti jwks --home "$X" >"$W/o6" 2>&1
expect "lti jwks prints one RS256 public key with a kid, and no private part" yes "$(node -e '
const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const k = d.keys[0];
console.log(d.keys.length === 1 && k.kty === "RSA" && k.alg === "RS256" && k.kid && k.n && k.e && !k.d ? "yes" : "no")' "$W/o6" 2>&1)" "$(cat "$W/o6")"
"$trmx" lti remove https://nowhere.example.org --home "$X" >/dev/null 2>"$W/e7"
expect "lti remove of an unknown issuer fails and says so" "1 yes" "$? $(grep -q 'no platform' "$W/e7" && echo yes)" "$(cat "$W/e7")"
"$trmx" lti remove https://lms.example.org --client-id c1 --home "$X" >/dev/null 2>&1 &&
	"$trmx" lti list --home "$X" >"$W/o8" 2>&1
expect "lti remove removes it" yes "$(grep -q 'no platforms registered' "$W/o8" && echo yes)" "$(cat "$W/o8")"

# ---- A server without platforms -----------------------------------------------------------------

start bare "$H"
code=$(curl -s -o "$W/b1" -w '%{http_code} %{content_type}' "$URL/lti/login?iss=https%3A%2F%2Flms.example.org&login_hint=x&target_link_uri=x")
expect "without platforms, /lti/login answers 404 with a page saying no platform is registered" "404 text/html; charset=utf-8 yes" \
	"$code $(grep -q 'No LTI platform is registered' "$W/b1" && echo yes)" "$(head -c 600 "$W/b1")"
code=$(curl -s -o "$W/b2" -w '%{http_code}' "$URL/lti/jwks")
expect "without platforms, /lti/jwks answers the tool's keys" "200 yes" "$code $(grep -q '"kty":"RSA"' "$W/b2" && echo yes)" "$(head -c 300 "$W/b2")"
stop bare
expect "the server stops on SIGTERM with status 0" 0 "$rc"

# ---- The platform stand-in ----------------------------------------------------------------------

NM=$("$root/tools/node_deps.sh" "${build#"$root"/}" 2>"$W/npm.err") || die "the npm packages are installed (tools/node_deps.sh)" "$(cat "$W/npm.err")"
[ -d "$NM/jose" ] || die "npm jose is installed in $NM"
node "$root/tests/lti/platform.js" "$W" "$NM" >"$W/platform.out" 2>"$W/platform.err" &
ppid_=$!
bgpids+=("$ppid_")
wait_until 30 test -s "$W/platform.json" || die "the platform stand-in starts" "$(cat "$W/platform.err" "$W/platform.out")"
pj() { node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))[process.argv[2]])' "$W/platform.json" "$1"; }
ISS=$(pj issuer)
"$trmx" lti add-platform --home "$H" --issuer "$ISS" --client-id "$(pj client_id)" --deployment "$(pj deployment)" \
	--deployment other-dep --jwks "$(pj jwks)" --auth "$(pj auth)" --token "$(pj token)" --name stand-in >"$W/reg.out" 2>&1 ||
	die "the stand-in is registered with trmx lti add-platform" "$(cat "$W/reg.out")"
ok "the stand-in ($ISS) is registered with trmx lti add-platform before serve starts"
start lti "$H"
echo "$URL" >"$W/tool.url.tmp" && mv "$W/tool.url.tmp" "$W/tool.url"
n=0
while kill -0 "$ppid_" 2>/dev/null && [ $n -lt 2400 ]; do sleep 0.05; n=$((n + 1)); done # 120 s
if kill -0 "$ppid_" 2>/dev/null; then
	kill -KILL "$ppid_"
	nok "the platform stand-in finishes within 120 s"
fi
wait "$ppid_" 2>/dev/null
prc=$?
cat "$W/platform.out"
passed=$((passed + $(grep -c '^ok - ' "$W/platform.out")))
failed=$((failed + $(grep -c '^not ok - ' "$W/platform.out")))
[ "$prc" -eq 0 ] || [ "$(grep -c '^not ok - ' "$W/platform.out")" -gt 0 ] ||
	nok "the platform stand-in exits 0" "exit $prc: $(tail -n 20 "$W/platform.err")"

stop lti
expect "the server stops on SIGTERM with status 0 (the grade passback drained)" 0 "$rc" "$(tail -n 5 "$W/lti.err")"
grep -q 'LTI grade passback' "$W/lti.err" && nok "no score was given up or dropped" "$(grep 'LTI grade passback' "$W/lti.err")"
runs=$("$trmx" sql --home "$H" --csv "SELECT count(*) FROM runs" 2>&1 | tail -n 1)
expect "log.db holds the two solves' runs: no refused launch, picker or page logged a run" 2 "$runs"
leak=$("$trmx" sql --home "$H" --csv "SELECT count(*) FROM runs WHERE learner LIKE '%user-42%' OR learner LIKE 'lti:%'" 2>&1 | tail -n 1)
expect "the LTI user is in log.db only as a pseudonym" 0 "$leak"
grep -q 'user-42\|trmxs_' "$W/lti.err" && nok "the access log holds no LTI user and no session token" "$(grep 'user-42\|trmxs_' "$W/lti.err" | head -3)"
finish
