"""Synthetic patient-level cohorts that agree with every published aggregate.

The four seed studies publish aggregates only; their patient-level data are not
public. The book therefore ships *synthetic* cohorts, generated here, in the
tables of the data contract (:mod:`helpers.contract.spec`):

``data/synthetic/<study>/<table>.csv`` plus ``provenance.csv``, which states for
every column whether it is

* ``calibrated`` -- invented patients whose marginal counts (or survival
  estimates) are forced to the published numbers named in ``register_ids``;
* ``published``  -- transcribed from the paper (study 001, two case reports);
* ``synthetic``  -- invented, clinically plausible, constrained by nothing
  published.

Every published number comes from the register (:mod:`helpers.reproduction.register`) by its
``register_id``; none is typed in the generators. What *is* typed there are the design
choices of the generator (unpublished splits, time windows, distributions),
each marked as such.

Determinism: every study uses its own :class:`numpy.random.Generator` seeded
from ``(seed, study)``; every calibration search walks a fixed sequence of
candidate sub-seeds and stops at the first candidate inside the tolerances
(or keeps the best one), so the same seed always gives the same bytes.
Floats are written with fixed formats (days to one decimal), rows in a fixed
order, ``\\n`` line endings, and nothing depends on the clock.

Layout: this module is the entry point (:func:`generate`, :func:`study_texts`,
:func:`write_study`, :func:`write_all`, :func:`main`); each study has its own generator
module with its calibration notes (:mod:`helpers.synthetic.study_000`, ``study_001``,
``study_003``, ``study_004``), and the machinery they share (register access, study rows
and provenance, CSV formatting, row builders) is in :mod:`helpers.synthetic.common`.

Command line::

    python -m helpers.synthetic --out data/synthetic [--seed N]
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path
from typing import Callable, Optional

import pandas as pd

from helpers.contract.spec import TABLES
from helpers.paths import SYNTHETIC_DIR
from helpers.synthetic import study_000, study_001, study_003, study_004
from helpers.synthetic.common import (
    KINETICS_LLOQ,
    PROVENANCE_COLUMNS,
    PROVENANCE_KINDS,
    REGISTER_PATH,
    YEAR_DAYS,
    Study,
    to_csv_text,
)

__all__ = [
    "DEFAULT_SEED",
    "KINETICS_LLOQ",
    "PROVENANCE_COLUMNS",
    "PROVENANCE_KINDS",
    "REGISTER_PATH",
    "STUDIES",
    "YEAR_DAYS",
    "generate",
    "main",
    "study_texts",
    "to_csv_text",
    "write_all",
    "write_study",
]

DEFAULT_SEED = 20240101
STUDIES = ("000", "001", "003", "004")


_GENERATORS: dict[str, Callable[[int], Study]] = {
    "000": study_000.generate, "001": study_001.generate,
    "003": study_003.generate, "004": study_004.generate,
}


def _generate_study(study: str, seed: int) -> Study:
    if study not in _GENERATORS:
        raise KeyError(f"unknown study {study!r}; known: {', '.join(STUDIES)}")
    return _GENERATORS[study](int(seed))


def generate(study: str, seed: int = DEFAULT_SEED) -> dict[str, pd.DataFrame]:
    """The synthetic tables of one study: contract table name -> DataFrame, plus ``provenance``.

    Tables without data for the study are absent (e.g. no kinetics for 003).
    The calibration report (achieved vs published) is in ``tables["patients"].attrs["calibration"]``.
    """
    st = _generate_study(study, seed)
    frames = st.frames()
    frames["patients"].attrs["calibration"] = st.report
    return frames


def study_texts(study: str, seed: int = DEFAULT_SEED) -> dict[str, str]:
    """File name -> exact CSV text for one study (what :func:`write_study` writes)."""
    frames = generate(study, seed)
    texts = {}
    for name, df in frames.items():
        if name == "provenance":
            buf = io.StringIO()
            df.to_csv(buf, index=False, lineterminator="\n")
            texts["provenance.csv"] = buf.getvalue()
        else:
            texts[f"{name}.csv"] = to_csv_text(df, name)
    return texts


def write_study(study: str, out_dir: Path | str, seed: int = DEFAULT_SEED) -> list[Path]:
    """Write ``<out_dir>/<study>/*.csv``; stale contract files of the study are removed."""
    folder = Path(out_dir) / study
    folder.mkdir(parents=True, exist_ok=True)
    texts = study_texts(study, seed)
    for name in [f"{t}.csv" for t in TABLES] + ["provenance.csv"]:
        if name not in texts and (folder / name).exists():
            (folder / name).unlink()
    written = []
    for name in sorted(texts):
        path = folder / name
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(texts[name])
        written.append(path)
    return written


def write_all(out_dir: Path | str = SYNTHETIC_DIR, seed: int = DEFAULT_SEED,
              studies=STUDIES) -> list[Path]:
    """Write every study's synthetic cohort under ``out_dir``."""
    written = []
    for study in studies:
        written += write_study(study, out_dir, seed)
    return written


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.synthetic",
                                     description="Write the synthetic cohorts (CSV per table per study).")
    parser.add_argument("--out", default=str(SYNTHETIC_DIR), help="output folder (default: data/synthetic)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    parser.add_argument("--study", action="append", choices=STUDIES,
                        help="only this study (repeatable; default: all)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    paths = write_all(args.out, args.seed, tuple(args.study) if args.study else STUDIES)
    print(f"wrote {len(paths)} files under {args.out} in {time.perf_counter() - t0:.2f} s (seed {args.seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
