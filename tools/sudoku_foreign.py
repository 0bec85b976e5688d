#!/usr/bin/env python3
"""sudoku_foreign.py [--size 4|6|9] [--clues LO-HI] N SEED — Sudoku puzzles from a generator
independent of trmx's, as CSV (puzzle,solution,rating; the rating is the number of clues) on
standard output. Plain Python, no dependencies. They stand for puzzles "from any source" in the
model cards (issue 20): unlike `trmx gen sudoku`, the puzzles are not minimal and have no level.

A random full grid by randomized backtracking (cells in reading order, digits shuffled), then
  4x4: a random set of LO to HI clues (default 4-12, uniform), kept when the puzzle has exactly
       one solution, else a new grid;
  6x6, 9x9: a clue count drawn uniformly from LO-HI (default 10-22 and 22-40), and the cells
       emptied in a random order, each kept empty when the solution stays unique, until that
       count is reached or no cell can go (a minimal puzzle above the count).
6x6 boxes are 2 rows by 3 columns. The same size, clues, N and SEED give the same output."""
import argparse
import random
import sys

BOX = {4: (2, 2), 6: (2, 3), 9: (3, 3)}
CLUES = {4: (4, 12), 6: (10, 22), 9: (22, 40)}


class Grid:
    def __init__(self, size):
        self.n = size
        br, bc = BOX[size]
        self.peers = []
        for i in range(size * size):
            r, c = divmod(i, size)
            p = {r * size + k for k in range(size)} | {k * size + c for k in range(size)}
            r0, c0 = r // br * br, c // bc * bc
            p |= {(r0 + a) * size + c0 + b for a in range(br) for b in range(bc)}
            p.discard(i)
            self.peers.append(tuple(p))

    def fits(self, g, i, d):
        return all(g[j] != d for j in self.peers[i])

    def count(self, g, limit=2):
        """Solutions of g (0 blank), up to limit: backtracking on the blank with fewest options."""
        best, options = -1, None
        for i, v in enumerate(g):
            if v:
                continue
            used = {g[j] for j in self.peers[i]}
            opts = [d for d in range(1, self.n + 1) if d not in used]
            if options is None or len(opts) < len(options):
                best, options = i, opts
                if len(opts) <= 1:
                    break
        if best < 0:
            return 1
        found = 0
        for d in options:
            g[best] = d
            found += self.count(g, limit - found)
            if found >= limit:
                break
        g[best] = 0
        return found

    def full(self, rng):
        cells = self.n * self.n
        g = [0] * cells

        def fill(i):
            if i == cells:
                return True
            digits = list(range(1, self.n + 1))
            rng.shuffle(digits)
            for d in digits:
                if self.fits(g, i, d):
                    g[i] = d
                    if fill(i + 1):
                        return True
                    g[i] = 0
            return False

        fill(0)
        return g


def puzzle(grid, rng, lo, hi):
    cells = grid.n * grid.n
    while True:
        s = grid.full(rng)
        if grid.n == 4:
            keep = set(rng.sample(range(cells), rng.randint(lo, hi)))
            p = [s[i] if i in keep else 0 for i in range(cells)]
            if grid.count(p) == 1:
                return p, s
            continue
        target = rng.randint(lo, hi)
        p = s[:]
        clues = cells
        order = list(range(cells))
        rng.shuffle(order)
        for i in order:
            if clues <= target:
                break
            p[i] = 0
            if grid.count(p) == 1:  # count leaves p as it found it
                clues -= 1
            else:
                p[i] = s[i]
        return p, s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, choices=sorted(BOX), default=4)
    ap.add_argument("--clues", help="LO-HI: clue counts (default by size: 4-12, 10-22, 22-40)")
    ap.add_argument("n", type=int)
    ap.add_argument("seed", type=int)
    a = ap.parse_args()
    lo, hi = CLUES[a.size]
    if a.clues:
        try:
            lo, hi = (int(x) for x in a.clues.split("-"))
        except ValueError:
            ap.error("--clues must be LO-HI, two whole numbers")
    if not 0 <= lo <= hi <= a.size * a.size or a.n < 0:
        ap.error(f"--clues must satisfy 0 <= LO <= HI <= {a.size * a.size}, and N >= 0")
    grid = Grid(a.size)
    rng = random.Random(a.seed)
    out = sys.stdout
    out.write("puzzle,solution,rating\n")
    for _ in range(a.n):
        p, s = puzzle(grid, rng, lo, hi)
        out.write("".join(str(x) if x else "." for x in p) + "," + "".join(map(str, s)) + ",%d\n" % sum(1 for x in p if x))


if __name__ == "__main__":
    main()
