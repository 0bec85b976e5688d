#!/usr/bin/python3
"""gen_fixtures.py: write the numeric TRM fixtures tests/fixtures/trm_<name>.safetensors.

Each fixture holds the architecture (metadata), random inputs, and the logits
and Q logits of every one of 16 ACT steps (fixed halting) computed by the
float64 PyTorch reference (tools/trm_reference.py); tiny configurations also
carry their weights inline, large ones name the deterministic generator seed.
See tests/fixtures/README.md for the layout.

    /usr/bin/python3 tools/gen_fixtures.py                  # all fixtures
    /usr/bin/python3 tools/gen_fixtures.py --only tiny_rope # one (repeatable / comma list)
    /usr/bin/python3 tools/gen_fixtures.py --measure        # print fp32-vs-fp64 per step, write nothing
"""

import argparse
import math
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
import trm_reference as R  # noqa: E402

STEPS = 16
COMMON = dict(rms_norm_eps=1e-5, rope_theta=10000.0, halt_max_steps=16)

TINY_MLP = dict(mlp_t=True, pos_encodings="none", seq_len=16, vocab_size=6, hidden_size=64,
                num_heads=4, expansion=4, L_layers=2, H_cycles=3, L_cycles=6,
                puzzle_emb_ndim=64, puzzle_emb_len=2, num_puzzle_identifiers=3, **COMMON)

# name -> (arch, batch, seed, weights kind)
CONFIGS = {
    "tiny_mlp": (TINY_MLP, 3, 101, "inline"),
    "tiny_rope": (dict(mlp_t=False, pos_encodings="rope", seq_len=36, vocab_size=8, hidden_size=64,
                       num_heads=4, expansion=4, L_layers=2, H_cycles=3, L_cycles=4,
                       puzzle_emb_ndim=64, puzzle_emb_len=16, num_puzzle_identifiers=2, **COMMON),
                  2, 102, "inline"),
    "tiny_learned": (dict(mlp_t=False, pos_encodings="learned", seq_len=25, vocab_size=7, hidden_size=64,
                          num_heads=2, expansion=2.5, L_layers=2, H_cycles=2, L_cycles=3,
                          puzzle_emb_ndim=96, puzzle_emb_len=0, num_puzzle_identifiers=5, **COMMON),
                     2, 103, "inline"),
    "tiny_nopuzzle": (dict(mlp_t=False, pos_encodings="rope", seq_len=16, vocab_size=6, hidden_size=32,
                           num_heads=2, expansion=4, L_layers=1, H_cycles=2, L_cycles=2,
                           puzzle_emb_ndim=0, puzzle_emb_len=0, num_puzzle_identifiers=1, **COMMON),
                      2, 104, "inline"),
    "tiny_halt": (TINY_MLP, 8, 149, "inline"),
    "sudoku_mlp": (dict(mlp_t=True, pos_encodings="none", seq_len=81, vocab_size=11, hidden_size=512,
                        num_heads=8, expansion=4, L_layers=2, H_cycles=3, L_cycles=6,
                        puzzle_emb_ndim=512, puzzle_emb_len=16, num_puzzle_identifiers=1, **COMMON),
                   2, 106, "generated"),
    "arc_att": (dict(mlp_t=False, pos_encodings="rope", seq_len=900, vocab_size=12, hidden_size=512,
                     num_heads=8, expansion=4, L_layers=2, H_cycles=3, L_cycles=4,
                     puzzle_emb_ndim=512, puzzle_emb_len=16, num_puzzle_identifiers=4, **COMMON),
                2, 107, "generated"),
}

HALT_MIN_MARGIN = 1e-3


def make_inputs(arch, batch, seed):
    """Deterministic random inputs: tokens in [1, vocab), puzzle ids in [0, N)."""
    g = np.random.default_rng(seed)
    inputs = g.integers(1, arch["vocab_size"], size=(batch, arch["seq_len"])).astype(np.int32)
    pids = g.integers(0, arch["num_puzzle_identifiers"], size=(batch,)).astype(np.int32)
    return inputs, pids


def run(arch, weights, inputs, pids, dtype):
    m = R.load_state(R.build_model(arch, dtype), weights)
    lg, qh, qc = R.run_fixed(m, inputs, pids, STEPS)
    return lg.double().numpy(), qh.double().numpy(), qc.double().numpy()


def per_step_diff(a, b):
    """max |a-b| over logits, q_halt, q_continue, per step."""
    return [max(np.abs(a[0][s] - b[0][s]).max(), np.abs(a[1][s] - b[1][s]).max(),
                np.abs(a[2][s] - b[2][s]).max()) for s in range(STEPS)]


def halting(q_halt):
    """First 1-based step with q_halt > 0 per row (STEPS if none) and the
    smallest |q_halt| over the steps up to that one (all steps if none)."""
    steps, margin = [], math.inf
    for b in range(q_halt.shape[1]):
        pos = np.nonzero(q_halt[:, b] > 0)[0]
        h = int(pos[0]) + 1 if len(pos) else STEPS
        steps.append(h)
        margin = min(margin, float(np.abs(q_halt[:h, b]).min()))
    return steps, margin


def choose_halt_bias(q_halt0, bias0):
    """Pick q_head.bias[0] so that the rows first reach q_halt > 0 at spread
    steps. q_halt0 is q_halt with bias[0] = bias0; the bias does not feed
    back into the state, so q_halt(b) = q_halt0 - bias0 + b.
    Score: number of distinct halting steps, requiring >= 1 row halting at
    steps 1-3, >= 1 later, >= 1 never, and a margin >= HALT_MIN_MARGIN."""
    a = q_halt0 - bias0
    # candidate biases: midpoints between the sorted values of -a
    vals = np.unique(np.round(-a.ravel(), 6))
    cands = (vals[:-1] + vals[1:]) / 2
    best = None
    for c in cands:
        c32 = float(np.float32(c))
        q = a + c32
        steps, margin = halting(q)
        never = [b for b in range(q.shape[1]) if not (q[:, b] > 0).any()]
        early = [s for s in steps if s <= 3]
        late = [s for b, s in enumerate(steps) if s > 3 and b not in never]
        if not early or not late or not never or margin < HALT_MIN_MARGIN:
            continue
        score = (len(set(steps)), min(margin, 0.05))
        if best is None or score > best[0]:
            best = (score, c32, steps, margin)
    return best


def fmt_list(xs):
    return ",".join(f"{x:.3e}" for x in xs)


def build_fixture(name, outdir, measure_only=False, gains=None, log=print):
    arch, batch, seed, kind = CONFIGS[name]
    arch = R.normalize_arch(arch)
    t0 = time.time()
    weights = R.generate_weights(arch, seed, gains)
    inputs, pids = make_inputs(arch, batch, seed)
    extra_md = {}
    extra_tensors = []

    if name == "tiny_halt":
        b0 = float(weights["model.inner.q_head.bias"][0])
        ref = run(arch, weights, inputs, pids, torch.float64)
        best = choose_halt_bias(ref[1], b0)
        if best is None:
            raise SystemExit("tiny_halt: no q_head.bias[0] gives a good halting spread; change the seed")
        _, bias, steps, margin = best
        weights["model.inner.q_head.bias"][0] = np.float32(bias)
        log(f"  tiny_halt: q_head.bias[0] {b0!r} -> {bias!r}, halt steps {steps}, margin {margin:.3e}")

    ref = run(arch, weights, inputs, pids, torch.float64)
    t1 = time.time()
    f32 = run(arch, weights, inputs, pids, torch.float32)
    t2 = time.time()
    diffs = per_step_diff(f32, ref)
    max_logit = float(np.abs(ref[0]).max())
    log(f"  {name}: B={batch} fp64 {t1 - t0:.1f}s fp32 {t2 - t1:.1f}s  max|logit| {max_logit:.3f}  "
        f"fp32-vs-fp64 max {max(diffs):.3e}")
    log("    per step: " + " ".join(f"{d:.1e}" for d in diffs))

    if name == "tiny_halt":
        steps, margin = halting(ref[1])
        steps32, _ = halting(f32[1])
        if steps32 != steps:
            raise SystemExit(f"tiny_halt: fp32 halting steps {steps32} != fp64 {steps}")
        extra_tensors.append(("fixture.halt_steps", np.array(steps, dtype=np.int32)))
        extra_md["fixture.halt_margin"] = f"{margin:.6e}"

    if measure_only:
        return diffs

    md = R.arch_to_metadata(arch)
    md.update({
        "fixture.steps": str(STEPS),
        "fixture.batch": str(batch),
        "fixture.weights": "inline" if kind == "inline" else f"generated:{seed}",
        "fixture.generator_seed": str(seed),
        "fixture.generator_gains": f"layers={R.LAYER_STD_GAIN!r},mlp_t={R.MLP_T_STD_GAIN!r}",
        "fixture.reference_dtype": "float64",
        "fixture.fp32_maxdiff": f"{max(diffs):.6e}",
        "fixture.fp32_maxdiff_per_step": fmt_list(diffs),
        "fixture.max_abs_logit": f"{max_logit:.6e}",
    })
    md.update(extra_md)
    if name == "tiny_halt":
        md["fixture.modified"] = "model.inner.q_head.bias[0]"

    tensors = [
        ("fixture.inputs", inputs),
        ("fixture.puzzle_ids", pids),
        ("fixture.logits", ref[0].astype(np.float32)),
        ("fixture.q_halt", ref[1].astype(np.float32)),
        ("fixture.q_continue", ref[2].astype(np.float32)),
    ] + extra_tensors
    if kind == "inline":
        tensors += [(n, weights[n]) for n, _, _ in R.weight_shapes(arch)]
    path = os.path.join(outdir, f"trm_{name}.safetensors")
    safetensors_io.write(path, tensors, md)
    log(f"  wrote {path} ({os.path.getsize(path)} bytes)")
    return diffs


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description="write tests/fixtures/trm_*.safetensors")
    ap.add_argument("--only", action="append", default=[],
                    help="fixture name(s) to (re)generate; repeatable or comma-separated")
    ap.add_argument("--outdir", default=os.path.join(here, "..", "tests", "fixtures"))
    ap.add_argument("--measure", action="store_true", help="only print fp32-vs-fp64 differences")
    ap.add_argument("--gains", default=None, metavar="LAYER,MLP_T",
                    help="(experiments, with --measure only) std gains of the L_level weights "
                         "instead of the generator's 0.5,0.25; 1,1 is plain LeCun")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    names = [n for o in args.only for n in o.split(",") if n] or list(CONFIGS)
    for n in names:
        if n not in CONFIGS:
            ap.error(f"unknown fixture {n!r}; known: {', '.join(CONFIGS)}")
    gains = None
    if args.gains:
        if not args.measure:
            ap.error("--gains is for --measure only (the C generator hard-codes the gains)")
        gains = tuple(float(x) for x in args.gains.split(","))
        if len(gains) != 2:
            ap.error("--gains wants LAYER,MLP_T")
    os.makedirs(args.outdir, exist_ok=True)
    for n in names:
        build_fixture(n, os.path.normpath(args.outdir), args.measure, gains)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
