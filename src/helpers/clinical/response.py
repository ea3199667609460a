"""Response to CAR-T: the papers' definitions, applied once, and the rates built on them.

Definitions (stated once here, used by every table and figure of the chapter)
-----------------------------------------------------------------------------
``remission``         morphological complete remission, with or without full
                      count recovery: CR or CRi (study 004 counts both in its
                      overall remission rate).
``MRD-negative CR``   remission (CR/CRi) **and** flow-cytometry MRD negative in
                      the marrow. A patient in remission whose remission
                      assessments all have MRD ``not_done`` is *MRD not
                      assessed*: neither negative nor positive, and left out of
                      the denominator of the MRD-negative CR rate (counted in
                      ``not_assessed`` instead).
                      A group in which no MRD result was recorded at all has
                      no MRD-negative CR rate (its numerator could only be 0).
``CMR``               complete molecular response: BCR::ABL1 not detected by PCR.
``response``          study 000's endpoint, which depends on the disease status
                      before CAR-T (where no status is recorded, response is
                      reaching remission, the stricter definition):
                      * overt disease (primary refractory, first or later relapse):
                        reaching remission (CR/CRi);
                      * flow-MRD-positive in morphological remission: keeping the
                        morphological remission (CR/CRi at assessment) **or**
                        reaching CMR.
``no response``       evaluable without remission (CR/CRi), CMR or PR: stable
                      disease (SD), progressive disease (PD) or no response (NR);
                      SD ranks above NR and PD when choosing the best assessment.
``not evaluable``     no assessment that can be read (e.g. death before the
                      first marrow); such patients are kept, shown, and left out
                      of the denominators -- never silently dropped.

When a patient has several assessments in the window, the *best* one is the
one used for the category shown; each flag above is true when *any*
assessment in the window meets it (the best assessment is chosen so that the
two agree).

Functions
---------
``classify(patients, responses)``          one row per patient with every flag
``salvage_response(...)``                  study 003: salvage after progression and its CR
``rates(frame, flag, by)``                 k/n, %, Clopper-Pearson and Wilson CIs (a flag whose
                                           value is unknown for some patients leaves them out
                                           of n: :data:`UNKNOWN_WHEN`)
``counted(group, flag)``                   the patients of a group in the denominator of a flag
``group_comparison(...)``                  Fisher and Yates on cohort counts, matched to a published P
``flow_counts`` / ``sankey_figure``        disease status before CAR-T -> best response
``rate_figure``                            rates with CI bars (hover: k/n)
``forest_figure``                          odds ratios of several models (hover: OR, CI, P)
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
import pandas as pd

pass
from helpers.contract.spec import RELAPSED_REFRACTORY
from helpers.stats.proportions import proportion_table

REMISSION = ("CR", "CRi")
SHORT_STATUS_LABELS = {
    "primary_refractory": "Primary refractory",
    "first_relapse": "First relapse",
    "second_or_later_relapse": "Second or later relapse",
    "relapsed_refractory_unspecified": "Relapsed/refractory",
    "blast_phase_refractory": "Refractory blast phase",
    "mrd_positive": "MRD-positive (flow)",
    "complete_remission": "Complete remission",
}
MRD_NOT_ASSESSED_CR = "CR/CRi, MRD not assessed"
BEST_RESPONSE_ORDER = (
    "MRD-negative CR/CRi", "MRD-positive CR/CRi", MRD_NOT_ASSESSED_CR, "CMR without CR", "PR", "No response",
    "Not evaluable",
)
#: Order of the morphological values within an assessment's rank (best highest): SD above NR and
#: PD, so a best response of stable disease is the one shown over progression.
MORPHOLOGIC_RANK = {"CR": 6, "CRi": 5, "PR": 4, "SD": 3, "NR": 2, "PD": 1, "not_evaluable": 0}
MRD_RESULTS = ("negative", "positive")  # an MRD assessment done; "not_done" is neither
#: Flag -> (the column of :func:`classify` that is true where the flag's value is unknown, the
#: column that is true where the measurement behind the flag was made at all). :func:`rates`
#: leaves the unknown out of n and counts them in ``not_assessed``; in a group where the
#: measurement was never made there is no rate (n = 0, every evaluable patient not assessed):
#: its numerator could only be 0.
UNKNOWN_WHEN = {"mrd_negative_cr": ("mrd_not_assessed", "mrd_assessed")}

DEFINITIONS = pd.DataFrame([
    ("Remission (CR/CRi)", "Morphological complete remission, with (CR) or without (CRi) full blood-count "
     "recovery.", "004 overall remission; 003 CR after salvage; 000 response of R/R patients"),
    ("MRD-negative CR", "Remission (CR/CRi) with flow-cytometry MRD negative in the marrow. Its rate is "
     "among the patients whose MRD-negative CR status is known: a remission without any MRD assessment "
     "(MRD not assessed) is counted apart, in neither the numerator nor the denominator; where no MRD "
     "was measured at all there is no rate.",
     "000 MRD-negative CR rate, overall and within subgroups"),
    ("No response", "Evaluable without remission or CMR: no response (NR), stable disease (SD) or "
     "progressive disease (PD).", "every study"),
    ("Complete molecular response (CMR)", "BCR::ABL1 transcript not detected by PCR.",
     "000 response of MRD-positive patients"),
    ("Response, overt disease before CAR-T", "Reaching remission (CR/CRi).", "000 response rate"),
    ("Response, MRD-positive before CAR-T", "Keeping morphological remission or reaching CMR.",
     "000 response rate"),
    ("Not evaluable", "No readable assessment (e.g. early death). Shown and counted, left out of "
     "denominators.", "000 (2 Ph+ ALL patients), 004 (4 patients)"),
], columns=["Term", "Definition used by the book", "Used for"])


# --------------------------------------------------------------------------- #
# classification
# --------------------------------------------------------------------------- #
def _check_columns(frame: pd.DataFrame, name: str, columns: Sequence[str]) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks column(s) {missing}")


def _rank(rows: pd.DataFrame) -> pd.Series:
    """Ordering key of assessments: remission, then MRD-negative, then MRD assessed (a known
    positive result over none), then CMR, then the morphological value (CR over CRi, ...)."""
    remission = rows["morphologic"].isin(REMISSION).astype(int)
    return (remission * 1000
            + (remission & (rows["mrd_flow"] == "negative")).astype(int) * 100
            + (remission & rows["mrd_flow"].isin(MRD_RESULTS)).astype(int) * 50
            + (rows["molecular"] == "CMR").astype(int) * 10
            + rows["morphologic"].map(MORPHOLOGIC_RANK).fillna(0))


def _days_listed(rows: pd.DataFrame) -> pd.Series:
    """Per patient, "day 28, day 90": the assessment days in row order. One pass over plain
    lists: a Python function per group cost a pandas Series per patient (14 s for 100,000)."""
    listed: dict = {}
    for patient, day in zip(rows["patient_id"].tolist(), rows["day"].to_numpy(dtype=object).tolist()):
        listed.setdefault(patient, []).append(f"day {day}")
    return pd.Series({patient: ", ".join(days) for patient, days in listed.items()}, dtype=object)


def classify(patients: pd.DataFrame, responses: pd.DataFrame, *,
             after_day: Optional[pd.Series] = None, before_day: Optional[pd.Series] = None) -> pd.DataFrame:
    """One row per patient with the response flags defined in this module.

    Parameters
    ----------
    patients : the contract's patients table (needs patient_id and cohort; disease_status is
        optional, as in the contract: where it is missing, ``overt`` is false and ``response``
        is remission).
    responses : the contract's responses table (patient_id, day, morphologic, mrd_flow, molecular).
    after_day, before_day : optional per-patient windows (Series indexed by patient_id):
        only assessments with ``after_day < day <= before_day`` count.

    Returns
    -------
    DataFrame with patient_id, cohort, disease_status, overt (bool), assessments
    (number in the window), evaluable, remission, mrd_negative_cr, mrd_assessed (an MRD
    result, negative or positive, at any readable assessment), mrd_not_assessed (in remission,
    but no remission assessment has an MRD result), cmr, response,
    best_response (one of :data:`BEST_RESPONSE_ORDER`), best_day and
    not_evaluable_reason. Every patient of ``patients`` appears, also those
    without any assessment.
    """
    _check_columns(patients, "patients", ["patient_id", "cohort"])
    _check_columns(responses, "responses", ["patient_id", "day", "morphologic", "mrd_flow", "molecular"])
    if patients["patient_id"].duplicated().any():
        raise ValueError(f"patients has repeated patient_id: "
                         f"{patients.loc[patients['patient_id'].duplicated(), 'patient_id'].tolist()}")
    unknown = sorted(set(responses["patient_id"]) - set(patients["patient_id"]))
    if unknown:
        raise ValueError(f"responses name patients that are not in patients: {unknown[:5]}")
    rows = responses.copy()
    if after_day is not None:
        rows = rows[rows["day"] > rows["patient_id"].map(after_day).fillna(-np.inf)]
    if before_day is not None:
        rows = rows[rows["day"] <= rows["patient_id"].map(before_day).fillna(np.inf)]
    rows = rows.assign(_rank=_rank(rows), _readable=rows["morphologic"] != "not_evaluable")
    # Vectorised over patients (a registry has thousands): per patient, the assessments in the
    # window, the readable ones, the best readable one (highest rank, then earliest day) and
    # whether any readable one meets each flag.
    assessments = rows.groupby("patient_id", sort=False).size()
    last_day = rows.groupby("patient_id", sort=False)["day"].max()
    days_listed = _days_listed(rows)
    readable = rows[rows["_readable"]]
    best = (readable.sort_values(["patient_id", "_rank", "day"], ascending=[True, False, True], kind="mergesort")
            .drop_duplicates("patient_id").set_index("patient_id"))
    in_remission = readable["morphologic"].isin(REMISSION)
    flags = pd.DataFrame({"patient_id": readable["patient_id"], "remission": in_remission,
                          "mrd_negative_cr": in_remission & (readable["mrd_flow"] == "negative"),
                          "mrd_assessed_cr": in_remission & readable["mrd_flow"].isin(MRD_RESULTS),
                          "mrd_assessed": readable["mrd_flow"].isin(MRD_RESULTS),
                          "cmr": readable["molecular"] == "CMR"}).groupby("patient_id").any()
    ids = patients["patient_id"]
    status = (patients["disease_status"] if "disease_status" in patients
              else pd.Series(np.nan, index=patients.index, dtype=object))
    overt = status.isin(RELAPSED_REFRACTORY).to_numpy()
    mrd_positive_before = status.isin(["mrd_positive"]).to_numpy()  # isin: a missing status is False, not NA
    evaluable = ids.isin(best.index).to_numpy()
    n_rows = ids.map(assessments).fillna(0).astype(int).to_numpy()
    remission = ids.map(flags["remission"]).eq(True).to_numpy()
    mrd_neg = ids.map(flags["mrd_negative_cr"]).eq(True).to_numpy()
    mrd_not_assessed = remission & ~ids.map(flags["mrd_assessed_cr"]).eq(True).to_numpy()
    mrd_assessed = ids.map(flags["mrd_assessed"]).eq(True).to_numpy()
    cmr = ids.map(flags["cmr"]).eq(True).to_numpy()
    best_morph = ids.map(best["morphologic"]).to_numpy(dtype=object)
    best_mrd = ids.map(best["mrd_flow"]).to_numpy(dtype=object)
    best_mol = ids.map(best["molecular"]).to_numpy(dtype=object)
    best_is_remission = pd.Series(best_morph).isin(REMISSION).to_numpy()
    category = np.select(
        [~evaluable, best_is_remission & (best_mrd == "negative"), best_is_remission & (best_mrd == "positive"),
         best_is_remission, best_mol == "CMR", best_morph == "PR"],
        ["Not evaluable", "MRD-negative CR/CRi", "MRD-positive CR/CRi", MRD_NOT_ASSESSED_CR, "CMR without CR", "PR"],
        default="No response")
    best_day = np.where(evaluable, ids.map(best["day"]).astype(float).to_numpy(),
                        ids.map(last_day).astype(float).to_numpy())
    reason = np.where(evaluable, "", np.where(n_rows == 0, "no response assessment recorded",
                                              "assessment not evaluable ("
                                              + ids.map(days_listed).fillna("").astype(str).to_numpy() + ")"))
    response = np.where(mrd_positive_before, remission | cmr, remission)
    return pd.DataFrame({
        "patient_id": ids.to_numpy(dtype=object), "cohort": patients["cohort"].to_numpy(dtype=object),
        "disease_status": status.to_numpy(dtype=object), "overt": overt,
        "assessments": n_rows.astype("int64"), "evaluable": evaluable, "remission": remission & evaluable,
        "mrd_negative_cr": mrd_neg & evaluable, "mrd_assessed": mrd_assessed & evaluable,
        "mrd_not_assessed": mrd_not_assessed & evaluable,
        "cmr": cmr & evaluable, "response": response & evaluable,
        "best_response": category.astype(object), "best_day": best_day,
        "not_evaluable_reason": reason.astype(object)})


def not_evaluable(classified: pd.DataFrame, extra: Optional[pd.DataFrame] = None) -> pd.DataFrame:
    """The patients left out of the denominators, with the reason (and any extra columns)."""
    shown = classified.loc[~classified["evaluable"], ["patient_id", "cohort", "disease_status",
                                                      "not_evaluable_reason"]]
    shown = shown.assign(disease_status=shown["disease_status"].map(SHORT_STATUS_LABELS).fillna(shown["disease_status"]))
    if extra is not None:
        shown = shown.merge(extra, on="patient_id", how="left")
    return shown.reset_index(drop=True)


# --------------------------------------------------------------------------- #
# rates
# --------------------------------------------------------------------------- #
def counted(group: pd.DataFrame, flag: str, *, evaluable: str = "evaluable") -> pd.DataFrame:
    """The patients of one group that count in the denominator of ``flag``: the evaluable ones
    whose ``flag`` is known (:data:`UNKNOWN_WHEN`); none when the measurement behind the flag was
    never made in the group."""
    assessable = group[group[evaluable].astype(bool)]
    unknown, measured = UNKNOWN_WHEN.get(flag, (None, None))
    if unknown is None:
        return assessable
    _check_columns(group, f"frame (for {flag!r}, whose value can be unknown; classify() gives them)",
                   [unknown, measured])
    if not assessable[measured].astype(bool).any():
        return assessable.iloc[:0]
    return assessable[~assessable[unknown].astype(bool)]


def rates(frame: pd.DataFrame, flag: str, by: Sequence[str] = (), *, evaluable: str = "evaluable",
          label: Optional[str] = None) -> pd.DataFrame:
    """k/n of ``flag`` among evaluable patients, per group, with exact and Wilson 95% CIs.

    Columns: the ``by`` columns, outcome, k, n, not_evaluable (left out of n),
    not_assessed (evaluable, but the flag's value is unknown -- e.g. a remission without an MRD
    result for ``mrd_negative_cr``, see :data:`UNKNOWN_WHEN` -- also left out of n),
    pct, cp_lower, cp_upper (Clopper-Pearson, as R's binom.test), wilson_lower,
    wilson_upper (as R's prop.test(correct = FALSE)); CI bounds are fractions.
    """
    by = list(by)
    _check_columns(frame, "frame", [flag, evaluable, *by])
    groups = frame.groupby(by, sort=False, dropna=False) if by else [((), frame)]
    rows = []
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        assessable = part[part[evaluable].astype(bool)]
        used = counted(part, flag, evaluable=evaluable)
        n = len(used)
        k = int(used[flag].astype(bool).sum())
        row = dict(zip(by, key))
        row.update(outcome=label or flag, k=k, n=n, not_evaluable=int(len(part) - len(assessable)),
                   not_assessed=int(len(assessable) - n))
        if n:
            ci = proportion_table(k, n).iloc[0]
            row.update(pct=100 * k / n, cp_lower=ci["cp_lower"], cp_upper=ci["cp_upper"],
                       wilson_lower=ci["wilson_lower"], wilson_upper=ci["wilson_upper"])
        else:
            row.update(pct=math.nan, cp_lower=math.nan, cp_upper=math.nan,
                       wilson_lower=math.nan, wilson_upper=math.nan)
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- #
# study 003: salvage after progression
# --------------------------------------------------------------------------- #
def salvage_response(patients: pd.DataFrame, responses: pd.DataFrame, treatments: pd.DataFrame,
                     outcomes: pd.DataFrame, targeted: Sequence[str] = ("blinatumomab", "inotuzumab")) -> pd.DataFrame:
    """Per patient: progression, salvage after it, antibody salvage, and the response to salvage.

    Salvage = any treatment that starts after the day of progression
    (``relapse_day``). Antibody salvage = a treatment of a ``targeted`` category
    (blinatumomab, inotuzumab) started after progression. The response to
    salvage is the best assessment after progression (:func:`classify` with the
    window ``day > relapse_day``); "CR" counts CR and CRi (remission).
    """
    _check_columns(treatments, "treatments", ["patient_id", "category", "start_day"])
    _check_columns(outcomes, "outcomes", ["patient_id", "relapsed", "relapse_day"])
    progression = outcomes.set_index("patient_id")["relapse_day"]
    after = treatments.assign(_prog=treatments["patient_id"].map(progression))
    after = after[after["_prog"].notna() & (after["start_day"] > after["_prog"])]
    salvage_ids = set(after["patient_id"])
    targeted_ids = set(after.loc[after["category"].isin(targeted), "patient_id"])
    post = classify(patients, responses, after_day=progression)
    post = post.rename(columns={"evaluable": "evaluable_after_progression"})
    frame = post[["patient_id", "cohort", "disease_status", "assessments", "evaluable_after_progression",
                  "remission", "mrd_negative_cr", "best_response", "not_evaluable_reason"]].copy()
    frame["progressed"] = frame["patient_id"].map(outcomes.set_index("patient_id")["relapsed"]).astype(bool)
    frame["salvage"] = frame["patient_id"].isin(salvage_ids)
    frame["antibody_salvage"] = frame["patient_id"].isin(targeted_ids)
    frame["all"] = True
    frame["salvage_cr"] = frame["remission"] & frame["salvage"]
    # salvage patients without any readable post-progression assessment stay in view
    frame["evaluable_salvage"] = frame["salvage"] & frame["evaluable_after_progression"]
    return frame


def flow_counts(classified: pd.DataFrame, cohort_order: Sequence[str],
                status_order: Sequence[str]) -> pd.DataFrame:
    """Tidy counts for the flow from cohort to disease status to best response."""
    rows = []
    for cohort in cohort_order:
        part = classified[classified["cohort"] == cohort]
        for status in status_order:
            sub = part[part["disease_status"] == status]
            for best in BEST_RESPONSE_ORDER:
                n = int((sub["best_response"] == best).sum())
                if n:
                    rows.append({"cohort": cohort, "disease_status": status, "best_response": best, "n": n,
                                 "status_total": len(sub), "cohort_total": len(part)})
    return pd.DataFrame(rows)
