#!/usr/bin/python3
"""torch_peer.py: the PyTorch-on-CPU peer of `bench_trm run`.

Loads the same safetensors weights into tools/trm_reference.py's model (the official TRM
structure, float32), runs STEPS fixed ACT steps on BATCH random puzzles under inference mode with
the given threads and flush-to-zero on (the peer's best case), and prints one key=value line:
the median per-step wall time, puzzles/s for STEPS steps, effective GFLOP/s.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import safetensors_io  # noqa: E402
import trm_reference as ref  # noqa: E402


def flops_per_step(a):
    """Multiply-adds x 2 per sequence per ACT step, as trmx_model_info.flops_per_step."""
    P = ref.puzzle_len(a)
    S = a["seq_len"] + P
    D = a["hidden_size"]
    hd = a["num_heads"] * (D // a["num_heads"])
    inter = ref.swiglu_inter(D, a["expansion"])
    layer = 6.0 * S * D * inter
    if a["mlp_t"]:
        layer += 6.0 * D * S * ref.swiglu_inter(S, a["expansion"])
    else:
        layer += 2.0 * S * D * 3 * hd + 2.0 * S * hd * D + 4.0 * S * S * hd
    calls = a["H_cycles"] * (a["L_cycles"] + 1)
    return calls * a["L_layers"] * layer + 2.0 * a["seq_len"] * D * a["vocab_size"] + 4.0 * D


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", required=True)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    tensors, md = safetensors_io.read(args.weights)
    arch = ref.normalize_arch({k: v for k, v in md.items() if k in ref.ARCH_KEYS})
    model = ref.load_state(ref.build_model(arch, torch.float32), tensors)
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
    print(f"engine=torch batch={args.batch} steps={args.steps} reps={args.reps} threads={args.threads} "
          f"step_median_s={med:.6f} puzzles_per_s={args.batch / (med * args.steps):.4f} "
          f"gflops={flops_per_step(arch) * args.batch / med / 1e9:.2f} torch={torch.__version__}")


if __name__ == "__main__":
    main()
