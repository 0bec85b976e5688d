#!/bin/sh
# ablation.sh — `make ablation-NAME`: the recursion ablation of the paper ("Less is More") at small
# scale. Trains three variants of modules/NAME/train.yaml for the same wall time each:
#   recursive  the module's architecture as configured, or with H_cycles 2, L_cycles 2 where the
#              module itself is H1 L1 (maze): the variant must recurse
#   H1L1       H_cycles 1, L_cycles 1: one pass of the network per supervision step
#   halt1      halt_max_steps 1: no deep supervision (one supervised step per example), with the
#              recursive variant's cycles
# Same parameters (the cycles and the halting limit change no weight), same data, same seed.
# Each variant's optimizer steps are set from a 20-step probe of its own speed so that its whole
# learning-rate schedule fits the budget; train.max_minutes guards the wall time.
#   tools/ablation.sh BUILD NAME MINUTES
# ABLATION_SIZE=N trains on N x N grids instead of the module's size (task.params.size and
# arch.seq_len = N*N; Sudoku and maze), into BUILD/ablation/NAME-N/.
# Writes BUILD/ablation/NAME/VARIANT/ (config, curve.csv, metrics.yaml) and prints the table.
set -eu
build=$1
name=$2
minutes=$3
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
trmx="$build/trmx"
base=modules/$name/train.yaml
size=${ABLATION_SIZE:-}
out=$build/ablation/$name${size:+-$size}
[ -f "$base" ] || { echo "ablation: $base is missing" >&2; exit 2; }
case $minutes in '' | *[!0-9]*) echo "ablation: MINUTES must be a whole number, not '$minutes'" >&2; exit 2 ;; esac
case $size in *[!0-9]*) echo "ablation: ABLATION_SIZE must be a whole number, not '$size'" >&2; exit 2 ;; esac

. tools/yaml.sh
[ -z "$size" ] || [ -n "$(yaml_get "$base" task "    size")" ] ||
	{ echo "ablation: ABLATION_SIZE needs task.params.size in $base" >&2; exit 2; }
mkdir -p "$out"

base_steps=$(yaml_get "$base" train "  steps")
base_warmup=$(yaml_get "$base" train "  warmup_steps")
base_curr=$(yaml_get "$base" data "    steps")
flat=false
[ "$(yaml_get "$base" arch "  H_cycles")" = 1 ] && [ "$(yaml_get "$base" arch "  L_cycles")" = 1 ] && flat=true

for v in recursive H1L1 halt1; do
	dir=$out/$v
	rm -rf "$dir"
	mkdir -p "$dir"
	cfg=$dir/train.yaml
	grep -v '^ *out:' "$base" > "$cfg"
	if [ -n "$size" ]; then
		yaml_set "$cfg" task "    size" "$size"
		yaml_set "$cfg" arch "  seq_len" "$((size * size))"
	fi
	if $flat; then # H1L1 below sets its own cycles
		yaml_set "$cfg" arch "  H_cycles" 2
		yaml_set "$cfg" arch "  L_cycles" 2
	fi
	case $v in
	H1L1) yaml_set "$cfg" arch "  H_cycles" 1; yaml_set "$cfg" arch "  L_cycles" 1 ;;
	halt1) yaml_set "$cfg" arch "  halt_max_steps" 1 ;;
	esac
	yaml_set "$cfg" train "  log_interval" 10
	yaml_set "$cfg" train "  max_minutes" 0
	# probe: 20 steps on a small pool with a small evaluation, the time per step from the
	# difference of two progress rows
	cp "$cfg" "$dir/probe.yaml"
	yaml_set "$dir/probe.yaml" data "  pool" 1000
	yaml_set "$dir/probe.yaml" eval "  size" 20
	"$trmx" train "$dir/probe.yaml" --out "$dir/probe" --steps 20 --quiet > "$dir/probe.log" 2>&1 ||
		{ cat "$dir/probe.log" >&2; exit 1; }
	per_step=$(awk -F, '$3 == "train" && $1 == 10 {a = $2} $3 == "train" && $1 == 20 {b = $2} END {print (b - a) / 10}' "$dir/probe/curve.csv")
	steps=$(awk -v m="$minutes" -v p="$per_step" 'BEGIN {printf "%d", m * 60 / p}')
	[ "$steps" -ge 100 ] || { echo "ablation: $v: only $steps steps fit in $minutes minutes" >&2; exit 1; }
	rm -rf "$dir/probe" "$dir/probe.yaml"
	scale() { awk -v x="$1" -v s="$steps" -v b="$base_steps" 'BEGIN {printf "%d", x * s / b}'; }
	yaml_set "$cfg" train "  steps" "$steps"
	yaml_set "$cfg" train "  warmup_steps" "$(scale "$base_warmup")"
	[ -z "$base_curr" ] || yaml_set "$cfg" data "    steps" "$(scale "$base_curr")"
	yaml_set "$cfg" train "  log_interval" "$((steps / 10))"
	yaml_set "$cfg" train "  max_minutes" "$((minutes + minutes / 4 + 1))"
	yaml_set "$cfg" eval "  interval" "$steps"
	yaml_set "$cfg" checkpoint "  interval" "$steps"
	echo "ablation $name${size:+ ($size x $size)}/$v: $per_step s a step, $steps steps in $minutes minutes"
	"$trmx" train "$cfg" --out "$dir" --quiet
done

# the table, from each metrics.yaml (the held-out evaluation at the end of the run)
echo
echo "| variant | steps | wall s | exact @1 | exact @16 | adaptive (mean steps) | open cells @16 |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for v in recursive H1L1 halt1; do
	awk -v v="$v" '
		/^  steps:/ { s = $2 }
		/^  duration:/ { d = $2 }
		/^  heldout-/ { sec = $1 }
		sec == "heldout-fixed:" && /x-open-accuracy:/ { o = $2 }
		sec == "heldout-fixed:" && /x-exact-at-steps:/ {
			gsub(/[{}]/, ""); n = split(substr($0, index($0, ":") + 1), kv, ",")
			for (i = 1; i <= n; i++) { split(kv[i], p, ":"); gsub(/ /, "", p[1]); gsub(/ /, "", p[2]); at[p[1]] = p[2] }
		}
		sec == "heldout-adaptive:" && /exact_accuracy:/ { ea = $2 }
		sec == "heldout-adaptive:" && /mean_steps:/ { ms = $2 }
		END { printf "| %s | %s | %s | %s | %s | %s (%s) | %s |\n", v, s, d, at["1"], at["16"], ea, ms, o }' "$out/$v/metrics.yaml"
done
