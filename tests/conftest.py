"""Shared fixtures: one forced build of the whole book per test session."""

import subprocess
import sys

import pytest

from helpers.paths import REPO_ROOT


def run_build(*args):
    return subprocess.run([sys.executable, "-m", "helpers.build", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=1800)


@pytest.fixture(scope="session")
def built():
    """A clean, forced build (every chapter executed) and its output."""
    completed = run_build("--force")
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-6000:]
    return completed
