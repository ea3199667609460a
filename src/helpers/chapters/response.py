"""Code specific to the response chapter: the seed studies' rate tables, comparisons and published CIs."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pandas as pd

from helpers.clinical.response import (
    _check_columns,
    classify,
    counted,
    rates,
)
from helpers.paths import REGISTER_CSV
from helpers.reproduction import register as reg
from helpers.reproduction.ledger import Ledger
from helpers.reproduction.recompute import compare_proportions
from helpers.stats.proportions import proportion_table

# --------------------------------------------------------------------------- #
# study 000: the data the regression models see
# --------------------------------------------------------------------------- #
FACTOR_LABELS_000 = {
    "overt": "Overt disease (vs MRD-positive)",
    "blasts_ge_cutoff": "Marrow blasts ≥ cut-off",
    "abl_kd": "ABL1 kinase-domain mutation",
    "cml_lbc": "CML-LBC (vs Ph+ ALL)",
}


# register ids of the published study-000 rates, keyed by (subgroup, cohort, outcome)
PUBLISHED_000 = {
    ("All patients", "CML-LBC", "Response"): "000-response-lbc",
    ("All patients", "Ph+ ALL", "Response"): "000-response-phall",
    ("All patients", "CML-LBC", "MRD-negative CR"): "000-mrdnegcr-lbc",
    ("All patients", "Ph+ ALL", "MRD-negative CR"): "000-mrdnegcr-phall",
    ("Overt disease (R/R)", "CML-LBC", "MRD-negative CR"): "000-mrdnegcr-rr-lbc",
    ("Overt disease (R/R)", "Ph+ ALL", "MRD-negative CR"): "000-mrdnegcr-rr-phall",
    ("MRD-positive", "CML-LBC", "MRD-negative CR"): "000-mrdnegcr-mrdpos-lbc",
    ("MRD-positive", "Ph+ ALL", "MRD-negative CR"): "000-mrdnegcr-mrdpos-phall",
}
# published P values of study 000 and the comparison each belongs to: (subgroup, outcome)
PUBLISHED_P_000 = {
    ("All patients", "Response"): "000-response-p",
    ("All patients", "MRD-negative CR"): "000-mrdnegcr-p",
    ("Overt disease (R/R)", "MRD-negative CR"): "000-mrdnegcr-rr-p",
    ("MRD-positive", "MRD-negative CR"): "000-mrdnegcr-mrdpos-p",
}


# --------------------------------------------------------------------------- #
# chapter building blocks for studies 004 and 003, and the published-CI table
# --------------------------------------------------------------------------- #
CHARACTERISTICS_004 = {
    # column of patients -> (label of the characteristic, {value: group label})
    "extramedullary_disease": ("Extramedullary disease", {"none": "No EMD", "cns": "CNS", "non_cns": "Non-CNS EMD"}),
    "tregs_high": ("Regulatory T cells", {True: "High Tregs", False: "Low Tregs"}),
    "high_risk_genetics": ("Genetics", {True: "High-risk genetics", False: "Standard-risk genetics"}),
}


PUBLISHED_003 = {
    ("Salvage after progression",): "003-salvage-all",
    ("CR after salvage (of the treated)",): "003-salvage-cr",
    ("CR after blinatumomab and/or inotuzumab",): "003-blina-ino-cr",
}


def published_text(register_id: str, register_csv=REGISTER_CSV) -> str:
    """'k/n (x%)' as the register prints it."""
    row = reg.entry(register_id, register_csv)
    if pd.isna(row["numerator"]) or pd.isna(row["denominator"]):
        return str(row["value_text"])
    return f"{int(row['numerator'])}/{int(row['denominator'])} ({row['value_text']})"


def record_rates(ledger: Ledger, table: pd.DataFrame, ids: dict, by: Sequence[str], note: str) -> None:
    """Record each rate whose (by values..., outcome) key has a register_id (basis: synthetic)."""
    for _, r in table.iterrows():
        key = tuple(r[b] for b in by) + (r["outcome"],)
        if key in ids:
            ledger.record_proportion(ids[key], int(r["k"]), int(r["n"]), basis="synthetic", note=note)


# --------------------------------------------------------------------------- #
# two-group comparisons
# --------------------------------------------------------------------------- #
def group_comparison(frame: pd.DataFrame, flag: str, group: str, order: Sequence[str],
                     published_p: Optional[str] = None, label: str = "",
                     evaluable: str = "evaluable", generic_columns: bool = False) -> pd.DataFrame:
    """Fisher's exact and Yates' chi-square P on the cohort's own counts, and which
    one prints as the published P (when given, e.g. "0.009" or "< 0.001").

    The two count columns are named after the groups, or "Group 1" / "Group 2"
    (holding "name: k/n") with ``generic_columns=True`` so that comparisons of
    different groupings stack into one table. Patients whose ``flag`` is unknown (MRD not
    assessed, :func:`~helpers.clinical.response.counted`) are left out, as in :func:`rates`."""
    if len(order) != 2:
        raise ValueError(f"group_comparison compares two groups, got {list(order)}")
    counts = []
    for g in order:
        part = counted(frame[frame[group] == g], flag, evaluable=evaluable)
        if part.empty:
            raise ValueError(f"group {g!r} has no evaluable patient in column {group!r}")
        counts.append((int(part[flag].astype(bool).sum()), len(part)))
    (k1, n1), (k2, n2) = counts
    result = compare_proportions(k1, n1, k2, n2, published_p=published_p).iloc[0]
    mark = {"Fisher exact": ("✓", ""), "Yates chi-square": ("", "✓"), "both": ("✓", "✓"),
            "neither": ("", ""), None: ("", "")}[result["matches"]]
    return pd.DataFrame([{
        "Comparison": label or flag,
        **({"Group 1": f"{order[0]}: {k1}/{n1}", "Group 2": f"{order[1]}: {k2}/{n2}"} if generic_columns
           else {order[0]: f"{k1}/{n1}", order[1]: f"{k2}/{n2}"}),
        "Fisher exact P": _p4(result["fisher_p"]), "matches (Fisher)": mark[0],
        "Yates chi-square P": _p4(result["yates_p"]), "matches (Yates)": mark[1],
        "Published P": published_p or "not published",
        "Smallest expected count": f"{result['min_expected']:.1f}",
    }])


def _p4(p: float) -> str:
    return f"{p:.4f}" if p >= 1e-4 else f"{p:.1e}"


def analysis_frame_000(patients: pd.DataFrame, classified: pd.DataFrame, blast_cutoff: float) -> pd.DataFrame:
    """One row per evaluable patient of study 000 with 0/1 factors and outcomes.

    Factors, as the paper names them: overt disease (R/R) vs MRD-positive;
    marrow blasts >= ``blast_cutoff`` (%; the paper's 10%, from the register);
    ABL1 kinase-domain mutation; CML-LBC vs Ph+ ALL. A missing blast count or
    mutation status stays missing (NaN) so the model fit can list the patient
    as excluded instead of dropping them unseen. Not-evaluable patients are
    left out here; :func:`not_evaluable` lists them.
    """
    _check_columns(patients, "patients", ["patient_id", "cohort", "marrow_blasts_pct", "abl_kd_mutation"])
    merged = classified[classified["evaluable"]].merge(
        patients[["patient_id", "marrow_blasts_pct", "abl_kd_mutation"]], on="patient_id", how="left",
        validate="one_to_one")
    blasts = merged["marrow_blasts_pct"].astype(float)
    mutation = merged["abl_kd_mutation"].astype("float")
    return pd.DataFrame({
        "patient_id": merged["patient_id"],
        "cohort": merged["cohort"],
        "overt": merged["overt"].astype(int),
        "blasts_ge_cutoff": np.where(blasts.isna(), np.nan, (blasts >= blast_cutoff).astype(float)),
        "abl_kd": mutation,
        "cml_lbc": (merged["cohort"] == "CML-LBC").astype(int),
        "response": merged["response"].astype(int),
        "mrd_negative_cr": merged["mrd_negative_cr"].astype(int),
    })


def rates_000(classified: pd.DataFrame) -> pd.DataFrame:
    """Response and MRD-negative CR by cohort, overall and within the R/R and MRD+ subgroups."""
    frame = classified.assign(subgroup=np.where(classified["overt"], "Overt disease (R/R)", "MRD-positive"))
    parts = []
    for flag, label in (("response", "Response"), ("mrd_negative_cr", "MRD-negative CR")):
        overall = rates(frame, flag, ["cohort"], label=label).assign(subgroup="All patients")
        within = rates(frame, flag, ["subgroup", "cohort"], label=label)
        parts += [overall, within]
    table = pd.concat(parts, ignore_index=True)
    order = {"All patients": 0, "Overt disease (R/R)": 1, "MRD-positive": 2}
    table = table.assign(_o=table["subgroup"].map(order)).sort_values(["outcome", "_o", "cohort"],
                                                                       ascending=[False, True, True])
    return table.drop(columns="_o").reset_index(drop=True)[
        ["outcome", "subgroup", "cohort", "k", "n", "not_evaluable", "pct", "cp_lower", "cp_upper",
         "wilson_lower", "wilson_upper"]]


def comparisons_000(classified: pd.DataFrame, register_csv=REGISTER_CSV) -> pd.DataFrame:
    """Fisher and Yates for every (subgroup, outcome) of study 000, marked against the published P."""
    frame = classified.assign(subgroup=np.where(classified["overt"], "Overt disease (R/R)", "MRD-positive"))
    rows = []
    for subgroup in ("All patients", "Overt disease (R/R)", "MRD-positive"):
        part = frame if subgroup == "All patients" else frame[frame["subgroup"] == subgroup]
        for flag, label in (("response", "Response"), ("mrd_negative_cr", "MRD-negative CR")):
            rid = PUBLISHED_P_000.get((subgroup, label))
            published = str(reg.entry(rid, register_csv)["value_text"]) if rid else None
            rows.append(group_comparison(part, flag, "cohort", ("CML-LBC", "Ph+ ALL"), published_p=published,
                                         label=f"{label}, {subgroup.lower()}"))
    return pd.concat(rows, ignore_index=True)


def classify_004(cohort: dict) -> pd.DataFrame:
    """Study 004 classified, with one readable column per characteristic of
    :data:`CHARACTERISTICS_004` ("not recorded" where the value is missing)."""
    classified = classify(cohort["patients"], cohort["responses"])
    patients = cohort["patients"].set_index("patient_id")
    for column, (_, mapping) in CHARACTERISTICS_004.items():
        values = classified["patient_id"].map(patients[column]) if column in patients else pd.Series(np.nan, index=classified.index)
        classified[column] = values.map(mapping).fillna("not recorded")
    return classified


def subgroup_rates_004(classified: pd.DataFrame, flag: str = "remission", label: str = "Remission") -> pd.DataFrame:
    """Remission by each characteristic of study 004 (columns: characteristic, group, k, n, ...)."""
    parts = []
    for column, (name, _) in CHARACTERISTICS_004.items():
        parts.append(rates(classified, flag, [column], label=label).rename(columns={column: "group"})
                     .assign(characteristic=name))
    return pd.concat(parts, ignore_index=True)


def salvage_rates_003(salvage: pd.DataFrame) -> pd.DataFrame:
    """The study-003 salvage rates, each with its own denominator:
    salvage given (all patients), CR among the treated, CR among all patients, CR after antibody salvage."""
    treated = salvage[salvage["salvage"]]
    antibody = salvage[salvage["antibody_salvage"]]
    return pd.concat([
        rates(salvage.assign(evaluable=True), "salvage", label="Salvage after progression"),
        rates(treated.assign(evaluable=treated["evaluable_after_progression"]), "remission",
              label="CR after salvage (of the treated)"),
        rates(salvage.assign(evaluable=True), "salvage_cr", label="CR after salvage (of all patients)"),
        rates(antibody.assign(evaluable=antibody["evaluable_after_progression"]), "remission",
              label="CR after blinatumomab and/or inotuzumab"),
    ], ignore_index=True)


def published_ci_table(register_ids: Sequence[str], register_csv=REGISTER_CSV) -> pd.DataFrame:
    """Exact and Wilson 95% CIs computed from the published counts alone (recomputed numbers)."""
    rows = []
    for rid in register_ids:
        entry = reg.entry(rid, register_csv)
        if pd.isna(entry["numerator"]) or pd.isna(entry["denominator"]):
            raise ValueError(f"{rid}: the register gives no numerator/denominator to compute a CI from")
        ci = proportion_table(int(entry["numerator"]), int(entry["denominator"])).iloc[0]
        rows.append({"register_id": rid, "quantity": entry["quantity"], "group": entry["group"],
                     "published": published_text(rid, register_csv),
                     "exact 95% CI": f"{100 * ci['cp_lower']:.1f}–{100 * ci['cp_upper']:.1f}%",
                     "Wilson 95% CI": f"{100 * ci['wilson_lower']:.1f}–{100 * ci['wilson_upper']:.1f}%",
                     "where": entry["location"]})
    return pd.DataFrame(rows)


def rate_display(table: pd.DataFrame, by: Sequence[str], published: Optional[dict] = None,
                 register_csv=REGISTER_CSV) -> pd.DataFrame:
    """A rates table for reading: k/n (%), both CIs in percent, and the published value.

    ``published`` maps a tuple of the ``by`` values (and the outcome label as
    last element) to a register_id. When some patients' outcome is unknown (MRD not assessed:
    the ``not_assessed`` column of :func:`rates`), a column "MRD not assessed" counts them; n is
    then the patients whose outcome is known (MRD assessed in CR/CRi, or not in CR/CRi).
    """
    published = published or {}
    not_assessed = (table["not_assessed"] if "not_assessed" in table
                    else pd.Series(0, index=table.index)).fillna(0).astype(int)
    rows = []
    for (_, r), unknown in zip(table.iterrows(), not_assessed):
        key = tuple(r[b] for b in by) + (r["outcome"],)
        rid = published.get(key)
        empty = "no patient with MRD assessed" if unknown else "no evaluable patient"
        rows.append({
            **{b: r[b] for b in by}, "Outcome": r["outcome"],
            "Book (synthetic)": f"{r['k']}/{r['n']} ({r['pct']:.1f}%)" if r["n"] else empty,
            "95% CI exact (Clopper–Pearson)": _ci(r, "cp"),
            "95% CI Wilson": _ci(r, "wilson"),
            "Not evaluable": int(r["not_evaluable"]),
            **({MRD_NOT_ASSESSED_COLUMN: int(unknown)} if not_assessed.any() else {}),
            "Published": published_text(rid, register_csv) if rid else "not published",
        })
    return pd.DataFrame(rows)


#: Column of :func:`rate_display` counting the evaluable patients whose MRD-negative CR status
#: is unknown (in CR/CRi without an MRD result; all of them where no MRD was measured), left out
#: of n. Shown only when there is one.
MRD_NOT_ASSESSED_COLUMN = "MRD not assessed (left out of n)"


def _ci(row, prefix: str) -> str:
    lo, hi = row[f"{prefix}_lower"], row[f"{prefix}_upper"]
    if pd.isna(lo):
        return ""
    return f"{100 * lo:.1f}–{100 * hi:.1f}%"
