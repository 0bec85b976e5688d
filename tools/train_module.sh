#!/bin/sh
# train_module.sh — `make train-NAME`: train modules/NAME from its train.yaml, evaluate it on
# held-out puzzles generated with a seed no training run uses, and refresh the module folder:
# weights.safetensors, metrics.yaml, curve.csv, heldout.txt and manifest.yaml (module.yaml + the
# architecture of train.yaml + the measured training: and metrics: blocks).
#   tools/train_module.sh BUILD NAME
# EVAL_ONLY=1 skips the training (BUILD/train/NAME holds it) and does the rest; HELDOUT_GEN gives
# `trmx gen` options for the held-out set (default: the level of train.yaml's data.difficulty).
set -eu
build=$1
name=$2
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. tools/yaml.sh
mod=modules/$name
trmx="$build/trmx"
out="$build/train/$name"
[ -f "$mod/train.yaml" ] || { echo "train_module: $mod/train.yaml is missing" >&2; exit 2; }
mkdir -p "$out"

start=$(date +%s)
if [ "${EVAL_ONLY:-0}" = 1 ]; then
	[ -f "$out/weights.safetensors" ] || { echo "train_module: EVAL_ONLY=1 but $out has no weights" >&2; exit 2; }
else
	"$trmx" train "$mod/train.yaml" --out "$out" ${TRAIN_ARGS:-}
fi
end=$(date +%s)
cp "$out/weights.safetensors" "$out/metrics.yaml" "$out/curve.csv" "$mod/"

# held-out evaluation with `trmx eval` (seed 777777: used by no training or in-training evaluation)
codec=$(yaml_get "$mod/train.yaml" task "  codec")
params=$(awk '/^  params:/ {p=1; next} p && /^  [a-z]/ {p=0} p && /^    [a-z_]+:/ {sub(/^ +/, ""); sub(/: */, "="); printf "%s%s", sep, $0; sep=","}' "$mod/train.yaml")
# the held-out puzzles are of the level the module trained on (data.difficulty), unless HELDOUT_GEN says
level=$(yaml_get "$mod/train.yaml" data "  difficulty")
[ -z "${HELDOUT_GEN:-}" ] && [ -n "$level" ] && HELDOUT_GEN="--difficulty $level"
"$trmx" gen "$codec" ${HELDOUT_GEN:-} -n "${HELDOUT_N:-1000}" --seed 777777 -o "$out/heldout.csv" \
	$(echo "$params" | tr ',' '\n' | sed -n 's/^size=\(.*\)/--size \1/p')
{
	echo "# trmx eval on $(($(wc -l < "$out/heldout.csv") - 1)) generated held-out puzzles (seed 777777), $(date -u +%Y-%m-%d)"
	echo "# training: $(sed -n 's/^  duration: //p' "$mod/metrics.yaml") s wall time in all, $(nproc) cores ($(sed -n 's/^  hardware: //p' "$mod/metrics.yaml"))"
	"$trmx" eval --weights "$mod/weights.safetensors" --task "$codec:$params" "$out/heldout.csv" --halt both --steps 16
} > "$mod/heldout.txt"

# manifest.yaml = module.yaml + architecture (train.yaml's arch:) + training: and metrics:
{
	cat "$mod/module.yaml"
	echo "architecture:"
	awk '/^arch:/ {a=1; next} a && /^[^ #]/ {a=0} a && NF {print}' "$mod/train.yaml"
	grep -v '^#' "$mod/metrics.yaml"
} > "$mod/manifest.yaml"
cat "$mod/heldout.txt"
echo "train-$name: this invocation took $((end - start)) s; see $mod/"
