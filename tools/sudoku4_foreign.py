#!/usr/bin/env python3
"""sudoku4_foreign.py N SEED — 4x4 Sudoku puzzles from a generator independent of trmx's, as CSV
(puzzle,solution) on standard output: a random full grid by randomized backtracking, then a random
set of 4 to 12 clues (uniform), kept when the puzzle has exactly one solution. Unlike trmx gen,
the puzzles are not minimal: they stand for 4x4 puzzles "from any source" (issue 20; the model
cards of sudoku4 and sudoku4-hrm). Plain Python, no dependencies."""
import random
import sys


def fits(g, i, d):
    r, c = divmod(i, 4)
    if any(g[r * 4 + k] == d for k in range(4)) or any(g[k * 4 + c] == d for k in range(4)):
        return False
    br, bc = r // 2 * 2, c // 2 * 2
    return not any(g[(br + a) * 4 + bc + b] == d for a in range(2) for b in range(2))


def count(g, limit=2):
    """Solutions of g (0 blank), up to limit."""
    try:
        i = g.index(0)
    except ValueError:
        return 1
    n = 0
    for d in range(1, 5):
        if fits(g, i, d):
            g[i] = d
            n += count(g, limit - n)
            g[i] = 0
            if n >= limit:
                break
    return n


def full_grid(rng):
    g = [0] * 16

    def fill(i):
        if i == 16:
            return True
        digits = [1, 2, 3, 4]
        rng.shuffle(digits)
        for d in digits:
            if fits(g, i, d):
                g[i] = d
                if fill(i + 1):
                    return True
                g[i] = 0
        return False

    fill(0)
    return g


def main():
    n, seed = int(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(seed)
    print("puzzle,solution")
    made = 0
    while made < n:
        s = full_grid(rng)
        keep = set(rng.sample(range(16), rng.randint(4, 12)))
        p = [s[i] if i in keep else 0 for i in range(16)]
        if count(p[:]) != 1:
            continue
        print("".join(str(x) if x else "." for x in p) + "," + "".join(map(str, s)))
        made += 1


if __name__ == "__main__":
    main()
