#!/usr/bin/python3
"""torch_serve_peer.py: the HTTP peer of `trmx serve` that a user would otherwise write.

Python's own `http.server.ThreadingHTTPServer` (one thread per connection) in front of
tools/trm_reference.py's PyTorch model (the official TRM structure, float32, CPU) with the same
safetensors weights, behind the same route and body as `trmx serve`:

    POST /v1/contexts/{context}/solve   {"puzzle": "<81 cells, '.' or '0' blank>", "learner": ..,
                                         "halt": "adaptive"|"fixed", "max_steps": 16}
                                        (or {"puzzles": [..]}: solved one after another)
    -> 200 {"module": .., "version": .., "runs": [{"answer": .., "steps": N,
             "halt_confidence": x, "q_halt": x}]}
    GET /healthz -> 200 ok

One puzzle is one batch-1 ACT loop under torch.inference_mode(): a step is the reference's
Inner.forward (one deep recursion); with adaptive halting the loop stops after the first step whose
Q head says halt (q_halt above --halt-threshold, the TRM rule trmx's engine uses: 0 is the official
model's training-time halting without exploration; serve.sh passes the module's halting.threshold,
as trmx serve uses it), at most max_steps; the answer is the argmax of that step's logits.
The model runs under one lock (a user would not run two forwards on two cores with two intra-op
threads each at once; torch.set_num_threads(THREADS)). No usage log, no checker: the peer's best
case. Writes the port to --port-file once it accepts connections; stops on SIGTERM.

`--solve FILE` prints one JSON line per puzzle of FILE (a CSV with a puzzle column, or one puzzle
a line) instead of serving: the answers, for comparing with trmx's.
"""
import argparse
import http.server
import json
import os
import signal
import sys
import threading

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import safetensors_io  # noqa: E402
import trm_reference as ref  # noqa: E402

CELLS = 81


def encode(puzzle):
    """The official Sudoku encoding: 0 PAD, 1 blank, digit d -> d + 1."""
    if not isinstance(puzzle, str) or len(puzzle) != CELLS:
        raise ValueError(f"expected a string of {CELLS} cells")
    toks = []
    for ch in puzzle:
        if ch in ".0":
            toks.append(1)
        elif "1" <= ch <= "9":
            toks.append(ord(ch) - ord("0") + 1)
        else:
            raise ValueError(f"bad cell {ch!r}")
    return toks


def decode(tokens):
    return "".join("." if t == 1 else chr(ord("0") + t - 1) if 2 <= t <= 10 else "?" for t in tokens)


class Solver:
    def __init__(self, weights, threads, halt_threshold):
        torch.set_num_threads(threads)
        self.halt_threshold = halt_threshold
        tensors, md = safetensors_io.read(weights)
        self.arch = ref.normalize_arch({k: v for k, v in md.items() if k in ref.ARCH_KEYS})
        if self.arch["seq_len"] != CELLS:
            raise SystemExit(f"{weights}: seq_len {self.arch['seq_len']}, not a 9x9 Sudoku model")
        self.model = ref.load_state(ref.build_model(self.arch, torch.float32), tensors)
        self.lock = threading.Lock()
        self.pid = torch.zeros(1, dtype=torch.int64)

    def solve(self, puzzle, adaptive=True, max_steps=None):
        cap = self.arch["halt_max_steps"] if max_steps is None else int(max_steps)
        if not 1 <= cap <= 1024:
            raise ValueError("max_steps out of range")
        x = torch.tensor([encode(puzzle)], dtype=torch.int64)
        inner = self.model.inner
        with self.lock, torch.inference_mode():
            z_H, z_L = inner.initial_state(1)
            for step in range(1, cap + 1):
                z_H, z_L, logits, q_halt, _ = inner(z_H, z_L, x, self.pid)
                if adaptive and float(q_halt[0]) > self.halt_threshold:
                    break
            answer = logits[0].argmax(-1).tolist()
            qh = float(q_halt[0])
        return {"answer": decode(answer), "steps": step, "halt_confidence": 1.0 / (1.0 + np.exp(-qh)),
                "q_halt": qh}


def make_handler(solver, module, version):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as wrk expects (the peer's best case)
        # http.server sends the headers and the body in two writes: with Nagle's algorithm on, the
        # body waits for the client's delayed ACK (40 ms a request on Linux loopback)
        disable_nagle_algorithm = True

        def reply(self, code, obj):
            body = (json.dumps(obj) + "\n").encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/healthz":
                return self.reply(200, {"status": "ok"})
            self.reply(404, {"error": "not found"})

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n)
            if not (self.path.startswith("/v1/contexts/") and self.path.endswith("/solve")):
                return self.reply(404, {"error": "not found"})
            try:
                req = json.loads(body)
                puzzles = req["puzzles"] if "puzzles" in req else [req["puzzle"]]
                halt = req.get("halt", "adaptive")
                if halt not in ("adaptive", "fixed"):
                    raise ValueError("halt must be adaptive or fixed")
                runs = [solver.solve(p, halt == "adaptive", req.get("max_steps")) for p in puzzles]
            except (ValueError, KeyError, TypeError) as e:
                return self.reply(400, {"error": str(e)})
            self.reply(200, {"module": module, "version": version, "runs": runs})

    return Handler


def read_puzzles(path):
    out = []
    with open(path) as f:
        for line in f:
            cell = line.strip().split(",")[0]
            if len(cell) == CELLS:
                out.append(cell)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--weights", default=os.path.join(here, "..", "modules", "sudoku9", "weights.safetensors"))
    ap.add_argument("--module", default="sudoku9")
    ap.add_argument("--version", default="1.0.0")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT (loopback only)")
    ap.add_argument("--port-file")
    ap.add_argument("--solve", metavar="FILE", help="print answers for the puzzles of FILE, do not serve")
    ap.add_argument("--halt", default="adaptive", choices=["adaptive", "fixed"])
    ap.add_argument("--halt-threshold", type=float, default=0.0,
                    help="adaptive: halt after the first step whose q_halt is above this (default 0)")
    ap.add_argument("--quiet", action="store_true", help="no per-request log line on stderr")
    args = ap.parse_args()
    torch.set_flush_denormal(True)
    solver = Solver(args.weights, args.threads, args.halt_threshold)

    if args.solve:
        for p in read_puzzles(args.solve):
            print(json.dumps(solver.solve(p, args.halt == "adaptive")))
        return 0

    host, _, port = args.listen.rpartition(":")
    if host not in ("127.0.0.1", "localhost", "::1", "[::1]"):
        raise SystemExit("torch_serve_peer: loopback addresses only")
    handler = make_handler(solver, args.module, args.version)
    if args.quiet:
        handler.log_message = lambda self, *a: None
    server = http.server.ThreadingHTTPServer((host.strip("[]"), int(port)), handler)
    server.daemon_threads = True
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{server.server_address[1]}\n")
        os.replace(tmp, args.port_file)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"torch_serve_peer: listening on {host}:{server.server_address[1]} (torch {torch.__version__}, "
          f"{args.threads} threads)", file=sys.stderr, flush=True)
    server.serve_forever()
    server.server_close()
    sys.stderr.flush()
    os._exit(0)  # not through the interpreter's teardown: torch aborts if a daemon thread is in it


if __name__ == "__main__":
    sys.exit(main())
