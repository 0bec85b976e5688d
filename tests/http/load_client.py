#!/usr/bin/env python3
"""load_client.py — concurrent solve clients for trmx serve's concurrency and crash tests.

    load_client.py PORT CONTEXT PUZZLES.txt OUT.jsonl --clients N (--requests M | --seconds S)

Each client keeps one connection and posts one puzzle at a time with a fresh random learner; every
request becomes one line of OUT.jsonl: {"sent": t, "done": t, "status": 200, "run_id", "arm"} or
{"sent", "done", "error": "..."} when the connection failed (refused, reset, closed). Times are
time.monotonic(). Bounded: every request has a timeout (--timeout, 30 s), --seconds caps a run.
"""
import argparse
import http.client
import json
import random
import threading
import time


def client(port, context, puzzles, n, until, out, lock, seed, timeout):
    rnd = random.Random(seed)
    conn = None
    i = 0
    while (n is None or i < n) and (until is None or time.monotonic() < until):
        i += 1
        body = json.dumps({"puzzle": rnd.choice(puzzles), "learner": "learner-%016x" % rnd.getrandbits(64)})
        rec = {"sent": time.monotonic()}
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
            conn.request("POST", "/v1/contexts/%s/solve" % context, body, {"Content-Type": "application/json"})
            rec["sent"] = time.monotonic()
            resp = conn.getresponse()
            data = resp.read()
            rec["status"] = resp.status
            if resp.status == 200:
                d = json.loads(data)
                rec["run_id"] = d["runs"][0]["run_id"]
                rec["arm"] = d["arm"]
            else:
                rec["body"] = data.decode("utf-8", "replace")[:300]
        except Exception as e:  # the server went away: refused, reset, closed
            rec["error"] = "%s: %s" % (type(e).__name__, e)
            conn = None
            if until is None:
                break
            time.sleep(0.01)
        rec["done"] = time.monotonic()
        with lock:
            out.write(json.dumps(rec) + "\n")
    if conn is not None:
        conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("context")
    ap.add_argument("puzzles")
    ap.add_argument("out")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--requests", type=int)
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--timeout", type=float, default=30)
    a = ap.parse_args()
    puzzles = [l.split(",")[0].strip() for l in open(a.puzzles) if l.strip() and not l.startswith("puzzle")]
    until = time.monotonic() + a.seconds if a.seconds else None
    lock = threading.Lock()
    with open(a.out, "w") as out:
        ts = [threading.Thread(target=client, args=(a.port, a.context, puzzles, a.requests, until, out, lock, k, a.timeout))
              for k in range(a.clients)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()


if __name__ == "__main__":
    main()
