#!/usr/bin/python3
"""hrm_reference.py: an independent PyTorch implementation of the official HRM
(HierarchicalReasoningModel_ACTV1, the predecessor of TRM), inference and
training step, written from the official models/hrm/hrm_act_v1.py (sapientinc/HRM)
on top of tools/trm_reference.py
and tools/trm_train_reference.py.

It is the numeric reference for the trmx HRM engine (tests/fixtures/hrm_*)
and the PyTorch peer of the HRM benchmark (bench/torch_hrm_peer.py).

Module tree and state-dict names follow the official code exactly:

    HRMReference          .model      (the official ACTLossHead.model)
      ACTModel            .inner      (HierarchicalReasoningModel_ACTV1)
        Inner                         (HierarchicalReasoningModel_ACTV1_Inner)
          H_init, L_init              buffers [D]
          embed_tokens.embedding_weight, lm_head.weight, q_head.weight, q_head.bias
          puzzle_emb.weights          buffer [num_puzzle_identifiers, puzzle_emb_ndim]
          embed_pos.embedding_weight  learned positions only [S, D]
          H_level.layers.{i}.self_attn.{qkv_proj,o_proj}.weight, .mlp.{gate_up_proj,down_proj}.weight
          L_level.layers.{i}.(same)

so keys read `model.inner.<name>`. The block (post-norm attention + SwiGLU),
RMSNorm, RoPE, the embeddings and the linear layers are trm_reference's (the
official HRM and TRM layers.py are the same mathematics); HRM differs by:

  * two stacks, H_level (H_layers blocks) and L_level (L_layers blocks);
  * P = ceil(puzzle_emb_ndim / hidden_size) puzzle positions (no
    puzzle_emb_len), S = seq_len + P;
  * pos_encodings is rope or learned (anything else is an error);
  * one ACT step (Inner.forward), x = the scaled input embedding:
        no grad:  for h in 0..H_cycles-1:
                      for l in 0..L_cycles-1:
                          unless (h, l) is the last pair: z_L = L_level(z_L, z_H + x)
                      unless h is the last: z_H = H_level(z_H, z_L)
        grad:     z_L = L_level(z_L, z_H + x); z_H = H_level(z_H, z_L)
    (`level(h, inj)` = the blocks applied to h + inj); logits = lm_head(z_H)[:, P:],
    (q_halt, q_continue) = q_head(z_H[:, 0]);
  * training: halting on q_halt > q_continue, and the Q-learning target of
    q_continue from one more no-grad inner forward on the new carry.

Deliberate differences from the official code (as in trm_reference): one
working dtype (float32 or float64), no bf16; RoPE tables computed in float32
then cast; attention written out; ids as int64.

Public API (inference; as trm_reference):
    build_model(arch, dtype=torch.float32) -> HRMReference (eval mode)
    load_state(model, tensors)
    param_count(arch) -> int
    run_fixed(model, inputs, puzzle_ids, steps) -> (logits, q_halt, q_continue)
    weight_shapes(arch) -> [(full name, shape, std)]
    generate_weights(arch, seed) -> {full name: np.float32 array}
Training (the official train_batch with ACTLossHead; the optimizers are
trm_train_reference's):
    init_carry(model, batch_size)       = trm_train_reference.init_carry
    init_opt_state(model, cfg)          = trm_train_reference.init_opt_state
    hrm_train_step(model, carry, batch, opt_state, cfg, ...) -> (new_carry, info)
    hrm_act_loss(logits, q_halt, q_continue, target, labels)

As a script: `hrm_reference.py --selftest`; `hrm_reference.py --fixture FILE
[--dtype float32]` re-runs an hrm_* fixture (forward or grad) and prints the
differences.
"""

import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import trm_reference as R  # noqa: E402
import trm_train_reference as T  # noqa: E402

# ----------------------------------------------------------------------------
# Architecture

OFFICIAL_NAME = "hrm.hrm_act_v1@HierarchicalReasoningModel_ACTV1"

ARCH_KEYS = [
    "seq_len", "vocab_size", "num_puzzle_identifiers", "hidden_size", "num_heads",
    "expansion", "H_layers", "L_layers", "H_cycles", "L_cycles", "puzzle_emb_ndim",
    "pos_encodings", "rope_theta", "rms_norm_eps", "halt_max_steps",
]

ARCH_DEFAULTS = {
    "puzzle_emb_ndim": 0,
    "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0,
    "halt_max_steps": 16,
    "pos_encodings": "rope",
}

_INT_KEYS = {"seq_len", "vocab_size", "num_puzzle_identifiers", "hidden_size", "num_heads",
             "H_layers", "L_layers", "H_cycles", "L_cycles", "puzzle_emb_ndim", "halt_max_steps"}
_FLOAT_KEYS = {"expansion", "rope_theta", "rms_norm_eps"}


def normalize_arch(arch):
    """Fill defaults, convert values (also safetensors metadata strings).
    Keys that the official config ignores or that inference does not use
    (name, batch_size, halt_exploration_prob, forward_dtype, and TRM-only keys
    such as puzzle_emb_len / mlp_t, which the official pydantic config
    silently drops) are dropped."""
    a = dict(ARCH_DEFAULTS)
    for k, v in arch.items():
        if k in ARCH_KEYS:
            a[k] = v
    for k in _INT_KEYS:
        if k in a:
            a[k] = int(a[k])
    for k in _FLOAT_KEYS:
        if k in a:
            a[k] = float(a[k])
    missing = [k for k in ARCH_KEYS if k not in a]
    if missing:
        raise ValueError(f"HRM architecture misses {missing}")
    if a["pos_encodings"] not in ("rope", "learned"):
        raise NotImplementedError(f"HRM pos_encodings must be rope or learned, not {a['pos_encodings']!r}")
    return a


def arch_to_metadata(arch):
    """Architecture -> safetensors metadata: every ARCH_KEY as a string plus
    `name` = the official HRM model name (tells HRM files from TRM ones)."""
    a = normalize_arch(arch)
    md = {"name": OFFICIAL_NAME}
    for k in ARCH_KEYS:
        v = a[k]
        if k == "expansion":
            md[k] = repr(v) if v != int(v) else str(int(v))
        else:
            md[k] = str(v)
    return md


def puzzle_len(arch):
    """P = ceil(puzzle_emb_ndim / hidden_size) (0 without puzzle embedding)."""
    return -(arch["puzzle_emb_ndim"] // -arch["hidden_size"])


def total_len(arch):
    return arch["seq_len"] + puzzle_len(arch)


def _block_arch(arch):
    """The dict trm_reference.Block reads (attention variant)."""
    return dict(arch, mlp_t=False)


# ----------------------------------------------------------------------------
# Modules

class ReasoningModule(nn.Module):
    """H_level / L_level: layers(h + injection), the injection added once before layer 0."""

    def __init__(self, arch, n_layers):
        super().__init__()
        ba = _block_arch(arch)
        self.layers = nn.ModuleList([R.Block(ba) for _ in range(n_layers)])

    def forward(self, h, injection, cos_sin):
        h = h + injection
        for layer in self.layers:
            h = layer(cos_sin, h)
        return h


class Inner(nn.Module):
    """HierarchicalReasoningModel_ACTV1_Inner: forward = one ACT step."""

    def __init__(self, arch, dtype):
        super().__init__()
        self.arch = arch
        D, V = arch["hidden_size"], arch["vocab_size"]
        self.P = puzzle_len(arch)
        self.S = total_len(arch)
        self.embed_scale = math.sqrt(D)
        # official registration order
        self.embed_tokens = R.Embedding(V, D)
        self.lm_head = R.Linear(D, V, bias=False)
        self.q_head = R.Linear(D, 2, bias=True)
        if arch["puzzle_emb_ndim"] > 0:
            self.puzzle_emb = R.PuzzleEmbedding(arch["num_puzzle_identifiers"], arch["puzzle_emb_ndim"])
        if arch["pos_encodings"] == "rope":
            self.rotary_emb = R.RotaryEmbedding(D // arch["num_heads"], self.S, arch["rope_theta"], dtype)
        else:
            self.embed_pos = R.Embedding(self.S, D)
        self.H_level = ReasoningModule(arch, arch["H_layers"])
        self.L_level = ReasoningModule(arch, arch["L_layers"])
        self.register_buffer("H_init", torch.zeros(D), persistent=True)
        self.register_buffer("L_init", torch.zeros(D), persistent=True)

    def input_embeddings(self, inputs, puzzle_ids):
        """sqrt(D) * ([puzzle rows | token embeddings] (+ positions, times 0.707106781))."""
        a = self.arch
        D = a["hidden_size"]
        e = self.embed_tokens(inputs)
        if a["puzzle_emb_ndim"] > 0:
            p = self.puzzle_emb(puzzle_ids)  # (B, ndim)
            pad = self.P * D - p.shape[-1]
            if pad > 0:
                p = F.pad(p, (0, pad))
            e = torch.cat((p.view(-1, self.P, D), e), dim=-2)
        if a["pos_encodings"] == "learned":
            e = 0.707106781 * (e + self.embed_pos.embedding_weight)
        return self.embed_scale * e

    def initial_state(self, batch_size):
        shape = (batch_size, self.S, self.arch["hidden_size"])
        return self.H_init.expand(shape).clone(), self.L_init.expand(shape).clone()

    def forward(self, z_H, z_L, inputs, puzzle_ids):
        """One ACT step. Returns (z_H, z_L (both detached), logits [B, seq_len, V],
        q_halt [B], q_continue [B])."""
        a = self.arch
        Hc, Lc = a["H_cycles"], a["L_cycles"]
        cos_sin = self.rotary_emb() if hasattr(self, "rotary_emb") else None
        x = self.input_embeddings(inputs, puzzle_ids)
        with torch.no_grad():
            for h in range(Hc):
                for l in range(Lc):
                    if not (h == Hc - 1 and l == Lc - 1):
                        z_L = self.L_level(z_L, z_H + x, cos_sin)
                if h != Hc - 1:
                    z_H = self.H_level(z_H, z_L, cos_sin)
        # one-step gradient: the last L update, then the last H update
        z_L = self.L_level(z_L, z_H + x, cos_sin)
        z_H = self.H_level(z_H, z_L, cos_sin)
        logits = self.lm_head(z_H)[:, self.P:]
        q = self.q_head(z_H[:, 0])
        return z_H.detach(), z_L.detach(), logits, q[..., 0], q[..., 1]


class ACTModel(nn.Module):
    """HierarchicalReasoningModel_ACTV1 (the ACT wrapper; inference use: fixed
    halting at halt_max_steps. Training: hrm_train_step)."""

    def __init__(self, arch, dtype):
        super().__init__()
        self.arch = arch
        self.inner = Inner(arch, dtype)


class HRMReference(nn.Module):
    """Top-level holder so that state-dict keys read `model.inner.*`."""

    def __init__(self, arch, dtype=torch.float32):
        super().__init__()
        self.arch = normalize_arch(arch)
        self.model = ACTModel(self.arch, dtype)
        self.to(dtype)

    @property
    def inner(self):
        return self.model.inner


# ----------------------------------------------------------------------------
# Public helpers

def build_model(arch, dtype=torch.float32):
    """Model with all-zero weights in `dtype` (float32 or float64), eval mode."""
    if dtype not in (torch.float32, torch.float64):
        raise ValueError("dtype must be torch.float32 or torch.float64")
    m = HRMReference(arch, dtype)
    m.eval()
    return m


# Same rules as trm_reference.load_state (official names, `_orig_mod.` stripped,
# fixture.* and other non-model.inner entries ignored, every tensor required).
load_state = R.load_state

# Fixed halting: every row runs `steps` ACT steps (the official evaluation).
run_fixed = R.run_fixed

LAYER_STD_GAIN = R.LAYER_STD_GAIN


def weight_shapes(arch, gain=None):
    """[(full name, shape, generator std)] in official state-dict order.

    std: 1/sqrt(D) for embed_tokens, lm_head, q_head.weight, puzzle_emb.weights,
    embed_pos; 1.0 for q_head.bias, H_init, L_init; LAYER_STD_GAIN/sqrt(fan_in)
    (trm_reference's 0.5) for every H_level and L_level weight (fan_in = the
    second dim). `gain` overrides the layer gain (experiments only)."""
    a = normalize_arch(arch)
    D, V = a["hidden_size"], a["vocab_size"]
    S = total_len(a)
    g = LAYER_STD_GAIN if gain is None else gain
    inv = 1.0 / math.sqrt(D)
    out = [
        ("H_init", (D,), 1.0),
        ("L_init", (D,), 1.0),
        ("embed_tokens.embedding_weight", (V, D), inv),
        ("lm_head.weight", (V, D), inv),
        ("q_head.weight", (2, D), inv),
        ("q_head.bias", (2,), 1.0),
    ]
    if a["puzzle_emb_ndim"] > 0:
        out.append(("puzzle_emb.weights", (a["num_puzzle_identifiers"], a["puzzle_emb_ndim"]), inv))
    if a["pos_encodings"] == "learned":
        out.append(("embed_pos.embedding_weight", (S, D), inv))
    I = R.swiglu_inter(D, a["expansion"])
    for level, n in (("H_level", a["H_layers"]), ("L_level", a["L_layers"])):
        for i in range(n):
            p = f"{level}.layers.{i}."
            out.append((p + "self_attn.qkv_proj.weight", (3 * D, D), g / math.sqrt(D)))
            out.append((p + "self_attn.o_proj.weight", (D, D), g / math.sqrt(D)))
            out.append((p + "mlp.gate_up_proj.weight", (2 * I, D), g / math.sqrt(D)))
            out.append((p + "mlp.down_proj.weight", (D, I), g / math.sqrt(I)))
    return [("model.inner." + n, s, std) for n, s, std in out]


def param_count(arch):
    """Trainable parameters (official num_params): everything but the puzzle
    table and the H_init / L_init buffers."""
    excluded = ("model.inner.puzzle_emb.weights", "model.inner.H_init", "model.inner.L_init")
    return sum(int(np.prod(s)) for n, s, _ in weight_shapes(arch) if n not in excluded)


def generate_weights(arch, seed, gain=None):
    """All persistent tensors under their full official names, float32, from
    trm_reference.gen_tensor (key = fnv1a64(short name) ^ mix64(seed))."""
    return {n: R.gen_tensor(n, s, std, seed) for n, s, std in weight_shapes(arch, gain)}


def flops_per_step(arch):
    """FLOPs (2 x multiply-adds) per sequence per ACT step: H_cycles*L_cycles
    L_level updates and H_cycles H_level updates, each layers x (2 S D 3HD +
    2 S HD D + 4 S^2 HD + 6 S D I), plus the LM head 2 seq_len D V."""
    a = normalize_arch(arch)
    S, D = total_len(a), a["hidden_size"]
    hd = a["num_heads"] * (D // a["num_heads"])
    I = R.swiglu_inter(D, a["expansion"])
    layer = 2.0 * S * D * 3 * hd + 2.0 * S * hd * D + 4.0 * S * S * hd + 6.0 * S * D * I
    calls = a["H_cycles"] * a["L_cycles"] * a["L_layers"] + a["H_cycles"] * a["H_layers"]
    return calls * layer + 2.0 * a["seq_len"] * D * a["vocab_size"]


# ----------------------------------------------------------------------------
# Training step (official train_batch + HierarchicalReasoningModel_ACTV1 +
# ACTLossHead), optimizers from trm_train_reference

IGNORE_LABEL = T.IGNORE_LABEL
TrainConfig = T.TrainConfig
init_carry = T.init_carry
init_opt_state = T.init_opt_state
trainable_names = T.trainable_names


def hrm_act_loss(logits, q_halt, q_continue, target, labels):
    """ACTLossHead with the q_continue term. Returns (loss, lm_loss,
    q_halt_loss, q_continue_loss, correct[B], cnt[B]); q_continue_loss is 0
    (a float) when target is None."""
    with torch.no_grad():
        mask = labels != IGNORE_LABEL
        cnt = mask.sum(-1)
        div = cnt.clamp_min(1).unsqueeze(-1)
        right = mask & (torch.argmax(logits, dim=-1) == labels)
        correct = right.sum(-1) == cnt
    lm_loss = (T.stablemax_ce(logits, labels) / div).sum()
    q_halt_loss = F.binary_cross_entropy_with_logits(q_halt, correct.to(q_halt.dtype), reduction="sum")
    q_continue_loss = 0.0
    if target is not None:
        q_continue_loss = F.binary_cross_entropy_with_logits(q_continue, target.to(q_continue.dtype),
                                                             reduction="sum")
    loss = lm_loss + 0.5 * (q_halt_loss + q_continue_loss)
    return loss, lm_loss, q_halt_loss, q_continue_loss, correct, cnt


def hrm_train_step(model, carry, batch, opt_state, cfg, min_halt_steps=None, keep_grads=False,
                   update=True, fixed_target=None):
    """One official HRM training step (train_batch).

     1. rows whose carry is halted take the batch row (inputs, labels, puzzle
        id), restart from H_init / L_init with steps = 0; other rows keep theirs;
     2. the rows' puzzle vectors are copied into a leaf `local` (requires grad);
     3. Inner.forward (no-grad part, then the last L and H updates with grad);
     4. no grad: steps += 1; is_last = steps >= halt_max_steps; halted = is_last;
        if halt_max_steps > 1: halted |= q_halt > q_continue; exploration
        (halted &= steps >= min_halt_steps, drawn like the official code unless
        given / cfg.exploration == "off"); and the Q target: one more Inner
        forward (no grad) on the new carry and the same data,
            target = sigmoid(is_last ? next_q_halt : max(next_q_halt, next_q_continue));
     5. loss = lm_loss + 0.5 (q_halt_loss + q_continue_loss) (hrm_act_loss);
     6. backward of loss / global_batch_size;
     7-10. as trm_train_reference.train_step: step += 1, lr schedule, sparse
        sign-SGD, AdamATan2, EMA (cfg.ema_rate None: no EMA, like official HRM).

    fixed_target: use this target instead of step 4's (finite-difference
    checks). Returns (new_carry, info) like trm_train_reference.train_step,
    info also holding q_continue_loss, target (None if not computed),
    next_q_halt, next_q_continue, is_last."""
    inner = model.inner
    a = inner.arch
    dt = inner.lm_head.weight.dtype
    inputs = T._as_long(batch["inputs"])
    labels = T._as_long(batch["labels"])
    pids = T._as_long(batch["puzzle_ids"])

    # 1. carry reset / data replacement
    halted = carry["halted"]
    hv = halted.view(-1, 1, 1)
    z_H = torch.where(hv, inner.H_init.to(dt).expand_as(carry["z_H"]), carry["z_H"])
    z_L = torch.where(hv, inner.L_init.to(dt).expand_as(carry["z_L"]), carry["z_L"])
    steps = torch.where(halted, torch.zeros_like(carry["steps"]), carry["steps"])
    cur_in = torch.where(halted.view(-1, 1), inputs, carry["inputs"])
    cur_lab = torch.where(halted.view(-1, 1), labels, carry["labels"])
    cur_pid = torch.where(halted, pids, carry["puzzle_ids"])

    # 2. local puzzle vectors
    local = None
    if a["puzzle_emb_ndim"] > 0:
        local = inner.puzzle_emb.weights[cur_pid].detach().clone().requires_grad_(True)
    for p in model.parameters():
        p.grad = None

    # 3. forward
    with T._local_puzzle(inner, local):
        z_H, z_L, logits, q_halt, q_cont = inner(z_H, z_L, cur_in, cur_pid)

    # 4. halting and the Q target
    target = next_qh = next_qc = None
    with torch.no_grad():
        steps = steps + 1
        is_last = steps >= a["halt_max_steps"]
        new_halted = is_last
        if a["halt_max_steps"] > 1:
            new_halted = new_halted | (q_halt > q_cont)
            if min_halt_steps is None and cfg.exploration == "official":
                gen = cfg.generator
                explore = torch.rand(q_halt.shape, generator=gen, dtype=q_halt.dtype) < cfg.halt_exploration_prob
                draw = torch.randint(2, a["halt_max_steps"] + 1, steps.shape, generator=gen, dtype=steps.dtype)
                min_halt_steps = explore.to(steps.dtype) * draw
            if min_halt_steps is not None:
                new_halted = new_halted & (steps >= torch.as_tensor(min_halt_steps).to(steps.dtype))
            with T._local_puzzle(inner, None if local is None else local.detach()):
                _, _, _, next_qh, next_qc = inner(z_H, z_L, cur_in, cur_pid)
            target = torch.sigmoid(torch.where(is_last, next_qh, torch.maximum(next_qh, next_qc)))
    if fixed_target is not None:
        target = torch.as_tensor(fixed_target).to(q_cont.dtype)

    # 5./6. loss and backward
    loss, lm_loss, q_halt_loss, q_cont_loss, correct, cnt = hrm_act_loss(logits, q_halt, q_cont, target, cur_lab)
    (loss / cfg.global_batch_size).backward()

    info = dict(loss=float(loss), lm_loss=float(lm_loss), q_halt_loss=float(q_halt_loss),
                q_continue_loss=float(q_cont_loss), target=target, next_q_halt=next_qh,
                next_q_continue=next_qc, is_last=is_last,
                logits=logits.detach(), q_halt=q_halt.detach(), q_continue=q_cont.detach(),
                correct=correct, count=cnt, halted=new_halted, steps=steps,
                inputs=cur_in, labels=cur_lab, puzzle_ids=cur_pid)
    if keep_grads:
        g = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
        if local is not None:
            g["puzzle_rows"] = local.grad.detach().clone()
        info["grads"] = g

    if update:
        opt_state["step"] += 1
        t = opt_state["step"]
        lr = T.lr_at(t, cfg.lr, cfg)
        lr_p = T.lr_at(t, cfg.puzzle_emb_lr, cfg)
        info["lr"], info["puzzle_lr"] = lr, lr_p
        if local is not None:
            uniq, gsum = T.sparse_signsgd_(inner.puzzle_emb.weights, cur_pid, local.grad.detach(), lr_p,
                                           cfg.puzzle_emb_weight_decay)
            info["puzzle_update_ids"], info["puzzle_grad_sum"] = uniq, gsum
        for n, p in model.named_parameters():
            if not p.requires_grad or p.grad is None:
                continue
            T.adam_atan2_(p.data, p.grad, opt_state["m"][n], opt_state["v"][n], t, lr,
                          cfg.beta1, cfg.beta2, cfg.weight_decay)
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
# Fixture check

def check_fixture(path, dtype=torch.float64):
    """Re-run an hrm_* fixture (forward or grad) in `dtype`; print and return
    the differences."""
    import safetensors_io
    t, md = safetensors_io.read(path)
    arch = normalize_arch({k: v for k, v in md.items() if k in ARCH_KEYS})
    w = md.get("fixture.weights", "inline")
    weights = t if w == "inline" else generate_weights(arch, int(w.split(":", 1)[1]))
    model = load_state(build_model(arch, dtype), weights)
    out = {}
    if md.get("fixture.kind", "forward") == "forward":
        lg, qh, qc = run_fixed(model, t["fixture.inputs"], t["fixture.puzzle_ids"], int(md["fixture.steps"]))
        for s in range(lg.shape[0]):
            d = max(np.abs(lg[s].double().numpy() - t["fixture.logits"][s]).max(),
                    np.abs(qh[s].double().numpy() - t["fixture.q_halt"][s]).max(),
                    np.abs(qc[s].double().numpy() - t["fixture.q_continue"][s]).max())
            out[f"step {s + 1:2d} max |diff|"] = float(d)
    elif md["fixture.kind"] == "steps":
        cfg = T.config_from_metadata(md)
        B = int(md["fixture.batch"])
        model.train()
        st = init_opt_state(model, cfg)
        carry = init_carry(model, B)
        losses, halted, targets = [], [], []
        for k in range(int(md["fixture.steps"])):
            p = f"fixture.step{k + 1}."
            batch = dict(inputs=t[p + "inputs"], labels=t[p + "labels"], puzzle_ids=t[p + "puzzle_ids"])
            carry, info = hrm_train_step(model, carry, batch, st, cfg)
            losses.append(info["loss"])
            halted.append(info["halted"].numpy().astype(np.uint8))
            targets.append(info["target"].double().numpy())
        out["losses"] = float(np.abs(np.array(losses) - t["fixture.losses"]).max())
        out["target_q_continue"] = float(np.abs(np.stack(targets) - t["fixture.target_q_continue"]).max())
        out["halted mismatches"] = int((np.stack(halted) != t["fixture.halted"]).sum())
        sd = model.state_dict()
        d = [np.abs(sd[n].double().numpy() - t["final." + n]) for n in sd]
        out["final max"] = float(max(x.max() for x in d))
        out["final > 1e-5"] = int(sum((x > 1e-5).sum() for x in d))
        d = [np.abs(st["ema"][n].double().numpy() - t["ema." + n]) for n in st["ema"]]
        out["ema max"] = float(max(x.max() for x in d))
    else:
        cfg = T.config_from_metadata(md)
        B = int(md["fixture.batch"])
        batch = dict(inputs=t["fixture.inputs"], labels=t["fixture.labels"], puzzle_ids=t["fixture.puzzle_ids"])
        model.train()
        _, info = hrm_train_step(model, init_carry(model, B), batch, init_opt_state(model, cfg), cfg,
                                 keep_grads=True, update=False)
        for k in ("loss", "lm_loss", "q_halt_loss", "q_continue_loss"):
            out[k] = abs(info[k] - float(t["fixture." + k][0]))
        out["target_q_continue"] = float(np.abs(info["target"].double().numpy()
                                                - t["fixture.target_q_continue"]).max())
        for n, g in info["grads"].items():
            ref = t["grad." + n]
            out["grad " + R.short_name(n)] = float(np.abs(g.double().numpy() - ref).max()
                                                   / max(np.abs(ref).max(), 1e-30))
    for k, v in out.items():
        print(f"{k:60s} {v:.3e}" if isinstance(v, float) else f"{k:60s} {v}")
    return out


# ----------------------------------------------------------------------------
# Self-test

SUDOKU_ARCH = dict(seq_len=81, vocab_size=11, hidden_size=512, num_heads=8, expansion=4,
                   H_layers=4, L_layers=4, H_cycles=2, L_cycles=2, puzzle_emb_ndim=512,
                   num_puzzle_identifiers=1, pos_encodings="rope", halt_max_steps=16)
SUDOKU_PARAMS = 27275266

SELFTEST_ARCH = dict(seq_len=6, vocab_size=5, hidden_size=8, num_heads=2, expansion=2,
                     H_layers=1, L_layers=2, H_cycles=2, L_cycles=3, puzzle_emb_ndim=12,
                     num_puzzle_identifiers=3, pos_encodings="learned", halt_max_steps=4)


FD_H = 1e-5       # finite-difference step
FD_FLOOR = 1e-4   # relative errors of smaller derivatives are measured against this


def selftest():
    ok = True
    got = param_count(SUDOKU_ARCH)
    m = build_model(SUDOKU_ARCH)
    from_module = sum(p.numel() for p in m.parameters())
    names = list(m.state_dict())
    same_names = names == [n for n, _, _ in weight_shapes(SUDOKU_ARCH)]
    st = "ok" if got == from_module == SUDOKU_PARAMS and same_names else "MISMATCH"
    ok &= st == "ok"
    print(f"HRM Sudoku param_count={got:,} module={from_module:,} official={SUDOKU_PARAMS:,} "
          f"state-dict order == weight_shapes: {same_names}  {st}")
    del m
    torch.manual_seed(0)
    for arch in (SELFTEST_ARCH, dict(SELFTEST_ARCH, pos_encodings="rope", puzzle_emb_ndim=0)):
        arch = normalize_arch(arch)
        w = generate_weights(arch, 7)
        B = 3
        g = np.random.default_rng(1)
        batch = dict(inputs=g.integers(1, arch["vocab_size"], (B, arch["seq_len"])),
                     labels=g.integers(1, arch["vocab_size"], (B, arch["seq_len"])),
                     puzzle_ids=np.array([0, 2, 0]) % arch["num_puzzle_identifiers"])
        batch["labels"][1, :2] = IGNORE_LABEL
        batch["labels"][2, :] = IGNORE_LABEL
        cfg = TrainConfig(global_batch_size=5, exploration="off", lr_warmup_steps=2, total_steps=5,
                          ema_rate=None)
        model = load_state(build_model(arch, torch.float64), w)
        lg, qh, qc = run_fixed(model, batch["inputs"], batch["puzzle_ids"], 2)
        st = init_opt_state(model, cfg)
        model.train()
        _, info = hrm_train_step(model, init_carry(model, B), batch, st, cfg, keep_grads=True, update=False)
        d = max(float((info["logits"] - lg[0]).abs().max()), float((info["q_halt"] - qh[0]).abs().max()),
                float((info["q_continue"] - qc[0]).abs().max()))
        # the target's next-step Q values are the inference step 2
        d2 = max(float((info["next_q_halt"] - qh[1]).abs().max()),
                 float((info["next_q_continue"] - qc[1]).abs().max()))
        print(f"[{arch['pos_encodings']}, ndim {arch['puzzle_emb_ndim']}] train forward vs inference "
              f"step 1: {d:.1e}; target forward vs inference step 2: {d2:.1e}")
        ok &= d == 0.0 and d2 == 0.0
        # With H_cycles = L_cycles = 1 the one-step gradient is the true one:
        # compare with central finite differences (target held fixed, it is
        # computed without grad).
        model = load_state(build_model(dict(arch, H_cycles=1, L_cycles=1), torch.float64), w)
        model.train()
        _, info = hrm_train_step(model, init_carry(model, B), batch, st, cfg, keep_grads=True, update=False)
        tgt = info["target"]
        worst = 0.0
        names = ["model.inner.lm_head.weight", "model.inner.embed_tokens.embedding_weight",
                 "model.inner.H_level.layers.0.mlp.down_proj.weight",
                 "model.inner.L_level.layers.1.self_attn.qkv_proj.weight",
                 "model.inner.q_head.bias", "model.inner.q_head.weight"]
        if arch["pos_encodings"] == "learned":
            names.append("model.inner.embed_pos.embedding_weight")
        params = dict(model.named_parameters())
        for name in names:
            p = params[name]
            gr = info["grads"][name].reshape(-1)
            for i in sorted({0, min(3, p.numel() - 1), p.numel() // 2, p.numel() - 1}):
                old = float(p.data.reshape(-1)[i])
                vals = []
                for h in (FD_H, -FD_H):
                    p.data.reshape(-1)[i] = old + h
                    _, inf2 = hrm_train_step(model, init_carry(model, B), batch, st, cfg, update=False,
                                             fixed_target=tgt)
                    vals.append(inf2["loss"] / cfg.global_batch_size)
                p.data.reshape(-1)[i] = old
                fd = (vals[0] - vals[1]) / (2 * FD_H)
                worst = max(worst, abs(fd - float(gr[i])) / max(FD_FLOOR, abs(fd)))
        if arch["puzzle_emb_ndim"] > 0:
            tab = model.inner.puzzle_emb.weights
            for j in (0, arch["puzzle_emb_ndim"] - 1):
                old = float(tab[2, j])
                vals = []
                for h in (FD_H, -FD_H):
                    tab[2, j] = old + h
                    _, inf2 = hrm_train_step(model, init_carry(model, B), batch, st, cfg, update=False,
                                             fixed_target=tgt)
                    vals.append(inf2["loss"] / cfg.global_batch_size)
                tab[2, j] = old
                fd = (vals[0] - vals[1]) / (2 * FD_H)
                worst = max(worst, abs(fd - float(info["grads"]["puzzle_rows"][1, j])) / max(FD_FLOOR, abs(fd)))
        print(f"  H_cycles = L_cycles = 1: gradient vs central finite differences (h {FD_H:g}), worst "
              f"|fd - g| / max(|fd|, {FD_FLOOR:g}): {worst:.1e}")
        ok &= worst < 1e-5
    print("selftest", "ok" if ok else "FAILED")
    return ok


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--selftest", action="store_true", help="param count, forward/target/gradient checks")
    ap.add_argument("--fixture", help="re-run a tests/fixtures/hrm_*.safetensors file")
    ap.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.fixture:
        check_fixture(args.fixture, getattr(torch, args.dtype))
        return 0
    return 0 if selftest() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
