#!/bin/sh
# sudoku_card.sh — `make sudoku-card-NAME`: the model card's table of a Sudoku module, exact
# accuracy per held-out set with 16 fixed steps and adaptive halting (at the manifest's
# halting.threshold and at the official 0), with mean steps. Sets of HELDOUT_N (1000) puzzles,
# made once into BUILD/heldout/ from seeds no training uses (docs/TRAINING.md, "Held-out sets"):
#   any      trmx gen, whatever the digging gives, seed 777777
#   LEVEL    trmx gen --difficulty LEVEL: singles at seed 777777 (the module's own card set),
#            pairs, advanced, hard at seed 777778 (9x9; 6x6 has singles and pairs, 4x4 neither)
#   other    tools/sudoku_foreign.py seeds 99 and 31337: an independent generator, not minimal
#   tools/sudoku_card.sh BUILD NAME [WEIGHTS]    (WEIGHTS: default modules/NAME/weights.safetensors)
# The threshold-0 column (when the manifest names another) is the calibration of the fixed run
# tests/test_eval.c checks against real adaptive runs); the threshold column is a real adaptive run.
# Where the manifest's halting.max_steps is not 16, the fixed run and the adaptive columns use that
# cap, and the table has the fixed run's exact solves after 16 steps as well.
set -eu
build=$1
name=$2
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. tools/yaml.sh
w=${3:-modules/$name/weights.safetensors}
trmx=$build/trmx
n=${HELDOUT_N:-1000}
man=modules/$name/manifest.yaml
[ -f "$man" ] || { echo "sudoku_card: $man is missing" >&2; exit 2; }
size=$(yaml_get "$man" task "    size")
case $size in 4 | 6 | 9) ;; *) echo "sudoku_card: $name is not a Sudoku module of size 4, 6 or 9" >&2; exit 2 ;; esac
thr=$(yaml_get "$man" halting "  threshold")
thr=${thr:-0}
cap=$(yaml_get "$man" halting "  max_steps")
cap=${cap:-16}
[ "$cap" -ge 16 ] || { echo "sudoku_card: $man: halting.max_steps $cap is under the card's 16 fixed steps" >&2; exit 2; }
out=$build/heldout
mkdir -p "$out"

set -- any
case $size in 6) set -- any singles pairs ;; 9) set -- any singles pairs advanced hard ;; esac
set -- "$@" other-99 other-31337

c16="fixed 16: exact |" at="" sep=""
if [ "$cap" != 16 ]; then # a column for the fixed run at the cap, and the cap in the headings
	c16="$c16 fixed $cap: exact |" at=", at most $cap steps" sep=" ---: |"
fi
if [ "$thr" = 0 ]; then # the official threshold: one adaptive column
	echo "| held-out set | puzzles | $c16 adaptive$at: exact | mean steps |"
	echo "| --- | ---: | ---: |$sep ---: | ---: |"
else
	echo "| held-out set | puzzles | $c16 adaptive, threshold $thr$at: exact | mean steps | adaptive, threshold 0$at: exact | mean steps |"
	echo "| --- | ---: | ---: |$sep ---: | ---: | ---: | ---: |"
fi
for set in "$@"; do
	f=$out/sudoku$size-$set-n$n.csv
	case $set in
	any) label="trmx gen, any level, seed 777777"; mk="$trmx gen sudoku --size $size -n $n --seed 777777" ;;
	singles) label="trmx gen singles, seed 777777"; mk="$trmx gen sudoku --size $size -d singles -n $n --seed 777777" ;;
	other-*) label="other generator, seed ${set#other-}"; mk="" ;;
	*) label="trmx gen $set, seed 777778"; mk="$trmx gen sudoku --size $size -d $set -n $n --seed 777778" ;;
	esac
	if [ ! -s "$f" ]; then
		echo "sudoku_card: making $f" >&2
		if [ -n "$mk" ]; then $mk -o "$f.part" >/dev/null; else python3 tools/sudoku_foreign.py --size "$size" "$n" "${set#other-}" >"$f.part"; fi
		mv "$f.part" "$f"
	fi
	cal=$("$trmx" eval -w "$w" -t "sudoku:size=$size" "$f" --halt fixed --steps "$cap" --calibrate --json)
	ad=$("$trmx" eval -w "$w" -t "sudoku:size=$size" "$f" --halt adaptive --steps "$cap" --halt-threshold "$thr" --json)
	python3 -c '
import json, sys
cal, ad = json.loads(sys.argv[2]), json.loads(sys.argv[3])
f, a = cal["runs"][0], ad["runs"][0]
z = [t for t in cal["halting_calibration"]["thresholds"] if t["threshold"] == 0.0][0]
pct = lambda x, n: "%.1f%% (%d/%d)" % (100.0 * x / n, x, n)
row = "| %s | %d | %s |" % (sys.argv[1], f["labelled"], pct(f["exact_by_cap"][15], f["labelled"]))
if f["max_steps"] != 16:
    row += " %s |" % pct(f["exact"], f["labelled"])
row += " %s | %.2f |" % (pct(a["exact"], a["labelled"]), a["mean_steps"])
if float(sys.argv[4]) != 0.0:
    row += " %s | %.2f |" % (pct(z["exact"], f["labelled"]), z["mean_steps"])
print(row)' "$label" "$cal" "$ad" "$thr"
done
