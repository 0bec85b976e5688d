#!/usr/bin/python3
"""convert_official.py: an official TRM or HRM checkpoint into a trmx module folder.

The official trainers (TinyRecursiveModels, HRM) save `torch.save(model.state_dict(),
"<checkpoint_path>/step_N")`: a pickled state dict of the loss head, with keys
`_orig_mod.model.inner.<name>` (torch.compile, the default) or `model.inner.<name>`, and the run's
settings in `all_config.yaml` (its `arch:` mapping holds the model config; the data-set fields
seq_len, vocab_size and num_puzzle_identifiers come from the data set and are not in it).

    convert_official.py convert CHECKPOINT ALL_CONFIG -o DIR [options]

writes into DIR:
  weights.safetensors  every tensor under its official name (`_orig_mod.` stripped, dtypes kept:
                       H_init/L_init stay bfloat16), the architecture as __metadata__;
  manifest.yaml        a trmx source manifest (docs/FORMAT.md) with `architecture:` filled in
                       from all_config.yaml's arch plus vocab_size, num_puzzle_identifiers and
                       seq_len read off the tensors (or --seq-len, or the data set's
                       dataset.json), `engine:` trm or hrm, `task:`, and `training:` provenance;
  README.md, schema.sql  starting points, only when DIR has none.
Then add examples (and their `examples:` entries), edit README.md, and run `trmx pack DIR`.

    convert_official.py reference DIR [--hrm] [--arch sudoku4-tiny] [--seed N] [--step N]

writes an official-format checkpoint (DIR/step_N, keys `_orig_mod.model.inner.*`, H_init and
L_init in bfloat16, tensors from tools/trm_reference.py's generator) and its all_config.yaml, for
testing the converter without the official code. --hrm writes HRM names (H_level and L_level).

    convert_official.py selftest

converts a reference TRM and HRM checkpoint and checks every name, shape, dtype and value.

Runs under Debian's Python (/usr/bin/python3: torch 1.13, numpy, PyYAML).
"""

import argparse
import json
import math
import os
import re
import sys
import tempfile

import numpy as np
import torch
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

# The official config keys the manifest's architecture: accepts (docs/FORMAT.md).
ARCH_KEYS = {
    "name": str, "batch_size": int, "seq_len": int, "vocab_size": int,
    "num_puzzle_identifiers": int, "puzzle_emb_ndim": int, "puzzle_emb_len": int,
    "H_cycles": int, "L_cycles": int, "H_layers": int, "L_layers": int, "hidden_size": int,
    "expansion": float, "num_heads": int, "pos_encodings": str, "rms_norm_eps": float,
    "rope_theta": float, "halt_max_steps": int, "halt_exploration_prob": float,
    "forward_dtype": str, "mlp_t": bool, "no_ACT_continue": bool,
}
LOSS_KEYS = {"name": str, "loss_type": str}

# Built-in codecs a (seq_len, vocab_size) pair identifies without doubt.
KNOWN_TASKS = {
    (81, 11): ("sudoku", {"size": 9}),
    (36, 8): ("sudoku", {"size": 6}),
    (900, 12): ("arc", {}),
    (900, 6): ("maze", {"size": 30}),
}


class ConvertError(Exception):
    pass


# ----------------------------------------------------------------------------
# Reading

def load_checkpoint(path):
    """The state dict, as name -> tensor, in file order."""
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except TypeError:  # torch without weights_only
        sd = torch.load(path, map_location="cpu")
    if not isinstance(sd, dict):
        raise ConvertError(f"{path}: not a state dict (a {type(sd).__name__})")
    out = {}
    for k, v in sd.items():
        if not isinstance(v, torch.Tensor):
            raise ConvertError(f"{path}: entry {k!r} is not a tensor")
        name = k[len("_orig_mod."):] if k.startswith("_orig_mod.") else k
        if not name.startswith("model.inner."):
            raise ConvertError(f"{path}: unexpected key {k!r} (expected [_orig_mod.]model.inner.*)")
        if name in out:
            raise ConvertError(f"{path}: {name!r} twice")
        out[name] = v.detach().cpu().contiguous()
    return out


def resolve(mapping):
    """OmegaConf's ${.key} sibling interpolation, as the official trm.yaml uses it."""
    out = dict(mapping)
    for _ in range(len(out) + 1):
        changed = False
        for k, v in out.items():
            m = re.fullmatch(r"\$\{\.([A-Za-z0-9_]+)\}", v) if isinstance(v, str) else None
            if m:
                if m.group(1) not in out:
                    raise ConvertError(f"arch.{k}: cannot resolve {v}")
                out[k] = out[m.group(1)]
                changed = True
        if not changed:
            return out
    raise ConvertError("arch: an interpolation cycle")


def load_config(path):
    with open(path, encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    if not isinstance(cfg, dict):
        raise ConvertError(f"{path}: not a mapping")
    arch = cfg.get("arch")
    if not isinstance(arch, dict):
        raise ConvertError(f"{path}: no arch: mapping")
    return cfg, resolve(arch)


def shape(t, name):
    return tuple(int(s) for s in t[name].shape)


def derive_arch(arch, tensors, cfg, cfg_path, seq_len_opt):
    """The official keys, typed, with the data-set fields read off the tensors."""
    a, extra = {}, {}
    for k, v in arch.items():
        if k == "loss" and isinstance(v, dict):
            loss = {}
            for lk, lv in v.items():
                (loss if lk in LOSS_KEYS else extra.setdefault("loss", {}))[lk] = lv
            if loss:
                a["loss"] = loss
        elif k in ARCH_KEYS and not isinstance(v, (dict, list)) and v is not None:
            a[k] = v
        else:
            extra[k] = v
    inner = "model.inner."
    D = shape(tensors, inner + "embed_tokens.embedding_weight")[1]
    V = shape(tensors, inner + "embed_tokens.embedding_weight")[0]
    if "hidden_size" in a and int(a["hidden_size"]) != D:
        raise ConvertError(f"arch.hidden_size {a['hidden_size']} but the embedding is {D} wide")
    a["hidden_size"] = D
    a["vocab_size"] = V
    if inner + "puzzle_emb.weights" in tensors:
        rows, ndim = shape(tensors, inner + "puzzle_emb.weights")
        a["num_puzzle_identifiers"] = rows
        if "puzzle_emb_ndim" in a and int(a["puzzle_emb_ndim"]) != ndim:
            raise ConvertError(f"arch.puzzle_emb_ndim {a['puzzle_emb_ndim']} but the table is {ndim} wide")
        a["puzzle_emb_ndim"] = ndim
    else:
        a["num_puzzle_identifiers"] = 1
        a["puzzle_emb_ndim"] = 0
        if "puzzle_emb_len" in a:
            a["puzzle_emb_len"] = 0
    ndim = int(a["puzzle_emb_ndim"])
    plen = int(a.get("puzzle_emb_len", 0 if "puzzle_emb_len" not in arch and is_hrm(arch) else 16)) \
        if ndim > 0 else 0
    P = plen if plen else -(ndim // -D)
    # seq_len: from mlp_t or learned positions, else given, else the data set.
    S = None
    mt = inner + "L_level.layers.0.mlp_t.gate_up_proj.weight"
    if mt in tensors:
        S = shape(tensors, mt)[1]
    elif inner + "embed_pos.embedding_weight" in tensors:
        S = shape(tensors, inner + "embed_pos.embedding_weight")[0]
    seq = S - P if S is not None else None
    if seq_len_opt is not None:
        if seq is not None and seq != seq_len_opt:
            raise ConvertError(f"--seq-len {seq_len_opt} but the tensors say {seq}")
        seq = seq_len_opt
    if seq is None:
        seq = dataset_seq_len(cfg, cfg_path)
    if seq is None:
        raise ConvertError("seq_len is not in the checkpoint (attention with RoPE has no length): "
                           "give --seq-len, or keep the data set's dataset.json at its data_path")
    a["seq_len"] = seq
    for k, typ in ARCH_KEYS.items():
        if k in a and typ is not str:
            a[k] = typ(a[k]) if typ is not bool else (
                a[k] if isinstance(a[k], bool) else str(a[k]).lower() in ("1", "true", "yes"))
    return a, extra


def dataset_seq_len(cfg, cfg_path):
    paths = cfg.get("data_paths") or ([cfg["data_path"]] if cfg.get("data_path") else [])
    base = os.path.dirname(os.path.abspath(cfg_path))
    for p in paths if isinstance(paths, list) else [paths]:
        for cand in (os.path.join(p, "train", "dataset.json"), os.path.join(base, p, "train", "dataset.json")):
            if os.path.exists(cand):
                with open(cand, encoding="utf-8") as f:
                    return int(json.load(f)["seq_len"])
    return None


def is_hrm(arch):
    return "hrm" in str(arch.get("name", "")).lower()


# ----------------------------------------------------------------------------
# Writing

def q(s):
    """A YAML double-quoted scalar (JSON's escapes are a subset of YAML's)."""
    return json.dumps(str(s), ensure_ascii=False)


def scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    return q(v)


def yaml_block(value, indent):
    """A plain YAML rendering of nested dicts, lists and scalars (for x-* extras)."""
    pad = " " * indent
    lines = []
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, (dict, list)) and v:
                lines.append(f"{pad}{q(k)}:")
                lines.extend(yaml_block(v, indent + 2))
            else:
                lines.append(f"{pad}{q(k)}: {scalar(v) if not isinstance(v, (dict, list)) else ('{}' if isinstance(v, dict) else '[]')}")
    elif isinstance(value, list):
        for v in value:
            if isinstance(v, (dict, list)) and v:
                lines.append(f"{pad}-")
                lines.extend(yaml_block(v, indent + 2))
            else:
                lines.append(f"{pad}- {scalar(v) if v is not None else 'null'}")
    return lines


def metadata_of(arch):
    md = {}
    for k, v in arch.items():
        if k == "loss":
            for lk, lv in v.items():
                md["loss." + lk] = str(lv)
        else:
            md[k] = scalar(v).strip('"') if not isinstance(v, str) else v
    return md


def to_numpy(t):
    """(array, forced safetensors tag or None)."""
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(np.uint16), "BF16"
    if t.dtype == torch.float16:
        return t.numpy(), "F16"
    return t.numpy(), None


def convert(args):
    tensors = load_checkpoint(args.checkpoint)
    cfg, arch_cfg = load_config(args.config)
    arch, extra = derive_arch(arch_cfg, tensors, cfg, args.config, args.seq_len)
    engine = args.engine or ("hrm" if is_hrm(arch_cfg) or any(".H_level." in n for n in tensors) else "trm")
    if args.task:
        codec = args.task
        params = {}
        for p in args.task_param or []:
            if "=" not in p:
                raise ConvertError(f"--task-param {p!r}: expected key=value")
            k, v = p.split("=", 1)
            params[k] = v
    else:
        known = KNOWN_TASKS.get((arch["seq_len"], arch["vocab_size"]))
        if not known:
            raise ConvertError(f"seq_len {arch['seq_len']} and vocab_size {arch['vocab_size']} do not "
                               "name a task for sure: give --task (and --task-param)")
        codec, params = known
    step = re.fullmatch(r"step_(\d+)", os.path.basename(args.checkpoint))
    name = args.name or f"{engine}-{codec}"
    os.makedirs(args.out, exist_ok=True)

    # weights.safetensors: official names, dtypes kept, in checkpoint order.
    items = []
    for n, t in tensors.items():
        arr, tag = to_numpy(t)
        items.append((n, arr, tag) if tag else (n, arr))
    safetensors_io.write(os.path.join(args.out, "weights.safetensors"), items, metadata_of(arch))

    # manifest.yaml
    L = ["# trmx module manifest (docs/FORMAT.md), written by tools/convert_official.py.",
         "# `trmx pack` adds files:; add examples: and edit the description, license and authors.",
         "format_version: 1",
         f"name: {args.name or name}",
         f"version: {args.version}",
         f"description: {q(args.description or f'{engine.upper()} model converted from an official checkpoint')}",
         f"license: {args.license}",
         "authors:"]
    L += [f"  - {q(a)}" for a in (args.author or ["unknown"])]
    if args.homepage:
        L.append(f"homepage: {q(args.homepage)}")
    L += ["engine:", f"  name: {engine}", '  abi: ">=1 <2"',
          "task:", f"  codec: {codec}"]
    if params:
        L.append("  params:")
        L += [f"    {k}: {scalar(v) if not isinstance(v, str) else q(v)}" for k, v in params.items()]
    L.append("architecture:")
    for k in sorted(arch, key=lambda k: (k == "loss", k)):
        if k == "loss":
            L.append("  loss:")
            L += [f"    {lk}: {q(lv)}" for lk, lv in arch["loss"].items()]
        else:
            L.append(f"  {k}: {scalar(arch[k])}")
    data = cfg.get("data_paths") or cfg.get("data_path")
    if isinstance(data, list):
        data = ",".join(str(d) for d in data)
    L += ["training:", f"  dataset: {q(os.path.basename(str(data).rstrip('/')) if data else 'unknown')}"]
    if step:
        L.append(f"  steps: {int(step.group(1))}")
    if isinstance(cfg.get("seed"), int):
        L.append(f"  seed: {cfg['seed']}")
    L += ["x-converted-from:",
          f"  checkpoint: {q(os.path.basename(args.checkpoint))}",
          f"  config: {q(os.path.basename(args.config))}",
          f"  tool: {q('tools/convert_official.py')}"]
    if extra:
        L.append("  official-arch-extra:")
        L += yaml_block(extra, 4)
    with open(os.path.join(args.out, "manifest.yaml"), "w", encoding="utf-8") as f:
        f.write("\n".join(L) + "\n")

    readme = os.path.join(args.out, "README.md")
    if not os.path.exists(readme):
        with open(readme, "w", encoding="utf-8") as f:
            f.write(f"# {name}\n\nConverted from the official checkpoint `{os.path.basename(args.checkpoint)}` "
                    f"by tools/convert_official.py.\n\nWhat it solves, how it was trained, measured "
                    f"accuracy and limits: to be written by the module author.\n")
    schema = os.path.join(args.out, "schema.sql")
    if not os.path.exists(schema):
        with open(schema, "w", encoding="utf-8") as f:
            f.write("-- The module's own SQLite tables (docs/FORMAT.md). None yet.\n")
    return arch, engine


# ----------------------------------------------------------------------------
# Reference checkpoints in the official format

ARCHS = {
    "sudoku4-tiny": dict(seq_len=16, vocab_size=6, hidden_size=16, num_heads=2, expansion=4,
                         L_layers=1, H_cycles=2, L_cycles=2, puzzle_emb_ndim=16, puzzle_emb_len=1,
                         num_puzzle_identifiers=1, mlp_t=False, pos_encodings="rope",
                         halt_max_steps=4),
    "sudoku4-tiny-mlp": dict(seq_len=16, vocab_size=6, hidden_size=16, num_heads=2, expansion=4,
                             L_layers=1, H_cycles=2, L_cycles=2, puzzle_emb_ndim=0, puzzle_emb_len=0,
                             num_puzzle_identifiers=1, mlp_t=True, pos_encodings="none",
                             halt_max_steps=4),
}


def bf16_round(t):
    return t.to(torch.bfloat16)


def reference(args):
    import trm_reference  # noqa: E402 (another engineer's module; imported, not edited)
    arch = dict(ARCHS[args.arch])
    os.makedirs(args.out, exist_ok=True)
    gen = trm_reference.generate_weights(arch, args.seed)
    sd = {}
    if args.hrm:
        D = arch["hidden_size"]
        names = []
        for n, s, std in trm_reference.weight_shapes(arch):
            short = n[len("model.inner."):]
            if short.startswith("L_level."):
                for lvl in ("H_level", "L_level"):
                    names.append(("model.inner." + lvl + short[len("L_level"):], s, std))
            else:
                names.append((n, s, std))
        gen = {n: trm_reference.gen_tensor(n, s, std, args.seed) for n, s, std in names}
        del D
    for n, v in gen.items():
        t = torch.from_numpy(np.array(v))
        if n.endswith(".H_init") or n.endswith(".L_init"):
            t = bf16_round(t)  # the official buffers follow forward_dtype
        sd["_orig_mod." + n] = t
    step = os.path.join(args.out, f"step_{args.step}")
    torch.save(sd, step)
    official = {
        "name": ("hrm.hrm_act_v1@HierarchicalReasoningModel_ACTV1" if args.hrm
                 else "recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1"),
        "loss": {"name": "losses@ACTLossHead", "loss_type": "stablemax_cross_entropy"},
        "halt_exploration_prob": 0.1, "halt_max_steps": arch["halt_max_steps"],
        "H_cycles": arch["H_cycles"], "L_cycles": arch["L_cycles"],
        "H_layers": arch["L_layers"] if args.hrm else 0, "L_layers": arch["L_layers"],
        "hidden_size": arch["hidden_size"], "num_heads": arch["num_heads"],
        "expansion": arch["expansion"], "puzzle_emb_ndim": "${.hidden_size}" if
        arch["puzzle_emb_ndim"] == arch["hidden_size"] else arch["puzzle_emb_ndim"],
        "pos_encodings": arch["pos_encodings"], "forward_dtype": "bfloat16",
    }
    if not args.hrm:
        official.update(mlp_t=arch["mlp_t"], puzzle_emb_len=arch["puzzle_emb_len"], no_ACT_continue=True)
    cfg = {"arch": official, "data_paths": ["data/" + args.arch], "global_batch_size": 32,
           "epochs": 10, "lr": 1e-4, "seed": args.seed, "checkpoint_path": "checkpoints/" + args.arch,
           "ema": True}
    with open(os.path.join(args.out, "all_config.yaml"), "w", encoding="utf-8") as f:
        yaml.safe_dump(cfg, f, sort_keys=False)
    return step, arch


# ----------------------------------------------------------------------------
# Self-test

def selftest(_args):
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for hrm, archname in ((False, "sudoku4-tiny"), (False, "sudoku4-tiny-mlp"), (True, "sudoku4-tiny")):
            if True:
                ref = os.path.join(tmp, f"ref-{archname}-{int(hrm)}")
                out = os.path.join(tmp, f"out-{archname}-{int(hrm)}")
                step, arch = reference(argparse.Namespace(out=ref, hrm=hrm, arch=archname, seed=3, step=7))
                cargs = argparse.Namespace(
                    checkpoint=step, config=os.path.join(ref, "all_config.yaml"), out=out, name=None,
                    version="0.1.0", description=None, license="MIT", author=None, homepage=None,
                    engine=None, task="sudoku", task_param=["size=4"],
                    seq_len=None if arch["mlp_t"] else 16)
                got_arch, engine = convert(cargs)
                src = torch.load(step)
                wpath = os.path.join(out, "weights.safetensors")
                tensors, _meta = safetensors_io.read(wpath)
                tags = safetensors_io.read_dtypes(wpath)
                names_ok = list(tensors) == [k[len("_orig_mod."):] for k in src]
                vals_ok = all(
                    np.array_equal(
                        tensors[k[len("_orig_mod."):]],
                        src[k].view(torch.int16).numpy().view(np.uint16) if src[k].dtype == torch.bfloat16
                        else src[k].numpy())
                    and tags[k[len("_orig_mod."):]] == ("BF16" if src[k].dtype == torch.bfloat16 else "F32")
                    for k in src)
                keys = ["seq_len", "vocab_size", "hidden_size", "num_heads", "L_layers", "H_cycles",
                        "L_cycles", "puzzle_emb_ndim", "num_puzzle_identifiers"] + ([] if hrm else ["mlp_t"])
                arch_ok = all(got_arch.get(k) == arch[k] for k in keys)
                eng_ok = engine == ("hrm" if hrm else "trm")
                with open(os.path.join(out, "manifest.yaml"), encoding="utf-8") as f:
                    man = yaml.safe_load(f)
                man_ok = man["architecture"]["seq_len"] == 16 and man["engine"]["name"] == engine
                status = names_ok and vals_ok and arch_ok and eng_ok and man_ok
                ok &= status
                print(f"{'hrm' if hrm else 'trm'} {archname:18s} names={names_ok} values+dtypes={vals_ok} "
                      f"arch={arch_ok} engine={eng_ok} manifest={man_ok} {'ok' if status else 'FAIL'}")
    return 0 if ok else 1


# ----------------------------------------------------------------------------

def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("convert", help="an official checkpoint into a module folder")
    c.add_argument("checkpoint")
    c.add_argument("config", help="the run's all_config.yaml")
    c.add_argument("-o", "--out", required=True, help="module folder (created)")
    c.add_argument("--name", help="package name ([a-z0-9-], default ENGINE-CODEC)")
    c.add_argument("--version", default="0.1.0")
    c.add_argument("--description")
    c.add_argument("--license", default="NOASSERTION", help="SPDX expression")
    c.add_argument("--author", action="append")
    c.add_argument("--homepage")
    c.add_argument("--engine", choices=["trm", "hrm"], help="default: from arch.name or the tensors")
    c.add_argument("--task", help="codec (sudoku, maze, arc, tokens); default from seq_len and vocab")
    c.add_argument("--task-param", action="append", help="codec parameter key=value")
    c.add_argument("--seq-len", type=int, help="when neither the tensors nor dataset.json give it")
    r = sub.add_parser("reference", help="write an official-format reference checkpoint")
    r.add_argument("out")
    r.add_argument("--hrm", action="store_true")
    r.add_argument("--arch", default="sudoku4-tiny", choices=sorted(ARCHS))
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--step", type=int, default=100)
    sub.add_parser("selftest", help="convert reference TRM and HRM checkpoints and check them")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "convert":
            arch, engine = convert(args)
            print(f"{args.out}: engine {engine}, seq_len {arch['seq_len']}, vocab_size {arch['vocab_size']}, "
                  f"hidden_size {arch['hidden_size']}")
            return 0
        if args.cmd == "reference":
            step, _ = reference(args)
            print(step)
            return 0
        return selftest(args)
    except (ConvertError, OSError, KeyError, ValueError) as e:
        print(f"convert_official.py: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
