# yaml.sh — the few YAML reads and edits the training scripts make on a module's train.yaml
# (top-level sections, keys at a known indentation). Sourced by ablation.sh, train_module.sh and
# demo.sh; POSIX sh. Also read by sudoku_card.sh on a manifest.

# yaml_set FILE SECTION KEY VALUE: set `KEY: VALUE` (KEY with its indentation) inside the
# top-level SECTION: replaced where it is, else added as the section's first key (and the
# section added at the end when there is none).
yaml_set() {
	awk -v sec="$2" -v key="$3" -v val="$4" '
		/^[^ #]/ { cur = $0; sub(/:.*/, "", cur) }
		cur == sec && index($0, key ":") == 1 { print key ": " val; done = 1; next }
		{ print }
		END { if (!done) exit 3 }' "$1" > "$1.tmp" ||
	awk -v sec="$2" -v key="$3" -v val="$4" '
		{ print }
		$0 == sec ":" { print key ": " val; done = 1 }
		END { if (!done) { print sec ":"; print key ": " val } }' "$1" > "$1.tmp"
	mv "$1.tmp" "$1"
}

# yaml_get FILE SECTION KEY
yaml_get() {
	awk -v sec="$2" -v key="$3" '
		/^[^ #]/ { cur = $0; sub(/:.*/, "", cur) }
		cur == sec && index($0, key ":") == 1 { v = substr($0, length(key) + 2); sub(/#.*/, "", v); gsub(/[ \t"]/, "", v); print v; exit }' "$1"
}
