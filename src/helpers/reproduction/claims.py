"""The papers' qualitative findings, and the one rule that says whether the book's data bear them out.

``data/published_claims.csv`` holds one row per finding a statistic can test ("CML-LBC patients
responded less often", "no difference in severe CRS", "EMD was an independent risk factor for OS"):
where it is, what it says in the book's words, which factor, outcome and population, the measure
the book uses (``measure``), the side of that measure's null the finding predicts (``expected``:
``above`` / ``below`` / ``none``), and the decision ``rule``:

``significant``    holds when P < 0.05 and the estimate lies on the expected side of the null;
``direction``      the paper printed no test (a descriptive finding): holds when the estimate lies
                   on the expected side, whatever P;
``no-difference``  holds when P >= 0.05.

A chapter records only its *evidence* (estimate, CI, P, the method; :meth:`Ledger.claim`); the
status is decided here, at the merge, from the register's rule. Statuses: ``holds``,
``contradicted``, ``not-testable`` (the contract cannot express the factor, outcome or
population; the register says why) and ``not-evaluated`` (testable, but no chapter computes it yet).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from helpers.paths import CLAIMS_CSV

CLAIM_COLUMNS = (
    "claim_id", "study", "location", "statement", "kind", "population", "factor", "outcome", "direction",
    "model", "test", "register_ids", "testable", "note", "chapter", "measure", "expected", "rule",
)
KINDS = ("difference", "association", "independent", "no-difference")
RULES = ("significant", "direction", "no-difference")
EXPECTED = ("above", "below", "none")
CLAIM_STATUSES = ("holds", "contradicted", "not-testable", "not-evaluated")
EVIDENCE_COLUMNS = ("claim_id", "chapter", "estimate", "lower", "upper", "p_value", "null", "method", "note")
ALPHA = 0.05
# Ratios (odds, hazards, medians) have their null at 1; differences at 0.
RATIO_MEASURES = ("odds ratio", "hazard ratio", "ratio of medians (Hodges-Lehmann)")


def null_of(measure: str) -> float:
    return 1.0 if measure in RATIO_MEASURES else 0.0


def load_claims(path: str | Path = CLAIMS_CSV) -> pd.DataFrame:
    """The claims register, checked: unique ids, known kinds, rules and sides, a chapter for
    every testable claim; indexed by ``claim_id``."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in CLAIM_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: the claims register lacks columns {missing}")
    problems = []
    for i, row in frame.iterrows():
        where = f"{path}, row {i + 2} ({row['claim_id']})"
        if row["kind"] not in KINDS:
            problems.append(f"{where}: kind {row['kind']!r} is not one of {KINDS}")
        if row["testable"] not in ("yes", "no"):
            problems.append(f"{where}: testable must be yes or no")
        if row["testable"] == "yes":
            if row["rule"] not in RULES or row["expected"] not in EXPECTED or not row["chapter"]:
                problems.append(f"{where}: a testable claim needs a chapter, a rule in {RULES} and "
                                f"an expected side in {EXPECTED}")
            elif (row["rule"] == "no-difference") != (row["expected"] == "none"):
                problems.append(f"{where}: only a no-difference rule predicts no side ('none')")
    repeated = frame.loc[frame["claim_id"].duplicated(), "claim_id"].tolist()
    if repeated:
        problems.append(f"{path}: claim_id must be unique; repeated: {repeated}")
    if problems:
        raise ValueError("\n".join(problems))
    return frame.set_index("claim_id", drop=False)


def decide(claim: pd.Series, estimate: float, p_value: float) -> tuple[str, str]:
    """``(status, reason)`` of one claim from the book's estimate and P, by the register's rule."""
    if claim["testable"] != "yes":
        return "not-testable", "the data contract cannot express this finding (see the register's note)"
    null = null_of(claim["measure"])
    if claim["rule"] == "no-difference":
        if not math.isfinite(p_value):
            return "contradicted", "no P value could be computed"
        holds = p_value >= ALPHA
        return ("holds" if holds else "contradicted"), f"P {'≥' if holds else '<'} {ALPHA}"
    if not math.isfinite(estimate):
        side_ok = (estimate > 0) == (claim["expected"] == "above") if not math.isnan(estimate) else False
    else:
        side_ok = estimate > null if claim["expected"] == "above" else estimate < null
    side = f"estimate {'on' if side_ok else 'not on'} the expected side of {null:g}"
    if claim["rule"] == "direction":
        return ("holds" if side_ok else "contradicted"), side + " (descriptive finding: P not required)"
    significant = math.isfinite(p_value) and p_value < ALPHA
    return ("holds" if side_ok and significant else "contradicted"), f"{side}; P {'<' if significant else '≥'} {ALPHA}"
