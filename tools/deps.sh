#!/bin/sh
# deps.sh — install the Debian packages trmx needs when they are missing.
#   tools/deps.sh          build and test dependencies (C libraries, cmocka, pkg-config; the
#                          tests' tools: Node.js, chromium, PostgreSQL, clang, clang-format, ...)
#   tools/deps.sh --bench  also PyTorch on CPU and NumPy, the benchmarks' peer
#   tools/deps.sh --check  install nothing: name what the build itself lacks (compiler,
#                          pkg-config, Python 3, the C libraries) and fail, saying `make deps`
#                          installs it; what only the tests need is not checked
set -eu

if [ "${1:-}" = "--check" ]; then
	need=""
	command -v cc >/dev/null 2>&1 || need="$need gcc"
	command -v pkg-config >/dev/null 2>&1 || need="$need pkg-config"
	command -v python3 >/dev/null 2>&1 || need="$need python3" # tools/embed_web.py
	# libunistring (NFC of context names) has no pkg-config file: its header is looked for
	printf '\043include <uninorm.h>\n' | cc -E -x c - >/dev/null 2>&1 || need="$need libunistring-dev"
	for pair in sqlite3:libsqlite3-dev yaml-0.1:libyaml-dev libarchive:libarchive-dev \
	            openblas:libopenblas-dev libsodium:libsodium-dev jansson:libjansson-dev \
	            libmicrohttpd:libmicrohttpd-dev libcurl:libcurl4-openssl-dev openssl:libssl-dev \
	            libpq:libpq-dev; do
		if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists "${pair%%:*}"; then
			need="$need ${pair#*:}"
		fi
	done
	[ -z "$need" ] && exit 0
	echo "trmx: missing Debian packages:$need" >&2
	echo "trmx: \`make deps\` installs them (apt-get, as root or with sudo), then run make again" >&2
	exit 1
fi

need=""
command -v pkg-config >/dev/null 2>&1 || need="$need pkg-config"
for pair in sqlite3:libsqlite3-dev yaml-0.1:libyaml-dev libarchive:libarchive-dev \
            openblas:libopenblas-dev libsodium:libsodium-dev jansson:libjansson-dev \
            libmicrohttpd:libmicrohttpd-dev libcurl:libcurl4-openssl-dev openssl:libssl-dev \
            libpq:libpq-dev cmocka:libcmocka-dev; do
	pc=${pair%%:*}
	pkg=${pair#*:}
	if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists "$pc"; then
		need="$need $pkg"
	fi
done
command -v cc >/dev/null 2>&1 || need="$need gcc"
# libunistring (NFC of context names) has no pkg-config file: its header is looked for
printf '\043include <uninorm.h>\n' | cc -E -x c - >/dev/null 2>&1 || need="$need libunistring-dev"
# Node.js and npm: the tests' npm packages (tests/node: playwright-core, jose, xapi-validation;
# tools/node_deps.sh) check the exported xAPI statements, drive Debian's chromium headless
# against the learner's page and the console, and stand in for an LMS and an LRS.
command -v node >/dev/null 2>&1 || need="$need nodejs"
command -v npm >/dev/null 2>&1 || need="$need npm"
command -v chromium >/dev/null 2>&1 || need="$need chromium"
# The HTTP tests (tests/http/): curl drives trmx serve, Python 3 runs the load clients and reads
# log.db, promtool (Debian's prometheus) checks /metrics.
command -v curl >/dev/null 2>&1 || need="$need curl"
command -v python3 >/dev/null 2>&1 || need="$need python3"
command -v promtool >/dev/null 2>&1 || need="$need prometheus"
# tests/pg/ start a throwaway PostgreSQL cluster (initdb, pg_ctl) for the central log's tests
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need="$need postgresql"
# tests/http/index.sh signs hostile indexes with the openssl command
command -v openssl >/dev/null 2>&1 || need="$need openssl"
# make test's fuzz smoke run (tests/fuzz/smoke.sh, make fuzz): clang and its libFuzzer and
# sanitizer runtimes, which Debian ships apart (libclang-rt-dev: libclang-rt-14-dev on Debian 12).
# The Makefile's DEPS_OK looks for the same files.
command -v clang >/dev/null 2>&1 || need="$need clang"
ls "$(clang --print-runtime-dir 2>/dev/null)"/libclang_rt.fuzzer*.a >/dev/null 2>&1 || need="$need libclang-rt-dev"
# make test's format check of changed lines (tests/format/check.sh): git and clang-format-diff
# (Debian's clang-format package)
command -v git >/dev/null 2>&1 || need="$need git"
command -v clang-format-diff >/dev/null 2>&1 || need="$need clang-format"
if [ "${1:-}" = "--bench" ]; then
	/usr/bin/python3 -c 'import torch, numpy' >/dev/null 2>&1 || need="$need python3-torch python3-numpy"
	command -v time >/dev/null 2>&1 || need="$need time" # GNU time (dash has no time keyword)
	command -v wrk >/dev/null 2>&1 || need="$need wrk" # bench/serve.sh: the load of trmx serve
fi

[ -z "$need" ] && exit 0

echo "deps: installing$need" >&2
if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "deps: missing Debian packages:$need; run as root: apt-get install$need" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $need >/dev/null
