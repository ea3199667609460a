"""Recompute published comparisons from the counts the papers print.

These are *recomputed* numbers: they depend only on published counts, so they
would be the same on the real patient data.
"""

from __future__ import annotations

import numbers
from decimal import Decimal

import pandas as pd

from helpers.paths import REGISTER_CSV
from helpers.reproduction import register as reg
from helpers.reproduction.ledger import Ledger
from helpers.reproduction.published import parse_published, rounds_to
from helpers.stats.proportions import chisq_test, fisher_exact
from helpers.stats.validation import as_k_n


# --------------------------------------------------------------------------- #
# which test did the paper use?
# --------------------------------------------------------------------------- #
def _published_text(published_p, published_relation: str) -> str:
    if published_relation not in {"=", "<", ">", "<=", ">="}:
        raise ValueError(f"published_relation must be one of '=', '<', '>', '<=', '>=', got {published_relation!r}")
    if isinstance(published_p, str):
        text = published_p.strip()
    elif isinstance(published_p, (numbers.Real, Decimal)) and not isinstance(published_p, bool):
        text = repr(float(published_p)) if not isinstance(published_p, Decimal) else str(published_p)
    else:
        raise ValueError(f"published_p must be the P value as printed (a string such as '0.036' or '< 0.001') "
                         f"or a number, got {published_p!r}")
    parsed = parse_published(text)  # raises a ValueError for unreadable text
    if parsed.relation == "=" and published_relation != "=":
        text = f"{published_relation} {text}"
    return text


def compare_proportions(k1, n1, k2, n2, published_p=None, published_relation: str = "=") -> pd.DataFrame:
    """Compare two proportions k1/n1 vs k2/n2 with the three usual tests.

    Papers often print "P = 0.036" without saying which test produced it.
    This computes, for the 2 x 2 table ``[[k1, n1 - k1], [k2, n2 - k2]]``:

    * ``fisher_p``  -- two-sided Fisher exact (:func:`fisher_exact`),
    * ``yates_p``   -- chi-square with Yates' correction (R's default),
    * ``chisq_p``   -- chi-square without correction,

    and, when ``published_p`` is given, checks each against the published value
    *at the published number of decimals* with :func:`rounds_to` (so "0.036"
    is matched by anything in [0.0355, 0.0365), "< 0.001" by anything below
    0.001).

    Parameters
    ----------
    k1, n1, k2, n2 : int
        Events and group sizes (0 <= k <= n, n >= 1).
    published_p : str or float, optional
        The P value **as printed**, preferably as text: ``"0.036"``,
        ``"1.000"``, ``"< 0.001"``, ``"P = .049"``. A float works but loses
        trailing zeros (``1.0`` is checked at one decimal, not three).
    published_relation : {"=", "<", ">", "<=", ">="}
        Used only when ``published_p`` carries no relation of its own,
        e.g. ``published_p=0.001, published_relation="<"``.

    Returns
    -------
    pandas.DataFrame
        One row with ``k1, n1, pct1, k2, n2, pct2`` (percent, unrounded),
        ``fisher_p, yates_p, chisq_p``, ``min_expected`` and
        ``chisq_warning`` (R's small-expected-count warning or ""),
        ``published_p`` (the text checked, or None), ``fisher_matches``,
        ``yates_matches``, ``chisq_matches`` (bool, or None without a published
        P) and ``matches``: "Fisher exact", "Yates chi-square", "both" or
        "neither" (None without a published P). An uncorrected chi-square
        match is reported in ``chisq_matches`` only.
    """
    k1, n1 = as_k_n(k1, n1, "k1", "n1")
    k2, n2 = as_k_n(k2, n2, "k2", "n2")
    table = [[k1, n1 - k1], [k2, n2 - k2]]
    fisher_p = fisher_exact(table)
    yates = chisq_test(table, correct=True)
    plain = chisq_test(table, correct=False)
    row = {
        "k1": k1, "n1": n1, "pct1": 100.0 * k1 / n1,
        "k2": k2, "n2": n2, "pct2": 100.0 * k2 / n2,
        "fisher_p": fisher_p,
        "yates_p": float(yates.at[0, "p_value"]),
        "chisq_p": float(plain.at[0, "p_value"]),
        "min_expected": float(yates.at[0, "min_expected"]),
        "chisq_warning": str(yates.at[0, "warning"]),
        "published_p": None,
        "fisher_matches": None,
        "yates_matches": None,
        "chisq_matches": None,
        "matches": None,
    }
    if published_p is not None:
        text = _published_text(published_p, published_relation)
        fm = rounds_to(text, row["fisher_p"])
        ym = rounds_to(text, row["yates_p"])
        row.update(
            published_p=text,
            fisher_matches=fm,
            yates_matches=ym,
            chisq_matches=rounds_to(text, row["chisq_p"]),
            matches={(True, True): "both", (True, False): "Fisher exact",
                     (False, True): "Yates chi-square", (False, False): "neither"}[(fm, ym)],
        )
    return pd.DataFrame([row])

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
