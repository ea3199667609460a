"""Study 000: the synthetic cohort is plausible where a haematologist looks first.

A reviewer found CML-LBC patients censored alive between day 104 and 262 (median follow-up 219
days against the published 30 months for all patients), the 2-year LFS of 37.5 % carried by
censoring instead of the 5 events among 8 responders it implies, CAR-T copies unchanged after
an allo-HSCT, and 3 deaths in remission among 116 responders of whom 50 were transplanted.
Everything is read back from the CSV files (never from the generator); every check takes the
data folder, so the last test shows each one rejecting the data the reviewer flagged (the
files as they were at commit 9b04a6e, kept in tests/fixtures/plausibility_000/).

Thresholds, and why:

* follow-up: reverse Kaplan–Meier median (textbook product-limit, written out here) within
  ``FOLLOWUP_SLACK`` of the published 30 months in each cohort: 2 months for the 121 Ph+ ALL
  patients, 6 for the 13 CML-LBC patients (one patient moves a median of 13 by months);
* accrual ended in March 2023 and follow-up is administrative, so nobody is censored alive
  before ``MIN_ADMINISTRATIVE_MONTHS`` (3.5: the data cut-off is 77 months after February 2017);
* no CML-LBC responder censored event-free before 2 years, and 5 of the 8 with an event by then;
* CAR-T copies 28 days or more after an allo-HSCT at least 10× below the level at the transplant;
* deaths in remission: at least 5 % of the responders (the generator assumes 15 % of the
  transplanted who do not relapse after it and 2 % of the others), each after the transplant
  in a transplanted patient.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.paths import REPO_ROOT, SYNTHETIC_DIR

DATA_000 = SYNTHETIC_DIR / "000"
OLD_DATA = REPO_ROOT / "tests" / "fixtures" / "plausibility_000"
MONTH = 365.25 / 12
PUBLISHED_FOLLOWUP_MONTHS = 30.0     # register 000-followup-median
FOLLOWUP_SLACK = {"Ph+ ALL": 2.0, "CML-LBC": 6.0}
MIN_ADMINISTRATIVE_MONTHS = 3.5
REMISSION = ("CR", "CRi")


def load(folder) -> pd.DataFrame:
    patients = pd.read_csv(folder / "patients.csv")
    outcomes = pd.read_csv(folder / "outcomes.csv")
    responses = pd.read_csv(folder / "responses.csv").sort_values(["patient_id", "day"]).groupby("patient_id").first()
    frame = patients.merge(outcomes, on=["study_id", "patient_id"]).set_index("patient_id")
    frame["responder"] = responses["morphologic"].reindex(frame.index).isin(REMISSION)
    treatments = pd.read_csv(folder / "treatments.csv")
    hsct = treatments[(treatments["category"] == "allo-HSCT") & (treatments["start_day"] > 0)]
    frame["hsct_day"] = hsct.groupby("patient_id")["start_day"].min().reindex(frame.index)
    return frame


def reverse_km_median(time: np.ndarray, died: np.ndarray) -> float:
    """Product-limit estimate with censoring as the event; smallest time where it is <= 0.5."""
    surv = 1.0
    for t in np.unique(time[~died]):
        at_risk = (time >= t).sum()
        surv *= 1 - ((time == t) & ~died).sum() / at_risk
        if surv <= 0.5:
            return float(t)
    return float("inf")


def followup_problems(folder) -> list[str]:
    frame = load(folder)
    problems = []
    for cohort, part in frame.groupby("cohort"):
        median = reverse_km_median(part["followup_days"].to_numpy() / MONTH, part["died"].to_numpy(bool))
        if abs(median - PUBLISHED_FOLLOWUP_MONTHS) > FOLLOWUP_SLACK[cohort]:
            problems.append(f"{cohort}: median follow-up {median:.1f} months")
    early = frame[~frame["died"] & (frame["followup_days"] < MIN_ADMINISTRATIVE_MONTHS * MONTH)]
    problems += [f"{pid}: censored alive at {row.followup_days:g} days" for pid, row in early.iterrows()]
    return problems


def lfs_problems(folder) -> list[str]:
    frame = load(folder)
    lbc = frame[(frame["cohort"] == "CML-LBC") & frame["responder"]]
    end = np.where(lbc["relapsed"], lbc["relapse_day"], lbc["followup_days"])
    event = lbc["relapsed"].to_numpy(bool) | lbc["died"].to_numpy(bool)
    problems = [f"{pid}: CML-LBC responder censored event-free at {t:g} days"
                for pid, t, e in zip(lbc.index, end, event) if not e and t < 24 * MONTH]
    events = int((event & (end <= 24 * MONTH)).sum())
    if len(lbc) == 8 and events != 5:
        problems.append(f"{events} LFS events by 2 years among the 8 CML-LBC responders (37.5% = 3/8 needs 5)")
    return problems


def kinetics_problems(folder) -> list[str]:
    frame = load(folder)
    kinetics = pd.read_csv(folder / "kinetics.csv")
    problems = []
    for pid, day in frame["hsct_day"].dropna().items():
        rows = kinetics[kinetics["patient_id"] == pid]
        before = rows[(rows["day"] <= day) & ~rows["below_lloq"]]
        after = rows[(rows["day"] >= day + 28) & ~rows["below_lloq"]]
        if before.empty:
            continue
        level = float(before.sort_values("day")["copies_per_ug_gdna"].iloc[-1])
        problems += [f"{pid}: {v:g} copies on day {d:g}, {d - day:g} days after an allo-HSCT found {level:g}"
                     for d, v in zip(after["day"], after["copies_per_ug_gdna"]) if v > level / 10]
        beyond = rows[rows["day"] > frame.loc[pid, "followup_days"]]
        problems += [f"{pid}: sample on day {d:g} after follow-up" for d in beyond["day"]]
    return problems


def remission_death_problems(folder) -> list[str]:
    frame = load(folder)
    responders = frame[frame["responder"]]
    in_remission = responders[responders["died"] & (responders["death_cause"] == "non_relapse")]
    problems = []
    if len(in_remission) < 0.05 * len(responders):
        problems.append(f"{len(in_remission)} deaths in remission among {len(responders)} responders")
    early = in_remission[in_remission["hsct_day"].notna() & (in_remission["followup_days"] < in_remission["hsct_day"] + 30)]
    problems += [f"{pid}: died in remission {row.followup_days - row.hsct_day:g} days after the transplant"
                 for pid, row in early.iterrows()]
    return problems


CHECKS = (followup_problems, lfs_problems, kinetics_problems, remission_death_problems)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_the_synthetic_cohort_is_plausible(check):
    assert check(DATA_000) == []


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_each_check_rejects_the_data_the_reviewer_flagged(check):
    assert check(OLD_DATA) != []
