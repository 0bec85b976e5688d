#!/usr/bin/python3
"""trm_train_reference.py: an independent PyTorch implementation of the official
TRM *training* step (docs/TRAINING.md), on top of tools/trm_reference.py's model.

It is the numeric reference for the trmx C trainer (tests/fixtures/trm_grad_*,
trm_steps_*) and the PyTorch peer of the training benchmark.

One call of `train_step` is one official `train_batch` (pretrain.py):

 1. carry reset: rows whose carry is halted take the batch's row (inputs,
    labels, puzzle id), restart from H_init / L_init and get steps = 0; the
    other rows keep their state and data (their batch rows are dropped);
 2. the puzzle vector of every row is copied into a leaf tensor `local`
    (requires_grad), as the official CastedSparseEmbedding does in train mode;
 3. one deep recursion (trm_reference.Inner.forward: H_cycles-1 recursions
    under no_grad, the last one with grad), logits on positions P.., the Q
    logits from position 0 of z_H;
 4. halting (no grad): steps += 1; halted = steps >= halt_max_steps, and, when
    halt_max_steps > 1, also q_halt > 0, then `halted &= steps >= min_steps`
    (the official exploration; it can be passed in or switched off);
 5. loss (ACTLossHead, stablemax CE): with mask = labels != -100,
        lm_loss     = sum_b sum_t CE64(logits[b,t], label[b,t]) mask[b,t] / max(cnt_b, 1)
        q_halt_loss = sum_b BCEwithlogits(q_halt[b], correct[b])
        loss        = lm_loss + 0.5 q_halt_loss
    correct[b] = every supervised token's argmax (first max) equals its label
    (true for a row without supervised tokens); CE64 is the stable-max cross
    entropy computed on the logits cast to float64;
 6. backward of loss / global_batch_size;
 7. the step counter is incremented, then the LR of both optimizers is
    computed (warmup, then cosine to lr_min_ratio);
 8. sparse sign-SGD on the puzzle rows of this batch (duplicate ids' grads
    summed): row <- row (1 - lr_p wd_p) - lr_p sign(sum);
 9. AdamATan2 (no epsilon) over model.parameters() (not H_init,
    L_init, the puzzle table);
10. EMA: shadow <- (1 - mu) param + mu shadow over the same parameters.

Everything runs in the model's dtype (float32 or float64): weights, states,
optimizer moments, EMA. The LM loss is float64 in both (as in the official
code). There is no bf16 emulation.

Public API:
    TrainConfig(...)                                  hyper-parameters
    init_carry(model, batch_size, seq_len)            all rows halted
    init_opt_state(model, cfg)                        step 0, zero moments, EMA shadow = params
    train_step(model, carry, batch, opt_state, cfg, min_halt_steps=None, keep_grads=False)
        -> (new_carry, info)
    lr_at(step, base, cfg)                            the official schedule
    trainable_names(model)                            full names of model.parameters()
    stablemax_ce(logits, labels)                      per-token CE (float64), 0 on ignored tokens

    grad_sample_indices(short, numel)                 sampled indices of generated-weight grad fixtures
    check_fixture(path, dtype)                        re-run a training fixture, print the differences

As a script: `trm_train_reference.py --selftest` checks the training forward
against trm_reference's inference forward, the gradient against finite
differences (float64, H_cycles = 1), and AdamATan2 against a scalar
re-derivation; `trm_train_reference.py --fixture FILE [--dtype float32]`
re-runs a training fixture.
"""

import contextlib
import dataclasses
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import trm_reference as R  # noqa: E402

IGNORE_LABEL = -100


# ----------------------------------------------------------------------------
# Configuration

@dataclasses.dataclass
class TrainConfig:
    global_batch_size: int = 768
    lr: float = 1e-4
    lr_warmup_steps: int = 2000
    lr_min_ratio: float = 1.0
    total_steps: int = 65104
    beta1: float = 0.9
    beta2: float = 0.95
    weight_decay: float = 0.1
    puzzle_emb_lr: float = 1e-2
    puzzle_emb_weight_decay: float = 0.1
    ema_rate: float = 0.999          # None: no EMA
    # "official": draw min halting steps like the official code (needs a
    # torch.Generator in `generator`, or uses the global RNG); "off": none.
    exploration: str = "official"
    halt_exploration_prob: float = 0.1
    generator: object = None


def lr_at(step, base, cfg):
    """Official cosine_schedule_with_warmup_lr_lambda at the (already
    incremented, 1-based) step; num_cycles 0.5."""
    warm = int(round(cfg.lr_warmup_steps))
    if step < warm:
        return base * float(step) / float(max(1, warm))
    progress = float(step - warm) / float(max(1, cfg.total_steps - warm))
    r = cfg.lr_min_ratio
    return base * (r + max(0.0, (1.0 - r) * 0.5 * (1.0 + math.cos(math.pi * progress))))


# ----------------------------------------------------------------------------
# Loss

def stablemax_ce(logits, labels):
    """Per-token stable-max cross entropy in float64: s(x) = x + 1 (x >= 0),
    1 / (1 - x + 1e-30) (x < 0); CE = -log(s_label / sum_v s_v); 0 where the
    label is IGNORE_LABEL."""
    x = logits.to(torch.float64)
    s = torch.where(x < 0, 1.0 / (1.0 - x + 1e-30), x + 1.0)
    logp = torch.log(s / s.sum(-1, keepdim=True))
    mask = labels != IGNORE_LABEL
    idx = torch.where(mask, labels, torch.zeros_like(labels)).long()
    picked = torch.gather(logp, -1, idx.unsqueeze(-1)).squeeze(-1)
    return -torch.where(mask, picked, torch.zeros_like(picked))


def act_loss(logits, q_halt, labels):
    """ACTLossHead (no q_continue term). Returns (loss, lm_loss, q_halt_loss,
    correct[B] bool, cnt[B])."""
    with torch.no_grad():
        mask = labels != IGNORE_LABEL
        cnt = mask.sum(-1)
        div = cnt.clamp_min(1).unsqueeze(-1)
        right = mask & (torch.argmax(logits, dim=-1) == labels)
        correct = right.sum(-1) == cnt
    lm_loss = (stablemax_ce(logits, labels) / div).sum()
    q_halt_loss = F.binary_cross_entropy_with_logits(q_halt, correct.to(q_halt.dtype), reduction="sum")
    return lm_loss + 0.5 * q_halt_loss, lm_loss, q_halt_loss, correct, cnt


# ----------------------------------------------------------------------------
# State

def trainable_names(model):
    """Full names of the AdamATan2 / EMA parameters (model.parameters())."""
    return [n for n, p in model.named_parameters() if p.requires_grad]


def _dtype(model):
    return model.inner.lm_head.weight.dtype


def init_carry(model, batch_size, seq_len=None):
    """Official initial carry: every row halted (its state and data are
    replaced at the first step, so zeros stand in for `empty`)."""
    inner = model.inner
    a = inner.arch
    L = a["seq_len"] if seq_len is None else seq_len
    D = a["hidden_size"]
    z = torch.zeros(batch_size, inner.S, D, dtype=_dtype(model))
    return dict(z_H=z.clone(), z_L=z.clone(),
                steps=torch.zeros(batch_size, dtype=torch.int32),
                halted=torch.ones(batch_size, dtype=torch.bool),
                inputs=torch.zeros(batch_size, L, dtype=torch.int64),
                labels=torch.full((batch_size, L), IGNORE_LABEL, dtype=torch.int64),
                puzzle_ids=torch.zeros(batch_size, dtype=torch.int64))


def init_opt_state(model, cfg):
    """step 0, AdamATan2 moments (zeros, per parameter step counter = the
    shared step), EMA shadow = the current parameters."""
    st = dict(step=0, m={}, v={}, ema=None)
    for n, p in model.named_parameters():
        if p.requires_grad:
            st["m"][n] = torch.zeros_like(p)
            st["v"][n] = torch.zeros_like(p)
    if cfg.ema_rate is not None:
        st["ema"] = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    return st


@contextlib.contextmanager
def _local_puzzle(inner, local):
    """Make inner.puzzle_emb return the leaf `local` (official train-mode
    CastedSparseEmbedding) instead of looking the table up."""
    if local is None:
        yield
        return
    pe = inner.puzzle_emb
    pe.forward = lambda ids: local
    try:
        yield
    finally:
        del pe.forward


def _as_long(x):
    return (x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))).long()


# ----------------------------------------------------------------------------
# Optimizers

@torch.no_grad()
def adam_atan2_(p, g, m, v, t, lr, beta1, beta2, wd):
    """AdamATan2 step t (1-based), in place on p, m, v."""
    p.mul_(1.0 - lr * wd)
    m.lerp_(g, 1.0 - beta1)
    v.lerp_(g.square(), 1.0 - beta2)
    step_size = lr / (1.0 - beta1 ** t)
    denom = v.sqrt() / math.sqrt(1.0 - beta2 ** t)
    p.add_(torch.atan2(m, denom), alpha=-step_size)


@torch.no_grad()
def sparse_signsgd_(table, ids, grad, lr, wd):
    """Official _sparse_emb_signsgd_dist (1 rank): sum the grads of duplicate
    ids, then row <- row (1 - lr wd) - lr sign(sum) for the ids present."""
    uniq, inv = torch.unique(ids, return_inverse=True)
    gsum = torch.zeros(uniq.shape[0], grad.shape[1], dtype=grad.dtype)
    gsum.index_add_(0, inv, grad)
    rows = table[uniq]
    rows.mul_(1.0 - lr * wd).add_(torch.sign(gsum), alpha=-lr)
    table[uniq] = rows
    return uniq, gsum


# ----------------------------------------------------------------------------
# The training step

def train_step(model, carry, batch, opt_state, cfg, min_halt_steps=None, keep_grads=False,
               update=True, grad_transform=None):
    """One official training step. `batch`: dict inputs [B, L], labels [B, L]
    (-100 = ignored), puzzle_ids [B] (torch or numpy, any int dtype).
    `min_halt_steps`: int tensor [B] that replaces the exploration draw
    (zeros = no exploration). keep_grads: return the gradients of
    loss / global_batch_size (parameters by full name, and `puzzle_rows`, the
    per-row gradient of the local puzzle vectors) in info["grads"].
    update=False skips the optimizers and the EMA (gradient only).
    grad_transform(name, grad) -> grad, if given, replaces every gradient
    (name "puzzle_rows" for the local puzzle vectors) before the optimizers
    (sensitivity experiments).
    Returns (new_carry, info)."""
    inner = model.inner
    a = inner.arch
    dt = _dtype(model)
    inputs = _as_long(batch["inputs"])
    labels = _as_long(batch["labels"])
    pids = _as_long(batch["puzzle_ids"])

    # 1. carry reset / data replacement
    halted = carry["halted"]
    hv = halted.view(-1, 1, 1)
    z_H = torch.where(hv, inner.H_init.to(dt).expand_as(carry["z_H"]), carry["z_H"])
    z_L = torch.where(hv, inner.L_init.to(dt).expand_as(carry["z_L"]), carry["z_L"])
    steps = torch.where(halted, torch.zeros_like(carry["steps"]), carry["steps"])
    cur_in = torch.where(halted.view(-1, 1), inputs, carry["inputs"])
    cur_lab = torch.where(halted.view(-1, 1), labels, carry["labels"])
    cur_pid = torch.where(halted, pids, carry["puzzle_ids"])

    # 2. local puzzle vectors (leaf)
    local = None
    if a["puzzle_emb_ndim"] > 0:
        local = inner.puzzle_emb.weights[cur_pid].detach().clone().requires_grad_(True)

    for p in model.parameters():
        p.grad = None

    # 3. deep recursion
    with _local_puzzle(inner, local):
        z_H, z_L, logits, q_halt, q_cont = inner(z_H, z_L, cur_in, cur_pid)

    # 4. halting
    with torch.no_grad():
        steps = steps + 1
        new_halted = steps >= a["halt_max_steps"]
        if a["halt_max_steps"] > 1:
            new_halted = new_halted | (q_halt > 0)
            if min_halt_steps is None and cfg.exploration == "official":
                gen = cfg.generator
                explore = torch.rand(q_halt.shape, generator=gen, dtype=q_halt.dtype) < cfg.halt_exploration_prob
                draw = torch.randint(2, a["halt_max_steps"] + 1, steps.shape, generator=gen, dtype=steps.dtype)
                min_halt_steps = explore.to(steps.dtype) * draw
            if min_halt_steps is not None:
                new_halted = new_halted & (steps >= torch.as_tensor(min_halt_steps).to(steps.dtype))

    # 5./6. loss and backward
    loss, lm_loss, q_halt_loss, correct, cnt = act_loss(logits, q_halt, cur_lab)
    (loss / cfg.global_batch_size).backward()

    info = dict(loss=float(loss), lm_loss=float(lm_loss), q_halt_loss=float(q_halt_loss),
                logits=logits.detach(), q_halt=q_halt.detach(), q_continue=q_cont.detach(),
                correct=correct, count=cnt, halted=new_halted, steps=steps,
                inputs=cur_in, labels=cur_lab, puzzle_ids=cur_pid)
    if keep_grads:
        g = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
        if local is not None:
            g["puzzle_rows"] = local.grad.detach().clone()
        info["grads"] = g

    if grad_transform is not None:
        for n, p in model.named_parameters():
            if p.requires_grad and p.grad is not None:
                p.grad = grad_transform(n, p.grad)
        if local is not None:
            local.grad = grad_transform("puzzle_rows", local.grad)

    if update:
        # 7. schedule
        opt_state["step"] += 1
        t = opt_state["step"]
        lr = lr_at(t, cfg.lr, cfg)
        lr_p = lr_at(t, cfg.puzzle_emb_lr, cfg)
        info["lr"], info["puzzle_lr"] = lr, lr_p
        # 8. sparse sign-SGD
        if local is not None:
            uniq, gsum = sparse_signsgd_(inner.puzzle_emb.weights, cur_pid, local.grad.detach(), lr_p,
                                         cfg.puzzle_emb_weight_decay)
            info["puzzle_update_ids"], info["puzzle_grad_sum"] = uniq, gsum
        # 9. AdamATan2
        for n, p in model.named_parameters():
            if not p.requires_grad or p.grad is None:
                continue
            adam_atan2_(p.data, p.grad, opt_state["m"][n], opt_state["v"][n], t, lr,
                        cfg.beta1, cfg.beta2, cfg.weight_decay)
        # 10. EMA
        if opt_state.get("ema") is not None:
            mu = cfg.ema_rate
            with torch.no_grad():
                for n, p in model.named_parameters():
                    if p.requires_grad:
                        opt_state["ema"][n] = (1.0 - mu) * p.data + mu * opt_state["ema"][n]
        for p in model.parameters():
            p.grad = None

    new_carry = dict(z_H=z_H.detach(), z_L=z_L.detach(), steps=steps, halted=new_halted,
                     inputs=cur_in, labels=cur_lab, puzzle_ids=cur_pid)
    return new_carry, info


# ----------------------------------------------------------------------------
# Fixtures (tests/fixtures/trm_grad_*, trm_steps_*; written by gen_grad_fixtures.py)

GRAD_SAMPLE_K = 2048
GRAD_SAMPLE_SALT = 0x5EED


def grad_sample_indices(short, numel, k=GRAD_SAMPLE_K):
    """Sampled flat indices of a generated-weight gradient fixture:
    idx_k = mix64((fnv1a64(short) ^ 0x5EED) + k * 0x9E3779B97F4A7C15) mod numel,
    k = 0 .. min(numel, 2048) - 1, all arithmetic modulo 2^64; `short` is the
    name without "model.inner."."""
    K = min(numel, k)
    base = R.fnv1a64(short.encode("utf-8")) ^ GRAD_SAMPLE_SALT
    ks = np.arange(K, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(base) + ks * np.uint64(R.GOLDEN)
    return (R.mix64_np(z) % np.uint64(numel)).astype(np.int64)


def config_from_metadata(md):
    """TrainConfig of a fixture (opt.* keys, exploration off)."""
    g = lambda k, d: float(md[k]) if k in md else d
    return TrainConfig(global_batch_size=int(md.get("fixture.global_batch_size", 1)),
                       lr=g("opt.lr", 1e-4), lr_warmup_steps=int(g("opt.warmup", 2000)),
                       lr_min_ratio=g("opt.lr_min_ratio", 1.0), total_steps=int(g("opt.total_steps", 65104)),
                       beta1=g("opt.beta1", 0.9), beta2=g("opt.beta2", 0.95),
                       weight_decay=g("opt.weight_decay", 0.1), puzzle_emb_lr=g("opt.puzzle_emb_lr", 1e-2),
                       puzzle_emb_weight_decay=g("opt.puzzle_emb_weight_decay", 0.1),
                       ema_rate=g("opt.ema_rate", 0.999), exploration="off")


def check_fixture(path, dtype=torch.float32):
    """Re-run a training fixture in `dtype` and print the differences."""
    import safetensors_io
    t, md = safetensors_io.read(path)
    arch = R.normalize_arch({k: v for k, v in md.items() if k in R.ARCH_KEYS})
    w = md["fixture.weights"]
    weights = t if w == "inline" else R.generate_weights(arch, int(w.split(":", 1)[1]))
    model = R.load_state(R.build_model(arch, dtype), weights)
    cfg = config_from_metadata(md)
    B = int(md["fixture.batch"])
    out = {}
    if md["fixture.kind"] == "grad":
        batch = dict(inputs=t["fixture.inputs"], labels=t["fixture.labels"], puzzle_ids=t["fixture.puzzle_ids"])
        _, info = train_step(model, init_carry(model, B), batch, init_opt_state(model, cfg), cfg,
                             keep_grads=True, update=False)
        for k in ("loss", "lm_loss", "q_halt_loss"):
            out[k] = abs(info[k] - float(t["fixture." + k][0]))
        for n, g in info["grads"].items():
            g = g.double().numpy()
            if n == "puzzle_rows":
                ref = t["grad.puzzle_rows"]
            elif "grad." + n in t:
                ref = t["grad." + n]
            else:
                idx = grad_sample_indices(R.short_name(n), g.size)
                g, ref = g.reshape(-1)[idx], t["gradsample." + n]
            out["grad " + R.short_name(n)] = float(np.abs(g - ref).max() / max(np.abs(ref).max(), 1e-30))
    else:
        st = init_opt_state(model, cfg)
        carry = init_carry(model, B)
        losses, halted = [], []
        for k in range(int(md["fixture.steps"])):
            p = f"fixture.step{k + 1}."
            batch = dict(inputs=t[p + "inputs"], labels=t[p + "labels"], puzzle_ids=t[p + "puzzle_ids"])
            carry, info = train_step(model, carry, batch, st, cfg)
            losses.append(info["loss"])
            halted.append(info["halted"].numpy().astype(np.uint8))
        out["losses"] = float(np.abs(np.array(losses) - t["fixture.losses"]).max())
        out["halted mismatches"] = int((np.stack(halted) != t["fixture.halted"]).sum())
        sd = model.state_dict()
        d = [np.abs(sd[n].double().numpy() - t["final." + n]) for n in sd]
        out["final max"] = float(max(x.max() for x in d))
        out["final > 1e-5"] = int(sum((x > 1e-5).sum() for x in d))
        d = [np.abs(st["ema"][n].double().numpy() - t["ema." + n]) for n in st["ema"]]
        out["ema max"] = float(max(x.max() for x in d))
    for k, v in out.items():
        print(f"{k:60s} {v:.3e}" if isinstance(v, float) else f"{k:60s} {v}")
    return out


# ----------------------------------------------------------------------------
# Self-test

SELFTEST_ARCH = dict(mlp_t=False, pos_encodings="learned", seq_len=6, vocab_size=5, hidden_size=8,
                     num_heads=2, expansion=2, L_layers=2, H_cycles=2, L_cycles=2,
                     puzzle_emb_ndim=12, puzzle_emb_len=0, num_puzzle_identifiers=3,
                     rms_norm_eps=1e-5, rope_theta=10000.0, halt_max_steps=4)


def selftest():
    torch.manual_seed(0)
    ok = True
    for arch in (SELFTEST_ARCH, dict(SELFTEST_ARCH, mlp_t=True, pos_encodings="none", puzzle_emb_len=2),
                 dict(SELFTEST_ARCH, pos_encodings="rope", puzzle_emb_ndim=0, puzzle_emb_len=0)):
        arch = R.normalize_arch(arch)
        w = R.generate_weights(arch, 7)
        model = R.load_state(R.build_model(arch, torch.float64), w)
        B = 3
        g = np.random.default_rng(1)
        batch = dict(inputs=g.integers(1, arch["vocab_size"], (B, arch["seq_len"])),
                     labels=g.integers(1, arch["vocab_size"], (B, arch["seq_len"])),
                     puzzle_ids=np.array([0, 2, 0]) % arch["num_puzzle_identifiers"])
        batch["labels"][1, :2] = IGNORE_LABEL
        batch["labels"][2, :] = IGNORE_LABEL
        cfg = TrainConfig(global_batch_size=5, exploration="off", lr_warmup_steps=2, total_steps=5)
        # training forward == inference forward at step 1
        lg, qh, qc = R.run_fixed(model, batch["inputs"], batch["puzzle_ids"], 1)
        st = init_opt_state(model, cfg)
        _, info = train_step(model, init_carry(model, B), batch, st, cfg, keep_grads=True, update=False)
        d = max(float((info["logits"] - lg[0]).abs().max()), float((info["q_halt"] - qh[0]).abs().max()))
        print(f"[{arch['pos_encodings']}, mlp_t={arch['mlp_t']}] train forward vs inference forward: {d:.1e}")
        ok &= d == 0.0
        # gradient vs central finite differences of loss / G on a few entries.
        # Only the last recursion is under grad, so the official gradient is
        # the true one only for H_cycles = 1: check that configuration.
        model = R.load_state(R.build_model(dict(arch, H_cycles=1), torch.float64), w)
        _, info = train_step(model, init_carry(model, B), batch, st, cfg, keep_grads=True, update=False)
        worst = 0.0
        for name in ("model.inner.lm_head.weight", "model.inner.embed_tokens.embedding_weight",
                     "model.inner.L_level.layers.0.mlp.down_proj.weight", "model.inner.q_head.bias"):
            p = dict(model.named_parameters())[name]
            gr = info["grads"][name].reshape(-1)
            for i in sorted({0, min(3, p.numel() - 1), p.numel() - 1}):
                old = float(p.data.reshape(-1)[i])
                vals = []
                for h in (1e-6, -1e-6):
                    p.data.reshape(-1)[i] = old + h
                    _, inf2 = train_step(model, init_carry(model, B), batch, st, cfg, update=False)
                    vals.append(inf2["loss"] / cfg.global_batch_size)
                p.data.reshape(-1)[i] = old
                fd = (vals[0] - vals[1]) / 2e-6
                worst = max(worst, abs(fd - float(gr[i])) / max(1e-8, abs(fd)))
        if arch["puzzle_emb_ndim"] > 0:  # id 2 is used by row 1 only
            tab = model.inner.puzzle_emb.weights
            for j in (0, arch["puzzle_emb_ndim"] - 1):
                old = float(tab[2, j])
                vals = []
                for h in (1e-6, -1e-6):
                    tab[2, j] = old + h
                    _, inf2 = train_step(model, init_carry(model, B), batch, st, cfg, update=False)
                    vals.append(inf2["loss"] / cfg.global_batch_size)
                tab[2, j] = old
                fd = (vals[0] - vals[1]) / 2e-6
                worst = max(worst, abs(fd - float(info["grads"]["puzzle_rows"][1, j])) / max(1e-8, abs(fd)))
        print(f"  H_cycles=1: gradient vs finite differences, worst relative error: {worst:.1e}")
        ok &= worst < 1e-5
    # AdamATan2 scalar check
    p, gg, m, v = (torch.tensor([0.3], dtype=torch.float64), torch.tensor([-2e-3], dtype=torch.float64),
                   torch.zeros(1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64))
    adam_atan2_(p, gg, m, v, 1, 1e-3, 0.9, 0.95, 0.1)
    want = 0.3 * (1 - 1e-4) - 1e-3 / 0.1 * math.atan2(0.1 * -2e-3, math.sqrt(0.05 * 4e-6) / math.sqrt(0.05))
    print(f"AdamATan2 step 1: {float(p):.17g} want {want:.17g}")
    ok &= abs(float(p) - want) < 1e-15
    print("lr schedule (base 1, warmup 2, total 5, min ratio 0.1):",
          [round(lr_at(s, 1.0, TrainConfig(lr_warmup_steps=2, total_steps=5, lr_min_ratio=0.1)), 6)
           for s in range(1, 7)])
    print("selftest", "ok" if ok else "FAILED")
    return ok


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--selftest", action="store_true", help="forward/gradient/optimizer checks")
    ap.add_argument("--fixture", help="re-run a tests/fixtures/trm_grad_* or trm_steps_* file")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.fixture:
        check_fixture(args.fixture, getattr(torch, args.dtype))
        sys.exit(0)
    sys.exit(0 if selftest() else 1)
