#!/bin/bash
# run.sh — the CLI test driver: runs every case of tests/cli/*.test against BUILD/trmx.
#
# A .test file holds cases separated by blank lines; lines starting with '#' are comments.
#   $ trmx ARGS...   the command, run by bash with `trmx` meaning the built binary; $TMP is a fresh
#                    folder per file and $FIXTURES the tests/fixtures folder
#   < TEXT           a line of standard input
#   ~ TEXT           standard output must contain TEXT
#   ! TEXT           standard error must contain TEXT
#   ? N              the exit code must be N (default 0)
#   A case whose command exits with 77 (unless ? 77 is expected) is skipped: it printed why on
#   standard error (a tool it needs is not on this machine); the count of skips is reported.
#   any other line   an exact line of standard output (when any are given, all of stdout must match)
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
bin="$root/$build/trmx"
export FIXTURES="$root/tests/fixtures"
export TRMX_BIN="$bin" # for a case that runs trmx through another program (runuser)
fails=0
cases=0
skips=0

run_case() {
	local file=$1 line=$2
	cases=$((cases + 1))
	local tmpout tmperr
	tmpout=$(mktemp) tmperr=$(mktemp)
	(cd "$TMP" && printf '%s' "$stdin" | bash -c "trmx() { \"$bin\" \"\$@\"; }; $cmd") >"$tmpout" 2>"$tmperr"
	local code=$? ok=1 why=""
	if [ "$code" = 77 ] && [ "$want_code" != 77 ]; then
		skips=$((skips + 1))
		echo "SKIP $file:$line  $(head -n 1 "$tmperr")"
		rm -f "$tmpout" "$tmperr"
		return
	fi
	if [ "$code" != "$want_code" ]; then ok=0; why="exit code $code, expected $want_code"; fi
	if [ $ok = 1 ] && [ -n "$want_out" ] && [ "$(cat "$tmpout")" != "$(printf '%s' "$want_out")" ]; then
		ok=0; why="stdout differs"
	fi
	local s
	while [ $ok = 1 ] && IFS= read -r s; do
		[ -z "$s" ] && continue
		grep -qF -- "$s" "$tmpout" || { ok=0; why="stdout lacks '$s'"; }
	done <<<"$want_contains"
	while [ $ok = 1 ] && IFS= read -r s; do
		[ -z "$s" ] && continue
		grep -qF -- "$s" "$tmperr" || { ok=0; why="stderr lacks '$s'"; }
	done <<<"$want_err"
	if [ $ok = 1 ]; then
		echo "ok   $file:$line  $cmd"
	else
		fails=$((fails + 1))
		echo "FAIL $file:$line  $cmd: $why"
		echo "---- stdout"; head -c 2000 "$tmpout"; echo "---- stderr"; head -c 2000 "$tmperr"; echo "----"
	fi
	rm -f "$tmpout" "$tmperr"
}

for file in "$root"/tests/cli/*.test; do
	[ -e "$file" ] || continue
	TMP=$(mktemp -d)
	export TMP
	rel=${file#"$root/"}
	cmd="" stdin="" want_out="" want_contains="" want_err="" want_code=0 start=0 n=0
	while IFS= read -r l || [ -n "$l" ]; do
		n=$((n + 1))
		case "$l" in
		"#"*) continue ;;
		"")
			[ -n "$cmd" ] && run_case "$rel" "$start"
			cmd="" stdin="" want_out="" want_contains="" want_err="" want_code=0
			continue ;;
		'$ '*) cmd=${l#'$ '}; start=$n ;;
		'< '*) stdin+="${l#'< '}"$'\n' ;;
		'~ '*) want_contains+="${l#'~ '}"$'\n' ;;
		'! '*) want_err+="${l#'! '}"$'\n' ;;
		'? '*) want_code=${l#'? '} ;;
		*) want_out+="$l"$'\n' ;;
		esac
	done <"$file"
	[ -n "$cmd" ] && run_case "$rel" "$start"
	rm -rf "$TMP"
done
echo "$((cases - fails - skips))/$cases CLI cases passed, $skips skipped"
[ "$fails" -eq 0 ]
