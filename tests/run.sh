#!/bin/sh
# run.sh — run every unit-test binary in BUILD/tests, then the CLI tests; fail if any fails.
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
		echo "PASS  cli ($(grep -c '^ok' "$build/tests/cli.log") cases)"
	else
		echo "FAIL  cli (log: $build/tests/cli.log)"
		grep -v '^ok' "$build/tests/cli.log" | tail -n 40
		fail=$((fail + 1))
	fi
fi
echo "$((total - fail))/$total test programs passed in $(( $(date +%s) - start ))s"
[ "$fail" -eq 0 ]
