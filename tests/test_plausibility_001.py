"""Study 001: the synthetic CAR-T kinetics are clinically plausible.

A reviewer found patient 1 with 290-520 CAR-T copies/µg gDNA on days 60-180, after an
allo-HSCT on day 49, and patient 2 with a sample on day 60 although the paper has him die
"2 months" after the infusion. Everything here is read back from the CSV files (and the
register, for how the death was printed), never from the generator's internals; each check
takes the data folder, so the last test can show that every check rejects the data the
reviewer flagged.

Thresholds, and why:

* ``POST_HSCT_WINDOW`` (28 days): four weeks after the transplant the conditioning and the
  donor graft have had time to act; earlier samples are not judged.
* ``FALL_FROM_TRANSPLANT`` (10x): a quantifiable sample in that window must lie at least a
  log below the last quantifiable sample before the transplant -- the level the transplant
  found. Judged against the expansion peak instead, the natural contraction alone already
  gives a 10-fold fall (the flagged data passed that), so the peak is judged at 100x
  (``FALL_FROM_PEAK``, two logs).
* ``LAST_SHARE_OF_PEAK`` (1%): the last sample of a transplanted patient is below the limit
  of quantification or below 1% of the peak.
* A death printed to the month only ("2 months") may have fallen any time from half a month
  earlier, so no sample, assessment or treatment may lie after that earliest day; for a
  patient alive at the end, none after the end of follow-up.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from helpers import reproduction
from helpers.paths import SYNTHETIC_DIR
from helpers.synthetic import cohorts as synthetic

DATA_001 = SYNTHETIC_DIR / "001"
MONTH = 365.25 / 12          # days, the book's month
POST_HSCT_WINDOW = 28.0      # days after the transplant from which samples are judged
FALL_FROM_TRANSPLANT = 10.0  # x below the last quantifiable pre-transplant sample
FALL_FROM_PEAK = 100.0       # x below the highest pre-transplant sample
LAST_SHARE_OF_PEAK = 0.01    # the last sample: below LLOQ or below this share of the peak
#: A death the register prints as an interval, by patient: its register id.
DEATH_AS_PRINTED = {"001-P2": "001-p2-death-time"}
#: Days per printed unit; a death printed to a unit may have fallen half a unit earlier.
UNIT_DAYS = {"month": MONTH, "months": MONTH, "week": 7.0, "weeks": 7.0, "day": 1.0, "days": 1.0}


def read(data_dir: Path, table: str) -> pd.DataFrame:
    return pd.read_csv(Path(data_dir) / f"{table}.csv", dtype={"study_id": str})


def hsct_days(data_dir: Path) -> dict[str, float]:
    tx = read(data_dir, "treatments")
    hsct = tx[tx["category"] == "allo-HSCT"]
    assert hsct["patient_id"].is_unique, "one allo-HSCT per patient expected"
    return dict(zip(hsct["patient_id"], hsct["start_day"].astype(float)))


def _kinetics(data_dir: Path) -> pd.DataFrame:
    kin = read(data_dir, "kinetics").sort_values(["patient_id", "day"])
    assert kin["below_lloq"].dtype == bool
    return kin


# ------------------------------------------------------------------ checks --

def post_hsct_fall_problems(data_dir: Path) -> list[str]:
    """Quantifiable samples >= 28 days after the transplant that are not 10x below the level
    before it and 100x below the peak before it."""
    kin, out = _kinetics(data_dir), []
    for pid, day0 in hsct_days(data_dir).items():
        k = kin[kin["patient_id"] == pid]
        pre = k[(k["day"] <= day0) & ~k["below_lloq"]]
        assert len(pre), f"{pid}: no quantifiable sample before the allo-HSCT"
        peak, level = pre["copies_per_ug_gdna"].max(), pre["copies_per_ug_gdna"].iloc[-1]
        late = k[(k["day"] >= day0 + POST_HSCT_WINDOW) & ~k["below_lloq"]]
        for day, value in zip(late["day"], late["copies_per_ug_gdna"]):
            if value * FALL_FROM_TRANSPLANT > level:
                out.append(f"{pid} day {day:g}: {value:g} copies, not {FALL_FROM_TRANSPLANT:g}x below "
                           f"the last pre-HSCT level {level:g}")
            if value * FALL_FROM_PEAK > peak:
                out.append(f"{pid} day {day:g}: {value:g} copies, not {FALL_FROM_PEAK:g}x below "
                           f"the pre-HSCT peak {peak:g}")
    return out


def last_sample_problems(data_dir: Path) -> list[str]:
    """Transplanted patients whose last sample is quantifiable and >= 1% of the peak."""
    kin, out = _kinetics(data_dir), []
    for pid in hsct_days(data_dir):
        k = kin[kin["patient_id"] == pid]
        assert len(k), f"{pid}: no kinetics"
        last, peak = k.iloc[-1], k["copies_per_ug_gdna"].max()
        if not last["below_lloq"] and last["copies_per_ug_gdna"] >= LAST_SHARE_OF_PEAK * peak:
            out.append(f"{pid}: last sample day {last['day']:g} has {last['copies_per_ug_gdna']:g} copies, "
                       f"{last['copies_per_ug_gdna'] / peak:.1%} of the peak {peak:g}")
    return out


def last_possible_day(data_dir: Path) -> dict[str, float]:
    """Per patient: end of follow-up, or for a death printed as an interval, the earliest day
    that death may have fallen on (printed value minus half its unit)."""
    outcomes = read(data_dir, "outcomes").set_index("patient_id")
    end = {}
    for pid, row in outcomes.iterrows():
        end[pid] = float(row["followup_days"])
        if bool(row["died"]) and pid in DEATH_AS_PRINTED:
            printed = reproduction.entry(DEATH_AS_PRINTED[pid])
            per_unit = UNIT_DAYS[str(printed["unit"]).strip()]
            assert round(float(printed["value"]) * per_unit, 1) == round(end[pid], 1), \
                f"{pid}: outcomes death day {end[pid]} is not the printed {printed['value_text']}"
            end[pid] = min(end[pid], (float(printed["value"]) - 0.5) * per_unit)
    return end


def after_life_problems(data_dir: Path) -> list[str]:
    """Samples, assessments and treatments after the last day a patient can have been seen."""
    end, out = last_possible_day(data_dir), []
    for table, column in (("kinetics", "day"), ("labs", "day"), ("responses", "day"),
                          ("adverse_events", "onset_day"), ("treatments", "start_day")):
        frame = read(data_dir, table)
        for pid, day in zip(frame["patient_id"], frame[column]):
            assert pid in end, f"{table}: {pid} has no outcome row"
            if pd.notna(day) and float(day) > end[pid]:
                out.append(f"{table}: {pid} day {float(day):g} after day {end[pid]:.1f}")
    return out


def regeneration_problems(data_dir: Path) -> list[str]:
    """Files in ``data_dir`` that the generator (run twice) does not write byte for byte."""
    first, second = synthetic.study_texts("001"), synthetic.study_texts("001")
    out = [f"{name}: two runs differ" for name in first if first[name] != second.get(name)]
    for name, text in first.items():
        path = Path(data_dir) / name
        if not path.exists() or path.read_bytes() != text.encode("utf-8"):
            out.append(f"{name}: differs from a fresh generation")
    return out


CHECKS = (post_hsct_fall_problems, last_sample_problems, after_life_problems, regeneration_problems)


# ------------------------------------------------------------------- tests --

def test_001_copies_fall_after_the_allo_hsct():
    assert hsct_days(DATA_001), "study 001 has an allo-HSCT (patient 1)"
    assert post_hsct_fall_problems(DATA_001) == []


def test_001_last_sample_of_a_transplanted_patient_is_low():
    assert last_sample_problems(DATA_001) == []


def test_001_nothing_after_death_or_follow_up():
    assert after_life_problems(DATA_001) == []


def test_001_generator_is_deterministic_and_wrote_these_files():
    assert regeneration_problems(DATA_001) == []


def test_001_published_peak_days_still_hold():
    kin = _kinetics(DATA_001)
    for rid, pid in (("001-p1-cart-peak-day", "001-P1"), ("001-p2-cart-peak-day", "001-P2")):
        k = kin[kin["patient_id"] == pid]
        assert k.loc[k["copies_per_ug_gdna"].idxmax(), "day"] == reproduction.entry(rid)["value"]


#: The kinetics the reviewer flagged (data/synthetic/001/kinetics.csv before the fix).
FLAGGED_KINETICS = """\
study_id,patient_id,day,copies_per_ug_gdna,below_lloq,origin
001,001-P1,1.0,50.6,False,synthetic
001,001-P1,2.0,350,False,synthetic
001,001-P1,4.0,15800,False,synthetic
001,001-P1,6.0,12500,False,synthetic
001,001-P1,7.0,8080,False,synthetic
001,001-P1,10.0,5580,False,synthetic
001,001-P1,14.0,3450,False,synthetic
001,001-P1,21.0,1340,False,synthetic
001,001-P1,28.0,666,False,synthetic
001,001-P1,60.0,519,False,synthetic
001,001-P1,90.0,394,False,synthetic
001,001-P1,180.0,293,False,synthetic
001,001-P2,1.0,67.8,False,synthetic
001,001-P2,2.0,206,False,synthetic
001,001-P2,4.0,1940,False,synthetic
001,001-P2,6.0,21500,False,synthetic
001,001-P2,7.0,19400,False,synthetic
001,001-P2,10.0,12900,False,synthetic
001,001-P2,14.0,7380,False,synthetic
001,001-P2,21.0,3910,False,synthetic
001,001-P2,28.0,1550,False,synthetic
001,001-P2,60.0,359,False,synthetic
"""


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_001_each_check_rejects_the_flagged_kinetics(tmp_path, check):
    for path in DATA_001.glob("*.csv"):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "kinetics.csv").write_text(FLAGGED_KINETICS, encoding="utf-8")
    assert check(tmp_path) != []
