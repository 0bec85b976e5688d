#!/usr/bin/python3
"""torch_hrm_peer.py: the PyTorch-on-CPU peer of the trmx HRM engine's inference.

Loads HRM weights into tools/hrm_reference.py's model (the official
HierarchicalReasoningModel_ACTV1 structure, float32): a safetensors file with
the architecture in its metadata (the HRM keys: H_layers, L_layers, H_cycles,
L_cycles, ..., as written by tools/gen_hrm_fixtures.py); weights named
`generated:SEED` in the metadata, or --generate SEED, come from the
deterministic generator; --arch sudoku needs no file (the official Sudoku HRM,
27,275,266 parameters). Runs STEPS fixed ACT steps on BATCH random puzzles
under inference mode with the given threads and flush-to-zero on, and prints
one key=value line: the median per-ACT-step wall time, puzzles/s for STEPS
steps, effective GFLOP/s, where the FLOPs per sequence per ACT step are
H_cycles*L_cycles L_level updates plus H_cycles H_level updates, each
layers x (2 S D 3HD + 2 S HD D + 4 S^2 HD + 6 S D I), plus the LM head
2 seq_len D V (hrm_reference.flops_per_step).
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import hrm_reference as ref  # noqa: E402
import safetensors_io  # noqa: E402

ARCHS = {"sudoku": ref.SUDOKU_ARCH}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--weights", help="safetensors file (HRM architecture keys in the metadata)")
    src.add_argument("--arch", choices=sorted(ARCHS), help="a built-in architecture, generated weights")
    ap.add_argument("--generate", type=int, default=None, metavar="SEED",
                    help="generator seed (default: the file's generated:SEED, or 1 with --arch)")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    if args.weights:
        tensors, md = safetensors_io.read(args.weights)
        arch = ref.normalize_arch({k: v for k, v in md.items() if k in ref.ARCH_KEYS})
        w = md.get("fixture.weights", "inline")
        if args.generate is not None:
            tensors = ref.generate_weights(arch, args.generate)
        elif w.startswith("generated:"):
            tensors = ref.generate_weights(arch, int(w.split(":", 1)[1]))
    else:
        arch = ref.normalize_arch(ARCHS[args.arch])
        tensors = ref.generate_weights(arch, 1 if args.generate is None else args.generate)
    model = ref.load_state(ref.build_model(arch, torch.float32), tensors)
    del tensors
    inner = model.inner
    rng = np.random.default_rng(1)
    inputs = torch.from_numpy(rng.integers(1, arch["vocab_size"], size=(args.batch, arch["seq_len"])))
    pids = torch.zeros(args.batch, dtype=torch.int64)
    dts = []
    with torch.inference_mode():
        for _ in range(args.reps):
            z_H, z_L = inner.initial_state(args.batch)
            for _ in range(args.steps):
                t0 = time.perf_counter()
                z_H, z_L, logits, q_halt, q_cont = inner(z_H, z_L, inputs, pids)
                logits.argmax(-1)
                dts.append(time.perf_counter() - t0)
    med = statistics.median(dts)
    print(f"engine=torch model=hrm batch={args.batch} steps={args.steps} reps={args.reps} threads={args.threads} "
          f"params={ref.param_count(arch)} step_median_s={med:.6f} "
          f"puzzles_per_s={args.batch / (med * args.steps):.4f} "
          f"gflops={ref.flops_per_step(arch) * args.batch / med / 1e9:.2f} torch={torch.__version__}")


if __name__ == "__main__":
    main()
