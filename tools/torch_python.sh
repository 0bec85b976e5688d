# torch_python.sh — sourced by the benchmarks: PY is the Python that runs the PyTorch peers.
# $PYTHON when set, else the first python3 on PATH that imports torch and numpy (Debian's
# python3-torch: `tools/deps.sh --bench`), else the first python3 on PATH (the peers then say
# what is missing). A pyenv or venv python3 ahead on PATH without torch is passed over.
PY=${PYTHON:-}
if [ -z "$PY" ]; then
	for p in $(type -ap python3); do
		if "$p" -c 'import torch, numpy' >/dev/null 2>&1; then PY=$p; break; fi
	done
	PY=${PY:-python3}
fi
