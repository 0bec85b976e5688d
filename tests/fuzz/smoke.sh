#!/bin/bash
# smoke.sh — make test's fuzz smoke run: build the libFuzzer targets (`make fuzz-build`: clang,
# ASan and UBSan; docs/SECURITY.md, "Fuzzing"), then run each one on a scratch copy of its
# committed seed corpus for an equal share of SECONDS. A target that cannot be built, crashes,
# leaks, times out on an input or trips a sanitizer fails the run; nothing is skipped.
#   tests/fuzz/smoke.sh BUILD FUZZ_BUILD SECONDS "TARGETS"     (run by `make test`)
# Prints one PASS/FAIL line for the build and one per target, as tests/run.sh does; the logs are
# BUILD/tests/fuzz-build.log and BUILD/tests/fuzz_NAME.log. The scratch corpora and any crash
# input are left in BUILD/tests/fuzz/ (NAME/ and crash-*, leak-*, timeout-*, oom-*), so the
# committed corpus in tests/fuzz/corpus/ is never written. MAKE names the make to build with.
set -u
if [ $# -ne 4 ]; then
	echo "usage: tests/fuzz/smoke.sh BUILD FUZZ_BUILD SECONDS \"TARGETS\"" >&2
	exit 2
fi
build=$1 fuzz_build=$2 seconds=$3 targets=$4
cd "$(dirname "$0")/../.." || exit 1
mkdir -p "$build/tests" || exit 1
read -r -a names <<<"$targets"
if [ ${#names[@]} -eq 0 ]; then
	echo "FAIL  fuzz (no targets in FUZZ_TARGETS)"
	exit 1
fi
# at least 5 s each: below that libFuzzer spends the time loading the seeds
share=$((seconds / ${#names[@]}))
[ "$share" -ge 5 ] || share=5

t0=$(date +%s)
if ${MAKE:-make} --no-print-directory fuzz-build FUZZ_BUILD="$fuzz_build" FUZZ_TARGETS="$targets" \
	>"$build/tests/fuzz-build.log" 2>&1; then
	echo "PASS  fuzz-build (${#names[@]} targets in $fuzz_build, $(($(date +%s) - t0))s)"
else
	echo "FAIL  fuzz-build (log: $build/tests/fuzz-build.log)"
	tail -n 30 "$build/tests/fuzz-build.log" | cut -c 1-300
	exit 1
fi

scratch=$build/tests/fuzz
rm -rf "$scratch"
fail=0
for t in "${names[@]}"; do
	log=$build/tests/fuzz_$t.log
	mkdir -p "$scratch/$t"
	if [ -d "tests/fuzz/corpus/$t" ]; then
		cp -R "tests/fuzz/corpus/$t/." "$scratch/$t/"
	fi
	dict=()
	[ -f "tests/fuzz/$t.dict" ] && dict=("-dict=tests/fuzz/$t.dict")
	t0=$(date +%s)
	# the same limits as `make fuzz`; only the scratch corpus is given, so new inputs land there
	if "$fuzz_build/fuzz_$t" -max_total_time="$share" -print_final_stats=1 -max_len=65536 \
		-rss_limit_mb=2048 -timeout=20 -artifact_prefix="$scratch/" "${dict[@]}" "$scratch/$t" \
		>"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
		seeds=$(find "tests/fuzz/corpus/$t" -type f 2>/dev/null | wc -l)
		echo "PASS  fuzz_$t (${runs:-?} runs, cov ${cov:-?}, from $seeds seeds, $(($(date +%s) - t0))s)"
	else
		echo "FAIL  fuzz_$t (log: $log; the input: $(grep -o "$scratch/[a-z]*-[0-9a-f]*" "$log" | tail -n 1))"
		grep -v '^#[0-9]' "$log" | tail -n 40
		fail=$((fail + 1))
	fi
done
[ "$fail" -eq 0 ]
