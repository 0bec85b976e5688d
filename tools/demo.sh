#!/bin/bash
# demo.sh — `make demo`: the main job of trmx, end to end, in a fresh TRMX_HOME (BUILD/demo-home):
#   1. pack every bundled module that has weights (modules/<name>/; until one has, the test
#      fixture tests/fixtures/module-sudoku4-tiny, an untrained 4x4 Sudoku model);
#   2. install them (verified, unpacked into the content-addressed store, each module's own
#      database made from its schema.sql, its examples run as a self-test);
#   3. bind a demo course: one context per module, through the alias `champion`;
#   4. run generated puzzles (trmx gen) through the course for a few learners, one by one and as a
#      batch: every run is logged with the checker's verdict as feedback;
#   5. record a learner's feedback;
#   6. swap one context from the TRM module sudoku4 to the HRM module sudoku4-hrm and back, and
#      compare them with trmx report;
#   7. start trmx serve on a free loopback port, solve (JSON and a stream of steps) and give
#      feedback with curl, stop it;
#   8. publish the packages to a module index folder (signed), serve it with trmx serve --index on
#      a free loopback port, and install one module from it into a second home (BUILD/demo-home2);
#   then print a summary from the log's views.
# Idempotent: every run starts from a fresh home. Usage: tools/demo.sh [BUILD]
#   tools/demo.sh BUILD --serve   (make serve-demo) the demo's home, made first when missing, served
#                                 in the foreground on $DEMO_LISTEN (127.0.0.1:8080) with its pages
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. tools/yaml.sh
trmx="$root/$build/trmx"
home="$root/$build/demo-home"
work="$root/$build/demo"
[ -x "$trmx" ] || { echo "demo: $trmx is missing; run make first" >&2; exit 1; }
listen=${DEMO_LISTEN:-127.0.0.1:8080}
# pages URL: the learner's page of each demo context, the console and the report (docs/WEB.md)
pages() {
	local u=$1 c
	for c in $(TRMX_HOME="$home" "$trmx" list 2>/dev/null | sed -n 's/^\(demo-course\/[^ ]*\) .*/\1/p'); do
		echo "  learner page ($c): $u/learn/$c"
	done
	echo "  course creator's console: $u/console"
	echo "  analyst's view:           $u/report"
	# the demo home has no tokens file (loopback needs none); with one, each page asks for a token
	[ ! -f "$home/tokens.json" ] || echo "  (this home has bearer tokens: the pages ask for one; trmx token add NAME --scopes admin)"
}
if [ "${2:-}" = --serve ]; then
	[ -f "$home/registry.db" ] || "$0" "$build"
	echo
	echo "trmx serve on http://$listen over $home (Ctrl-C stops it):"
	pages "http://$listen"
	exec "$trmx" serve --home "$home" --listen "$listen" --plugins "$root/$build/plugins"
fi
[ -d "$home" ] && chmod -R u+w "$home" # the store is read-only
rm -rf "$home" "$work"
mkdir -p "$work/packages"
export TRMX_HOME="$home" TRMX_ACTOR=demo
say() { printf '\n== %s\n' "$*"; }
field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" | head -1; }

say "1. Packing the bundled modules"
pkgs=()
pack() {
	local out
	if out=$("$trmx" pack "$1" -o "$work/packages" 2>&1); then
		echo "  ${out%%,*}"
		pkgs+=("${out%%:*}")
	else
		echo "  $1: not packed: $out"
	fi
}
for dir in modules/*/; do
	[ -d "$dir" ] || continue
	if [ -f "$dir/weights.safetensors" ]; then
		pack "${dir%/}"
	else
		echo "  ${dir%/}: no weights yet (make train-$(basename "$dir")), skipped"
	fi
done
if [ ${#pkgs[@]} -eq 0 ]; then
	echo "  no bundled module could be packed yet: using the test fixture (an untrained 4x4 Sudoku model)"
	pack tests/fixtures/module-sudoku4-tiny
fi

say "2. Installing into $home"
modules=()
for p in "${pkgs[@]}"; do
	if out=$("$trmx" install "$p" 2>&1); then
		echo "  $out"
		modules+=("$(echo "$out" | sed -n 's/^installed \([^ ]*\) \([^ ]*\) .*/\1@\2/p')")
	else
		echo "  $(basename "$p"): refused: $(echo "$out" | head -n 1)"
	fi
done
[ ${#modules[@]} -gt 0 ] || { echo "demo: nothing could be installed" >&2; exit 1; }
"$trmx" list | sed 's/^/  /'

say "3. Binding the demo course"
for mv in "${modules[@]}"; do
	m=${mv%@*}
	"$trmx" alias set "$m@champion" "${mv#*@}" | sed 's/^/  /'
	"$trmx" bind "demo-course/$m" "$m@champion" | sed 's/^/  /'
done

say "4. Running puzzles through the course"
runs=()
for mv in "${modules[@]}"; do
	m=${mv%@*}
	ctx="demo-course/$m"
	info=$("$trmx" show "$m" --json)
	task=$(echo "$info" | field task)
	params=$(echo "$info" | field task_params)
	size=$(echo "$params" | sed -n 's/.*size=\([0-9]*\).*/\1/p')
	puzzles="$work/$m.csv"
	case "$task" in
	sudoku) # puzzles of the level the module trained on (data.difficulty), else any
		level=""
		[ ! -f "modules/$m/train.yaml" ] || level=$(yaml_get "modules/$m/train.yaml" data "  difficulty")
		"$trmx" gen sudoku --size "${size:-9}" ${level:+--difficulty "$level"} -n 8 --seed 7 -o "$puzzles" >/dev/null 2>&1 ||
			: >"$puzzles" ;;
	maze) "$trmx" gen maze --size "${size:-30}" -n 8 --seed 7 -o "$puzzles" >/dev/null 2>&1 || : >"$puzzles" ;;
	*) : >"$puzzles" ;;
	esac
	if [ ! -s "$puzzles" ]; then # no generator for this task: the module's own examples
		store=$(echo "$info" | field store)
		for e in "$store"/examples/*; do
			case "$e" in *.out.*) ;; *) cp "$e" "$work/" ;; esac
		done
		echo "  $m: no generator for task $task; running its examples"
		set -- # each example file, given as @FILE (a bare argument is puzzle text)
		for e in "$work"/*; do [ -f "$e" ] && set -- "$@" "@$e"; done
	else
		mapfile -t rows < <(tail -n +2 "$puzzles" | cut -d, -f1)
		set -- "${rows[@]}"
	fi
	echo "  $ctx ($task $params): $# puzzles, 4 learners"
	i=0
	for p in "$@"; do
		learner="learner-$((i % 4 + 1))"
		if [ $i -eq 0 ]; then
			echo "  -- one run in full: trmx run $ctx PUZZLE --learner $learner"
			"$trmx" run "$ctx" "$p" --learner "$learner" --color never | sed 's/^/     /' || true
		fi
		j=$("$trmx" run "$ctx" "$p" --learner "$learner" --json 2>/dev/null) || true
		id=$(echo "$j" | field run_id)
		[ -n "$id" ] && runs+=("$id")
		printf '  %-10s run %s  %-8s steps %s  version %s (%s arm)\n' "$learner" "$id" "$(echo "$j" | field verdict)" \
			"$(echo "$j" | sed -n 's/.*"steps":\([0-9]*\).*/\1/p')" "$(echo "$j" | field version)" "$(echo "$j" | field arm)"
		i=$((i + 1))
	done
	if [ -s "$puzzles" ]; then
		echo "  -- the same puzzles as one batch (engine batching): trmx run $ctx --batch $m.csv"
		"$trmx" run "$ctx" --batch "$puzzles" --learner learner-5 | tail -n 1 | sed 's/^/     /'
	fi
done

say "5. Feedback"
if [ ${#runs[@]} -gt 0 ]; then
	"$trmx" feedback "${runs[0]}" --verdict incorrect --source learner --comment "I expected another answer" | sed 's/^/  /'
fi
echo "  (and every run above carries the checker's verdict as feedback, source 'checker')"

say "6. Swapping engines: one context, a TRM module, then an HRM module, then back"
has() { printf '%s\n' "${modules[@]}" | grep -qx "$1@.*"; }
if has sudoku4 && has sudoku4-hrm; then
	ctx=demo-course/swap
	"$trmx" gen sudoku --size 4 -n 12 --seed 11 -o "$work/swap.csv" >/dev/null
	for m in sudoku4 sudoku4-hrm sudoku4; do
		"$trmx" bind "$ctx" "$m" | sed 's/^/  /'
		"$trmx" run "$ctx" --batch "$work/swap.csv" --learner learner-6 | tail -n 1 | sed 's/^/     /'
	done
	echo "  every run's row in the log names the engine that served it:"
	"$trmx" sql "SELECT module, version, engine, count(*) AS runs FROM runs WHERE context = '$ctx' GROUP BY 1, 2, 3" |
		sed 's/^/     /'
	echo "  -- trmx report --context $ctx"
	"$trmx" report --context "$ctx" | sed 's/^/     /'
else
	echo "  needs both sudoku4 and sudoku4-hrm installed; skipped"
fi

say "7. The course over HTTP: trmx serve on a free loopback port, driven with curl"
m=${modules[0]%@*}
has sudoku4 && m=sudoku4 # short puzzles read best on a terminal
ctx=demo-course/$m
rm -f "$work/port"
"$trmx" serve --listen 127.0.0.1:0 --port-file "$work/port" 2>"$work/serve.log" &
serve_pid=$!
trap 'kill $serve_pid 2>/dev/null' EXIT
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || { echo "  trmx serve did not start:"; cat "$work/serve.log"; exit 1; }
url=http://127.0.0.1:$(cat "$work/port")
head -n 1 "$work/serve.log" | sed 's/^/  /'
call() { # show the call, then its answer
	echo "  \$ curl $(printf '%q ' "$@")"
	curl -s --max-time 60 "$@" | head -c 1500 | sed 's/^/     /'
	echo
}
puzzle=$(sed -n '2p' "$work/$m.csv" 2>/dev/null | cut -d, -f1)
[ -n "$puzzle" ] || puzzle=$("$trmx" sql "SELECT input FROM runs WHERE context = '$ctx' LIMIT 1" --format csv | tail -n 1)
call "$url/healthz"
call -X POST "$url/v1/contexts/$ctx/solve" -d "{\"puzzle\": \"$puzzle\", \"learner\": \"learner-7\"}"
rid=$(curl -s --max-time 60 -X POST "$url/v1/contexts/$ctx/solve" -d "{\"puzzle\": \"$puzzle\", \"learner\": \"learner-8\"}" |
	field run_id)
call -X POST "$url/v1/contexts/$ctx/solve" -H 'Accept: text/event-stream' -d "{\"puzzle\": \"$puzzle\", \"halt\": \"fixed\", \"max_steps\": 3}"
call -X POST "$url/v1/runs/$rid/feedback" -d '{"verdict": "incorrect", "source": "learner", "comment": "not what I expected"}'
call -X POST "$url/v1/contexts/no/such/solve" -d "{\"puzzle\": \"$puzzle\"}"
echo "  the pages it serves to people (docs/WEB.md):"
pages "$url"
echo "  \$ curl -s -o /dev/null -w '%{http_code} %{content_type}' $url/learn/$ctx"
echo "     $(curl -s -o /dev/null -w '%{http_code} %{content_type}' --max-time 10 "$url/learn/$ctx")"
kill -TERM $serve_pid
wait $serve_pid || true
trap - EXIT
echo "  the server's access log (standard error), one JSON line a request:"
sed -n '2,$p' "$work/serve.log" | sed 's/^/     /'
echo "  the HTTP runs are in the log like the others:"
"$trmx" sql "SELECT r.id, r.learner IS NOT NULL AS has_learner, r.steps, f.source, f.verdict FROM runs r LEFT JOIN feedback f ON f.run_id = r.id WHERE r.id = '$rid'" | sed 's/^/     /'

say "8. Sharing modules: a signed module index, served by trmx serve --index, pulled into a second home"
home2="$root/$build/demo-home2"
[ -d "$home2" ] && chmod -R u+w "$home2"
rm -rf "$home2" "$work/index"
"$trmx" keygen -o "$work/index-key" --comment "demo index" | sed 's/^/  /'
for p in "$work/packages/"*.trmx; do
	"$trmx" publish "$p" --index "$work/index" --key "$work/index-key.key" | sed 's/^/  /'
done
rm -f "$work/index.port"
"$trmx" serve --home "$work/index-serve-home" --index "$work/index" --listen 127.0.0.1:0 --port-file "$work/index.port" \
	2>"$work/index-serve.log" &
index_pid=$!
trap 'kill $index_pid 2>/dev/null' EXIT
for _ in $(seq 100); do [ -s "$work/index.port" ] && break; sleep 0.1; done
[ -s "$work/index.port" ] || { echo "  trmx serve --index did not start:"; cat "$work/index-serve.log"; exit 1; }
index_url=http://127.0.0.1:$(cat "$work/index.port")/index
echo "  \$ trmx index add $index_url --trust index-key.pub --home $home2"
"$trmx" index add "$index_url" --trust "$work/index-key.pub" --home "$home2" | sed 's/^/     /'
echo "  \$ trmx search --home $home2"
"$trmx" search --home "$home2" | sed 's/^/     /'
echo "  \$ trmx install ${modules[0]} --home $home2"
"$trmx" install "${modules[0]}" --home "$home2" 2>&1 | sed 's/^/     /'
kill -TERM $index_pid
wait $index_pid || true
trap - EXIT
"$trmx" list --home "$home2" | sed 's/^/  /'
"$trmx" list --home "$home2" | grep -q "^${modules[0]%@*} " || { echo "demo: nothing was installed from the index" >&2; exit 1; }

say "Summary from the log ($home/log.db, views context_summary and version_summary)"
for mv in "${modules[@]}"; do
	m=${mv%@*}
	"$trmx" show "demo-course/$m" | sed 's/^/  /'
	"$trmx" show "$m" | grep -E '^  (usage|self-test|contexts)' | sed 's/^/  /'
done
say "History (append-only)"
"$trmx" history | sed 's/^/  /'
echo
echo "The home stays in $home: try  TRMX_HOME=$home $trmx run demo-course/${modules[0]%@*} PUZZLE"
echo "To look at the pages in a browser: make serve-demo (trmx serve on http://$listen in the foreground), then open"
pages "http://$listen"
