#!/usr/bin/python3
"""gen_hrm_fixtures.py: write the numeric HRM fixtures tests/fixtures/hrm_<name>.safetensors,
computed by the float64 HRM reference (tools/hrm_reference.py), stored as F32 (losses F64).

    hrm_tiny, hrm_tiny_learned, hrm_sudoku    forward: logits and Q logits of 16 ACT steps
    hrm_grad_tiny, hrm_grad_tiny_learned      one training step from the initial state:
                                              losses (incl. the q_continue term) and gradients
    hrm_steps_tiny                            three training steps: ACT refill, the is_last
                                              branch of the Q target, AdamATan2, sign-SGD, EMA

Same conventions as the TRM fixtures (tools/gen_fixtures.py, tools/gen_grad_fixtures.py):
architecture keys as metadata strings (plus `name` = the official HRM model name),
`fixture.*` tensors, weights inline or `generated:<seed>` (trm_reference.gen_tensor).
See the "HRM fixtures" section of tests/fixtures/README.md.

    /usr/bin/python3 tools/gen_hrm_fixtures.py                   # all
    /usr/bin/python3 tools/gen_hrm_fixtures.py --only tiny,grad_tiny
    /usr/bin/python3 tools/gen_hrm_fixtures.py --measure         # fp32-vs-fp64, write nothing
    /usr/bin/python3 tools/gen_hrm_fixtures.py --measure --gain 1 --only tiny   # other layer gain
"""

import argparse
import math
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hrm_reference as H  # noqa: E402
import safetensors_io  # noqa: E402
import trm_reference as R  # noqa: E402
import trm_train_reference as T  # noqa: E402

STEPS = 16
COMMON = dict(rms_norm_eps=1e-5, rope_theta=10000.0)

TINY = dict(seq_len=16, vocab_size=6, hidden_size=32, num_heads=2, expansion=4, H_layers=2, L_layers=2,
            H_cycles=2, L_cycles=2, pos_encodings="rope", puzzle_emb_ndim=32, num_puzzle_identifiers=3,
            halt_max_steps=16, **COMMON)

# name -> (arch, batch, seed, weights kind)
FORWARD = {
    "tiny": (TINY, 3, 501, "inline"),
    # learned positions, ndim 48 > D 32 (P = 2, slot 1 half padding); H_layers != L_layers and
    # H_cycles != L_cycles so that swapped stacks or loop counts show
    "tiny_learned": (dict(TINY, pos_encodings="learned", puzzle_emb_ndim=48, H_layers=1, L_layers=2,
                          H_cycles=2, L_cycles=3), 3, 502, "inline"),
    "sudoku": (dict(H.SUDOKU_ARCH, **COMMON), 2, 503, "generated"),
}

GRAD_ARCHS = {
    "tiny": dict(seq_len=12, vocab_size=8, hidden_size=16, num_heads=2, expansion=4, H_layers=1, L_layers=2,
                 H_cycles=2, L_cycles=3, pos_encodings="rope", puzzle_emb_ndim=16, num_puzzle_identifiers=3,
                 halt_max_steps=3, **COMMON),
    "tiny_learned": dict(seq_len=9, vocab_size=7, hidden_size=16, num_heads=2, expansion=2.5, H_layers=2,
                         L_layers=1, H_cycles=3, L_cycles=2, pos_encodings="learned", puzzle_emb_ndim=24,
                         num_puzzle_identifiers=5, halt_max_steps=16, **COMMON),
}

# name -> (arch, B, G, weight seed)
GRAD = {
    "tiny": ("tiny", 3, 8, 601),
    "tiny_learned": ("tiny_learned", 3, 8, 602),
}

# name -> (arch, B, G, weight seed, halt_max_steps, data seeds searched, (data seed, q_head.bias[0])
# chosen by --search: the candidate meeting the criteria with the largest margins, see search_steps)
STEPS_FIX = {
    "tiny": ("tiny", 4, 8, 701, 3, range(7000, 7040), (7002, -4.150271892547607)),
}
NSTEPS = 3

# official Sudoku weight decay, EMA 0.5: decay and EMA visible in 3 steps (see the TRM steps fixtures)
OPT = dict(lr=1e-4, warmup=2, beta1=0.9, beta2=0.95, weight_decay=1.0, puzzle_emb_lr=1e-2,
           puzzle_emb_weight_decay=1.0, ema_rate=0.5, lr_min_ratio=0.1, total_steps=5)

ARGMAX_MARGIN = 1e-3
IGN = H.IGNORE_LABEL


def fmt_list(xs):
    return ",".join(f"{x:.3e}" for x in xs)


def gains_md(gain=None):
    return f"layers={H.LAYER_STD_GAIN if gain is None else gain!r}"


def model_for(arch, weights, dtype):
    return H.load_state(H.build_model(arch, dtype), weights)


# ----------------------------------------------------------------------------
# Forward fixtures

def make_inputs(arch, batch, seed):
    g = np.random.default_rng(seed)
    inputs = g.integers(1, arch["vocab_size"], size=(batch, arch["seq_len"])).astype(np.int32)
    pids = g.integers(0, arch["num_puzzle_identifiers"], size=(batch,)).astype(np.int32)
    return inputs, pids


def run(arch, weights, inputs, pids, dtype):
    m = model_for(arch, weights, dtype)
    lg, qh, qc = H.run_fixed(m, inputs, pids, STEPS)
    return lg.double().numpy(), qh.double().numpy(), qc.double().numpy()


def per_step_diff(a, b):
    return [max(np.abs(a[0][s] - b[0][s]).max(), np.abs(a[1][s] - b[1][s]).max(),
                np.abs(a[2][s] - b[2][s]).max()) for s in range(STEPS)]


def build_forward(name, outdir, measure_only=False, gain=None, log=print):
    arch, batch, seed, kind = FORWARD[name]
    arch = H.normalize_arch(arch)
    t0 = time.time()
    weights = H.generate_weights(arch, seed, gain)
    inputs, pids = make_inputs(arch, batch, seed)
    ref = run(arch, weights, inputs, pids, torch.float64)
    t1 = time.time()
    f32 = run(arch, weights, inputs, pids, torch.float32)
    t2 = time.time()
    diffs = per_step_diff(f32, ref)
    max_logit = float(np.abs(ref[0]).max())
    move = [float(np.abs(ref[0][s] - ref[0][s - 1]).max()) for s in range(1, STEPS)]
    log(f"  {name}: params {H.param_count(arch):,} B={batch} fp64 {t1 - t0:.1f}s fp32 {t2 - t1:.1f}s "
        f"max|logit| {max_logit:.3f}  fp32-vs-fp64 max {max(diffs):.3e}")
    log("    per step: " + " ".join(f"{d:.1e}" for d in diffs))
    log(f"    logit change step to step: min {min(move):.2e} max {max(move):.2e} (last {move[-1]:.2e})")
    if measure_only:
        return diffs
    md = H.arch_to_metadata(arch)
    md.update({
        "fixture.kind": "forward",
        "fixture.steps": str(STEPS),
        "fixture.batch": str(batch),
        "fixture.weights": "inline" if kind == "inline" else f"generated:{seed}",
        "fixture.generator_seed": str(seed),
        "fixture.generator_gains": gains_md(),
        "fixture.reference_dtype": "float64",
        "fixture.fp32_maxdiff": f"{max(diffs):.6e}",
        "fixture.fp32_maxdiff_per_step": fmt_list(diffs),
        "fixture.max_abs_logit": f"{max_logit:.6e}",
    })
    tensors = [
        ("fixture.inputs", inputs),
        ("fixture.puzzle_ids", pids),
        ("fixture.logits", ref[0].astype(np.float32)),
        ("fixture.q_halt", ref[1].astype(np.float32)),
        ("fixture.q_continue", ref[2].astype(np.float32)),
    ]
    if kind == "inline":
        tensors += [(n, weights[n]) for n, _, _ in H.weight_shapes(arch)]
    path = os.path.join(outdir, f"hrm_{name}.safetensors")
    safetensors_io.write(path, tensors, md)
    log(f"  wrote {path} ({os.path.getsize(path)} bytes)")
    return diffs


# ----------------------------------------------------------------------------
# Training fixtures

def train_cfg(G):
    return T.TrainConfig(global_batch_size=G, lr=OPT["lr"], lr_warmup_steps=OPT["warmup"],
                         lr_min_ratio=OPT["lr_min_ratio"], total_steps=OPT["total_steps"],
                         beta1=OPT["beta1"], beta2=OPT["beta2"], weight_decay=OPT["weight_decay"],
                         puzzle_emb_lr=OPT["puzzle_emb_lr"],
                         puzzle_emb_weight_decay=OPT["puzzle_emb_weight_decay"],
                         ema_rate=OPT["ema_rate"], exploration="off")


def argmax_margins(logits):
    top2 = torch.topk(logits, 2, dim=-1).values
    return logits.argmax(-1), top2[..., 0] - top2[..., 1]


def row_decision_margin(logits, labels):
    """Robustness of `row all right` (as gen_grad_fixtures): right row: the
    smallest label-vs-best-other gap; wrong row: the largest wrong gap; inf
    without supervised tokens."""
    out = []
    for b in range(labels.shape[0]):
        m = labels[b] != IGN
        if not m.any():
            out.append(math.inf)
            continue
        lg = logits[b][m].double()
        lab = labels[b][m].long()
        own = lg.gather(-1, lab[:, None])[:, 0]
        other = lg.scatter(-1, lab[:, None], -math.inf).max(-1).values
        gap = own - other
        out.append(float(gap.min()) if (gap > 0).all() else float((-gap).max()))
    return out


def random_labels(g, arch, B, n_ignored=2):
    lab = g.integers(1, arch["vocab_size"], size=(B, arch["seq_len"])).astype(np.int64)
    for b in range(B):
        lab[b, g.choice(arch["seq_len"], size=n_ignored, replace=False)] = IGN
    return lab


def first_batch(arch, B, weights, g):
    """Row 0 labelled with the model's own first-step predictions (all right;
    tokens with a top-2 gap < ARGMAX_MARGIN or predicted 0 ignored, plus 2
    random ignored tokens), middle rows random labels with 2 ignored tokens,
    the last row entirely ignored."""
    inputs = g.integers(1, arch["vocab_size"], size=(B, arch["seq_len"])).astype(np.int64)
    pids = g.integers(0, arch["num_puzzle_identifiers"], size=(B,)).astype(np.int64)
    labels = random_labels(g, arch, B)
    labels[B - 1] = IGN
    m = model_for(arch, weights, torch.float64)
    lg, _, _ = H.run_fixed(m, inputs, pids, 1)
    pred, gap = argmax_margins(lg[0, 0])
    row = pred.numpy().astype(np.int64)
    row[(gap.numpy() < ARGMAX_MARGIN) | (row == 0)] = IGN
    row[g.choice(arch["seq_len"], size=2, replace=False)] = IGN
    labels[0] = row
    return inputs, labels, pids


def later_batch(arch, B, g):
    inputs = g.integers(1, arch["vocab_size"], size=(B, arch["seq_len"])).astype(np.int64)
    pids = g.integers(0, arch["num_puzzle_identifiers"], size=(B,)).astype(np.int64)
    return inputs, random_labels(g, arch, B), pids


def halt_bias(diff, bias0):
    """q_head.bias[0] (float32) that splits the rows' q_halt - q_continue at
    the middle of the widest gap (the Q head does not feed back into the
    state). diff = q_halt - q_continue with bias[0] = bias0."""
    a = np.sort(-(np.asarray(diff, dtype=np.float64) - bias0))
    gaps = np.diff(a)
    i = int(np.argmax(gaps))
    b = float(np.float32((a[i] + a[i + 1]) / 2))
    return b, float(gaps[i] / 2)


def grad_step(arch, weights, batch, G, dtype):
    m = model_for(arch, weights, dtype)
    m.train()
    cfg = train_cfg(G)
    _, info = H.hrm_train_step(m, H.init_carry(m, batch["inputs"].shape[0]), batch, H.init_opt_state(m, cfg),
                               cfg, keep_grads=True, update=False)
    return info


def build_grad(name, outdir, measure_only=False, log=print):
    aname, B, G, seed = GRAD[name]
    arch = H.normalize_arch(GRAD_ARCHS[aname])
    t0 = time.time()
    weights = H.generate_weights(arch, seed)
    g = np.random.default_rng(seed)
    inputs, labels, pids = first_batch(arch, B, weights, g)
    m = model_for(arch, weights, torch.float64)
    _, qh, qc = H.run_fixed(m, inputs, pids, 1)
    b0 = float(weights["model.inner.q_head.bias"][0])
    bias, margin = halt_bias((qh[0] - qc[0]).numpy(), b0)
    weights["model.inner.q_head.bias"][0] = np.float32(bias)
    log(f"  grad_{name}: q_head.bias[0] {b0!r} -> {bias!r} (|q_halt - q_continue| margin {margin:.3e})")
    batch = dict(inputs=inputs, labels=labels, puzzle_ids=pids)
    ref = grad_step(arch, weights, batch, G, torch.float64)
    t1 = time.time()
    f32 = grad_step(arch, weights, batch, G, torch.float32)
    t2 = time.time()
    names = [n for n in ref["grads"] if n != "puzzle_rows"]
    rel = {}
    for n in names + ["puzzle_rows"]:
        a64, a32 = ref["grads"][n].double(), f32["grads"][n].double()
        mx = float(a64.abs().max())
        rel[n] = float((a64 - a32).abs().max()) / mx if mx > 0 else float((a64 - a32).abs().max())
    worst = max(rel.items(), key=lambda kv: kv[1])
    dmargin = row_decision_margin(ref["logits"], ref["labels"])
    hmargin = float((ref["q_halt"] - ref["q_continue"]).abs().min())
    tdiff = float((ref["target"] - f32["target"].double()).abs().max())
    ldiff = {k: abs(ref[k] - f32[k]) for k in ("loss", "lm_loss", "q_halt_loss", "q_continue_loss")}
    log(f"  grad_{name}: params {H.param_count(arch):,} B={B} G={G} fp64 {t1 - t0:.1f}s fp32 {t2 - t1:.1f}s "
        f"loss {ref['loss']:.6f} (lm {ref['lm_loss']:.6f}, q_halt {ref['q_halt_loss']:.6f}, "
        f"q_continue {ref['q_continue_loss']:.6f})")
    log(f"    |fp32 - fp64|: loss {ldiff['loss']:.2e} lm {ldiff['lm_loss']:.2e} q_halt {ldiff['q_halt_loss']:.2e} "
        f"q_continue {ldiff['q_continue_loss']:.2e} target {tdiff:.2e}")
    log(f"    q_halt {ref['q_halt'].numpy().round(4).tolist()} q_continue {ref['q_continue'].numpy().round(4).tolist()} "
        f"next_q_halt {ref['next_q_halt'].numpy().round(4).tolist()} next_q_continue "
        f"{ref['next_q_continue'].numpy().round(4).tolist()} target {ref['target'].numpy().round(4).tolist()}")
    log(f"    correct {ref['correct'].int().tolist()} count {ref['count'].tolist()} halted "
        f"{ref['halted'].int().tolist()} decision margins {[f'{x:.2e}' for x in dmargin]}")
    log(f"    fp32 vs fp64 gradient, max |diff| / max |g| per tensor: worst {worst[1]:.2e} ({worst[0]})")
    log("      " + ", ".join(f"{R.short_name(n)} {v:.1e}" for n, v in rel.items()))
    if measure_only:
        return rel
    md = H.arch_to_metadata(arch)
    md.update({
        "fixture.kind": "grad",
        "fixture.batch": str(B),
        "fixture.global_batch_size": str(G),
        "fixture.weights": "inline",
        "fixture.generator_seed": str(seed),
        "fixture.generator_gains": gains_md(),
        "fixture.modified": "model.inner.q_head.bias[0]",
        "fixture.reference_dtype": "float64",
        "fixture.loss_scale": "grad = d(loss / global_batch_size)",
        "fixture.loss": "lm_loss + 0.5 * (q_halt_loss + q_continue_loss)",
        "fixture.fp32_grad_maxrel": f"{worst[1]:.6e}",
        "fixture.fp32_loss_diff": f"{ldiff['loss']:.6e}",
        "fixture.fp32_target_diff": f"{tdiff:.6e}",
        "fixture.halt_margin": f"{hmargin:.6e}",
    })
    for n, v in rel.items():
        md["fp32rel." + n] = f"{v:.3e}"
    f64 = lambda x: np.array([x], dtype=np.float64)
    f32a = lambda t: t.numpy().astype(np.float32)
    tensors = [
        ("fixture.inputs", inputs.astype(np.int32)),
        ("fixture.labels", labels.astype(np.int32)),
        ("fixture.puzzle_ids", pids.astype(np.int32)),
        ("fixture.loss", f64(ref["loss"])),
        ("fixture.lm_loss", f64(ref["lm_loss"])),
        ("fixture.q_halt_loss", f64(ref["q_halt_loss"])),
        ("fixture.q_continue_loss", f64(ref["q_continue_loss"])),
        ("fixture.q_halt", f32a(ref["q_halt"])),
        ("fixture.q_continue", f32a(ref["q_continue"])),
        ("fixture.next_q_halt", f32a(ref["next_q_halt"])),
        ("fixture.next_q_continue", f32a(ref["next_q_continue"])),
        ("fixture.target_q_continue", f32a(ref["target"])),
        ("fixture.correct", ref["correct"].numpy().astype(np.uint8)),
        ("fixture.halted", ref["halted"].numpy().astype(np.uint8)),
    ]
    for n in names:
        tensors.append(("grad." + n, f32a(ref["grads"][n])))
    tensors.append(("grad.puzzle_rows", f32a(ref["grads"]["puzzle_rows"])))
    tensors += [(n, weights[n]) for n, _, _ in H.weight_shapes(arch)]
    path = os.path.join(outdir, f"hrm_grad_{name}.safetensors")
    safetensors_io.write(path, tensors, md)
    log(f"  wrote {path} ({os.path.getsize(path)} bytes)")
    return rel


def run_steps(arch, weights, batches, G, dtype):
    m = model_for(arch, weights, dtype)
    m.train()
    cfg = train_cfg(G)
    st = H.init_opt_state(m, cfg)
    carry = H.init_carry(m, batches[0]["inputs"].shape[0])
    infos = []
    for k in range(NSTEPS):
        carry, info = H.hrm_train_step(m, carry, batches[k], st, cfg, keep_grads=True)
        infos.append(info)
    return dict(model=m, state=st, infos=infos,
                halted=np.stack([i["halted"].numpy() for i in infos]).astype(np.uint8),
                row_steps=np.stack([i["steps"].numpy() for i in infos]).astype(np.int32),
                is_last=np.stack([i["is_last"].numpy() for i in infos]).astype(np.uint8))


def step_batches(arch, B, weights, data_seed):
    g = np.random.default_rng(data_seed)
    bl = [first_batch(arch, B, weights, g)] + [later_batch(arch, B, g) for _ in range(NSTEPS - 1)]
    return [dict(inputs=i, labels=l, puzzle_ids=p) for i, l, p in bl]


def step_margins(r):
    """Margins of the decisions a float32 engine must take like float64:
    |q_halt - q_continue| (halting), row all right, the smallest non-zero
    step-1 |g| / max|g| per tensor (AdamATan2 moves every weight by ~lr sign(g)
    at step 1), the smallest summed puzzle gradient / max (sign-SGD)."""
    i64 = r["infos"]
    hm = min(float((i["q_halt"] - i["q_continue"]).abs().min()) for i in i64)
    dm = min(min(row_decision_margin(i["logits"], i["labels"])) for i in i64)
    adam, at = math.inf, ""
    for n, gr in i64[0]["grads"].items():
        if n == "puzzle_rows":
            continue
        a = gr.abs().reshape(-1)
        if float(a.max()) > 0:
            rr = torch.where(a > 0, a / a.max(), torch.full_like(a, math.inf))
            j = int(torch.argmin(rr))
            if float(rr[j]) < adam:
                adam, at = float(rr[j]), f"{n}[{j}]"
    sgd = min(float(i["puzzle_grad_sum"].abs().min() / i["puzzle_grad_sum"].abs().max()) for i in i64)
    return dict(halt=hm, decision=dm, adam=adam, adam_at=at, sgd=sgd)


def steps_candidate(arch, base, batches, G, bias):
    w = {k: v.copy() for k, v in base.items()}
    w["model.inner.q_head.bias"][0] = np.float32(bias)
    r = run_steps(arch, w, batches, G, torch.float64)
    h, il = r["halted"], r["is_last"]
    mixed1 = bool(h[0].any() and not h[0].all())
    refill_cont = bool((h[:-1] & (1 - h[1:])).any())        # a refilled row that keeps running
    by_q_later = bool(((1 - il[1:]) & h[1:] & (1 - h[:-1])).any())  # a continuing row halting by Q
    last = bool(il.any())                                    # a row stopped by halt_max_steps
    mg = step_margins(r)
    ok = mixed1 and last and refill_cont and mg["halt"] >= 2e-3 and mg["decision"] >= ARGMAX_MARGIN
    score = (ok, min(mg["adam"] / 1e-5, 1.0), min(mg["sgd"] / 1e-3, 1.0), by_q_later, min(mg["halt"], 0.05))
    return score, w, r, mg


def search_steps(name, log=print):
    aname, B, G, seed, hms, seeds, _ = STEPS_FIX[name]
    arch = H.normalize_arch(dict(GRAD_ARCHS[aname], halt_max_steps=hms))
    base = H.generate_weights(arch, seed)
    best = None
    for ds in seeds:
        batches = step_batches(arch, B, base, ds)
        m = model_for(arch, base, torch.float64)
        _, qh, qc = H.run_fixed(m, batches[0]["inputs"], batches[0]["puzzle_ids"], 1)
        b0 = float(base["model.inner.q_head.bias"][0])
        a = np.sort(-((qh[0] - qc[0]).numpy() - b0))
        for c in [a[i] + f * (a[i + 1] - a[i]) for i in range(len(a) - 1) for f in (0.2, 0.35, 0.5, 0.65, 0.8)]:
            score, _, r, mg = steps_candidate(arch, base, batches, G, float(np.float32(c)))
            if best is None or score > best[0]:
                best = (score, ds, float(np.float32(c)), r["halted"].tolist(), mg)
    log(f"  steps_{name}: best data seed {best[1]}, q_head.bias[0] = {best[2]!r}, score {best[0]}, "
        f"halted {best[3]}, margins {best[4]}")
    return best[1], best[2]


def build_steps(name, outdir, measure_only=False, search=False, log=print):
    aname, B, G, seed, hms, _, chosen = STEPS_FIX[name]
    arch = H.normalize_arch(dict(GRAD_ARCHS[aname], halt_max_steps=hms))
    data_seed, bias = search_steps(name, log) if search else chosen
    base = H.generate_weights(arch, seed)
    b0 = float(base["model.inner.q_head.bias"][0])
    batches = step_batches(arch, B, base, data_seed)
    t0 = time.time()
    score, weights, r64, mg = steps_candidate(arch, base, batches, G, bias)
    r32 = run_steps(arch, weights, batches, G, torch.float32)
    t1 = time.time()
    i64, i32 = r64["infos"], r32["infos"]
    same_halt = bool((r64["halted"] == r32["halted"]).all())
    sd64, sd32 = r64["model"].state_dict(), r32["model"].state_dict()
    fin = [np.abs(sd64[n].double().numpy() - sd32[n].double().numpy()) for n in sd64]
    ema = [np.abs(r64["state"]["ema"][n].double().numpy() - r32["state"]["ema"][n].double().numpy())
           for n in r64["state"]["ema"]]
    fin_max, fin_n = max(float(x.max()) for x in fin), sum(int((x > 1e-5).sum()) for x in fin)
    ema_max = max(float(x.max()) for x in ema)
    ldiff = max(abs(a[k] - b[k]) for a, b in zip(i64, i32) for k in ("loss", "q_continue_loss"))
    moved = max(float(np.abs(sd64[n].double().numpy() - weights[n]).max()) for n in sd64)
    log(f"  steps_{name}: B={B} G={G} halt_max_steps {hms}, data seed {data_seed}, q_head.bias[0] {b0!r} -> "
        f"{bias!r}; fp64+fp32 {t1 - t0:.1f}s; criteria met: {score[0]}")
    log(f"    halted {r64['halted'].tolist()} row steps {r64['row_steps'].tolist()} "
        f"is_last {r64['is_last'].tolist()} (fp32 same halting: {same_halt})")
    log(f"    losses {[round(i['loss'], 6) for i in i64]} q_continue {[round(i['q_continue_loss'], 6) for i in i64]}")
    log(f"    margins: |q_halt - q_continue| {mg['halt']:.2e}, row decisions {mg['decision']:.2e}, "
        f"step-1 |g|/max {mg['adam']:.2e} at {mg['adam_at']}, puzzle sums {mg['sgd']:.2e}")
    log(f"    fp32 vs fp64: losses {ldiff:.2e}, final weights max {fin_max:.2e} ({fin_n} > 1e-5), "
        f"EMA {ema_max:.2e}; max weight change over 3 steps {moved:.2e}")
    if measure_only:
        return
    md = H.arch_to_metadata(arch)
    md.update({
        "fixture.kind": "steps",
        "fixture.steps": str(NSTEPS),
        "fixture.batch": str(B),
        "fixture.global_batch_size": str(G),
        "fixture.weights": "inline",
        "fixture.generator_seed": str(seed),
        "fixture.generator_gains": gains_md(),
        "fixture.data_seed": str(data_seed),
        "fixture.modified": "model.inner.q_head.bias[0]",
        "fixture.reference_dtype": "float64",
        "fixture.exploration": "off",
        "fixture.halt_margin": f"{mg['halt']:.6e}",
        "fixture.min_step1_grad_ratio": f"{mg['adam']:.6e}",
        "fixture.min_step1_grad_ratio_at": mg["adam_at"],
        "fixture.min_puzzle_grad_ratio": f"{mg['sgd']:.6e}",
        "fixture.fp32_final_maxdiff": f"{fin_max:.6e}",
        "fixture.fp32_ema_maxdiff": f"{ema_max:.6e}",
        "fixture.fp32_loss_diff": f"{ldiff:.6e}",
        "fixture.max_param_change": f"{moved:.6e}",
    })
    for k, v in OPT.items():
        md["opt." + k] = repr(v)
    tensors = []
    for k, b in enumerate(batches):
        p = f"fixture.step{k + 1}."
        tensors += [(p + "inputs", b["inputs"].astype(np.int32)), (p + "labels", b["labels"].astype(np.int32)),
                    (p + "puzzle_ids", b["puzzle_ids"].astype(np.int32))]
    arr = lambda key: np.array([i[key] for i in i64], dtype=np.float64)
    stack32 = lambda key: np.stack([i[key].numpy() for i in i64]).astype(np.float32)
    tensors += [
        ("fixture.losses", arr("loss")),
        ("fixture.lm_losses", arr("lm_loss")),
        ("fixture.q_halt_losses", arr("q_halt_loss")),
        ("fixture.q_continue_losses", arr("q_continue_loss")),
        ("fixture.lrs", np.array([[i["lr"], i["puzzle_lr"]] for i in i64], dtype=np.float64)),
        ("fixture.halted", r64["halted"]),
        ("fixture.row_steps", r64["row_steps"]),
        ("fixture.is_last", r64["is_last"]),
        ("fixture.q_halt", stack32("q_halt")),
        ("fixture.q_continue", stack32("q_continue")),
        ("fixture.target_q_continue", stack32("target")),
    ]
    tensors += [(n, weights[n]) for n, _, _ in H.weight_shapes(arch)]
    tensors += [("final." + n, sd64[n].numpy().astype(np.float32)) for n in sd64]
    tensors += [("ema." + n, v.numpy().astype(np.float32)) for n, v in r64["state"]["ema"].items()]
    path = os.path.join(outdir, f"hrm_steps_{name}.safetensors")
    safetensors_io.write(path, tensors, md)
    log(f"  wrote {path} ({os.path.getsize(path)} bytes)")


ALL = [f for f in FORWARD] + [f"grad_{g}" for g in GRAD] + [f"steps_{s}" for s in STEPS_FIX]


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description="write tests/fixtures/hrm_*.safetensors")
    ap.add_argument("--only", action="append", default=[], help=f"some of {','.join(ALL)}")
    ap.add_argument("--outdir", default=os.path.join(here, "..", "tests", "fixtures"))
    ap.add_argument("--measure", action="store_true", help="print fp32-vs-fp64 differences, write nothing")
    ap.add_argument("--gain", type=float, default=None,
                    help="(forward, --measure only) layer std gain instead of the generator's")
    ap.add_argument("--search", action="store_true", help="steps: redo the data-seed / Q-bias search")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    names = [n for o in args.only for n in o.split(",") if n] or ALL
    for n in names:
        if n not in ALL:
            ap.error(f"unknown fixture {n!r}; known: {', '.join(ALL)}")
    if args.gain is not None and not args.measure:
        ap.error("--gain is for --measure only")
    outdir = os.path.normpath(args.outdir)
    os.makedirs(outdir, exist_ok=True)
    for n in names:
        if n in FORWARD:
            build_forward(n, outdir, args.measure, args.gain)
        elif n.startswith("grad_"):
            build_grad(n[5:], outdir, args.measure)
        else:
            build_steps(n[6:], outdir, args.measure, args.search)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
