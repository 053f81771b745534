"""How many cores are free right now, for choosing llama.cpp's thread count.

Why not the load average: it remembers the last minute, including this program's own earlier
runs, so back-to-back one-shot calls on an idle 2-core box backed off to one thread and their
cold starts nearly doubled (evals/RESULTS.md, "Runtime"). Instead, sample ``/proc/stat`` over a
short window and subtract this process's own CPU time (``/proc/self/stat``): what is left is
what *other* programs are using now. Elsewhere (no ``/proc``), fall back to the load average.
"""

from __future__ import annotations

import os
import time

__all__ = ["busy_elsewhere", "usable_cores"]

#: user, nice, system, idle, iowait, irq, softirq, steal (guest time is already in user/nice)
_FIELDS = 8


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _system_ticks() -> tuple[int, int]:
    """(all ticks, idle ticks) summed over every core since boot."""
    with open("/proc/stat") as f:
        vals = [int(v) for v in f.readline().split()[1 : 1 + _FIELDS]]
    return sum(vals), vals[3] + vals[4]


def _own_ticks() -> int:
    """This process's user + system ticks (all its threads)."""
    with open("/proc/self/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2 :].split()  # the name may contain spaces
    return int(fields[11]) + int(fields[12])


def busy_elsewhere(window_s: float = 0.15) -> float:
    """Cores' worth of CPU that other processes used over the last ``window_s`` (e.g. 1.0 =
    one core fully busy). Falls back to the 1-minute load average where ``/proc`` is missing."""
    try:
        total0, idle0 = _system_ticks()
        own0 = _own_ticks()
        time.sleep(window_s)
        total1, idle1 = _system_ticks()
        own1 = _own_ticks()
    except (OSError, ValueError, IndexError):
        try:
            return os.getloadavg()[0]
        except (AttributeError, OSError):
            return 0.0
    elapsed = total1 - total0
    if elapsed <= 0:
        return 0.0
    cores = os.cpu_count() or 1  # /proc/stat counts every online core
    busy = elapsed - (idle1 - idle0) - (own1 - own0)
    return max(0.0, busy / elapsed * cores)
