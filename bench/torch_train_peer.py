#!/usr/bin/python3
"""torch_train_peer.py: the PyTorch-on-CPU peer of trmx's training step.

Loads a safetensors weights file (architecture in its metadata, as for
bench/torch_peer.py) into tools/trm_reference.py's model in float32 and times
the official training step of tools/trm_train_reference.py: carry refill of
halted rows, one deep recursion (last H cycle under autograd), stable-max CE +
Q-halt BCE, backward, sparse sign-SGD on the puzzle rows, AdamATan2 and the
EMA. ACT halting with the official exploration is on, so rows are refilled as
in real training. Each step gets a fresh random batch (made outside the timed
region). Flush-to-zero is on. Prints one key=value line:

    engine=torch batch=B threads=T step_median_s=S steps_per_s=R ...

with the median over --steps timed steps after 2 warm-up steps.
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
import trm_train_reference as tr  # noqa: E402

WARMUP = 2


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", required=True)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=10, help="timed steps (after 2 warm-up steps)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--global-batch", type=int, default=None, help="loss divisor (default: --batch)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    torch.manual_seed(0)

    tensors, md = safetensors_io.read(args.weights)
    arch = ref.normalize_arch({k: v for k, v in md.items() if k in ref.ARCH_KEYS})
    model = ref.load_state(ref.build_model(arch, torch.float32), tensors)
    model.train()
    cfg = tr.TrainConfig(global_batch_size=args.global_batch or args.batch,
                         generator=torch.Generator().manual_seed(0))
    state = tr.init_opt_state(model, cfg)
    carry = tr.init_carry(model, args.batch)

    rng = np.random.default_rng(1)
    V, L = arch["vocab_size"], arch["seq_len"]
    npuz = max(1, arch["num_puzzle_identifiers"])

    def batch():
        return dict(inputs=torch.from_numpy(rng.integers(1, V, size=(args.batch, L))),
                    labels=torch.from_numpy(rng.integers(1, V, size=(args.batch, L))),
                    puzzle_ids=torch.from_numpy(rng.integers(0, npuz, size=(args.batch,))))

    dts, losses = [], []
    for i in range(WARMUP + args.steps):
        b = batch()
        t0 = time.perf_counter()
        carry, info = tr.train_step(model, carry, b, state, cfg)
        dt = time.perf_counter() - t0
        if i >= WARMUP:
            dts.append(dt)
            losses.append(info["loss"])
    med = statistics.median(dts)
    print(f"engine=torch batch={args.batch} threads={args.threads} step_median_s={med:.6f} "
          f"steps_per_s={1.0 / med:.4f} steps={args.steps} params={ref.param_count(arch)} "
          f"last_loss={losses[-1]:.4f} torch={torch.__version__}")


if __name__ == "__main__":
    main()
