#!/usr/bin/env python3
"""`sncguard` under tracemalloc, for the benchmark's memory attribution (``run.py --tracemalloc FILE``).

Not used by the operator itself. tracemalloc is on from the start (6 frames per allocation); each
SIGUSR1 appends the traced memory (current and peak) and the top allocation sites, by line and by
traceback, to FILE; FILE.peak is rewritten near each new high of traced memory (32 MiB above the
last one), which is where the peak RSS comes from. tracemalloc roughly doubles the operator's
memory and slows it down: the other figures of such a run are not comparable.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
import tracemalloc


def write_snapshot(path: str, count: list[int]) -> None:
    count[0] += 1
    snapshot = tracemalloc.take_snapshot().filter_traces((tracemalloc.Filter(False, tracemalloc.__file__),))
    current, peak = tracemalloc.get_traced_memory()
    with open(path, "a") as out:
        out.write(f"==== snapshot {count[0]} at {time.strftime('%H:%M:%S')}: traced {current / 2**20:.1f} MiB, "
                  f"peak {peak / 2**20:.1f} MiB\n-- top 30 by line\n")
        for stat in snapshot.statistics("lineno")[:30]:
            out.write(f"{stat.size / 2**20:8.2f} MiB {stat.count:9d} blocks  {stat.traceback[0]}\n")
        out.write("-- top 15 by traceback\n")
        for stat in snapshot.statistics("traceback")[:15]:
            out.write(f"{stat.size / 2**20:8.2f} MiB {stat.count:9d} blocks\n")
            for frame in stat.traceback.format(most_recent_first=True):
                out.write(f"      {frame}\n")
        out.write("\n")


def watch_peak(path: str) -> None:
    last = 0
    count = [0]
    while True:
        time.sleep(1)
        current, peak = tracemalloc.get_traced_memory()
        if current >= last + 32 * 2**20 and current >= 0.95 * peak:
            last = current
            tmp = path + ".peak.tmp"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            write_snapshot(tmp, count)
            os.replace(tmp, path + ".peak")


def start(path: str) -> None:
    tracemalloc.start(6)
    count = [0]
    signal.signal(signal.SIGUSR1, lambda *_: threading.Thread(
        target=write_snapshot, args=(path, count), daemon=True).start())
    threading.Thread(target=watch_peak, args=(path,), daemon=True).start()


if __name__ == "__main__":
    start(os.environ["BENCH_TRACEMALLOC"])
    from sncguard.cli import main

    sys.exit(main())
