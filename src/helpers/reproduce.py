"""Recompute published comparisons from the counts the papers print.

These are *recomputed* numbers: they depend only on published counts, so they
would be the same on the real patient data.
"""

from __future__ import annotations

import pandas as pd

from . import register as reg
from .ledger import Ledger
from .paths import REGISTER_CSV
from .stats import chisq_test, fisher_exact, rounds_to

TESTS = ("Fisher exact", "Yates chi-square")


def compared_counts(p_register_id: str, register_csv=REGISTER_CSV) -> list[tuple[str, str, int, int]]:
    """(register_id, group, k, n) of each proportion a published P value compares."""
    row = reg.entry(p_register_id, register_csv)
    ids = [i.strip() for i in str(row["compares"]).split(";") if i.strip()]
    if len(ids) != 2:
        raise ValueError(f"{p_register_id}: expected two compared register rows, found {ids}")
    found = []
    for rid in ids:
        r = reg.entry(rid, register_csv)
        if pd.isna(r["numerator"]) or pd.isna(r["denominator"]):
            raise ValueError(f"{rid}: compared row has no numerator/denominator")
        found.append((rid, str(r["group"]), int(r["numerator"]), int(r["denominator"])))
    return found


def recompute_comparison(p_register_id: str, register_csv=REGISTER_CSV) -> dict:
    """Both tests on the published 2×2 table, and which reproduces the printed P."""
    row = reg.entry(p_register_id, register_csv)
    (_, g1, k1, n1), (_, g2, k2, n2) = compared_counts(p_register_id, register_csv)
    table = [[k1, n1 - k1], [k2, n2 - k2]]
    p_fisher = fisher_exact(table)
    p_yates = float(chisq_test(table, correct=True).iloc[0]["p_value"])
    published = str(row["value_text"])
    matching = [name for name, p in zip(TESTS, (p_fisher, p_yates)) if rounds_to(published, p)]
    return {
        "register_id": p_register_id, "quantity": row["quantity"],
        "comparison": f"{g1} {k1}/{n1} vs {g2} {k2}/{n2}",
        "published P": published, "Fisher exact P": p_fisher, "Yates chi-square P": p_yates,
        "reproduced by": " and ".join(matching) if matching else "neither",
    }


def comparison_table(p_register_ids: list[str], register_csv=REGISTER_CSV,
                     ledger: Ledger | None = None) -> pd.DataFrame:
    """One row per published P value; records each in the ledger when one is given.

    The ledger row holds the P of the test that reproduces the published value
    (Fisher's when both do); the note gives the other test's P, so the
    inference about which test the authors used is visible.
    """
    rows = [recompute_comparison(pid, register_csv) for pid in p_register_ids]
    if ledger is not None:
        for r in rows:
            used = "Yates chi-square" if r["reproduced by"] == "Yates chi-square" else "Fisher exact"
            other = "Yates chi-square" if used == "Fisher exact" else "Fisher exact"
            ledger.record(
                r["register_id"], r[f"{used} P"], basis="recomputed",
                note=(f"{used} on the published counts ({r['comparison']}); "
                      f"{other} gives {r[f'{other} P']:.4f}; reproduced by: {r['reproduced by']}"),
            )
    frame = pd.DataFrame(rows)
    for col in ("Fisher exact P", "Yates chi-square P"):
        frame[col] = frame[col].map(lambda p: f"{p:.4f}" if p >= 1e-4 else f"{p:.1e}")
    return frame
