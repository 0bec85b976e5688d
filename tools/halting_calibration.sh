#!/bin/sh
# halting_calibration.sh — `make halting-calibration`: for every bundled module, one run of its
# held-out sets at 16 fixed steps with `trmx eval --calibrate` (what adaptive halting would give
# at each halt threshold, the official 0 among them), then an adaptive run at the calibrated one
# (the fewest steps within 1 point of the best of fixed 16 and every threshold) to measure what the
# calibration predicts (tests/test_eval.c checks the prediction at every threshold).
# A Markdown table on standard output (docs/TRAINING.md, "Halting"); no training.
#   tools/halting_calibration.sh BUILD
# HELDOUT_N puzzles per set (default 1000). Sudoku sets: seed 777777 (the model cards' set) and,
# for 9x9, seed 777778 at levels pairs and hard; maze sets: `gen maze --heldout` per family.
set -eu
build=$1
n=${HELDOUT_N:-1000}
trmx="$build/trmx"
out="$build/heldout"
mkdir -p "$out"
echo "| module | held-out set | n | fixed 16: exact | adaptive, threshold 0: exact | mean steps | calibrated threshold | adaptive, calibrated: exact | mean steps |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
row() { # MODULE TASK SET LABEL
	w=modules/$1/weights.safetensors
	cal=$("$trmx" eval -w "$w" -t "$2" "$3" --halt fixed --steps 16 --calibrate --json)
	thr=$(printf '%s' "$cal" | python3 -c 'import json,sys; r=json.load(sys.stdin)["halting_calibration"]["recommended"]; print(r)')
	ac=$("$trmx" eval -w "$w" -t "$2" "$3" --halt adaptive --steps 16 --halt-threshold "$thr" --json)
	python3 -c '
import json, sys
cal, ac = (json.loads(s) for s in sys.argv[3:5])
f, c = cal["runs"][0], ac["runs"][0]
at = {t["threshold"]: t for t in cal["halting_calibration"]["thresholds"]}
thr = cal["halting_calibration"]["recommended"]
pred, z = at[thr], at[0.0]
pct = lambda r: "%.1f%%" % (100.0 * r["exact_accuracy"])
note = "" if (pred["exact"], round(pred["mean_steps"], 6)) == (c["exact"], round(c["mean_steps"], 6)) else \
	" (predicted %.1f%%, %.2f)" % (100.0 * pred["exact_accuracy"], pred["mean_steps"])
print("| %s | %s | %d | %s | %s | %.2f | %g | %s%s | %.2f |" % (sys.argv[1], sys.argv[2], f["labelled"], pct(f), pct(z),
      z["mean_steps"], thr, pct(c), note, c["mean_steps"]))
' "$1" "$4" "$cal" "$ac"
}
for m in sudoku4 sudoku4-hrm; do
	"$trmx" gen sudoku --size 4 -n "$n" --seed 777777 -o "$out/sudoku4-any-n$n.csv" >/dev/null
	row "$m" sudoku:size=4 "$out/sudoku4-any-n$n.csv" "4x4, seed 777777"
done
"$trmx" gen sudoku --size 6 -n "$n" --seed 777777 -o "$out/sudoku6-any-n$n.csv" >/dev/null
row sudoku6 sudoku:size=6 "$out/sudoku6-any-n$n.csv" "6x6, seed 777777"
"$trmx" gen sudoku --size 9 -n "$n" --seed 777777 -o "$out/sudoku9-any-n$n.csv" >/dev/null
row sudoku9 sudoku:size=9 "$out/sudoku9-any-n$n.csv" "9x9, seed 777777"
for level in pairs hard; do
	"$trmx" gen sudoku --size 9 -d "$level" -n "$n" --seed 777778 -o "$out/sudoku9-$level-n$n.csv" >/dev/null
	row sudoku9 sudoku:size=9 "$out/sudoku9-$level-n$n.csv" "9x9 $level, seed 777778"
done
for family in free lattice lattice-loops; do
	"$trmx" gen maze --family "$family" --size 9 --canvas 9 --heldout -n "$n" -o "$out/maze-$family-9-n$n.csv" >/dev/null
	row maze maze:size=9 "$out/maze-$family-9-n$n.csv" "9x9 $family, held-out seed"
done
