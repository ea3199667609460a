"""Run an R script as an independent oracle, passing data frames as CSV.

The book's statistics are checked against R (``stats``, ``survival``,
``cmprsk``). The exchange is deliberately dumb and generic, so every chapter's
oracle script follows the same contract:

1. :func:`run_rscript` writes each input DataFrame ``inputs[name]`` to
   ``<tmpdir>/<name>.csv`` (no index column).
2. It runs ``Rscript --vanilla <script> <tmpdir>`` with a timeout.
3. The script reads its inputs from ``commandArgs(trailingOnly = TRUE)[1]``
   and writes each result as ``<tmpdir>/<result name>.csv``.
4. Every CSV in ``<tmpdir>`` that is not one of the inputs is read back and
   returned as ``{result name: DataFrame}``.

Numbers should leave R with 17 significant digits
(``format(x, digits = 17)``) so that they read back as the exact doubles R
computed; CSVs are read with ``float_precision="round_trip"``.

A minimal oracle script::

    args <- commandArgs(trailingOnly = TRUE)
    cases <- read.csv(file.path(args[1], "cases.csv"))
    out <- data.frame(p = vapply(cases$x, function(x) format(pnorm(x), digits = 17), ""))
    write.csv(out, file.path(args[1], "result.csv"), row.names = FALSE)

Set the environment variable ``HELPERS_RSCRIPT`` to use an Rscript that is
not the first one on ``PATH``.

The set-up every ``tests/test_*_vs_r.py`` file shares lives here too: an :class:`Oracle`
names one R script with its committed inputs and outputs under ``tests/fixtures/r/``,
loads them (the outputs once per session), re-runs R live and reads R's live output
exactly as the committed output is read, compares the two, and regenerates the fixtures
(``python tests/test_<chapter>.py --regenerate``). A test module that sets
``ORACLE = r_oracle.Oracle(...)`` gets R's live output from the ``live_r`` fixture of
``tests/conftest.py`` (skipped without Rscript). :func:`close` and
:func:`assert_same_frames` are the comparisons those files share.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pandas as pd

_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")

TESTS_DIR = Path(__file__).resolve().parent
FIXTURES = TESTS_DIR / "fixtures" / "r"   # committed inputs and R output
SCRIPTS = TESTS_DIR / "r"                 # the oracle scripts
LIVE_TIMEOUT = 300.0                      # seconds for one live run of an oracle script


class ROracleError(RuntimeError):
    """Rscript is missing, failed, timed out or produced unreadable output."""


def find_rscript(rscript: str | os.PathLike | None = None) -> str | None:
    """Path of the Rscript executable to use, or None when there is none.

    Order: the ``rscript`` argument, the ``HELPERS_RSCRIPT`` environment
    variable, then ``Rscript`` on ``PATH``.
    """
    candidate = rscript if rscript is not None else os.environ.get("HELPERS_RSCRIPT") or "Rscript"
    return shutil.which(str(candidate))


def rscript_available(rscript: str | os.PathLike | None = None) -> bool:
    """True when an Rscript executable can be found (see :func:`find_rscript`)."""
    return find_rscript(rscript) is not None


def run_rscript(
    script_path: str | os.PathLike,
    inputs: dict[str, pd.DataFrame],
    *,
    timeout: float = 120.0,
    rscript: str | os.PathLike | None = None,
    output_dir: str | os.PathLike | None = None,
) -> dict[str, pd.DataFrame]:
    """Run ``Rscript --vanilla script_path <tmpdir>`` and collect its CSV outputs.

    Parameters
    ----------
    script_path : path
        The R script. It receives the exchange directory as its only argument.
    inputs : dict of str -> DataFrame
        Written as ``<tmpdir>/<name>.csv``. Names are file stems: letters,
        digits, ``_``, ``.`` and ``-`` only.
    timeout : float
        Seconds before the R process is killed and :class:`ROracleError` raised.
    rscript : path, optional
        The Rscript executable (default: see :func:`find_rscript`).
    output_dir : path, optional
        Also copy every output CSV, byte for byte, into this directory (used to
        regenerate committed fixtures without re-formatting R's numbers).

    Returns
    -------
    dict of str -> DataFrame
        One entry per CSV the script wrote (keyed by file stem), read with
        ``float_precision="round_trip"``.

    Raises
    ------
    ROracleError
        Rscript not found, non-zero exit (the message carries R's stderr),
        timeout, or no output at all.
    FileNotFoundError
        ``script_path`` does not exist.
    """
    script = Path(script_path).resolve()
    if not script.is_file():
        raise FileNotFoundError(f"R script not found: {script}")
    executable = find_rscript(rscript)
    if executable is None:
        wanted = rscript or os.environ.get("HELPERS_RSCRIPT") or "Rscript"
        raise ROracleError(f"Rscript executable {str(wanted)!r} not found; install R "
                           "(make r-oracle) or set HELPERS_RSCRIPT")
    for name, frame in inputs.items():
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise ValueError(f"input name {name!r} is not a plain file stem (letters, digits, _ . -)")
        if not isinstance(frame, pd.DataFrame):
            raise ValueError(f"inputs[{name!r}] must be a pandas DataFrame, got {type(frame).__name__}")

    with tempfile.TemporaryDirectory(prefix="r_oracle_") as tmp:
        tmpdir = Path(tmp)
        for name, frame in inputs.items():
            frame.to_csv(tmpdir / f"{name}.csv", index=False)
        command = [executable, "--vanilla", str(script), str(tmpdir)]
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                  cwd=tmpdir, check=False)
        except subprocess.TimeoutExpired as exc:
            stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            raise ROracleError(f"Rscript {script.name} timed out after {timeout:g} s\n"
                               f"--- R stderr ---\n{stderr.strip()}") from None
        if proc.returncode != 0:
            raise ROracleError(f"Rscript {script.name} failed with exit status {proc.returncode}\n"
                               f"--- R stderr ---\n{proc.stderr.strip()}\n"
                               f"--- R stdout ---\n{proc.stdout.strip()}")
        outputs = sorted(p for p in tmpdir.glob("*.csv") if p.stem not in inputs)
        if not outputs:
            raise ROracleError(f"Rscript {script.name} exited normally but wrote no CSV output to {tmpdir}\n"
                               f"--- R stderr ---\n{proc.stderr.strip()}")
        results: dict[str, pd.DataFrame] = {}
        for path in outputs:
            try:
                results[path.stem] = pd.read_csv(path, float_precision="round_trip")
            except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
                raise ROracleError(f"Rscript {script.name}: cannot read output {path.name}: {exc}") from None
        if output_dir is not None:
            target = Path(output_dir)
            target.mkdir(parents=True, exist_ok=True)
            for path in outputs:
                shutil.copyfile(path, target / path.name)
    return results


def r_version(rscript: str | os.PathLike | None = None, timeout: float = 30.0) -> str:
    """``R.version.string`` of the Rscript in use (e.g. "R version 4.2.2 Patched ...")."""
    executable = find_rscript(rscript)
    if executable is None:
        raise ROracleError("Rscript executable not found")
    proc = subprocess.run([executable, "--vanilla", "-e", "cat(R.version.string)"],
                          capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise ROracleError(f"Rscript failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def fixture_mismatches(committed: pd.DataFrame, live: pd.DataFrame, *, tol: float,
                       relative: bool = False) -> list[str]:
    """Where committed R fixtures no longer equal R's live output; empty when they agree.

    Numeric columns agree within ``tol`` (absolute; with ``relative=True``, ``tol`` times the
    larger of 1 and the smaller magnitude of the two values); missing values agree with missing
    values. Every other column must agree exactly, as text. The first column names the rows.
    """
    if committed.columns.tolist() != live.columns.tolist():
        return [f"columns differ: {committed.columns.tolist()} vs live {live.columns.tolist()} (stale fixture?)"]
    if len(committed) != len(live):
        return [f"row count differs: {len(committed)} vs live {len(live)} (stale fixture?)"]
    problems = []
    for column in committed.columns:
        a, b = committed[column], live[column]
        numeric = all(pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) for s in (a, b))
        if numeric:
            x, y = a.to_numpy(float), b.to_numpy(float)
            bound = tol * np.maximum(1.0, np.minimum(np.abs(x), np.abs(y))) if relative else tol
            with np.errstate(invalid="ignore"):
                same = (np.isnan(x) & np.isnan(y)) | (x == y) | (np.abs(x - y) <= bound)
        else:
            same = (a.astype(str) == b.astype(str)).to_numpy()
        if not same.all():
            rows = committed.iloc[:, 0][~same].tolist()
            problems.append(f"{column}: rows {rows} differ from live R "
                            f"(committed {a[~same].tolist()} vs live {b[~same].tolist()}) -- regenerate the fixtures?")
    return problems


# --------------------------------------------------------------------------- #
# one oracle script and its committed fixtures (shared by the *_vs_r test files)
# --------------------------------------------------------------------------- #
@dataclass
class Oracle:
    """One R oracle script with its committed inputs and outputs in :data:`FIXTURES`.

    ``inputs`` and ``outputs`` are CSV stems; ``session`` the stem of the CSV that records R's
    version. Inputs are read with ``read_inputs`` (default: every column as text, nothing read
    as missing), outputs -- committed and live alike -- with ``read_outputs`` and
    ``float_precision="round_trip"``, so both sides of a comparison are parsed the same way.
    """

    script: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    session: str
    read_inputs: dict = field(default_factory=lambda: dict(dtype=str, keep_default_na=False))
    read_outputs: dict = field(default_factory=dict)
    _expected: Optional[dict] = field(default=None, init=False, repr=False)

    @property
    def script_path(self) -> Path:
        return SCRIPTS / self.script

    def load_inputs(self) -> dict[str, pd.DataFrame]:
        """The committed inputs (what R reads)."""
        return {name: pd.read_csv(FIXTURES / f"{name}.csv", **self.read_inputs) for name in self.inputs}

    def inputs_or(self, make_inputs: Callable[[], dict]) -> dict[str, pd.DataFrame]:
        """The committed inputs, or ``make_inputs()`` before the first ``--regenerate``."""
        try:
            return self.load_inputs()
        except FileNotFoundError:
            return make_inputs()

    def _read_output(self, path: Path) -> pd.DataFrame:
        return pd.read_csv(path, float_precision="round_trip", **self.read_outputs)

    def expected(self) -> dict[str, pd.DataFrame]:
        """The committed R output, read once (lazily, so that ``--regenerate`` works without it)."""
        if self._expected is None:
            self._expected = {name: self._read_output(FIXTURES / f"{name}.csv") for name in self.outputs}
        return self._expected

    def committed_r_version(self) -> str:
        """``R.version.string`` recorded when the committed output was written."""
        return str(pd.read_csv(FIXTURES / f"{self.session}.csv").at[0, "r_version"])

    def live(self) -> dict[str, pd.DataFrame]:
        """R's output now, read as the committed output is; skips the calling test without Rscript."""
        if not rscript_available():
            import pytest

            pytest.skip("Rscript not available")
        with tempfile.TemporaryDirectory(prefix="r_oracle_live_") as tmp:
            run_rscript(self.script_path, self.load_inputs(), timeout=LIVE_TIMEOUT, output_dir=tmp)
            return {path.stem: self._read_output(path) for path in sorted(Path(tmp).glob("*.csv"))}

    def live_mismatches(self, live: dict[str, pd.DataFrame], name: str, *, tol: float,
                        relative: bool = False) -> list[str]:
        """:func:`fixture_mismatches` of committed output ``name`` against R's live output."""
        return fixture_mismatches(self.expected()[name], live[name], tol=tol, relative=relative)

    def regenerate(self, make_inputs: Optional[Callable[[], dict]] = None) -> None:
        """Rewrite the inputs (when ``make_inputs`` builds them) and re-run R into the fixtures."""
        FIXTURES.mkdir(parents=True, exist_ok=True)
        for name, frame in (make_inputs() if make_inputs else {}).items():
            frame.to_csv(FIXTURES / f"{name}.csv", index=False, lineterminator="\n")
        out = run_rscript(self.script_path, self.load_inputs(), timeout=LIVE_TIMEOUT, output_dir=FIXTURES)
        print(f"wrote {', '.join(sorted(out))} to {FIXTURES} with {r_version()}")

    def main(self, argv: list[str], *, make_inputs: Optional[Callable[[], dict]] = None,
             commands: Optional[dict[str, Callable[[], None]]] = None) -> None:
        """Command line of a test file: ``--regenerate`` and any extra ``commands``."""
        known = {"--regenerate": lambda: self.regenerate(make_inputs), **(commands or {})}
        if len(argv) == 1 and argv[0] in known:
            known[argv[0]]()
        else:
            sys.exit(f"usage: python tests/{Path(sys.argv[0]).name} {' | '.join(known)}")


def close(ours, theirs, what: str, *, tol: float) -> None:
    """Assert ``ours`` equals R's ``theirs`` within ``tol`` (absolute), value by value; NaN
    matches NaN and an infinity the same infinity. The message names ``what`` and the rows."""
    ours = np.asarray(ours, float)
    theirs = np.asarray(theirs, float)
    assert theirs.size > 0, f"{what}: nothing to compare (no fixture rows matched)"
    assert ours.shape == theirs.shape, f"{what}: {ours.shape} values vs R's {theirs.shape}"
    both_nan = np.isnan(ours) & np.isnan(theirs)
    both_inf = np.isinf(ours) & np.isinf(theirs) & (np.sign(ours) == np.sign(theirs))
    with np.errstate(invalid="ignore"):
        ok = both_nan | both_inf | (np.abs(ours - theirs) <= tol)
    bad = np.flatnonzero(~ok)
    assert ok.all(), f"{what}: rows {bad.tolist()[:5]}: ours {ours[bad][:5]} vs R {theirs[bad][:5]}"


def assert_same_frames(built: dict[str, pd.DataFrame], committed: dict[str, pd.DataFrame], names) -> None:
    """The committed inputs are exactly what the test file's ``make_inputs`` builds: same
    columns, numbers equal to the last bit (NaN matching NaN), text equal as text."""
    for name in names:
        a, b = built[name].reset_index(drop=True), committed[name].reset_index(drop=True)
        assert list(a.columns) == list(b.columns), name
        for col in a.columns:
            if pd.api.types.is_numeric_dtype(a[col]):
                np.testing.assert_array_equal(a[col].to_numpy(float), b[col].to_numpy(float), err_msg=f"{name}.{col}")
            else:
                assert a[col].astype(str).tolist() == b[col].astype(str).tolist(), f"{name}.{col}"
