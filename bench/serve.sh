#!/bin/bash
# serve.sh — the load benchmark of `trmx serve` (called at the end of bench/run.sh; never gates CI):
#   bench/serve.sh [BUILD]
# 1. a fresh TRMX_HOME (bench/out/serve/home): sudoku9 packed from modules/sudoku9, installed,
#    bound to the context bench/sudoku9; 1,000 generated puzzles of the level it trained on;
# 2. starts `trmx serve` and the peer a user would otherwise write (bench/torch_serve_peer.py: the
#    PyTorch reference model, same weights, behind Python's http.server), both on 127.0.0.1, and
#    checks that the two give the same answers and ACT steps on the first puzzles;
# 3. the offline figure: `trmx eval` on the same puzzles with adaptive halting (at most 16 steps,
#    as the requests; the module's threshold), unlogged, at its
#    default batch (64) for the goal, and at batches 16 and 1 for reading the table;
# 4. wrk (bench/serve_load.lua: one puzzle a request, adaptive halting, at most 16 steps) at 1, 16
#    and 64 concurrent connections against each server, interleaved, each point REPS times for
#    DURATION seconds; the mean engine batch size from trmx serve's /metrics
#    (trmx_engine_batch_rows_sum / _count, the difference over each point);
# 5. prints medians and the two ratios with the issue's goals: trmx serve at 64 clients >= 80% of
#    the offline eval's puzzles/s, and >= 3x the peer's requests/s at 16 clients.
# Environment: SERVE_DURATION (s, default 10), SERVE_REPS (default 3), BENCH_QUICK=1 (1 rep of 5 s),
# SERVE_CLIENTS (default "1 16 64"), SERVE_PEER_CLIENTS (default "1 16 64"), SERVE_OPTS (more
# trmx serve options), SERVE_QUIET_WAIT (below), TRMX_THREADS.
# Raw lines go to bench/out/serve.log, the servers' request logs to bench/out/serve/*.log.
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. tools/yaml.sh
case "$build" in /*) trmx="$build/trmx" ;; *) trmx="$root/$build/trmx" ;; esac
. tools/torch_python.sh
out=bench/out
work=$out/serve
home=$work/home
log=$out/serve.log
threads=${TRMX_THREADS:-$(nproc)}
export TRMX_THREADS=$threads OMP_NUM_THREADS=$threads
dur=${SERVE_DURATION:-10}
reps=${SERVE_REPS:-3}
[ "${BENCH_QUICK:-0}" = 1 ] && { dur=${SERVE_DURATION:-5}; reps=${SERVE_REPS:-1}; }
clients=${SERVE_CLIENTS:-1 16 64}
peer_clients=${SERVE_PEER_CLIENTS:-1 16 64}
ctx=bench/sudoku9
npuzzles=1000

echo "== trmx serve under load: sudoku9, one puzzle a request, adaptive halting (at most 16 steps)"
if ! "$trmx" serve --help >/dev/null 2>&1; then
	echo "skipped: $trmx has no serve command (build it first)"
	exit 0
fi
if ! command -v wrk >/dev/null 2>&1; then
	echo "skipped: wrk is missing (tools/deps.sh --bench installs it)"
	exit 0
fi
peer=1
"$PY" -c 'import torch, numpy' >/dev/null 2>&1 || { peer=0; echo "(no python3-torch: the PyTorch peer is skipped)"; }

pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$work"
[ -d "$home" ] && chmod -R u+w "$home"
rm -rf "$home" "$work"/*.trmx "$work"/*.port
: >"$log"

# ---- 1. the home, the context, the puzzles ---------------------------------------------------
pkg=$("$trmx" pack modules/sudoku9 -o "$work/" 2>&1) || { echo "pack failed: $pkg"; exit 1; }
pkg=${pkg%%:*}
"$trmx" install --home "$home" "$pkg" >>"$log"
"$trmx" bind --home "$home" "$ctx" sudoku9 >>"$log"
weights=$(ls "$home"/store/sha256/*/weights.safetensors | head -1)
level=$(yaml_get modules/sudoku9/train.yaml data "  difficulty")
# the module's halting.threshold: trmx serve halts adaptive solves on it, so the peer does too
thr=$(yaml_get modules/sudoku9/manifest.yaml halting "  threshold")
thr=${thr:-0}
puzzles=$work/puzzles-${level:-any}.csv
[ -s "$puzzles" ] || "$trmx" gen sudoku --size 9 ${level:+--difficulty "$level"} -n "$npuzzles" --seed 20261201 -o "$puzzles" >/dev/null

# ---- 2. the servers ----------------------------------------------------------------------------
# wait_port PID FILE: the port the server wrote to FILE once it accepts connections
wait_port() {
	local i
	for i in $(seq 600); do
		[ -s "$2" ] && { cat "$2"; return 0; }
		kill -0 "$1" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
help=$("$trmx" serve --help 2>&1 || true)
serve_opts=()
case "$help" in *--threads*) serve_opts+=(--threads "$threads") ;; esac
case "$help" in *--max-queue*) serve_opts+=(--max-queue 1024) ;; esac
# shellcheck disable=SC2206
serve_opts+=(${SERVE_OPTS:-}) # e.g. SERVE_OPTS="--batch 32"
"$trmx" serve --home "$home" --listen 127.0.0.1:0 --port-file "$work/trmx.port" "${serve_opts[@]}" \
	2>"$work/trmx-serve.log" &
pids+=($!)
tport=$(wait_port $! "$work/trmx.port") || { echo "trmx serve did not start:"; tail -5 "$work/trmx-serve.log"; exit 1; }
turl=http://127.0.0.1:$tport
if [ $peer = 1 ]; then
	"$PY" bench/torch_serve_peer.py --weights "$weights" --threads "$threads" --halt-threshold "$thr" --listen 127.0.0.1:0 \
		--port-file "$work/peer.port" 2>"$work/peer.log" &
	pids+=($!)
	pport=$(wait_port $! "$work/peer.port") || { echo "the PyTorch peer did not start:"; tail -5 "$work/peer.log"; exit 1; }
	purl=http://127.0.0.1:$pport
fi
echo "$(date -u +%Y-%m-%dT%H:%MZ), $threads threads, trmx serve ${serve_opts[*]} on $turl${purl:+, peer on $purl}," \
	"wrk $dur s x $reps a point, load average $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$log"

# same answers? the first 20 puzzles through both (this also warms both up)
if [ $peer = 1 ]; then
	"$PY" - "$puzzles" "$turl" "$purl" "$ctx" <<'EOF' | tee -a "$log"
import json, sys, urllib.request
path, turl, purl, ctx = sys.argv[1:]
rows = [l.split(",")[0] for l in open(path) if len(l.split(",")[0]) == 81][:20]
def solve(url, p):
    body = json.dumps({"puzzle": p, "learner": "bench-check", "halt": "adaptive", "max_steps": 16}).encode()
    req = urllib.request.Request(f"{url}/v1/contexts/{ctx}/solve", body, {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req, timeout=60))["runs"][0]
same = steps = 0
dq = 0.0
for p in rows:
    a, b = solve(turl, p), solve(purl, p)
    same += a["answer"] == b["answer"]
    steps += a["steps"] == b["steps"]
    dq = max(dq, abs(a["halt_confidence"] - b["halt_confidence"]))
print(f"answers: trmx serve and the PyTorch peer agree on {same}/{len(rows)} answers and {steps}/{len(rows)} "
      f"ACT step counts; largest halt-confidence difference {dq:.2e}")
EOF
fi

# ---- 3. measuring, and what else ran meanwhile -------------------------------------------------
# Every point records other=: the CPU that processes other than the servers and the measuring
# client (wrk, trmx eval) used meanwhile, in % of one core (this is a shared 2-core machine: 200%
# is both cores). SERVE_QUIET_WAIT=S: before each point wait until a 2 s window is quiet (other
# below 15%), for at most S seconds (default 0: no waiting).
tck=$(getconf CLK_TCK)
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
own_ticks() { # the servers' CPU ticks, every thread
	local p t=0
	for p in "${pids[@]}"; do
		t=$((t + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}
mark() { echo "$(busy_ticks) $(own_ticks) $(date +%s.%N)"; }
other_since() { # MARK CHILD_CPU_S: % of one core used by other processes since MARK
	local m1
	m1=$(mark)
	awk -v a="$1" -v b="$m1" -v c="${2:-0}" -v t="$tck" 'BEGIN { split(a, x, " "); split(b, y, " ");
		o = ((y[1] - x[1]) - (y[2] - x[2])) / t - c; w = y[3] - x[3]; if (o < 0) o = 0; printf "%.0f\n", 100 * o / w }'
}
quiet_wait() {
	local until=$((SECONDS + ${SERVE_QUIET_WAIT:-0})) m o
	while [ $SECONDS -lt $until ]; do
		m=$(mark)
		sleep 2
		o=$(other_since "$m")
		[ "$o" -lt 15 ] && return 0
	done
	return 0
}
timed() { # CMD...: run it under GNU time; its user+system seconds in $work/child.cpu
	if type -P time >/dev/null; then
		command time -f '%U %S' -o "$work/child.time" "$@"
		awk '{ print $1 + $2 }' "$work/child.time" >"$work/child.cpu"
	else
		echo 0 >"$work/child.cpu"
		"$@"
	fi
}

eval_rate() { # BATCH: "puzzles/s mean_steps other%" of one adaptive eval, unlogged
	local m r
	quiet_wait
	m=$(mark)
	r=$(timed "$trmx" eval --home "$home" "$ctx" "$puzzles" --halt adaptive --steps 16 --no-log --json -b "$1" | tee -a "$log" |
		"$PY" -c 'import json, sys; r = json.load(sys.stdin)["runs"][0]; print(r["items_per_second"], r["mean_steps"])')
	echo "$r $(other_since "$m" "$(cat "$work/child.cpu")")"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" | head -1; }

# ---- 4. load -----------------------------------------------------------------------------------
batch_rows() { # URL: "sum count" of trmx_engine_batch_rows (every label set added up)
	curl -s --max-time 10 "$1/metrics" | awk '
		/^trmx_engine_batch_rows_sum([{ ])/ { s += $NF } /^trmx_engine_batch_rows_count([{ ])/ { c += $NF }
		END { printf "%.0f %.0f\n", s, c }'
}
load() { # URL CLIENTS: one wrk point: its serve_load line and other=
	local m l
	m=$(mark)
	l=$(timed wrk -t1 -c"$2" -d"${dur}s" --timeout 60s --latency -s bench/serve_load.lua "$1" -- "$puzzles" "$ctx" adaptive 16 2>&1 |
		tee -a "$log" | grep '^serve_load')
	echo "${l#serve_load } other=$(other_since "$m" "$(cat "$work/child.cpu")")"
}
res=$work/results.txt
: >"$res"
for r in $(seq "$reps"); do
	e=$(eval_rate 64)
	set -- $e
	echo "eval rep=$r batch=64 rate=$1 mean_steps=$2 other=$3" | tee -a "$log" >>"$res"
	for c in $clients; do
		quiet_wait
		read -r s0 n0 < <(batch_rows "$turl")
		l=$(load "$turl" "$c")
		read -r s1 n1 < <(batch_rows "$turl")
		mb=$(awk -v s0="$s0" -v s1="$s1" -v n0="$n0" -v n1="$n1" 'BEGIN {
			if (n1 > n0) printf "%.3f engine_steps=%d\n", (s1 - s0) / (n1 - n0), n1 - n0; else print "nan engine_steps=0" }')
		echo "trmx rep=$r clients=$c $l batch_mean=$mb" | tee -a "$log" >>"$res"
		if [ $peer = 1 ] && [[ " $peer_clients " == *" $c "* ]]; then
			quiet_wait
			echo "peer rep=$r clients=$c $(load "$purl" "$c")" | tee -a "$log" >>"$res"
		fi
	done
	for b in 1 16; do # the engine's own throughput at smaller batches, for reading the table
		set -- $(eval_rate "$b")
		echo "eval rep=$r batch=$b rate=$1 mean_steps=$2 other=$3" | tee -a "$log" >>"$res"
	done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$log"
cleanup

# ---- 5. the table ------------------------------------------------------------------------------
# The medians are over the runs in which other processes used at most 25% of one core (all runs
# when none was that quiet); "runs" says how many were used.
fields() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
clean() { # PATTERN: the result lines matching it from quiet runs, else all of them
	local all q
	all=$(grep -- "$1" "$res" || true)
	q=$(echo "$all" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^other=/) { split($i, a, "="); if (a[2] + 0 <= 25) print; next } }')
	if [ -n "$q" ]; then echo "$q"; else echo "$all"; fi
}
med() { # WHO CLIENTS FIELD
	clean "^$1 .* clients=$2 " | fields "$3" | median
}
nruns() { clean "$1" | grep -c . || true; }
errs() { # WHO CLIENTS: errors and non-2xx answers, all runs
	grep "^$1 .* clients=$2 " "$res" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^(errors|non2xx)=/) { split($i, a, "="); n += a[2] } } END { print n + 0 }'
}
printf '%-26s %8s %11s %9s %9s %11s %11s %7s %10s %5s\n' "" clients "requests/s" "p50 ms" "p99 ms" "batch mean" "mean steps" errors "other CPU" runs
for c in $clients; do
	printf '%-26s %8d %11.1f %9.1f %9.1f %11.2f %11.2f %7s %9.0f%% %5s\n' "trmx serve" "$c" "$(med trmx "$c" rps)" \
		"$(med trmx "$c" p50_ms)" "$(med trmx "$c" p99_ms)" "$(med trmx "$c" batch_mean)" "$(med trmx "$c" mean_steps)" \
		"$(errs trmx "$c")" "$(med trmx "$c" other)" "$(nruns "^trmx .* clients=$c ")"
done
if [ $peer = 1 ]; then
	for c in $peer_clients; do
		printf '%-26s %8d %11.1f %9.1f %9.1f %11s %11.2f %7s %9.0f%% %5s\n' "PyTorch http.server peer" "$c" "$(med peer "$c" rps)" \
			"$(med peer "$c" p50_ms)" "$(med peer "$c" p99_ms)" "1" "$(med peer "$c" mean_steps)" \
			"$(errs peer "$c")" "$(med peer "$c" other)" "$(nruns "^peer .* clients=$c ")"
	done
fi
emed() { clean "^eval .* batch=$1 " | fields "$2" | median; }
for b in 64 16 1; do
	printf '%-26s %8s %11.1f %9s %9s %11d %11.2f %7s %9.0f%% %5s\n' "offline trmx eval -b $b" - "$(emed "$b" rate)" - - "$b" \
		"$(emed "$b" mean_steps)" - "$(emed "$b" other)" "$(nruns "^eval .* batch=$b ")"
done
ev=$(emed 64 rate)
t64=$(med trmx 64 rps)
t16=$(med trmx 16 rps)
awk -v t="$t64" -v e="$ev" 'BEGIN { r = t / e;
	printf "goal: trmx serve at 64 clients >= 80%% of the offline eval (its default batch, 64): %.0f%% (%s)\n", 100 * r, (r >= 0.8 ? "met" : "not met") }'
if [ $peer = 1 ]; then
	p16=$(med peer 16 rps)
	awk -v t="$t16" -v p="$p16" 'BEGIN { r = t / p;
		printf "goal: trmx serve >= 3x the PyTorch peer at 16 clients: %.2fx (%s)\n", r, (r >= 3 ? "met" : "not met") }'
fi
echo "(medians of up to $reps runs of $dur s a point, the servers' points and the evals interleaved in each run;"
echo " other CPU: what other processes used meanwhile, % of one core of 2; runs: those used for the medians,"
echo " the ones with other CPU <= 25%, or all when none was; the raw lines: $log)"
