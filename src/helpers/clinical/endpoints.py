"""Endpoints beyond OS and LFS, derived from the contract tables (pure functions, no plotting).

* **EFS** (event-free survival), every patient from time zero: the event is treatment failure
  (no response by the end of the response assessments, counted as an event *on day 0*, the
  convention of the ALL trials), relapse/progression, or death; censored at last follow-up.
* **DoR** (duration of response), responders only, from the first response to
  relapse/progression or death. A response is CR or CRi; PR too where the disease's criteria
  count it (:data:`PR_DIAGNOSES`: Lugano, IMWG and iwCLL in ``spec.RESPONSE_MAPPING``).
  EFS and DoR end where :func:`helpers.clinical.outcomes.progression_free_days` says: at the
  last progression assessment (``outcomes.progression_assessed_day``) for a patient censored
  there, a later death not counted.
* **GRFS** (GVHD-free, relapse-free survival), every patient from time zero: the first of
  grade III–IV acute GVHD, chronic GVHD (any row), relapse, or death.
* **Cumulative incidence of a dated event** of the ``events`` table (count recovery, or a
  centre's own code): the first day of the event, with death without it as the competing event.

Times are in months (``days_per_unit``) unless a function says otherwise.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

from helpers.clinical.outcomes import IN_REMISSION_AT_ZERO, RESPONSE_CODES, progression_free_days
from helpers.contract.spec import RESERVED_EVENTS, RESPONSE_MAPPING
from helpers.stats.units import DAYS_PER_MONTH

#: Response criteria (``spec.RESPONSE_MAPPING``) under which a partial response is a response.
CRITERIA_WITH_PR = ("Lugano (lymphoma)", "IMWG (myeloma)", "iwCLL (CLL)")
#: ``patients.diagnosis`` values judged by those criteria.
PR_DIAGNOSES = ("large B-cell lymphoma", "other B-cell lymphoma", "multiple myeloma", "CLL")
#: Acute GVHD grades that count in GRFS (III–IV, written 3–4).
SEVERE_ACUTE_GVHD = 3
GVHD_CODES = ("acute_gvhd", "chronic_gvhd")
RECOVERY_CODES = {"anc_recovery": "neutrophil recovery", "platelet_recovery": "platelet recovery"}
#: Neutrophil recovery from a labs series: the first of this many consecutive ANC values at or
#: above the threshold (10^9/L), after a value below it.
ANC_RECOVERY_RUN = 3
ANC_RECOVERY_THRESHOLD = 0.5
#: What each GRFS component is called, in the order a tie on one day is attributed.
GRFS_COMPONENTS = ("acute GVHD grade III–IV", "chronic GVHD", "relapse", "death")

assert all(any(ours == "PR" for _, ours in RESPONSE_MAPPING[c]) for c in CRITERIA_WITH_PR)


def _check(tables, names) -> None:
    for name in names:
        if name not in tables:
            raise KeyError(f"this endpoint needs the {name!r} table; got {sorted(tables)}")


def _base(tables) -> pd.DataFrame:
    """patients + outcomes, one row per patient, in the patients table's order."""
    _check(tables, ("patients", "outcomes"))
    cols = ["patient_id", "followup_days", "relapsed", "relapse_day", "died"]
    if "progression_assessed_day" in tables["outcomes"]:  # optional in the contract
        cols.append("progression_assessed_day")
    out = tables["patients"].merge(tables["outcomes"][cols], on="patient_id", how="left", validate="one_to_one")
    if out["followup_days"].isna().any():
        raise ValueError(f"patients without an outcomes row: {out.loc[out['followup_days'].isna(), 'patient_id'].tolist()[:5]}")
    return out


def counts_as_response(morphologic: pd.Series, diagnosis: pd.Series) -> np.ndarray:
    """True where an assessment is a response: CR/CRi, or PR under criteria that count it."""
    m = morphologic.astype(object)
    return (m.isin(RESPONSE_CODES) | (m.eq("PR") & diagnosis.isin(PR_DIAGNOSES))).to_numpy(bool)


def has_response_information(tables) -> bool:
    """Whether response is known for anyone: a responses table, or a patient in complete
    remission at time zero."""
    if "responses" in tables and len(tables["responses"]):
        return True
    status = tables["patients"].get("disease_status")
    return status is not None and bool(status.eq(IN_REMISSION_AT_ZERO).any())


def first_response(tables) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per patient (patients-table order): ``responded``, ``response_day`` (first response
    before any relapse; 0 for a patient in complete remission at time zero), ``response``
    (its code), ``assessed`` (a readable assessment before any relapse).

    A response recorded only on or after the relapse day is a response to salvage, not to the
    treatment at time zero: not counted (and counted in the checks). A patient in complete
    remission at time zero (``disease_status``) is a responder from day 0 unless every readable
    assessment says otherwise. Returns (frame, checks)."""
    base = _base(tables)
    ids = base["patient_id"]
    diagnosis = base["diagnosis"] if "diagnosis" in base else pd.Series(np.nan, index=base.index)
    responses = tables["responses"] if "responses" in tables else pd.DataFrame(
        columns=["patient_id", "day", "morphologic"])
    rows = responses[["patient_id", "day", "morphologic"]].merge(
        base[["patient_id", "relapse_day"]].assign(_dx=diagnosis.to_numpy()), on="patient_id", how="left")
    readable = rows["morphologic"].ne("not_evaluable").to_numpy(bool)
    before = ~(rows["day"].astype(float).to_numpy() >= rows["relapse_day"].astype(float).to_numpy())
    good = counts_as_response(rows["morphologic"], rows["_dx"])
    first = (rows[readable & before & good].sort_values(["patient_id", "day"], kind="mergesort")
             .drop_duplicates("patient_id").set_index("patient_id"))
    late = set(rows.loc[readable & ~before & good, "patient_id"]) - set(first.index)
    assessed = ids.isin(set(rows.loc[readable & before, "patient_id"])).to_numpy()
    day = ids.map(first["day"]).astype(float).to_numpy()
    code = ids.map(first["morphologic"]).to_numpy(dtype=object)
    at_zero = (base["disease_status"].eq(IN_REMISSION_AT_ZERO).to_numpy(bool) if "disease_status" in base
               else np.zeros(len(base), bool)) & (~np.isnan(day) | ~assessed)
    day = np.where(at_zero, 0.0, day)
    code = np.where(at_zero, "CR", code)
    responded = ~np.isnan(day)
    frame = pd.DataFrame({"patient_id": ids.to_numpy(), "responded": responded, "response_day": day,
                          "response": code, "assessed": assessed | at_zero})
    pr = int(((code == "PR") & responded).sum())
    checks = pd.DataFrame([
        dict(rule="no readable response assessment before any relapse: not a responder (EFS: failure on day 0)",
             patients=int((~assessed & ~at_zero).sum())),
        dict(rule="assessed, no response before any relapse: treatment failure (EFS: event on day 0)",
             patients=int((assessed & ~responded).sum())),
        dict(rule="response only on or after the relapse day (salvage): not counted",
             patients=int(ids.isin(late).sum())),
        dict(rule="in complete remission at time zero (disease_status): responders from day 0",
             patients=int(at_zero.sum())),
        dict(rule="PR counted as response (lymphoma, myeloma or CLL criteria)", patients=pr),
    ])
    return frame, checks


def efs_dor_frame(tables, *, days_per_unit: float = DAYS_PER_MONTH) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per patient: ``cohort``, the :func:`first_response` columns, ``efs_time,
    efs_event`` (everyone: failure at day 0, else relapse or death) and ``dor_time, dor_event``
    (responders: from the first response to relapse or death; NaN for others). Returns
    (frame, checks). Raises ValueError naming the responders censored at a progression
    assessment before their first response (a negative duration)."""
    base = _base(tables)
    resp, checks = first_response(tables)
    u = float(days_per_unit)
    end, ended = progression_free_days(base)
    ok = resp["responded"].to_numpy(bool)
    early = ok & (end < resp["response_day"].to_numpy(float))
    if early.any():
        raise ValueError(f"progression_assessed_day before the first response: {base.loc[early, 'patient_id'].tolist()[:5]}")
    out = base[["patient_id", "cohort"]].reset_index(drop=True).join(resp.drop(columns="patient_id"))
    out["efs_time"] = np.where(ok, end, 0.0) / u
    out["efs_event"] = np.where(ok, ended, True)
    out["dor_time"] = np.where(ok, end - resp["response_day"].to_numpy(float), np.nan) / u
    out["dor_event"] = np.where(ok, ended.astype(float), np.nan)
    return out, checks


# --------------------------------------------------------------------------
# the events table
# --------------------------------------------------------------------------

def event_codes(events: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(reserved codes present, the centre's own codes present, sorted)."""
    present = set(events["event"].dropna().astype(str))
    return [c for c in RESERVED_EVENTS if c in present], sorted(present - set(RESERVED_EVENTS))


def gvhd_recorded(events: Optional[pd.DataFrame]) -> bool:
    """Whether the study records GVHD at all (any acute_gvhd or chronic_gvhd row)."""
    return events is not None and bool(events["event"].isin(GVHD_CODES).any())


def first_event_day(events: pd.DataFrame, code: str, *, min_grade: Optional[int] = None) -> pd.Series:
    """patient_id -> first day of ``code`` (rows with grade >= ``min_grade`` when given)."""
    rows = events[events["event"] == code]
    if min_grade is not None:
        rows = rows[pd.to_numeric(rows["grade"], errors="coerce") >= min_grade] if "grade" in rows else rows.iloc[:0]
    return rows.groupby("patient_id")["day"].min().astype(float)


def _after_followup(base: pd.DataFrame, days: pd.Series, what: str) -> None:
    late = base["patient_id"].map(days).astype(float).to_numpy() > base["followup_days"].to_numpy(float) + 1e-9
    if late.any():
        raise ValueError(f"{what} after the last follow-up (outcomes.followup_days): patients "
                         f"{base.loc[late, 'patient_id'].tolist()[:5]}")


def grfs_frame(tables, *, days_per_unit: float = DAYS_PER_MONTH) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per patient: ``grfs_time, grfs_event`` and ``grfs_first`` (which component came
    first, :data:`GRFS_COMPONENTS`; "" when censored). Acute GVHD counts from grade III (rows
    without a grade do not count, and are counted in the checks); chronic GVHD counts from any
    row. Returns (frame, checks). Raises ValueError when the study records no GVHD."""
    _check(tables, ("events",))
    events = tables["events"]
    if not gvhd_recorded(events):
        raise ValueError("GRFS needs GVHD to be recorded: the events table has no acute_gvhd or chronic_gvhd row")
    base = _base(tables)
    ids = base["patient_id"]
    acute = first_event_day(events, "acute_gvhd", min_grade=SEVERE_ACUTE_GVHD)
    chronic = first_event_day(events, "chronic_gvhd")
    for days, what in ((acute, "acute GVHD"), (chronic, "chronic GVHD")):
        _after_followup(base, days, what)
    rel = base["relapsed"].astype(bool).to_numpy()
    fu = base["followup_days"].to_numpy(float)
    candidates = np.column_stack([ids.map(acute).astype(float).to_numpy(), ids.map(chronic).astype(float).to_numpy(),
                                  np.where(rel, base["relapse_day"].astype(float).to_numpy(), np.nan),
                                  np.where(base["died"].astype(bool).to_numpy(), fu, np.nan)])
    filled = np.where(np.isnan(candidates), np.inf, candidates)
    first = filled.min(axis=1)
    event = np.isfinite(first)
    which = np.where(event, np.array(GRFS_COMPONENTS, dtype=object)[filled.argmin(axis=1)], "")
    out = base[["patient_id", "cohort"]].reset_index(drop=True)
    out["grfs_time"] = np.where(event, first, fu) / float(days_per_unit)
    out["grfs_event"] = event
    out["grfs_first"] = which
    agvhd = events[events["event"] == "acute_gvhd"]
    ungraded = agvhd["grade"].isna() if "grade" in agvhd else pd.Series(True, index=agvhd.index)
    checks = pd.DataFrame([
        dict(rule="acute GVHD grade III–IV", patients=int(ids.isin(acute.index).sum())),
        dict(rule="acute GVHD grade I–II only (not a GRFS event)",
             patients=int(ids.isin(set(agvhd["patient_id"]) - set(acute.index)
                                   - set(agvhd.loc[ungraded, "patient_id"])).sum())),
        dict(rule="acute GVHD without a grade (not counted as grade III–IV)",
             patients=int(ids.isin(set(agvhd.loc[ungraded, "patient_id"]) - set(acute.index)).sum())),
        dict(rule="chronic GVHD (any row, graded or not)", patients=int(ids.isin(chronic.index).sum())),
    ])
    return out, checks


def anc_recovery_from_labs(labs: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """Neutrophil recovery derived from the ANC series (samples from day 0): the first day of
    the first :data:`ANC_RECOVERY_RUN` consecutive values >= :data:`ANC_RECOVERY_THRESHOLD`
    after a value below it. Returns (patient_id -> day, checks): patients with ANC samples whose
    count never fell below the threshold have no recovery to date (counted)."""
    anc = labs[(labs["analyte"] == "ANC") & (labs["day"] >= 0)].sort_values(["patient_id", "day"], kind="mergesort")
    found, never_low = {}, 0
    for pid, part in anc.groupby("patient_id", sort=True):
        high = part["value"].to_numpy(float) >= ANC_RECOVERY_THRESHOLD
        low = np.flatnonzero(~high)
        if not low.size:
            never_low += 1
            continue
        days = part["day"].to_numpy(float)
        run = 0
        for k in range(low[0] + 1, high.size):
            run = run + 1 if high[k] else 0
            if run == ANC_RECOVERY_RUN:
                found[pid] = days[k - ANC_RECOVERY_RUN + 1]
                break
    checks = pd.DataFrame([
        dict(rule="with ANC samples from day 0", patients=int(anc["patient_id"].nunique())),
        dict(rule=f"ANC never below {ANC_RECOVERY_THRESHOLD:g} × 10^9/L (no recovery to date)", patients=never_low),
    ])
    return pd.Series(found, dtype=float), checks


def incidence_frame(tables, first_days: pd.Series, *, days_per_unit: float = DAYS_PER_MONTH) -> pd.DataFrame:
    """Competing-risks data of one dated event, every patient: ``time`` and ``status`` (1 the
    event, on its first day; 2 death without it; 0 alive without it at last follow-up)."""
    base = _base(tables)
    day = base["patient_id"].map(first_days).astype(float).to_numpy()
    fu = base["followup_days"].to_numpy(float)
    if (day > fu + 1e-9).any():
        raise ValueError(f"an event after the last follow-up (outcomes.followup_days): patients "
                         f"{base.loc[day > fu + 1e-9, 'patient_id'].tolist()[:5]}")
    had = ~np.isnan(day)
    out = base[["patient_id", "cohort"]].reset_index(drop=True)
    out["time"] = np.where(had, day, fu) / float(days_per_unit)
    out["status"] = np.where(had, 1, np.where(base["died"].astype(bool).to_numpy(), 2, 0)).astype(int)
    return out


def endpoint_definitions(origin: str) -> pd.DataFrame:
    """How each endpoint of this module is defined (population, origin, event, censoring), with
    ``origin`` the study's time zero."""
    return pd.DataFrame([
        dict(Endpoint="Event-free survival (EFS)", Population="every patient", Origin=origin,
             Event="treatment failure (no response by the end of the response assessments: an event on day 0), "
                   "relapse/progression or death, whichever first", Censored="alive in response at last contact"),
        dict(Endpoint="Duration of response (DoR)", Population="responders", Origin="the first response",
             Event="relapse/progression or death", Censored="alive in response at last contact"),
        dict(Endpoint="GVHD-free, relapse-free survival (GRFS)", Population="every patient", Origin=origin,
             Event="acute GVHD grade III–IV, chronic GVHD (any row), relapse or death, whichever first",
             Censored="alive without any of them at last contact"),
        dict(Endpoint="Neutrophil / platelet recovery", Population="every patient", Origin=origin,
             Event="the first day of recovery; death before it competes", Censored="alive, not recovered"),
        dict(Endpoint="A centre-coded event", Population="every patient", Origin=origin,
             Event="its first day; death without it competes", Censored="alive without it at last contact"),
    ])
