#!/bin/bash
# symbols.sh — the library's global symbols (docs/LAYOUT.md, "Symbols"): every symbol
# BUILD/libtrmx.a defines for other files is trmx_* (the API, in framework/include/trmx/) or
# trmx__* (internal across files, in a *_int.h); anything else must be static. A program that
# links libtrmx.a statically then cannot collide with it. libtrmx.so exports the API only.
#   tests/build/symbols.sh [BUILD]
set -u
build=${1:-build}
cd "$(dirname "$0")/../.."
lib="$build/libtrmx.a"
[ -f "$lib" ] || { echo "FAIL no $lib (make BUILD=$build)"; exit 1; }
# Under AddressSanitizer (make check) GCC adds a global __odr_asan.NAME for each global variable
# NAME: NAME is what is checked.
syms() { nm -g --defined-only "$lib" | awk 'NF == 3 && $2 ~ /[TDBRCGSV]/ { sub(/^__odr_asan\./, "", $3); print $3 }'; }
bad=$(syms | grep -v '^trmx_' | sort -u)
n=$(syms | wc -l)
if [ -n "$bad" ]; then
	echo "FAIL global symbols of $lib without the trmx_ prefix (make them static, or name them trmx__*):"
	echo "$bad" | sed 's/^/  /'
	exit 1
fi
echo "ok   $n global symbols of libtrmx.a, all trmx_* or trmx__*"
so="$build/libtrmx.so"
[ -f "$so" ] || { echo "FAIL no $so"; exit 1; }
int=$(nm -D --defined-only "$so" | awk '{ print $3 }' | grep '^trmx__' | head -n 5)
if [ -n "$int" ]; then
	echo "FAIL libtrmx.so exports internal symbols: $int"
	exit 1
fi
echo "ok   libtrmx.so exports no trmx__* symbol"
