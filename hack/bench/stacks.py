#!/usr/bin/env python3
"""Summarise a py-spy ``--format raw`` profile (collapsed stacks): self and inclusive share per frame.

    hack/bench/stacks.py PROFILE [FOCUS] [--top N]

With FOCUS (a substring of a frame, e.g. ``TenantPolicyReconciler.reconcile``), only the samples
whose stack holds that frame count, from that frame down.
"""

from __future__ import annotations

import argparse
from collections import Counter


def summarise(path: str, focus: str | None = None, top: int = 25) -> str:
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    with open(path) as fh:
        for line in fh:
            stack, _, n = line.rstrip().rpartition(" ")
            if not n.isdigit():
                continue
            frames = stack.split(";")
            if focus:
                hits = [i for i, f in enumerate(frames) if focus in f]
                if not hits:
                    continue
                frames = frames[hits[0]:]
            count = int(n)
            total += count
            own[frames[-1]] += count
            for f in set(frames):
                incl[f] += count
    out = [f"samples {total}" + (f" under {focus}" if focus else ""), "--- self"]
    out += [f"{n / total:6.1%} {n:6d} {f}" for f, n in own.most_common(top)]
    out += ["--- inclusive"]
    out += [f"{n / total:6.1%} {n:6d} {f}" for f, n in incl.most_common(top * 2)]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("profile")
    parser.add_argument("focus", nargs="?")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    print(summarise(args.profile, args.focus, args.top))


if __name__ == "__main__":
    main()
