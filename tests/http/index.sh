#!/bin/bash
# index.sh — module indexes over HTTP (issue 21, acceptance 1 and 2): publish two versions of the
# fixture module into an index folder, serve it with `trmx serve --index` and with
# `python3 -m http.server`, and from fresh homes: index add, search, pull, install NAME@VERSION,
# outdated, upgrade with an alias move; an interrupted download that resumes with a Range
# request; trmx serve's /index/ (ranges, paths that escape, links); and every hostile case,
# refused with a clear error and nothing installed: a bad index signature, an untrusted signer,
# a digest mismatch, a size lie, an older index version, an expired index, a redirect to another
# host, a 10 GB claimed size and a malformed index.json. The hostile server is a small
# http.server subclass below; hostile indexes are signed with openssl (Ed25519, the publisher's
# own key), so that each one reaches the check it is meant for.
#   tests/http/index.sh [BUILD]    one line per check (ok - / not ok -), then "N passed, M failed";
#                                  VERBOSE=1 also prints each refusal's message
# Needs python3, curl and openssl. Exits non-zero when a check fails.
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
case $build in /*) ;; *) build=$root/$build ;; esac
trmx=$build/trmx
W=$(mktemp -d "${TMPDIR:-/tmp}/trmx-index.XXXXXX") || exit 1
bgpids=()
cleanup() {
	local p
	for p in "${bgpids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	chmod -R u+w "$W" 2>/dev/null # the stores are read-only
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

if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=python3; fi
for tool in "$PY" curl openssl; do command -v "$tool" >/dev/null 2>&1 || die "$tool is installed"; done
[ -x "$trmx" ] || die "$trmx is built"

# run NAME CMD...: $out gets stdout and stderr, $rc the exit code
run() { out=$("$@" 2>&1); rc=$?; }
# expect_ok NAME CMD...: exit 0
expect_ok() {
	local name=$1
	shift
	run "$@"
	if [ "$rc" -eq 0 ]; then ok "$name"; else nok "$name" "exit $rc: $*" "$out"; fi
}
# refused NAME PATTERN HOME CMD...: exit 1, PATTERN (grep -E) in the output, nothing installed in HOME
refused() {
	local name=$1 pat=$2 home=$3
	shift 3
	run "$@"
	local listed
	listed=$("$trmx" list --home "$home" 2>/dev/null | grep -c '^sudoku4-tiny ')
	if [ "$rc" -eq 1 ] && grep -qE -- "$pat" <<<"$out" && [ "$listed" -eq 0 ] &&
		! ls "$home"/cache/*.trmx >/dev/null 2>&1; then
		ok "$name"
		[ -n "${VERBOSE:-}" ] && sed 's/^/#   /' <<<"$out"
	else
		nok "$name" "exit $rc (want 1), '$pat' expected, installed versions: $listed, cache: $(ls "$home/cache" 2>/dev/null | tr '\n' ' ')" "$out"
	fi
}
wait_until() { # wait_until SECONDS CMD...
	local n=$(($1 * 20))
	shift
	while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.05; n=$((n - 1)); done
	return 1
}

# resign DIR KEY: DIR/index.json.sig for the bytes of DIR/index.json with KEY.key (openssl's
# Ed25519: the seed wrapped as PKCS#8 DER), as trmx publish would write it
resign() {
	local d=$1 k=$2 seed pk id sig
	seed=$(sed -n 's/^secret-key: //p' "$k.key")
	pk=$(sed -n 's/^public-key: //p' "$k.pub")
	id=$(sed -n 's/^key-id: //p' "$k.pub")
	"$PY" -c 'import sys; sys.stdout.buffer.write(bytes.fromhex("302e020100300506032b657004220420" + sys.argv[1]))' "$seed" \
		>"$W/k.der"
	openssl pkey -inform DER -in "$W/k.der" -out "$W/k.pem" 2>/dev/null || return 1
	sig=$(openssl pkeyutl -sign -rawin -inkey "$W/k.pem" -in "$d/index.json" |
		"$PY" -c 'import sys; print(sys.stdin.buffer.read().hex())')
	rm -f "$W/k.der" "$W/k.pem"
	[ ${#sig} -eq 128 ] || return 1
	printf 'format: trmx-signature-1\nalgorithm: ed25519\nkey-id: %s\npublic-key: %s\nsignature: %s\n' "$id" "$pk" "$sig" \
		>"$d/index.json.sig"
}
# edit DIR PYTHON: run PYTHON on the JSON `d` of DIR/index.json and write it back
edit() {
	"$PY" -c '
import json, sys
p = sys.argv[1] + "/index.json"
d = json.load(open(p))
exec(sys.argv[2])
open(p, "w").write(json.dumps(d, indent=2) + "\n")' "$1" "$2"
}

# ---- Packages, keys, publishing -----------------------------------------------------------------

fx=$root/tests/fixtures/module-sudoku4-tiny
mkdir "$W/m2" && cp -r "$fx/." "$W/m2/" && sed -i 's/^version: 0.1.0/version: 0.2.0/' "$W/m2/manifest.yaml" &&
	mkdir "$W/m3" && cp -r "$fx/." "$W/m3/" && sed -i 's/^version: 0.1.0/version: 0.3.0/' "$W/m3/manifest.yaml" &&
	"$trmx" pack "$fx" -o "$W/a.trmx" >/dev/null && "$trmx" pack "$W/m2" -o "$W/b.trmx" >/dev/null &&
	"$trmx" pack "$W/m3" -o "$W/c.trmx" >/dev/null &&
	"$trmx" keygen -o "$W/pub" --comment "index publisher" >/dev/null && "$trmx" keygen -o "$W/evil" --comment "someone else" >/dev/null ||
	die "packs the fixture in three versions and makes two keys"
ok "packs the fixture in three versions and makes two keys"
digest_b=$(sha256sum "$W/b.trmx" | cut -d' ' -f1)
size_b=$(stat -c %s "$W/b.trmx")
I=$W/idx
P="$trmx publish --home $W/pubhome --index $I --key $W/pub.key"

run $P "$W/a.trmx"
[ "$rc" -eq 0 ] && grep -q "index version 1" <<<"$out" && [ -f "$I/packages/$(sha256sum "$W/a.trmx" | cut -d' ' -f1).trmx" ] &&
	ok "publish 0.1.0: index version 1, the package under packages/<sha256>.trmx" || nok "publish 0.1.0" "$out"
run $P "$W/a.trmx"
[ "$rc" -eq 0 ] && grep -q "published already" <<<"$out" && grep -q '"version": 1,' "$I/index.json" &&
	ok "publishing the same package again changes nothing" || nok "publish again" "$out"
run $P "$W/b.trmx"
[ "$rc" -eq 0 ] && grep -q "index version 2" <<<"$out" && grep -q '"version": 2,' "$I/index.json" &&
	ok "publish 0.2.0: index version 2" || nok "publish 0.2.0" "$out"
before=$(sha256sum "$I/index.json" "$I/index.json.sig")
cp "$W/c.trmx" "$W/c-bad.trmx" && printf 'X' | dd of="$W/c-bad.trmx" bs=1 seek=$((size_b / 2)) conv=notrunc 2>/dev/null
run $P "$W/c-bad.trmx"
[ "$rc" -eq 1 ] && grep -q "does not verify; not published" <<<"$out" && [ "$before" = "$(sha256sum "$I/index.json" "$I/index.json.sig")" ] &&
	[ "$(ls "$I/packages" | wc -l)" -eq 2 ] && ok "a package that does not verify is refused; the index is unchanged" ||
	nok "a damaged package is refused" "$out"
run $trmx publish --home "$W/pubhome" --index "$I" --key "$W/evil.key" "$W/c.trmx"
[ "$rc" -eq 1 ] && grep -q "does not verify with" <<<"$out" && [ "$before" = "$(sha256sum "$I/index.json" "$I/index.json.sig")" ] &&
	ok "publishing into the index with another key is refused" || nok "another key is refused" "$out"
run $trmx publish --index "$I" "$W/c.trmx"
[ "$rc" -eq 2 ] && ok "publish without --key: usage error (exit 2)" || nok "publish without --key" "$out"
expect_ok "publish --help" "$trmx" publish --help

# ---- Servers ------------------------------------------------------------------------------------

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

"$trmx" serve --home "$W/srvhome" --index "$I" --listen 127.0.0.1:0 --port-file "$W/serve.port" --threads 1 \
	>"$W/serve.out" 2>"$W/serve.err" &
bgpids+=($!)
wait_until 20 test -s "$W/serve.port" || die "trmx serve --index starts" "$(cat "$W/serve.err")"
URL_T=http://127.0.0.1:$(cat "$W/serve.port")/index
ok "trmx serve --index starts on an ephemeral loopback port"

pport=$(free_port)
"$PY" -m http.server --bind 127.0.0.1 --directory "$I" "$pport" >"$W/py.out" 2>&1 &
bgpids+=($!)
URL_P=http://127.0.0.1:$pport
wait_until 20 curl -sf -o /dev/null "$URL_P/index.json" || die "python3 -m http.server starts" "$(cat "$W/py.out")"
ok "python3 -m http.server starts on a loopback port"

# The hostile server: serves the folder named in $W/root, behaving as $W/mode says; every
# request and its Range header go to $W/hlog.
cat >"$W/hostile.py" <<'EOF'
import http.server, os, socket, sys
w = sys.argv[1]
def read(name):
    with open(os.path.join(w, name)) as f:
        return f.read().strip()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def do_GET(self):
        mode, root, rng = read("mode"), read("root"), self.headers.get("Range")
        with open(os.path.join(w, "hlog"), "a") as f:
            f.write("%s %s\n" % (self.path, rng))
        if mode == "redirect":
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.2:9" + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        rel = self.path.lstrip("/")
        p = os.path.join(root, rel)
        if ".." in rel or not os.path.isfile(p):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = open(p, "rb").read()
        pkg = rel.startswith("packages/")
        if pkg and mode == "lie":
            data += b"\0" * 100000
        if pkg and mode == "tamper":
            i = len(data) // 2
            data = data[:i] + bytes([data[i] ^ 1]) + data[i + 1:]
        start = 0
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
        body = data[start:]
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        marker = os.path.join(w, "dropped")
        if pkg and mode == "drop" and not os.path.exists(marker):
            open(marker, "w").close()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self.wfile.write(body)
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(os.path.join(w, "hostile.port"), "w") as f:
    f.write(str(srv.server_address[1]))
srv.serve_forever()
EOF
echo ok >"$W/mode"
echo "$I" >"$W/root"
"$PY" "$W/hostile.py" "$W" >"$W/hostile.out" 2>&1 &
bgpids+=($!)
wait_until 20 test -s "$W/hostile.port" || die "the hostile test server starts" "$(cat "$W/hostile.out")"
URL_H=http://127.0.0.1:$(cat "$W/hostile.port")
ok "the hostile test server starts"

# ---- trmx serve's /index/ -----------------------------------------------------------------------

code=$(curl -s -o "$W/body" -w '%{http_code}' "$URL_T/index.json")
[ "$code" = 200 ] && cmp -s "$W/body" "$I/index.json" && ok "GET /index/index.json: 200, the file" || nok "GET /index/index.json" "$code"
code=$(curl -s -o "$W/body" -D "$W/hdr" -w '%{http_code}' -r 100-199 "$URL_T/packages/$digest_b.trmx")
[ "$code" = 206 ] && [ "$(stat -c %s "$W/body")" -eq 100 ] && grep -qi "^content-range: bytes 100-199/$size_b" "$W/hdr" &&
	cmp -s "$W/body" <(tail -c +101 "$W/b.trmx" | head -c 100) &&
	ok "a Range request: 206 with Content-Range and exactly those bytes" || nok "Range request" "$code $(cat "$W/hdr")"
code=$(curl -s -o /dev/null -w '%{http_code}' -r "$((size_b + 10))-" "$URL_T/packages/$digest_b.trmx")
[ "$code" = 416 ] && ok "a range past the end: 416" || nok "range past the end: 416" "$code"
ln -s "$W/srvhome" "$I/out" && ln -s "$W/pub.key" "$I/secret.key"
bad=0
for p in "../pub.key" "%2e%2e/pub.key" "packages/../../pub.key" "out/registry.db" "secret.key" "packages" "nothing.json" "/etc/passwd" "packages//x"; do
	code=$(curl -s --path-as-is -o /dev/null -w '%{http_code}' "$URL_T/$p")
	[ "$code" = 404 ] || { bad=1; nok "GET /index/$p: 404" "HTTP $code"; }
done
rm -f "$I/out" "$I/secret.key"
[ $bad -eq 0 ] && ok "paths that escape the folder, links (in or out), folders and missing files: 404"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL_T/index.json")
[ "$code" = 405 ] && ok "POST /index/...: 405 (read-only)" || nok "POST /index/...: 405" "HTTP $code"

# ---- Search, pull, install, outdated, upgrade: against both servers --------------------------------

for srv in serve python; do
	if [ $srv = serve ]; then url=$URL_T; else url=$URL_P; fi
	H=$W/home-$srv
	run "$trmx" index add "$url" --trust "$W/pub.pub" --home "$H"
	[ "$rc" -eq 0 ] && grep -q "added index" <<<"$out" && ok "$srv: index add checks and stores the index" ||
		nok "$srv: index add" "$out"
	run "$trmx" index list --home "$H"
	grep -q "version 2 seen" <<<"$out" && grep -q "1. $url" <<<"$out" && ok "$srv: index list: the key, the version seen, the mirror" ||
		nok "$srv: index list" "$out"
	run "$trmx" search sudoku --home "$H"
	[ "$rc" -eq 0 ] && grep -q "^sudoku4-tiny *0.1.0" <<<"$out" && grep -q "^sudoku4-tiny *0.2.0" <<<"$out" &&
		ok "$srv: search lists both versions" || nok "$srv: search" "$out"
	run "$trmx" search nothing-like-this --home "$H"
	[ "$rc" -eq 0 ] && grep -q "no package matches" <<<"$out" && ok "$srv: search without a match says so" || nok "$srv: search no match" "$out"
	run "$trmx" pull sudoku4-tiny@0.1.0 --home "$H"
	path=$(tail -n 1 <<<"$out")
	[ "$rc" -eq 0 ] && cmp -s "$path" "$W/a.trmx" && grep -q "bytes (100%)" <<<"$out" &&
		ok "$srv: pull NAME@VERSION: checked into the cache, progress lines on a non-terminal" || nok "$srv: pull" "$out"
	run "$trmx" install sudoku4-tiny@0.1.0 --home "$H"
	[ "$rc" -eq 0 ] && grep -q "installed sudoku4-tiny 0.1.0" <<<"$out" && ok "$srv: install NAME@VERSION through the index" ||
		nok "$srv: install NAME@VERSION" "$out"
	"$trmx" alias set sudoku4-tiny@champion 0.1.0 --home "$H" >/dev/null 2>&1
	run "$trmx" outdated --home "$H"
	[ "$rc" -eq 0 ] && grep -q "installed 0.1.0 *available 0.2.0" <<<"$out" && ok "$srv: outdated: 0.2.0 is available" ||
		nok "$srv: outdated" "$out"
	run "$trmx" upgrade sudoku4-tiny --alias champion --home "$H"
	run2=$("$trmx" alias list sudoku4-tiny --home "$H" 2>&1)
	[ "$rc" -eq 0 ] && grep -q "installed sudoku4-tiny 0.2.0" <<<"$out" && grep -q "sudoku4-tiny@champion -> 0.2.0" <<<"$out" &&
		grep -q "champion.*0.2.0" <<<"$run2" && ok "$srv: upgrade --alias: 0.2.0 installed (self-test), then the alias moved" ||
		nok "$srv: upgrade --alias" "$out" "$run2"
	run "$trmx" upgrade sudoku4-tiny --home "$H"
	[ "$rc" -eq 0 ] && grep -q "is up to date" <<<"$out" && ok "$srv: upgrade again: up to date, nothing changed" || nok "$srv: upgrade again" "$out"
done

# The index goes down: the copy seen last serves while it has not expired (search, not a refusal).
H=$W/home-offline
"$trmx" index add "$URL_H" --trust "$W/pub.pub" --home "$H" >/dev/null 2>&1
echo "$W/nowhere" >"$W/root"
run "$trmx" search --home "$H"
[ "$rc" -eq 0 ] && grep -q "^sudoku4-tiny *0.2.0" <<<"$out" && grep -q "using the copy of version 2" <<<"$out" &&
	ok "no mirror answers: the unexpired copy seen before is used, with a warning" || nok "offline fallback" "$out"
echo "$I" >"$W/root"

# Mirrors: a dead first mirror is skipped for the second.
H=$W/home-mirrors
run "$trmx" index add "$URL_P" --trust "$W/pub.pub" --home "$H"
run "$trmx" index add "$URL_T" --trust "$W/pub.pub" --home "$H"
grep -q "added index" <<<"$out" && "$trmx" index list --home "$H" | grep -q "2. $URL_T" && ok "a second URL for the same key is a mirror" ||
	nok "a mirror is added" "$out"
dead=http://127.0.0.1:$(free_port)
sed -i "1i $dead" "$H/indexes/"*/mirrors
run "$trmx" pull sudoku4-tiny@0.2.0 --home "$H"
[ "$rc" -eq 0 ] && cmp -s "$(tail -n 1 <<<"$out")" "$W/b.trmx" && ok "mirrors are tried in order: a dead one is skipped" ||
	nok "mirrors in order" "$out"
run "$trmx" index remove "$dead" --home "$H"
[ "$rc" -eq 0 ] && ! grep -q "$dead" "$H/indexes/"*/mirrors && ok "index remove URL drops one mirror" || nok "index remove URL" "$out"
id=$(basename "$(ls -d "$H/indexes/"*)")
run "$trmx" index remove "$id" --home "$H"
[ "$rc" -eq 0 ] && [ -z "$(ls "$H/indexes")" ] && ok "index remove KEY-ID drops the index" || nok "index remove KEY-ID" "$out"

# ---- An interrupted download resumes --------------------------------------------------------------

H=$W/home-resume
"$trmx" index add "$URL_H" --trust "$W/pub.pub" --home "$H" >/dev/null 2>&1
echo drop >"$W/mode"
: >"$W/hlog"
run "$trmx" install sudoku4-tiny@0.2.0 --home "$H"
[ "$rc" -eq 0 ] && grep -q "installed sudoku4-tiny 0.2.0" <<<"$out" && [ -f "$W/dropped" ] &&
	grep -qE "^/packages/$digest_b.trmx bytes=[1-9][0-9]*-$" "$W/hlog" &&
	ok "a download cut half way resumes with a Range request from where it stopped, then installs" ||
	nok "resume" "$out" "$(cat "$W/hlog")"
echo ok >"$W/mode"

# ---- Hostile indexes: each refused with a clear error, nothing installed --------------------------

# variant NAME: a copy of the good index in $W/v-NAME
variant() { rm -rf "$W/v-$1" && cp -r "$I" "$W/v-$1"; }
# hostile NAME PATTERN ROOT MODE: a fresh home trusts the good index (version 2 seen), then the
# server turns to ROOT and MODE and install NAME@VERSION must be refused
hostile() {
	local name=$1 pat=$2 r=$3 m=$4 H=$W/home-h-$RANDOM
	echo ok >"$W/mode"
	echo "$I" >"$W/root"
	if ! "$trmx" index add "$URL_H" --trust "$W/pub.pub" --home "$H" >/dev/null 2>&1; then
		nok "$name" "the home could not add the good index first"
		return
	fi
	echo "$r" >"$W/root"
	echo "$m" >"$W/mode"
	refused "$name" "$pat" "$H" "$trmx" install sudoku4-tiny@0.2.0 --home "$H"
	echo ok >"$W/mode"
	echo "$I" >"$W/root"
}

variant badsig && sed -i 's/a format fixture/a FORMAT fixture/' "$W/v-badsig/index.json"
hostile "bad index signature: refused" "bad index signature" "$W/v-badsig" ok

variant untrusted && rm -f "$W/v-untrusted/index.json"* && "$trmx" publish --index "$W/v-untrusted" --key "$W/evil.key" \
	"$W/a.trmx" "$W/b.trmx" "$W/c.trmx" >/dev/null 2>&1
hostile "untrusted signer: refused" "not by its trusted signer" "$W/v-untrusted" ok
run "$trmx" index add "$URL_P" --trust "$W/evil.pub" --home "$W/home-wrongkey"
[ "$rc" -eq 1 ] && grep -q "not by its trusted signer" <<<"$out" && [ -z "$(ls "$W/home-wrongkey/indexes" 2>/dev/null)" ] &&
	ok "index add with the wrong key: refused, nothing stored" || nok "index add with the wrong key" "$out"

variant tamper
hostile "digest mismatch (a tampered package): refused before anything is unpacked" "digest mismatch" "$W/v-tamper" tamper
hostile "size lie (more bytes than listed): reading stops at the listed size, refused" "size lie" "$I" lie

variant old && rm -f "$W/v-old/index.json"* && "$trmx" publish --index "$W/v-old" --key "$W/pub.key" "$W/a.trmx" "$W/b.trmx" \
	>/dev/null 2>&1 && edit "$W/v-old" 'd["version"] = 1' && resign "$W/v-old" "$W/pub" || nok "makes the rolled-back index"
hostile "older index version than seen (rollback): refused" "older than version 2 seen before" "$W/v-old" ok

variant expired && edit "$W/v-expired" 'd["version"] = 3; d["expires"] = "2020-01-01T00:00:00Z"' && resign "$W/v-expired" "$W/pub" ||
	nok "makes the expired index"
hostile "expired index: refused" "the index expired at 2020-01-01T00:00:00Z" "$W/v-expired" ok

hostile "redirect to another host: not followed, refused" "redirected \(HTTP 302\) to http://127.0.0.2:9/" "$I" redirect

variant huge && edit "$W/v-huge" 'd["version"] = 3
for e in d["packages"]:
    if e["version"] == "0.2.0": e["size"] = 10 * 1000**3' && resign "$W/v-huge" "$W/pub" || nok "makes the 10 GB index"
: >"$W/hlog"
hostile "a 10 GB claimed size: refused before downloading" "more than TRMX_PACKAGE_FILE_MAX.*not downloaded" "$W/v-huge" ok
grep -q "^/packages/" "$W/hlog" && nok "no package byte was asked for with a 10 GB claim" "$(cat "$W/hlog")" ||
	ok "no package byte was asked for with a 10 GB claim"

variant malformed && printf '{"format": "trmx-index-1", "version": 3, "packages": [' >"$W/v-malformed/index.json" &&
	resign "$W/v-malformed" "$W/pub" || nok "makes the malformed index"
hostile "a malformed index.json (validly signed): refused" "index.json:1:.*not JSON" "$W/v-malformed" ok
variant badfield && edit "$W/v-badfield" 'd["version"] = 3; d["packages"][0]["digest"] = "../../etc/passwd"' &&
	resign "$W/v-badfield" "$W/pub" || nok "makes the index with a bad digest field"
hostile "an index entry whose digest is a path: refused" "digest is not 64 lowercase hex digits" "$W/v-badfield" ok

finish
