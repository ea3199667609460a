"""Outcome frames on contract tables: OS, LFS, PFS and relapse/death times per patient, and the endpoint table.

Every endpoint that ends at relapse/progression or death (LFS, PFS, CIR's competing causes, and
EFS and duration of response in :mod:`helpers.clinical.endpoints`) takes its time and event from
:func:`progression_free_days`: a patient without relapse whose ``progression_assessed_day`` lies
before the last follow-up is censored at that last assessment, and a later death is not their
event; without that column (or with it empty) the endpoint runs to ``followup_days``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.contract import validate
from helpers.stats.units import DAYS_PER_MONTH

# --------------------------------------------------------------------------
# analysis frame from the data contract
# --------------------------------------------------------------------------

RESPONSE_CODES = ("CR", "CRi")
#: The disease status of a patient in complete remission at time zero (transplanted in CR, say):
#: a responder from day 0 without a response assessment.
IN_REMISSION_AT_ZERO = "complete_remission"


def first_transplant_day(treatments: pd.DataFrame) -> pd.Series:
    """Day of each patient's first allo-HSCT *after* the infusion (patient_id -> day); a
    transplant on or before day 0 is history, not exposure."""
    hsct = treatments[(treatments["category"] == "allo-HSCT") & (treatments["start_day"] > 0)]
    return hsct.groupby("patient_id")["start_day"].min()


def progression_free_days(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Days from time zero to relapse/progression or death, and whether that event was seen, per
    row of a frame holding the outcomes columns.

    A relapse is the event on ``relapse_day``. A patient without relapse whose
    ``progression_assessed_day`` (A) is before ``followup_days`` (F) is censored at A, and a
    death after A is not their event; A empty, absent or not before F: the death or the
    censoring at F, as without the column. Raises :class:`ValueError` naming the patients where
    A lies after F, or before the relapse of a patient who relapsed.

    >>> rows = pd.DataFrame(dict(patient_id=["a", "b", "c", "d"], followup_days=[100.0, 100, 100, 100],
    ...                          relapsed=[False, False, False, True], relapse_day=[np.nan, np.nan, np.nan, 50],
    ...                          died=[True, True, True, True], progression_assessed_day=[60.0, np.nan, 100, 70]))
    >>> days, event = progression_free_days(rows)
    >>> days.tolist(), event.tolist()
    ([60.0, 100.0, 100.0, 50.0], [False, True, True, True])
    """
    relapsed = frame["relapsed"].astype(bool).to_numpy()
    followup = frame["followup_days"].to_numpy(float)
    relapse_day = frame["relapse_day"].to_numpy(float)
    assessed = (frame["progression_assessed_day"].to_numpy(float) if "progression_assessed_day" in frame
                else np.full(len(frame), np.nan))
    for bad, what in ((assessed > followup + 1e-9, "progression_assessed_day after the end of follow-up"),
                      (relapsed & (assessed < relapse_day - 1e-9), "progression_assessed_day before the relapse")):
        if bad.any():
            raise ValueError(f"{what}: {frame.loc[bad, 'patient_id'].tolist()[:5]}")
    at_assessment = censored_at_assessment(frame).to_numpy()
    days = np.where(relapsed, relapse_day, np.where(at_assessment, assessed, followup))
    event = relapsed | (frame["died"].astype(bool).to_numpy() & ~at_assessment)
    return days, event


def censored_at_assessment(frame: pd.DataFrame) -> pd.Series:
    """Per row: a patient without relapse whose progression-free endpoints end at the last
    progression assessment (``progression_assessed_day`` before ``followup_days``); all False
    when the study records no assessment days (the seed studies)."""
    if "progression_assessed_day" not in frame:
        return pd.Series(False, index=frame.index)
    return ~frame["relapsed"].astype(bool) & (frame["progression_assessed_day"] < frame["followup_days"])  # NaN: False


def outcome_frame(tables: dict, *, days_per_unit: float = DAYS_PER_MONTH) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One analysis row per patient from a cohort's contract tables.

    Columns (times in months unless ``days_per_unit`` says otherwise):
    ``os_time, os_event`` (death from any cause, from infusion, everyone);
    ``responder`` (CR or CRi at the *first* response assessment after CAR-T);
    ``lfs_time, lfs_event`` (relapse/progression or death, from infusion, responders only;
    NaN for others); ``cr_status`` (responders: 1 relapse, 2 death in remission,
    0 censored); ``pfs_time, pfs_event`` (relapse/progression or death, from infusion,
    everyone). LFS, ``cr_status`` and PFS are censored at ``progression_assessed_day`` where
    :func:`progression_free_days` says so. ``relapse_time`` and ``pps_time``/``pps_event`` (survival after
    relapse/progression, relapsed patients only); ``hsct_time`` (first allo-HSCT *after*
    infusion, NaN if none; a transplant before CAR-T is history, not exposure), and the
    patients-table covariates.

    Returns (frame, checks): ``checks`` counts, per rule, the patients who would otherwise
    vanish silently (no response assessment, transplant before infusion, ...). Data that
    contradict themselves (a relapse after the last follow-up; a relapse day without a
    relapse) raise :class:`ValueError` naming the patients.
    """
    for name in ("patients", "outcomes"):
        if name not in tables:
            raise KeyError(f"outcome_frame needs the {name!r} table; got {sorted(tables)}")
    patients, outcomes = tables["patients"], tables["outcomes"]
    missing_out = sorted(set(patients["patient_id"]) - set(outcomes["patient_id"]))
    if missing_out:
        raise ValueError(f"{len(missing_out)} patient(s) have no outcomes row: {missing_out[:5]}")
    df = patients.merge(outcomes.drop(columns=["origin"], errors="ignore"), on=["study_id", "patient_id"],
                        how="left", validate="one_to_one")
    rel = df["relapsed"].astype(bool)
    rday = df["relapse_day"].astype(float)
    bad = rel & rday.isna()
    if bad.any():
        raise ValueError(f"relapsed without a relapse_day: {df.loc[bad, 'patient_id'].tolist()[:5]}")
    bad = ~rel & rday.notna()
    if bad.any():
        raise ValueError(f"relapse_day given but relapsed is False: {df.loc[bad, 'patient_id'].tolist()[:5]}")
    bad = rel & (rday > df["followup_days"] + 1e-9)
    if bad.any():
        raise ValueError(f"relapse after the end of follow-up: {df.loc[bad, 'patient_id'].tolist()[:5]}")
    u = float(days_per_unit)
    out = df.copy()
    out["os_time"] = df["followup_days"].astype(float) / u
    out["os_event"] = df["died"].astype(bool)
    checks = []
    if "responses" in tables and len(tables["responses"]):
        first = (tables["responses"].sort_values(["patient_id", "day"], kind="stable")
                 .groupby("patient_id", as_index=False).first())
        out = out.merge(first[["patient_id", "day", "morphologic"]].rename(
            columns={"day": "response_day", "morphologic": "first_response"}), on="patient_id", how="left")
        no_resp = out["first_response"].isna()
        checks.append(dict(rule="no response assessment (counted as non-responder)", patients=int(no_resp.sum())))
        out["responder"] = out["first_response"].isin(RESPONSE_CODES)
        checks.append(dict(rule="not evaluable for response (non-responder for LFS)",
                           patients=int((out["first_response"] == "not_evaluable").sum())))
    else:
        out["first_response"] = np.nan
        out["responder"] = False
        if "disease_status" not in out.columns or not out["disease_status"].eq(IN_REMISSION_AT_ZERO).any():
            checks.append(dict(rule="no responses table: LFS cannot be defined", patients=len(out)))
    if "disease_status" in out.columns:
        # In remission at time zero (e.g. transplanted in CR): responders from day 0, without an
        # assessment, unless an assessment after time zero says otherwise.
        at_zero = out["disease_status"].eq(IN_REMISSION_AT_ZERO).fillna(False).to_numpy(bool) & out["first_response"].isna().to_numpy()
        if at_zero.any():
            out["first_response"] = out["first_response"].astype(object)
            out.loc[at_zero, "first_response"] = "CR"
            if "response_day" in out.columns:
                out.loc[at_zero, "response_day"] = 0
            out.loc[at_zero, "responder"] = True
            checks.append(dict(rule="in complete remission at time zero (disease_status): responders from day 0",
                               patients=int(at_zero.sum())))
    resp = out["responder"].to_numpy()
    rel = out["relapsed"].astype(bool).to_numpy()
    died = out["died"].astype(bool).to_numpy()
    fu = out["followup_days"].to_numpy(float)
    rd = out["relapse_day"].to_numpy(float)
    out["relapse_time"] = np.where(rel, rd / u, np.nan)
    pfs_days, pfs_event = progression_free_days(out)
    out["lfs_time"] = np.where(resp, pfs_days / u, np.nan)
    out["lfs_event"] = np.where(resp, pfs_event.astype(float), np.nan)
    out["cr_status"] = np.where(resp, np.where(rel, 1, np.where(pfs_event, 2, 0)), -1)
    out["pfs_time"] = pfs_days / u
    out["pfs_event"] = pfs_event
    out["pps_time"] = np.where(rel, (fu - rd) / u, np.nan)
    out["pps_event"] = np.where(rel, died.astype(float), np.nan)
    out["hsct_time"] = np.nan
    if "treatments" in tables and len(tables["treatments"]):
        tx = tables["treatments"]
        hs = tx[tx["category"] == "allo-HSCT"]
        before = hs[hs["start_day"] <= 0]
        after = first_transplant_day(tx)
        out["hsct_time"] = out["patient_id"].map(after).astype(float) / u
        checks.append(dict(rule="allo-HSCT before CAR-T (history, not exposure)",
                           patients=int(before["patient_id"].nunique())))
        checks.append(dict(rule="allo-HSCT after CAR-T infusion", patients=int(after.size)))
        if "bridged_to_hsct" in out.columns:
            flag = out["bridged_to_hsct"].fillna(False).astype(bool)
            mismatch = flag != out["hsct_time"].notna()
            checks.append(dict(rule="bridged_to_hsct flag disagrees with the treatments table",
                               patients=int(mismatch.sum())))
    # The merge dropped the patients' covariate declaration; the models read it from this frame.
    return validate.carry_covariates(out, tables["patients"]), pd.DataFrame(checks)


def endpoint_definitions() -> pd.DataFrame:
    """How each endpoint of the chapter is defined (population, origin, event, censoring)."""
    return pd.DataFrame([
        dict(Endpoint="Overall survival (OS)", Population="all treated patients", Origin="CAR-T infusion",
             Event="death from any cause", Censored="alive at last contact"),
        dict(Endpoint="Leukaemia-free survival (LFS) / relapse-free survival (RFS)",
             Population="responders (CR/CRi at the first assessment)", Origin="CAR-T infusion",
             Event="relapse/progression or death, whichever first", Censored="alive in remission at last contact"),
        dict(Endpoint="Cumulative incidence of relapse (CIR)", Population="responders", Origin="CAR-T infusion",
             Event="relapse (cause 1); death in remission competes (cause 2)",
             Censored="alive in remission at last contact"),
        dict(Endpoint="Time to progression (study 003)", Population="all 38 patients (all progressed)",
             Origin="CAR-T infusion", Event="progression or relapse", Censored="none"),
        dict(Endpoint="Survival after progression (study 003)", Population="all 38 patients",
             Origin="date of progression", Event="death from any cause", Censored="alive at last contact"),
        dict(Endpoint="Follow-up", Population="all treated patients", Origin="CAR-T infusion",
             Event="(reverse Kaplan–Meier: censoring is the 'event')", Censored="death"),
    ])
