#!/bin/sh
# heldout_mazes.sh — `make heldout-mazes`: the held-out maze sets, one per family and size, from
# the seeds reserved for held-out evaluation (docs/TRAINING.md, "Held-out sets"; no training run
# may use them: `trmx train` refuses them as data.seed and eval.seed). Made on demand, never
# committed:
#   BUILD/heldout/maze-FAMILY-SIZE.csv       FAMILY free, lattice, lattice-loops; SIZE 9 11 13 15 30
#   BUILD/heldout/maze-FAMILY-SIZEon30.csv   the 9x9 and 15x15 ones padded on the 30x30 canvas
# with HELDOUT_N mazes each (default 1000), puzzle,solution,rating CSV.
#   tools/heldout_mazes.sh BUILD
set -eu
build=$1
trmx="$build/trmx"
out="$build/heldout"
n=${HELDOUT_N:-1000}
mkdir -p "$out"
sets=0
for family in free lattice lattice-loops; do
	for size in 9 11 13 15 30; do
		"$trmx" gen maze --family "$family" --size "$size" --heldout -n "$n" -o "$out/maze-$family-$size.csv"
		sets=$((sets + 1))
	done
	for size in 9 15; do
		"$trmx" gen maze --family "$family" --size "$size" --canvas 30 --heldout -n "$n" \
			-o "$out/maze-$family-${size}on30.csv"
		sets=$((sets + 1))
	done
done
echo "heldout-mazes: $sets sets of $n mazes in $out"
