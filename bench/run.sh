#!/bin/bash
# run.sh — `make bench`: trmx against PyTorch on CPU and OpenBLAS's own sgemm, measured in one run;
# with AVX-512 BF16, trmx's bf16 products against its fp32 ones.
#   bench/run.sh [BUILD]        BENCH_QUICK=1 runs fewer steps for a fast look (figures marked)
# Prints tables with medians and ratios; raw lines go to bench/out/bench.log. Never gates CI.
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=bench/out
mkdir -p "$out"
. tools/torch_python.sh
case "$build" in /*) trmx="$build/trmx" ;; *) trmx="$root/$build/trmx" ;; esac
B="$build/bench/bench_trm"
threads=${TRMX_THREADS:-$(nproc)}
export TRMX_THREADS=$threads OMP_NUM_THREADS=$threads
steps=16
[ "${BENCH_QUICK:-0}" = 1 ] && steps=2
log="$out/bench.log"
: >"$log"

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" | head -1; }

for preset in sudoku_mlp tiny128 hrm_sudoku; do
	[ -f "$out/$preset.safetensors" ] || "$B" gen "$preset" 1 "$out/$preset.safetensors"
done

echo "trmx benchmarks — $(date -u +%Y-%m-%dT%H:%MZ), $threads threads, $(lscpu | sed -n 's/^Model name: *//p')"
echo "load average before: $(uptime | sed 's/.*load average: //')"
echo

bench_model() {
	local preset=$1 title=$2 peer=${3:-bench/torch_peer.py} batches=${4:-1 16 64}
	local w="$out/$preset.safetensors"
	echo "== $title: $steps ACT steps, fixed halting (per-step medians)"
	printf '%6s %12s %9s %12s %9s %8s %12s %8s %10s\n' batch "trmx puz/s" "GFLOP/s" "torch puz/s" "GFLOP/s" "ratio" "sgemm GF/s" "of sgemm" "peak RSS"
	for b in $batches; do
		local reps=1
		[ "$b" = 1 ] && reps=3
		local s t g
		s=$("$B" sgemm "$w" "$b" | tee -a "$log" | grep '^sgemm' | field openblas_gflops)
		command time -v "$B" run "$w" "$b" "$steps" "$reps" >"$out/run.txt" 2>"$out/time.txt"
		cat "$out/run.txt" >>"$log"
		local tp tg rss
		tp=$(field puzzles_per_s <"$out/run.txt")
		tg=$(field gflops <"$out/run.txt")
		rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$out/time.txt")
		t=$("$PY" "$peer" --weights "$w" --batch "$b" --steps "$steps" --reps "$reps" --threads "$threads" | tee -a "$log")
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
bench_model hrm_sudoku "HRM, official Sudoku size (hidden 512, 4+4 layers, 27,275,266 parameters)" bench/torch_hrm_peer.py "1 16"

echo "== Training: official step (ACT refills, backward of the last H cycle, AdamATan2, EMA), random data"
printf '%-12s %6s %14s %14s %8s\n' model batch "trmx steps/s" "torch steps/s" ratio
for spec in "tiny128 32" "sudoku_mlp 8"; do
	set -- $spec
	tsteps=$([ "${BENCH_QUICK:-0}" = 1 ] && echo 3 || echo 10)
	a=$("$B" train "$out/$1.safetensors" "$2" "$tsteps" | tee -a "$log" | field steps_per_s)
	p=$("$PY" bench/torch_train_peer.py --weights "$out/$1.safetensors" --batch "$2" --steps "$tsteps" --threads "$threads" | tee -a "$log" | field steps_per_s)
	awk -v m="$1" -v b="$2" -v a="$a" -v p="$p" 'BEGIN { printf "%-12s %6d %14.3f %14.3f %7.2fx\n", m, b, a, p, a / p }'
done
echo

# bf16 products (docs/PERFORMANCE.md): the same binaries with TRMX_MATMUL=bf16, side by side with fp32.
if "$B" bf16 "$out/tiny128.safetensors" 1 | grep -q unavailable; then
	echo "== bf16 matrix products: this CPU lacks AVX-512 BF16, fp32 only"
else
	echo "== bf16 matrix products (TRMX_MATMUL=bf16: bf16 operands; fp32 accumulation, weights, gradients) against fp32"
	printf '%-12s %6s %-12s %6s %6s %6s %10s %10s %7s\n' model batch pass M N K "fp32 GF/s" "bf16 GF/s" ratio
	for spec in "tiny128 64" "sudoku_mlp 64" "sudoku_mlp 8"; do
		set -- $spec
		"$B" bf16 "$out/$1.safetensors" "$2" | tee -a "$log" | awk -v m="$1" -v b="$2" '
			function v(k,   i) { for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) return substr($i, length(k) + 2) }
			/^shape/ { printf "%-12s %6d %-12s %6d %6d %6d %10.1f %10.1f %6.2fx\n", m, b, v("pass"), v("M"), v("N"), v("K"), v("fp32_gflops"), v("bf16_gflops"), v("bf16_gflops") / v("fp32_gflops") }
			/^bf16/ { printf "%-12s %6d %-12s %20s %10.1f %10.1f %6.2fx  (weighted by calls)\n", m, b, "forward", "", v("forward_fp32_gflops"), v("forward_bf16_gflops"), v("forward_bf16_gflops") / v("forward_fp32_gflops");
			          printf "%-12s %6d %-12s %20s %10.1f %10.1f %6.2fx  (weighted by calls)\n", m, b, "fwd+bwd", "", v("all_fp32_gflops"), v("all_bf16_gflops"), v("all_bf16_gflops") / v("all_fp32_gflops") }'
	done
	echo
	printf '%-12s %6s %-22s %12s %12s %8s\n' model batch figure fp32 bf16 ratio
	for spec in "tiny128 64" "sudoku_mlp 64"; do
		set -- $spec
		a=$("$B" run "$out/$1.safetensors" "$2" "$steps" 1 | tee -a "$log" | field puzzles_per_s)
		b=$(TRMX_MATMUL=bf16 "$B" run "$out/$1.safetensors" "$2" "$steps" 1 | tee -a "$log" | field puzzles_per_s)
		awk -v m="$1" -v n="$2" -v a="$a" -v b="$b" 'BEGIN { printf "%-12s %6d %-22s %12.3f %12.3f %7.2fx\n", m, n, "forward puzzles/s", a, b, b / a }'
	done
	for spec in "tiny128 32" "sudoku_mlp 8"; do
		set -- $spec
		tsteps=$([ "${BENCH_QUICK:-0}" = 1 ] && echo 3 || echo 10)
		a=$("$B" train "$out/$1.safetensors" "$2" "$tsteps" | tee -a "$log" | field steps_per_s)
		b=$(TRMX_MATMUL=bf16 "$B" train "$out/$1.safetensors" "$2" "$tsteps" | tee -a "$log" | field steps_per_s)
		awk -v m="$1" -v n="$2" -v a="$a" -v b="$b" 'BEGIN { printf "%-12s %6d %-22s %12.3f %12.3f %7.2fx  (goal >= 1.6x: %s)\n", m, n, "training steps/s", a, b, b / a, (b / a >= 1.6 ? "met" : "MISSED") }'
	done
	echo "load average after: $(uptime | sed 's/.*load average: //')"
fi
echo

echo "== Adaptive halting with continuous batching (tiny model, Q head calibrated to halt at a spread of steps)"
"$B" halt "$out/tiny128.safetensors" 256 32 | tee -a "$log"
echo
[ -x "$build/bench/bench_gen" ] && { echo "== Puzzle generators"; "$build/bench/bench_gen" | tee -a "$log"; }
echo "load average after: $(uptime | sed 's/.*load average: //')"

# ---- The runtime: usage log and dispatch overhead (bench/bench_host.c, docs/REGISTRY.md) ---------
HB="$build/bench/bench_host"
if [ -x "$HB" ]; then
	echo "== Usage log appends (log.db in WAL mode, synchronous=NORMAL; every run with its checker verdict)"
	hl=$("$HB" log 5000 200000 1000 | tee -a "$log")
	echo "$hl"
	echo "$hl" | awk '/^log_batched/ { split($0, a, "runs_per_s="); r = a[2] + 0;
		printf "target: >= 20000 runs/s batched: %.0f runs/s (%s)\n", r, (r >= 20000 ? "met" : "MISSED") }'
	echo
	# The same appends into a central log on PostgreSQL: a throwaway cluster (tests/pg/lib.sh) on a
	# Unix socket, fsync on, COPY into temporary tables then INSERT ... ON CONFLICT (framework/log/pg.c).
	pgw=$(mktemp -d -t trmx-bench-pg.XXXXXX)
	if (. tests/pg/lib.sh && pg_start "$pgw" >"$pgw/start.log" 2>&1 &&
		"$PGBIN/postgres" --version >"$pgw/version" &&
		TRMX_LOG_URL=$PG_URL "$HB" log 2000 200000 1000 >"$pgw/out"; rc=$?; pg_stop; exit $rc); then
		echo "== Usage log appends into a central $(sed 's/^postgres (\(.*\)) /\1 /' "$pgw/version") (loopback Unix socket, fsync on)"
		sed 's/^log_/pg_log_/' "$pgw/out" | grep -v '^pg_log_size' | tee -a "$log"
		printf '%s\n%s\n' "$hl" "$(sed 's/^log_/pg_log_/' "$pgw/out")" | awk '
			/^log_batched / { split($0, a, "runs_per_s="); s = a[2] + 0 }
			/^pg_log_batched / { split($0, a, "runs_per_s="); p = a[2] + 0 }
			END { printf "target: >= 20000 runs/s batched into PostgreSQL: %.0f runs/s (%s); %.2fx SQLite\n", p,
			      (p >= 20000 ? "met" : "MISSED"), (s ? p / s : 0) }'
	else
		echo "== Usage log appends into PostgreSQL: the throwaway cluster did not start ($(tail -n 3 "$pgw/start.log" 2>/dev/null))"
	fi
	rm -rf "$pgw"
	echo
	echo "== Dispatch overhead beyond the engine's compute (official Sudoku size, 1 ACT step, medians of 5)"
	hr=$("$HB" run "$build/trmx" 5 | tee -a "$log")
	echo "$hr"
	echo "$hr" | awk '/^trmx_run/ { split($0, a, "overhead_ms="); o = a[2] + 0;
		printf "target: <= 20 ms for trmx run (process start included): %.1f ms (%s)\n", o, (o <= 20 ? "met" : "MISSED") }'
	echo "load average after: $(uptime | sed 's/.*load average: //')"
fi

# ---- The analyst layer: `trmx report` on a log of one million runs (bench/bench_report.c) -------
RB="$build/bench/bench_report"
if [ -x "$RB" ]; then
	n=${BENCH_REPORT_RUNS:-1000000}
	[ "${BENCH_QUICK:-0}" = 1 ] && n=100000
	rh="$out/report-home-$n"
	echo "== trmx report on a log of $n runs (20 contexts, 6 versions, 4 canaries, ~1.33 feedback rows a run)"
	[ -f "$rh/log.db" ] || { rm -rf "$rh"; "$RB" gen "$rh" "$n" | tee -a "$log"; }
	"$build/trmx" log migrate --home "$rh" >/dev/null 2>&1 # a home kept from an older trmx
	rr=$("$RB" time "$rh" "$trmx" | tee -a "$log")
	echo "$rr"
	echo "$rr" | awk '/^trmx_report/ { split($0, a, "text_s="); t = a[2] + 0;
		printf "target: < 5 s for trmx report on one million runs: %.2f s (%s)\n", t, (t < 5 ? "met" : "MISSED") }'
	# The same rows in a central log on PostgreSQL (the log.db pushed as an outbox: the same runs,
	# feedback and ids), the same report over it.
	pgw=$(mktemp -d -t trmx-bench-pg.XXXXXX)
	if (. tests/pg/lib.sh && pg_start "$pgw" >"$pgw/start.log" 2>&1 && mkdir -p "$pgw/trmx-home" &&
		cp "$rh/log.db" "$pgw/trmx-home/log-outbox.db" && cp -p "$rh/secret" "$pgw/trmx-home/secret" &&
		"$build/trmx" config --home "$pgw/trmx-home" set log.url "$PG_URL" &&
		command time -f "push_s=%e" "$build/trmx" log push --home "$pgw/trmx-home" >"$pgw/push" 2>&1 &&
		"$RB" time "$pgw/trmx-home" "$trmx" >"$pgw/out"; rc=$?; pg_stop; exit $rc); then
		echo "== trmx report on the same $n runs in a central PostgreSQL (pushed from log.db: $(tr '\n' ' ' <"$pgw/push"))"
		sed 's/^/pg_/' "$pgw/out" | tee -a "$log"
		awk '/^trmx_report/ { split($0, a, "text_s="); t = a[2] + 0;
			printf "target: < 5 s for trmx report on one million runs in PostgreSQL: %.2f s (%s)\n", t, (t < 5 ? "met" : "MISSED") }' "$pgw/out"
	else
		echo "== trmx report in PostgreSQL: not measured ($(tail -n 3 "$pgw/start.log" "$pgw/push" 2>/dev/null | tr '\n' ' '))"
	fi
	rm -rf "$pgw"
	echo "load average after: $(uptime | sed 's/.*load average: //')"
fi

# ---- The service: trmx serve under load against a PyTorch http.server peer (bench/serve.sh) ------
echo
bench/serve.sh "$build" || echo "serve benchmark failed (exit $?)"
