#!/bin/bash
# xapi_validate.sh — validate the xAPI statements the tests exported (BUILD/tests/xapi/*.jsonl,
# written by test_analytics and test_loop) and a fresh export of a home made here through the
# command line, with the independent npm package `xapi-validation` on Node.js.
#   tools/xapi_validate.sh [BUILD]
# The package is installed once into BUILD/node (tools/node_deps.sh, pinned by
# tests/node/package-lock.json); without node or npm it fails: `make deps` installs them.
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
command -v node >/dev/null 2>&1 || { echo "xapi_validate: node is not installed (make deps)" >&2; exit 1; }
mods=$(tools/node_deps.sh "$build") || exit 1
trmx="$root/$build/trmx"
[ -x "$trmx" ] || { echo "xapi_validate: $trmx is missing" >&2; exit 1; }
# A home of our own: runs with and without a learner or a context, an evaluation, feedback of
# every source with scores, expected answers and comments.
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp"; rm -rf "$tmp"' EXIT
home="$tmp/home"
set -e
"$trmx" pack tests/fixtures/module-sudoku4-tiny -o "$tmp/" >/dev/null
"$trmx" install -q --home "$home" "$tmp"/sudoku4-tiny-*.trmx >/dev/null
"$trmx" bind --home "$home" 'course/unit 1' sudoku4-tiny >/dev/null
"$trmx" gen sudoku --size 4 -n 6 --seed 9 -o "$tmp/p.csv" >/dev/null 2>&1
"$trmx" run --home "$home" 'course/unit 1' --batch "$tmp/p.csv" --learner ada >/dev/null
"$trmx" run --home "$home" sudoku4-tiny 1.3..4.22.4..3.1 >/dev/null
"$trmx" eval --home "$home" sudoku4-tiny "$tmp/p.csv" >/dev/null 2>&1
id=$("$trmx" sql --home "$home" --csv "SELECT id FROM runs WHERE learner IS NOT NULL LIMIT 1" | tail -n 1)
"$trmx" feedback --home "$home" "$id" --verdict partial --score 0.5 --source learner --comment 'almost, "quoted"' >/dev/null
"$trmx" feedback --home "$home" "$id" --verdict incorrect --source instructor \
	--expected "$(sed -n 2p "$tmp/p.csv" | cut -d, -f2)" >/dev/null
"$trmx" export xapi --home "$home" -o "$tmp/cli.jsonl" 2>/dev/null
set +e
files=("$tmp/cli.jsonl")
for f in "$build"/tests/xapi/*.jsonl; do [ -f "$f" ] && files+=("$f"); done
node tools/xapi_validate.js "$mods" "${files[@]}"
