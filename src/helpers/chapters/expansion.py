"""Code specific to the expansion chapter: study 000's peak comparisons and study 001's kinetic facts."""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
import pandas as pd

from helpers.clinical.kinetics import (
    compare_kinetics,
    first_recovery_day,
)
from helpers.clinical.outcomes import first_transplant_day

# --------------------------------------------------------------------------- #
# the published statements of studies 000 and 001
# --------------------------------------------------------------------------- #
#: The four expansion comparisons of study 000 (letter text; Figs. S2E-S2F). Only the
#: active-disease comparison has a printed P value (register row); the other three are
#: printed as "no statistically significant difference" without a number.
COMPARISONS_000 = (
    {"label": "Peak within days 0-28, all patients", "value": "cmax_0_28", "subset": "all",
     "published": "no significant difference (no P printed; Fig. S2E)", "register_id": None},
    {"label": "AUC0-28, all patients", "value": "auc_0_28", "subset": "all",
     "published": "no significant difference (no P printed; Fig. S2E)", "register_id": None},
    {"label": "Peak, active disease at baseline", "value": "cmax", "subset": "active",
     "published": None, "register_id": "000-expansion-active-peak-p"},
    {"label": "Peak, MRD-positive at baseline", "value": "cmax", "subset": "mrd_positive",
     "published": "no significant difference (no P printed; Fig. S2F)", "register_id": None},
)


#: Study 001 facts about kinetics and count recovery: (register id, patient, what, how the
#: synthetic series gives the same day).
FACTS_001 = (
    ("001-p1-cart-peak-day", "001-P1", "day of peak CAR-T copies", "tmax"),
    ("001-p2-cart-peak-day", "001-P2", "day of peak CAR-T copies", "tmax"),
    ("001-p1-anc-recovery-day", "001-P1", "day neutrophils rose above the threshold", "ANC"),
    ("001-p2-anc-recovery-day", "001-P2", "day neutrophils rose above the threshold", "ANC"),
    ("001-p1-plt-recovery-day", "001-P1", "day platelets rose above the threshold", "platelets"),
    ("001-p2-plt-recovery-day", "001-P2", "day platelets rose above the threshold", "platelets"),
)


def study_000_comparisons(nca: pd.DataFrame, patients: pd.DataFrame, *, ledger=None,
                          register_csv=None, first: str = "CML-LBC", second: str = "Ph+ ALL") -> pd.DataFrame:
    """The four expansion comparisons of study 000 with the book's tests, next to what was published.

    ``same conclusion (...)`` says whether each test reaches the paper's conclusion at the 0.05
    level: significant for the comparison with a printed P, not significant for the three
    "no difference" statements.

    The primary test is the Wilcoxon rank-sum test (R's rules; see :func:`rank_sum_test`), on
    log10 copies so that the Hodges-Lehmann shift is a fold difference; Welch's t-test on log10
    copies is the sensitivity analysis. The one printed P value (active disease) is recorded in
    ``ledger``; its tolerance is the book's one for P values (:mod:`helpers.reproduction.tolerances`).
    """
    from helpers.reproduction import register as reg

    frame = nca.merge(patients[["patient_id", "cohort", "disease_status"]], on="patient_id", how="right")
    active = frame["disease_status"] != "mrd_positive"
    rows = []
    for spec in COMPARISONS_000:
        part = frame if spec["subset"] == "all" else frame[active] if spec["subset"] == "active" else frame[~active]
        out = compare_kinetics(part[spec["value"]], part["cohort"], first, second, label=spec["label"])
        published = spec["published"]
        if spec["register_id"]:
            entry = reg.entry(spec["register_id"], *([register_csv] if register_csv else []))
            published = f"P = {entry['value_text']} (test not named)"
            if ledger is not None:
                ledger.record(spec["register_id"], out["p_rank_sum"], basis="synthetic",
                              note=(f"{out['test']} on peak copies, {out['n']} patients; Welch t-test on log10 "
                                    f"copies gives P = {out['welch_p']:.4f}. The synthetic peaks were generated "
                                    "so that a rank-sum test lands near the published P; the paper does not name "
                                    "its test."))
        significant = spec["register_id"] is not None     # the paper's conclusion at the 0.05 level
        out["same conclusion (rank-sum)"] = "yes" if (out["p_rank_sum"] < 0.05) == significant else "no"
        out["same conclusion (Welch)"] = "yes" if (out["welch_p"] < 0.05) == significant else "no"
        rows.append({"comparison": spec["label"], "published": published, **{k: v for k, v in out.items()
                                                                               if k != "comparison"}})
    return pd.DataFrame(rows)


def study_001_facts(nca: pd.DataFrame, labs: Optional[pd.DataFrame], *, ledger=None,
                    register_csv=None) -> pd.DataFrame:
    """Published peak and count-recovery days of the two study-001 patients, shown as published
    (ledger basis ``transcribed``), next to the day the synthetic series drawn for the figures
    gives (peak: NCA Tmax; recovery: :func:`first_recovery_day` at the published threshold)."""
    from helpers.reproduction import register as reg

    args = [register_csv] if register_csv else []
    thresholds = {"ANC": float(reg.entry("001-anc-threshold", *args)["value"]),
                  "platelets": float(reg.entry("001-plt-threshold", *args)["value"])}
    rows = []
    for rid, pid, what, source in FACTS_001:
        entry = reg.entry(rid, *args)
        if source == "tmax":
            hit = nca.loc[nca["patient_id"] == pid, "tmax"]
            synthetic = float(hit.iloc[0]) if len(hit) else float("nan")
            how = "Tmax of the synthetic copy series"
        elif labs is None:
            synthetic, how = float("nan"), "no labs table"
        else:
            lab = labs[(labs["patient_id"] == pid) & (labs["analyte"] == source)]
            synthetic = first_recovery_day(lab["day"], lab["value"], thresholds[source]) if len(lab) else float("nan")
            how = f"first day of the synthetic {source} series above {thresholds[source]:g}"
        if ledger is not None:
            ledger.record(rid, float(entry["value"]), basis="transcribed",
                          note=f"shown as published ({entry['location']}); {how}: day {synthetic:g}")
        rows.append({"patient": pid, "fact": what, "published (day)": entry["value_text"],
                     "where": entry["location"],
                     "synthetic series (day)": f"{synthetic:g}" if math.isfinite(synthetic) else "none",
                     "how the synthetic day is read": how,
                     "agree": bool(synthetic == float(entry["value"]))})
    return pd.DataFrame(rows)


def after_transplant(kinetics: pd.DataFrame, treatments: pd.DataFrame, window: float = 28.0) -> pd.DataFrame:
    """CAR-T copies around an allo-HSCT after the infusion, one row per transplanted patient with
    samples: the last quantifiable level before the transplant, and the samples ``window`` days
    or more after it (how many, how many still quantifiable, the highest, and its fall)."""
    transplant_days = first_transplant_day(treatments)
    # Grouped once (a scan of the whole table per transplanted patient was quadratic: 25,000
    # transplants in a 100,000-patient registry), each patient's samples sorted by day.
    sampled = kinetics[kinetics["patient_id"].isin(transplant_days.index)].sort_values(
        ["patient_id", "day"], kind="stable")
    ids = sampled["patient_id"].to_numpy()
    days = sampled["day"].to_numpy(dtype=float)
    copies = sampled["copies_per_ug_gdna"].to_numpy(dtype=float)
    below = sampled["below_lloq"].astype(bool).to_numpy()
    first = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.array([], dtype=int)
    span = dict(zip(ids[first], zip(first, np.r_[first[1:], len(ids)])))
    rows = []
    for pid, day in transplant_days.items():
        if pid not in span:
            continue
        t, c, b = (a[slice(*span[pid])] for a in (days, copies, below))
        before = (t <= day) & ~b
        if not before.any():
            continue
        after = t >= day + window
        quantifiable = after & ~b
        level = float(c[before][-1])
        highest = float(c[quantifiable].max()) if quantifiable.any() else math.nan
        rows.append({"patient_id": pid, "allo-HSCT day": day, "copies at the transplant": level,
                     f"samples ≥ {window:g} days after": int(after.sum()), "still quantifiable": int(quantifiable.sum()),
                     "highest after": highest,
                     "fall (×)": level / highest if quantifiable.any() else math.inf})
    return pd.DataFrame(rows)


def after_transplant_summary(table: pd.DataFrame, study: str, window: float = 28.0) -> pd.DataFrame:
    """One line per study: transplanted patients with samples, how many stay quantifiable a month
    on, and the smallest and median fall of those that do."""
    if table.empty:
        return pd.DataFrame([{"Study": study, "Transplanted patients with samples": 0}])
    quantifiable = table[table["still quantifiable"] > 0]
    falls = quantifiable["fall (×)"]
    return pd.DataFrame([{
        "Study": study, "Transplanted patients with samples": len(table),
        f"Samples ≥ {window:g} days after": int(table[f"samples ≥ {window:g} days after"].sum()),
        "Patients still quantifiable then": len(quantifiable),
        "Smallest fall (×)": f"{falls.min():.0f}" if len(falls) else "—",
        "Median fall (×)": f"{falls.median():.0f}" if len(falls) else "—",
    }])


# The comparison tables have ten columns: each test's P value, estimate and verdict are stacked
# into one cell on the page (plots.tables.stacked); the CSV download keeps all ten.
COMPARISON_LAYOUT = {
    "rank-sum (primary)": ("P, rank-sum", "fold shift (HL) [95% CI]", "same conclusion (rank-sum)"),
    "Welch t on log10 (sensitivity)": ("P, Welch t (log10)", "ratio of geometric means [95% CI]",
                                       "same conclusion (Welch)"),
}
