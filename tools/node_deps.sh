#!/bin/sh
# node_deps.sh — install the npm packages of the tests (tests/node/package.json, pinned by its
# package-lock.json: playwright-core, jose, xapi-validation) into BUILD/node/node_modules, once.
#   tools/node_deps.sh [BUILD]     prints the node_modules folder; exits 1 when npm fails
# The browser tests drive Debian's chromium (tools/deps.sh installs it); Playwright downloads
# no browser of its own.
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/$build/node"
mkdir -p "$dir"
if ! cmp -s "$root/tests/node/package-lock.json" "$dir/package-lock.json" || [ ! -d "$dir/node_modules" ]; then
	cp "$root/tests/node/package.json" "$root/tests/node/package-lock.json" "$dir/"
	if ! (cd "$dir" && timeout 600 npm ci --no-audit --no-fund --silent >"$dir/npm.log" 2>&1); then
		echo "node_deps: npm ci failed (see $dir/npm.log)" >&2
		rm -f "$dir/package-lock.json"
		exit 1
	fi
fi
echo "$dir/node_modules"
