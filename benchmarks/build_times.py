"""Measure build wall times: clean build, no-change rebuild, one-chapter edit.

Run with ``make bench`` (never part of the tests). Prints a table.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"


def timed_build(*args: str) -> float:
    start = time.perf_counter()
    completed = subprocess.run([sys.executable, "-m", "helpers.build", *args], cwd=ROOT,
                               capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if completed.returncode != 0:
        sys.exit(f"build failed:\n{completed.stdout[-2000:]}\n{completed.stderr[-4000:]}")
    return seconds


def edit_one_chapter() -> dict[Path, bytes]:
    """Add a sentence to one chapter's text twin and sync its notebook twin (restored afterwards)."""
    text = ROOT / "book" / "baselines.md"
    notebook = ROOT / "notebooks" / "baselines.ipynb"
    originals = {text: text.read_bytes(), notebook: notebook.read_bytes()}
    text.write_text(text.read_text() + "\nA sentence added by the benchmark.\n")
    subprocess.run([str(Path(sys.executable).with_name("jupytext")), "--sync", str(text)], cwd=ROOT,
                   check=True, capture_output=True)
    return originals


def main() -> None:
    shutil.rmtree(BUILD, ignore_errors=True)
    clean = timed_build()
    unchanged = timed_build()
    originals = edit_one_chapter()
    try:
        one_chapter = timed_build("--no-regenerate")
    finally:
        for path, content in originals.items():
            path.write_bytes(content)
    timed_build()  # leave the site matching the committed sources
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{'build':<28}{'seconds':>10}{'% of clean':>12}")
    for name, seconds in (("clean (execute + render)", clean), ("no-change rebuild", unchanged),
                          ("one chapter edited", one_chapter)):
        print(f"{name:<28}{seconds:>10.1f}{100 * seconds / clean:>11.0f}%")


if __name__ == "__main__":
    main()
