#!/bin/bash
# check.sh — make test's format check: the C lines a change touches must be as clang-format
# formats them (.clang-format). Only changed lines are checked, with Debian's clang-format-diff:
# the tree as a whole predates .clang-format and is not formatted.
#   tests/format/check.sh [BUILD [FUZZ_BUILD]]   (run by `make test`; the diff goes to
#                                                 BUILD/tests/format.log)
# What "changed" means:
#   FORMAT_BASE=REV set:      every line that differs between REV and the working tree
#                             (make test FORMAT_BASE=origin/main: all of a branch's commits)
#   else, HEAD has a parent:  the last commit (HEAD~1..HEAD) and whatever is not committed:
#                             changes to tracked files and new untracked *.c/*.h (not ignored by
#                             .gitignore, and not under BUILD or FUZZ_BUILD: generated sources)
#   else (a shallow clone of depth 1, or the first commit): only what is not committed; the last
#                             commit is not checked, and the PASS line says so
#   not a git work tree, or no commit yet: nothing is checked, and the PASS line says so
# Fails, printing the diff clang-format would apply, when a changed line is misformatted; fails
# too when clang-format-diff or git is missing (make deps installs them).
set -u
build=${1:-build}
fuzz_build=${2:-build-fuzz}
cd "$(dirname "$0")/../.." || exit 1
mkdir -p "$build/tests" || exit 1
t0=$(date +%s)
log=$build/tests/format.log
: >"$log"

fmtdiff=$(command -v clang-format-diff || command -v clang-format-diff-14)
fmt=$(command -v clang-format || command -v clang-format-14)
if [ -z "$fmtdiff" ] || [ -z "$fmt" ] || ! command -v git >/dev/null 2>&1; then
	echo "FAIL  format (clang-format-diff, clang-format or git missing: make deps installs them)"
	exit 1
fi
if [ "$(git rev-parse --is-inside-work-tree 2>/dev/null)" != true ]; then
	echo "PASS  format (not a git work tree: nothing checked)"
	exit 0
fi

if [ -n "${FORMAT_BASE:-}" ]; then
	base=$(git rev-parse -q --verify "$FORMAT_BASE^{commit}") || {
		echo "FAIL  format (FORMAT_BASE=$FORMAT_BASE is not a commit here)"
		exit 1
	}
	what="changes since $FORMAT_BASE, uncommitted included"
elif git rev-parse -q --verify 'HEAD~1^{commit}' >/dev/null; then
	base=HEAD~1
	what="the last commit $(git rev-parse --short HEAD) and uncommitted changes"
elif git rev-parse -q --verify 'HEAD^{commit}' >/dev/null; then
	base=HEAD
	if [ "$(git rev-parse --is-shallow-repository)" = true ]; then
		what="uncommitted changes only: shallow clone, the last commit's parent is not here"
	else
		what="uncommitted changes only: HEAD is the first commit"
	fi
else
	echo "PASS  format (no commit yet: nothing to compare with, nothing checked)"
	exit 0
fi

# -U0: only the changed lines; fixed prefixes and no colour whatever the user's git config says.
# New untracked files are diffed against nothing (every line is new).
diff_opts=(-U0 --no-color --no-ext-diff --no-textconv --src-prefix=a/ --dst-prefix=b/)
outputs=()
for d in "$build" "$fuzz_build"; do
	d=$(realpath -m --relative-to=. "$d")
	case $d in ..*) ;; *) outputs+=(":(exclude)$d/**") ;; esac
done
changes() {
	git diff "${diff_opts[@]}" --relative --diff-filter=d "$base" -- '*.c' '*.h'
	git ls-files -z --others --exclude-standard -- '*.c' '*.h' "${outputs[@]}" |
		while IFS= read -r -d '' f; do
			git diff "${diff_opts[@]}" --no-index /dev/null "$f"
		done
}
patch=$(changes) || true
files=$(printf '%s\n' "$patch" | grep -c '^+++ b/')
lines=$(($(printf '%s\n' "$patch" | grep -c '^+') - files)) # less the +++ b/FILE headers

# clang-format-diff exits 0 whether or not it finds something (clang-format 14): its output decides
out=$(printf '%s\n' "$patch" | "$fmtdiff" -p1 -binary "$fmt" 2>&1)
rc=$?
{
	echo "format check of $what (base $base)"
	echo "$files files, $lines added or changed lines"
	printf '%s\n' "$out"
} >>"$log"
if [ $rc -ne 0 ] || [ -n "$out" ]; then
	echo "FAIL  format ($what: changed lines not as clang-format formats them, $(($(date +%s) - t0))s; log: $log)"
	printf '%s\n' "$out" | head -n 200
	n=$(printf '%s\n' "$out" | wc -l)
	[ "$n" -le 200 ] || echo "... $((n - 200)) more lines in $log"
	echo "(to fix: git diff -U0 $base -- '*.c' '*.h' | clang-format-diff -p1 -i)"
	exit 1
fi
echo "PASS  format ($lines changed lines in $files files: $what; $(($(date +%s) - t0))s)"
