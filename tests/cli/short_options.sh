#!/bin/bash
# short_options.sh — one meaning per short option (docs/CLI.md): reads `trmx --help`, every
# command's --help and every subcommand's (`trmx CMD SUB --help`), takes each "-x, --long" line,
# and fails when one letter is the short form of two long options, or when docs/CLI.md's table of
# short options says otherwise than the helps. Run by tests/cli/conventions.test; the binary is
# $TRMX_BIN (set by tests/cli/run.sh) or the first argument.
set -u
bin=${1:-${TRMX_BIN:?set TRMX_BIN or give the trmx binary}}
doc="$(cd "$(dirname "$0")/../.." && pwd)/docs/CLI.md"
pairs=$(mktemp)
trap 'rm -f "$pairs"' EXIT

# "-x --long WHERE" for each option line of one help text
take() {
	sed -nE 's/^[[:space:]]+-([A-Za-z]), --([A-Za-z0-9-]+).*/-\1 --\2/p' | while read -r s l; do
		echo "$s $l $1"
	done >>"$pairs"
}

"$bin" --help | take "trmx"
cmds=$("$bin" --help | sed -n '/^Commands:/,/^$/p' | awk 'NF > 1 && $1 != "Commands:" && $1 != "help" { print $1 }')
[ -n "$cmds" ] || { echo "no commands in trmx --help"; exit 1; }
n=0
for c in $cmds; do
	help=$("$bin" "$c" --help 2>/dev/null) || { echo "trmx $c --help fails"; exit 1; }
	n=$((n + 1))
	take "$c" <<<"$help"
	# subcommands: the usage lines "trmx CMD SUB ..." (and "trmx CMD [--home DIR] SUB ...")
	for sub in $(sed -nE "s/^(usage:)?[[:space:]]+trmx $c (\[[^]]*\] )*([a-z][a-z-]+)( .*)?$/\3/p; s/^usage: trmx $c (\[[^]]*\] )*([a-z][a-z-]+)( .*)?$/\2/p" <<<"$help" | sort -u); do
		sh=$("$bin" "$c" "$sub" --help 2>/dev/null) || continue
		n=$((n + 1))
		take "$c $sub" <<<"$sh"
	done
done

bad=0
for s in $(awk '{ print $1 }' "$pairs" | sort -u); do
	longs=$(awk -v s="$s" '$1 == s { print $2 }' "$pairs" | sort -u)
	if [ "$(wc -l <<<"$longs")" -gt 1 ]; then
		bad=1
		echo "$s has two meanings:"
		for l in $longs; do
			echo "  $l in: $(awk -v s="$s" -v l="$l" '$1 == s && $2 == l { $1 = ""; $2 = ""; sub(/^  /, ""); printf "%s; ", $0 }' "$pairs")"
		done
	fi
done

# docs/CLI.md's table: | `-x` | `--long` ... | commands |
if [ -r "$doc" ]; then
	while read -r s l; do
		got=$(awk -v s="$s" '$1 == s { print $2 }' "$pairs" | sort -u)
		if [ -z "$got" ]; then
			bad=1
			echo "docs/CLI.md lists $s ($l), which no help shows"
		elif [ "$got" != "$l" ]; then
			bad=1
			echo "docs/CLI.md says $s is $l; the helps say $(echo $got)"
		fi
	done < <(sed -nE 's/^\| `(-[A-Za-z])` \| `(--[A-Za-z0-9-]+)`.*/\1 \2/p' "$doc")
	for s in $(awk '{ print $1 }' "$pairs" | sort -u); do
		grep -q "^| \`$s\` |" "$doc" || { bad=1; echo "$s is not in docs/CLI.md's table of short options"; }
	done
fi
[ $bad = 0 ] && echo "one meaning per short option: $(awk '{ print $1 }' "$pairs" | sort -u | wc -l) letters in $n helps"
exit $bad
