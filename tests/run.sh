#!/bin/sh
# run.sh — run every unit-test binary in BUILD/tests, then the CLI and HTTP tests; fail if any fails.
#   tests/run.sh [BUILD]
set -u
build=${1:-build}
cd "$(dirname "$0")/.."
fail=0
total=0
start=$(date +%s)
for t in "$build"/tests/test_*; do
	[ -x "$t" ] || continue
	total=$((total + 1))
	name=$(basename "$t")
	t0=$(date +%s)
	if "$t" >"$build/tests/$name.log" 2>&1; then
		echo "PASS  $name ($(( $(date +%s) - t0 ))s)"
	else
		echo "FAIL  $name (log: $build/tests/$name.log)"
		tail -n 40 "$build/tests/$name.log"
		fail=$((fail + 1))
	fi
done
if [ -x tests/cli/run.sh ]; then
	total=$((total + 1))
	if tests/cli/run.sh "$build" >"$build/tests/cli.log" 2>&1; then
		echo "PASS  cli ($(grep -c '^ok' "$build/tests/cli.log") cases$(n=$(grep -c '^SKIP' "$build/tests/cli.log"); [ "$n" = 0 ] || echo ", $n skipped: $(grep '^SKIP' "$build/tests/cli.log" | cut -d' ' -f3- | tr '\n' ' ')"))"
	else
		echo "FAIL  cli (log: $build/tests/cli.log)"
		grep -v '^ok' "$build/tests/cli.log" | tail -n 40
		fail=$((fail + 1))
	fi
fi
# Script tests, one test program each with BUILD as its argument and its log in BUILD/tests/:
# tests/build/*.sh check the build itself (the library's symbols, ...);
# tests/http/*.sh start their own `trmx serve` on a loopback port and drive it with curl;
# tests/pg/*.sh start their own throwaway PostgreSQL cluster (initdb, pg_ctl; as `nobody` under
# root) for the central log. A server or cluster that cannot start fails its script.
for t in tests/build/*.sh tests/http/*.sh tests/pg/*.sh; do
	[ -x "$t" ] || continue
	total=$((total + 1))
	name=$(basename "$(dirname "$t")")-$(basename "$t" .sh)
	t0=$(date +%s)
	if "$t" "$build" >"$build/tests/$name.log" 2>&1; then
		echo "PASS  $name ($(grep -c '^ok' "$build/tests/$name.log") checks, $(( $(date +%s) - t0 ))s)"
	else
		echo "FAIL  $name (log: $build/tests/$name.log)"
		grep -v '^ok' "$build/tests/$name.log" | tail -n 40
		fail=$((fail + 1))
	fi
done
# xAPI statements the tests exported (BUILD/tests/xapi/) and one made here, checked by the
# independent npm package xapi-validation on Node.js.
if [ -x tools/xapi_validate.sh ]; then
	total=$((total + 1))
	if tools/xapi_validate.sh "$build" >"$build/tests/xapi-validation.log" 2>&1; then
		echo "PASS  xapi-validation (npm): $(tail -n 1 "$build/tests/xapi-validation.log")"
	else
		echo "FAIL  xapi-validation (npm) (log: $build/tests/xapi-validation.log)"
		tail -n 30 "$build/tests/xapi-validation.log"
		fail=$((fail + 1))
	fi
fi
echo "$((total - fail))/$total test programs passed in $(( $(date +%s) - start ))s"
[ "$fail" -eq 0 ]
