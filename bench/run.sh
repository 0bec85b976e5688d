#!/bin/bash
# run.sh — `make bench`: trmx against PyTorch on CPU and OpenBLAS's own sgemm, measured in one run.
#   bench/run.sh [BUILD]        BENCH_QUICK=1 runs fewer steps for a fast look (figures marked)
# Prints tables with medians and ratios; raw lines go to bench/out/bench.log. Never gates CI.
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=bench/out
mkdir -p "$out"
B="$build/bench/bench_trm"
PY=/usr/bin/python3
threads=${TRMX_THREADS:-$(nproc)}
export TRMX_THREADS=$threads OMP_NUM_THREADS=$threads
steps=16
[ "${BENCH_QUICK:-0}" = 1 ] && steps=2
log="$out/bench.log"
: >"$log"

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" | head -1; }

for preset in sudoku_mlp tiny128; do
	[ -f "$out/$preset.safetensors" ] || "$B" gen "$preset" 1 "$out/$preset.safetensors"
done

echo "trmx benchmarks — $(date -u +%Y-%m-%dT%H:%MZ), $threads threads, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

bench_model() {
	local preset=$1 title=$2
	local w="$out/$preset.safetensors"
	echo "== $title: $steps ACT steps, fixed halting (per-step medians)"
	printf '%6s %12s %9s %12s %9s %8s %12s %8s %10s\n' batch "trmx puz/s" "GFLOP/s" "torch puz/s" "GFLOP/s" "ratio" "sgemm GF/s" "of sgemm" "peak RSS"
	for b in 1 16 64; do
		local reps=1
		[ "$b" = 1 ] && reps=3
		local s t g
		s=$("$B" sgemm "$w" "$b" | tee -a "$log" | grep '^sgemm' | field openblas_gflops)
		/usr/bin/time -v "$B" run "$w" "$b" "$steps" "$reps" >"$out/run.txt" 2>"$out/time.txt"
		cat "$out/run.txt" >>"$log"
		local tp tg rss
		tp=$(field puzzles_per_s <"$out/run.txt")
		tg=$(field gflops <"$out/run.txt")
		rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$out/time.txt")
		t=$("$PY" bench/torch_peer.py --weights "$w" --batch "$b" --steps "$steps" --reps "$reps" --threads "$threads" | tee -a "$log")
		local pp pg
		pp=$(echo "$t" | field puzzles_per_s)
		pg=$(echo "$t" | field gflops)
		awk -v b="$b" -v tp="$tp" -v tg="$tg" -v pp="$pp" -v pg="$pg" -v s="$s" -v rss="$rss" 'BEGIN {
			printf "%6d %12.3f %9.1f %12.3f %9.1f %7.2fx %12.1f %7.0f%% %7.0f MB\n", b, tp, tg, pp, pg, tp / pp, s, 100 * tg / s, rss / 1024 }'
	done
	echo
}

bench_model sudoku_mlp "TRM-MLP, official Sudoku size (hidden 512, 5,028,866 parameters)"
bench_model tiny128 "TRM-MLP, tiny (hidden 128, Sudoku 9x9)"

echo "== Adaptive halting with continuous batching (tiny model, Q head calibrated to halt at a spread of steps)"
"$B" halt "$out/tiny128.safetensors" 1024 64 | tee -a "$log"
echo
[ -x "$build/bench/bench_gen" ] && { echo "== Puzzle generators"; "$build/bench/bench_gen" | tee -a "$log"; }
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
