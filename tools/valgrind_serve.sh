#!/bin/bash
# valgrind_serve.sh — trmx serve under valgrind's memcheck through the concurrency test's load (32
# clients, a 20% canary), a stream, feedback, the report and the metrics, then SIGTERM: no error
# and no leak (`make valgrind`; minutes, not part of `make test`).
#   tools/valgrind_serve.sh BUILD   (BUILD built with an instruction set valgrind knows)
set -u
build=${1:?usage: valgrind_serve.sh BUILD}
root=$(cd "$(dirname "$0")/.." && pwd)
trmx="$root/$build/trmx"
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)"; exit 1; }
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$work"' EXIT
H=$work/home
for m in sudoku4 sudoku4-hrm; do
	"$trmx" pack "$root/modules/$m" -o "$work/$m.trmx" >/dev/null && "$trmx" install -q --home "$H" "$work/$m.trmx" || exit 1
done
"$trmx" bind --home "$H" load/unit sudoku4 --canary sudoku4-hrm --share 20% >/dev/null || exit 1
"$trmx" gen sudoku --size 4 -n 50 --seed 3 -o "$work/p.csv" >/dev/null 2>&1 || exit 1
valgrind --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible \
	--log-file="$work/vg.log" "$trmx" serve --home "$H" --listen 127.0.0.1:0 --port-file "$work/port" -q \
	2>"$work/err" &
pid=$!
for _ in $(seq 300); do [ -s "$work/port" ] && break; sleep 0.2; done
[ -s "$work/port" ] || { echo "trmx serve did not start under valgrind"; cat "$work/err"; exit 1; }
port=$(cat "$work/port")
u=http://127.0.0.1:$port
python3 "$root/tests/http/load_client.py" "$port" load/unit "$work/p.csv" "$work/c.jsonl" --clients 32 --requests 5 \
	--timeout 600
answered=$(grep -c '"status": 200' "$work/c.jsonl")
rid=$(curl -s -N --max-time 600 -H 'Accept: text/event-stream' -XPOST "$u/v1/contexts/load/unit/solve" \
	-d '{"puzzle":"1.3..4.22.4..3.1","learner":"v"}' | sed -n 's/.*"run_id":"\([^"]*\)".*/\1/p' | head -n 1)
curl -s --max-time 600 -o /dev/null -XPOST "$u/v1/runs/$rid/feedback" -d '{"verdict":"correct"}'
curl -s --max-time 600 -o /dev/null "$u/v1/report?context=load/unit"
curl -s --max-time 600 -o /dev/null "$u/metrics"
curl -s --max-time 600 -o /dev/null -XPOST "$u/v1/contexts/load/unit/solve" -d '{"puzzle":'
kill -TERM $pid
wait $pid
rc=$?
pid=""
echo "$answered of 160 solves answered 200; stream run $rid; exit $rc"
grep -E "ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|All heap blocks" "$work/vg.log"
if [ $rc -eq 0 ] && [ "$answered" -eq 160 ] && [ -n "$rid" ] && grep -q "ERROR SUMMARY: 0 errors" "$work/vg.log"; then
	echo "valgrind: no error, no leak"
	exit 0
fi
cat "$work/vg.log" | head -n 80
exit 1
