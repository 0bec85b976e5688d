#!/bin/sh
# maze_baseline.sh — `make maze-baseline`: a maze module's exact accuracy on the held-out maze
# sets of every family (docs/TRAINING.md, "Held-out sets"), fixed 16 steps and adaptive (at most
# 16), as a Markdown table; the last column is the best exact accuracy of the fixed run had it
# stopped after s steps (its exact_by_cap), and at which s. Only mazes of the module's side fit its sequence length; smaller ones
# are padded with wall onto its canvas (--canvas). No training: the baseline before retraining.
#   tools/maze_baseline.sh BUILD [WEIGHTS [SIDE]]
# WEIGHTS defaults to modules/maze/weights.safetensors, SIDE to 9; HELDOUT_N mazes per set
# (default 200); SMALLER: the smaller sides to pad (default 7; a 5x5 lattice-loops maze with a
# unique shortest path of 4 moves does not exist). TRMX_THREADS as for eval.
set -eu
build=$1
weights=${2:-modules/maze/weights.safetensors}
side=${3:-9}
n=${HELDOUT_N:-200}
trmx="$build/trmx"
out="$build/heldout"
mkdir -p "$out"
echo "| family | maze | mazes | fixed 16: exact | open cells | adaptive: exact | open cells | mean steps | fixed, best cap |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for family in free lattice lattice-loops; do
	for size in $side ${SMALLER-7}; do
		[ "$size" -le "$side" ] || continue
		set="$out/maze-$family-${size}on$side-n$n.csv"
		"$trmx" gen maze --family "$family" --size "$size" --canvas "$side" --heldout -n "$n" -o "$set"
		"$trmx" eval --weights "$weights" --task "maze:size=$side" "$set" --halt both --steps 16 --json |
			python3 -c '
import json, sys
d = json.load(sys.stdin)
f, a = d["runs"]
pct = lambda r: "%.1f%% (%d/%d)" % (100.0 * r["exact_accuracy"], r["exact"], r["labelled"])
shape = sys.argv[2] + "x" + sys.argv[2] + ("" if sys.argv[2] == sys.argv[3] else " on " + sys.argv[3] + "x" + sys.argv[3])
cap = max(range(len(f["exact_by_cap"])), key=lambda k: f["exact_by_cap"][k])
print(("| %s | %s | %d | %s | %.1f%% | %s | %.1f%% | %.2f " % (sys.argv[1], shape, f["labelled"], pct(f),
      100.0 * f["open_accuracy"], pct(a), 100.0 * a["open_accuracy"], a["mean_steps"])) +
      ("| %.1f%% @%d |" % (100.0 * f["exact_by_cap"][cap] / f["labelled"], cap + 1) if f["exact_by_cap"][cap] else "| 0% at every cap |"))
' "$family" "$size" "$side"
	done
done
