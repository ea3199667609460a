"""Run a command and measure it: wall seconds and the peak memory of its whole process tree.

The peak is the largest sum of resident set sizes (RSS) over the command's process and all its
descendants (the build's workers, their forked kernels, Sphinx, Chromium), sampled from /proc
every ``interval`` seconds; a process living less than one interval may be missed. Forked
kernels share pages with their worker until they write them, so the sum counts shared pages
more than once: it is an upper bound of what the machine needed.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def tree_rss(pid: int) -> int:
    """Bytes resident in ``pid`` and its descendants now."""
    return tree_memory(pid)[0]


def _pss(pid: int) -> int:
    """Proportional set size of one process in bytes: each page shared by k processes counts 1/k."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def tree_memory(pid: int) -> tuple[int, int]:
    """(summed RSS, summed PSS) in bytes of ``pid`` and its descendants now. The RSS sum counts a
    page shared by forked processes once per process; the PSS sum counts it once in all."""
    tree, rss, pss, todo = _children(), 0, 0, [pid]
    while todo:
        current = todo.pop()
        try:
            rss += int(Path(f"/proc/{current}/statm").read_text().split()[1]) * PAGE
            pss += _pss(current)
        except (OSError, ValueError):
            pass
        todo += tree.get(current, [])
    return rss, pss


def as_make_runs_it(env: dict | None = None) -> dict:
    """``env`` (default: this process's) without PYTHONDONTWRITEBYTECODE, which the Makefile
    unexports and a shell may set. Inherited, it kept every module edited since its bytecode was
    written compiling again in each measured process."""
    return {k: v for k, v in (os.environ if env is None else env).items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_measured(command: list[str], interval: float = 0.1, **kwargs) -> tuple[float, int, str, int]:
    """(seconds, peak tree RSS in bytes, output, exit code) of ``command``, run as ``make`` runs
    it (:func:`as_make_runs_it`)."""
    kwargs["env"] = as_make_runs_it(kwargs.get("env"))
    with tempfile.TemporaryFile("w+") as output:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, text=True, **kwargs)
        peak = 0
        while process.poll() is None:
            peak = max(peak, tree_rss(process.pid))
            time.sleep(interval)
        seconds = time.perf_counter() - start
        output.seek(0)
        return seconds, peak, output.read(), process.returncode
