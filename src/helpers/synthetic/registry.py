"""Synthetic registries and example cohorts of any size, in the data contract.

The four reproduced studies are small (134 patients at most). A hematology
group bringing its own data may bring a registry of thousands. This module
writes synthetic cohorts of any size and shape, so the book can be exercised
on them:

* :func:`registry` -- the **10,000-patient registry** (study ``REG``): three
  cohorts (B-ALL, Ph+ ALL, CML-LBC), every contract table, laboratory series
  for a monitored subset, CAR-T kinetics for another subset. Used by
  ``benchmarks/registry_scale.py``.
* :func:`single_centre` -- the **worked intake example** committed in
  ``data/examples/single-centre/``: 64 patients, one cohort, no laboratory and no
  kinetics data, a centre's ``events`` table (count recovery, GVHD, CMV reactivation), plus an ``infusion_dates.csv`` that the book ignores unless the
  data owner switches calendar dates on. Chapters show "no data for this
  analysis" where it lacks what they need.

Nothing here is calibrated to a paper: every value is invented, clinically
plausible, and marked ``origin = synthetic``. Generation is vectorised (10,000
patients in about a second) and deterministic: the same arguments give the
same bytes (one :class:`numpy.random.Generator` per call, fixed formats,
rows sorted by the table key, ``\\n`` line endings, nothing read from the clock).

Command line::

    python -m helpers.synthetic.registry --out /tmp/registry --patients 10000
    python -m helpers.synthetic.registry --out data/examples --shape single-centre
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from helpers.contract.spec import TABLES

DEFAULT_SEED = 20240101
#: The tables the registry writes: all but a centre's own declarations and event codes, which
#: an invented registry has no content for.
ALL_TABLES = tuple(t for t in TABLES if t not in ("covariates", "events"))

#: Cohort label -> (diagnosis, share of patients, chance of an ABL1 kinase-domain mutation).
REGISTRY_COHORTS = {
    "B-ALL": ("B-ALL", 0.62, 0.0),
    "Ph+ ALL": ("Ph+ B-ALL", 0.28, 0.25),
    "CML-LBC": ("CML lymphoid blast crisis", 0.10, 0.45),
}
STATUS_SHARES = {"mrd_positive": 0.28, "first_relapse": 0.30, "second_or_later_relapse": 0.24,
                 "primary_refractory": 0.18}
LAB_DAYS = (-6.0, 0.0, 1.0, 3.0, 5.0, 7.0, 10.0, 14.0, 21.0, 28.0)
KINETIC_DAYS = (4.0, 7.0, 10.0, 14.0, 21.0, 28.0, 60.0, 90.0, 180.0, 365.0)
CYTOKINE_LLOQ = {"IL-6": 1.5, "CRP": 0.5, "ferritin": 10.0}
KINETICS_LLOQ = 50.0


@dataclass(frozen=True)
class Shape:
    """What one synthetic cohort looks like."""

    study_id: str
    n_patients: int
    cohorts: dict = field(default_factory=lambda: dict(REGISTRY_COHORTS))
    tables: tuple = ALL_TABLES
    monitored_fraction: float = 0.3  # patients with a laboratory series
    kinetics_fraction: float = 0.25  # patients with CAR-T kinetics samples
    not_graded_fraction: float = 0.03  # patients without any adverse-event record
    first_infusion: str = "2016-01-01"  # for infusion_dates.csv
    infusion_years: float = 6.0
    infusion_dates: bool = False
    prefix: str = ""  # patient codes are <prefix>-<number> (default: the study id)


def registry_shape(n_patients: int = 10_000) -> Shape:
    return Shape("REG", n_patients)


def single_centre_shape() -> Shape:
    return Shape("single-centre", 64, cohorts={"r/r B-ALL": ("B-ALL", 1.0, 0.0)},
                 tables=("patients", "responses", "adverse_events", "treatments", "outcomes", "events"),
                 monitored_fraction=0.0, kinetics_fraction=0.0, not_graded_fraction=0.05,
                 first_infusion="2019-03-01", infusion_years=4.0, infusion_dates=True, prefix="SC")


# --------------------------------------------------------------------------
# Generation (vectorised: one draw per column, never a loop over patients)
# --------------------------------------------------------------------------

def generate(shape: Shape, seed: int = DEFAULT_SEED) -> dict[str, pd.DataFrame]:
    """Every table of ``shape`` as DataFrames with exactly the contract columns
    (plus ``infusion_dates`` when the shape asks for it)."""
    rng = np.random.default_rng([seed, sum(map(ord, shape.study_id)), shape.n_patients])
    n = shape.n_patients
    width = max(3, len(str(n)))
    prefix = shape.prefix or shape.study_id
    ids = np.array([f"{prefix}-{i:0{width}d}" for i in range(1, n + 1)], dtype=object)
    labels = list(shape.cohorts)
    shares = np.array([shape.cohorts[c][1] for c in labels], dtype=float)
    cohort = np.array(labels, dtype=object)[rng.choice(len(labels), size=n, p=shares / shares.sum())]
    diagnosis = np.array([shape.cohorts[c][0] for c in cohort], dtype=object)
    kd_chance = np.array([shape.cohorts[c][2] for c in cohort])
    is_cml = cohort == "CML-LBC"

    statuses = list(STATUS_SHARES)
    status = np.array(statuses, dtype=object)[rng.choice(len(statuses), size=n,
                                                          p=list(STATUS_SHARES.values()))]
    mrd = status == "mrd_positive"
    refractory = status == "primary_refractory"
    age = np.clip(np.round(rng.normal(np.where(is_cml, 46, 36), 15), 0), 2, 84)
    blasts = np.where(mrd, np.round(rng.uniform(0, 4.9, n), 1),
                      np.round(np.clip(rng.lognormal(3.3, 0.7, n), 5, 97), 1))
    kd = rng.random(n) < kd_chance
    ph = kd_chance > 0
    extramedullary = np.array(["none", "cns", "non_cns"], dtype=object)[
        rng.choice(3, size=n, p=[0.85, 0.05, 0.10])]
    dose = np.round(np.exp(rng.normal(np.log(1e6), 0.35, n)), -4)
    patients = pd.DataFrame({
        "study_id": shape.study_id, "patient_id": ids, "cohort": cohort, "diagnosis": diagnosis,
        "age_years": age, "sex": np.where(rng.random(n) < 0.56, "male", "female"),
        "disease_status": status, "marrow_blasts_pct": blasts,
        "abl_kd_mutation": pd.array(np.where(ph, kd, False), dtype="boolean"),
        "mutations": np.where(kd, np.where(rng.random(n) < 0.6, "T315I", "E255K"), None),
        "prior_lines": np.clip(rng.poisson(np.where(refractory, 1.5, 2.5)) + 1, 1, 12),
        "extramedullary_disease": extramedullary,
        "high_risk_genetics": pd.array(rng.random(n) < 0.3, dtype="boolean"),
        "tregs_high": pd.array(rng.random(n) < 0.4, dtype="boolean"),
        "car_target": np.where(rng.random(n) < 0.9, "CD19", "CD19/CD22"),
        "car_dose_cells_per_kg": dose, "bridged_to_hsct": False, "origin": "synthetic",
    })
    patients.loc[~ph, "abl_kd_mutation"] = pd.NA  # not tested without BCR::ABL1

    # ---- course: early death, remission, relapse, death, follow-up ---------------------------
    early_death = rng.random(n) < 0.025
    early_day = np.round(rng.uniform(3, 25, n), 1)
    p_remission = np.where(mrd, 0.88, np.where(refractory, 0.62, 0.76)) - np.where(is_cml, 0.18, 0) \
        - np.where(kd, 0.08, 0)
    remission = (rng.random(n) < p_remission) & ~early_death
    assess_day = rng.integers(26, 33, n).astype(float)
    mrd_negative = remission & (rng.random(n) < 0.82)
    censor = np.round(rng.uniform(90, 365.25 * shape.infusion_years, n), 1)  # administrative
    relapse_time = np.where(remission, rng.exponential(np.where(is_cml, 300, 700), n),
                            rng.uniform(28, 75, n))  # non-remitters progress soon after assessment
    relapse_time = np.where(remission, np.maximum(relapse_time, 45), relapse_time)
    cured = remission & (rng.random(n) < np.where(is_cml, 0.3, 0.45))  # never relapse
    relapse_time = np.where(cured, np.inf, relapse_time)
    hsct = remission & (rng.random(n) < np.where(mrd, 0.25, 0.4)) & (relapse_time > 100)
    hsct_day = np.round(rng.uniform(55, 100, n), 1)
    death_after_relapse = rng.exponential(200, n)
    nrm = rng.exponential(np.where(hsct, 4000, 9000), n)
    death_time = np.minimum(relapse_time + death_after_relapse, nrm + 30)
    death_time = np.where(early_death, early_day, death_time)
    followup = np.round(np.minimum(death_time, censor), 1)
    followup = np.maximum(followup, 3.0)
    died = early_death | (death_time <= censor)
    relapsed = ~early_death & (np.round(relapse_time, 1) <= followup)
    relapse_day = np.where(relapsed, np.minimum(np.round(relapse_time, 1), followup), np.nan)
    death_cause = np.where(~died, None, np.where(relapsed, "relapse", "non_relapse"))
    outcomes = pd.DataFrame({"study_id": shape.study_id, "patient_id": ids, "followup_days": followup,
                             "relapsed": relapsed, "relapse_day": relapse_day, "died": died,
                             "death_cause": death_cause, "origin": "synthetic"})
    hsct = hsct & (hsct_day <= followup) & ~(relapsed & (relapse_day <= hsct_day))
    patients["bridged_to_hsct"] = hsct

    tables = {"patients": patients, "outcomes": outcomes}

    # ---- responses: day ~28, and day 90 for those followed that long -------------------------
    if "responses" in shape.tables:
        assessed = assess_day <= followup
        morph = np.where(remission, np.where(rng.random(n) < 0.8, "CR", "CRi"),
                         np.where(rng.random(n) < 0.35, "PR", "NR"))
        molecular = np.where(~ph, "not_done", np.where(mrd_negative & (rng.random(n) < 0.7), "CMR",
                                                       "detectable"))
        first = pd.DataFrame({"patient_id": ids, "day": assess_day, "morphologic": morph,
                              "mrd_flow": np.where(mrd_negative, "negative", "positive"),
                              "molecular": molecular})[assessed]
        later = (remission & (followup >= 90)) & ~(relapsed & (relapse_day <= 90))
        second = pd.DataFrame({"patient_id": ids, "day": 90.0, "morphologic": "CR",
                               "mrd_flow": np.where(mrd_negative | (rng.random(n) < 0.4), "negative",
                                                    "positive"),
                               "molecular": molecular})[later]
        responses = pd.concat([first, second], ignore_index=True)
        responses.insert(0, "study_id", shape.study_id)
        responses["day"] = responses["day"].astype(int)
        responses["origin"] = "synthetic"
        tables["responses"] = responses

    # ---- adverse events: CRS and ICANS for everyone graded, some infections/cytopenias -------
    crs_grade = rng.choice(5, size=n, p=[0.34, 0.36, 0.18, 0.09, 0.03])
    if "adverse_events" in shape.tables:
        graded = rng.random(n) >= shape.not_graded_fraction
        rows = []
        for category, grade, onset_low, onset_high, dur_scale in (
                ("CRS", crs_grade, 1, 9, 4.0),
                ("ICANS", np.minimum(rng.choice(5, size=n, p=[0.72, 0.11, 0.09, 0.06, 0.02])
                                     + (crs_grade >= 3), 4), 3, 12, 3.0),
                ("cytopenia", rng.choice([3, 4], size=n, p=[0.55, 0.45]), 0, 5, 14.0),
                ("infection", rng.choice(4, size=n, p=[0.6, 0.2, 0.12, 0.08]), 5, 60, 7.0)):
            onset = np.round(rng.uniform(onset_low, onset_high, n), 1)
            grade = np.where(onset <= followup, grade, 0)
            present = grade > 0
            duration = np.round(np.clip(rng.gamma(2.0, dur_scale / 2, n) + grade, 1, 60), 1)
            term = {"cytopenia": "neutropenia", "infection": "infection"}.get(category, category)
            keep = graded & (present | np.isin(category, ["CRS", "ICANS"]))
            rows.append(pd.DataFrame({
                "patient_id": ids, "category": category, "term": term, "grade": grade,
                "grading_system": "ASTCT" if category in ("CRS", "ICANS") else "CTCAE",
                "onset_day": np.where(present, onset, np.nan),
                "duration_days": np.where(present, duration, np.nan)})[keep])
        ae = pd.concat(rows, ignore_index=True)
        ae.insert(0, "study_id", shape.study_id)
        ae["origin"] = "synthetic"
        tables["adverse_events"] = ae

    # ---- laboratory series (monitored subset) -------------------------------------------------
    if "labs" in shape.tables:
        monitored = rng.random(n) < shape.monitored_fraction
        parts = []
        peak_day = rng.uniform(4, 8, n)
        for analyte, unit, base, fold in (("IL-6", "pg/mL", 4.0, 8.0), ("CRP", "mg/L", 6.0, 6.0),
                                          ("ferritin", "ng/mL", 600.0, 2.5)):
            for day in LAB_DAYS:
                rise = np.exp(-((day - peak_day) ** 2) / 18.0) if day >= 0 else 0.0
                value = base * np.exp(rng.normal(0, 0.5, n)) * (1 + fold * (1 + crs_grade) * rise)
                keep = monitored & (day <= followup)
                lloq = CYTOKINE_LLOQ[analyte]
                below = value < lloq
                parts.append(pd.DataFrame({"patient_id": ids, "analyte": analyte, "day": day,
                                           "value": np.where(below, lloq, value), "unit": unit,
                                           "below_lloq": below})[keep])
        labs = pd.concat(parts, ignore_index=True)
        labs.insert(0, "study_id", shape.study_id)
        labs["origin"] = "synthetic"
        tables["labs"] = labs

    # ---- CAR-T kinetics (sampled subset) ------------------------------------------------------
    if "kinetics" in shape.tables:
        sampled = rng.random(n) < shape.kinetics_fraction
        peak = np.exp(rng.normal(np.log(2e4), 1.0, n)) * np.where(remission, 1.0, 0.3)
        tpeak = rng.uniform(8, 14, n)
        half_life = rng.uniform(8, 25, n)
        parts = []
        for day in KINETIC_DAYS:
            level = np.where(day <= tpeak, peak * np.exp(-((day - tpeak) ** 2) / 20.0),
                             peak * 0.5 ** ((day - tpeak) / half_life) + 30 * (day > 90))
            level = level * np.exp(rng.normal(0, 0.25, n))
            below = level < KINETICS_LLOQ
            parts.append(pd.DataFrame({"patient_id": ids, "day": day,
                                       "copies_per_ug_gdna": np.where(below, KINETICS_LLOQ, level),
                                       "below_lloq": below})[sampled & (day <= followup)])
        kinetics = pd.concat(parts, ignore_index=True)
        kinetics.insert(0, "study_id", shape.study_id)
        kinetics["origin"] = "synthetic"
        tables["kinetics"] = kinetics

    # ---- treatments: lymphodepletion, the infusion, transplant ---------------------------------
    if "treatments" in shape.tables:
        ld = pd.DataFrame({"patient_id": ids, "category": "lymphodepletion", "agent": "FC",
                           "start_day": -5.0, "end_day": -3.0, "dose": np.nan, "dose_unit": None})
        car = pd.DataFrame({"patient_id": ids, "category": "CAR-T",
                            "agent": np.where(patients["car_target"] == "CD19", "CD19 CAR-T",
                                              "CD19/CD22 CAR-T"),
                            "start_day": 0.0, "end_day": 0.0, "dose": dose, "dose_unit": "cells/kg"})
        allo = pd.DataFrame({"patient_id": ids, "category": "allo-HSCT", "agent": "allo-HSCT",
                             "start_day": hsct_day, "end_day": hsct_day, "dose": np.nan,
                             "dose_unit": None})[hsct]
        treatments = pd.concat([ld, car, allo], ignore_index=True)
        treatments.insert(0, "study_id", shape.study_id)
        treatments["origin"] = "synthetic"
        tables["treatments"] = treatments

    # ---- dated clinical events: only a shape that asks (its own draws: the others stay) -------
    if "events" in shape.tables:
        tables["events"] = _events(shape, seed, ids, followup, hsct, hsct_day)

    out = {name: _contract_frame(name, tables[name]) for name in TABLES if name in tables}
    if shape.infusion_dates:
        start = np.datetime64(shape.first_infusion)
        offset = np.sort(rng.integers(0, int(365.25 * shape.infusion_years), n))
        out["infusion_dates"] = pd.DataFrame({
            "study_id": shape.study_id, "patient_id": ids,
            "infusion_date": (start + offset.astype("timedelta64[D]")).astype(str)})
    return out


def _events(shape: Shape, seed: int, ids: np.ndarray, followup: np.ndarray, hsct: np.ndarray,
            hsct_day: np.ndarray) -> pd.DataFrame:
    """The optional ``events`` table of a centre: neutrophil and platelet recovery, acute GVHD
    after an allo-HSCT (graded I–IV), and one code of the centre's own (CMV reactivation). Each is
    recorded only when it falls within the patient's follow-up. A generator of its own, so that
    asking for events leaves every other table's values as they were."""
    rng = np.random.default_rng([seed, sum(map(ord, shape.study_id)), len(ids), 7])
    n = len(ids)
    anc = np.round(np.clip(rng.lognormal(np.log(14), 0.4, n), 5, 60), 1)
    platelets = np.round(np.clip(rng.lognormal(np.log(28), 0.5, n), 7, 180), 1)
    gvhd_day = np.round(hsct_day + rng.uniform(15, 90, n), 1)
    gvhd_grade = rng.choice([1, 2, 3, 4], size=n, p=[0.4, 0.3, 0.2, 0.1])
    cmv_day = np.round(rng.uniform(14, 120, n), 1)
    parts = [
        pd.DataFrame({"patient_id": ids, "event": "anc_recovery", "day": anc, "grade": np.nan})[
            (rng.random(n) < 0.93) & (anc <= followup)],
        pd.DataFrame({"patient_id": ids, "event": "platelet_recovery", "day": platelets, "grade": np.nan})[
            (rng.random(n) < 0.8) & (platelets <= followup)],
        pd.DataFrame({"patient_id": ids, "event": "acute_gvhd", "day": gvhd_day, "grade": gvhd_grade})[
            hsct & (rng.random(n) < 0.35) & (gvhd_day <= followup)],
        pd.DataFrame({"patient_id": ids, "event": "cmv_reactivation", "day": cmv_day, "grade": np.nan})[
            (rng.random(n) < 0.12) & (cmv_day <= followup)],
    ]
    events = pd.concat(parts, ignore_index=True)
    events.insert(0, "study_id", shape.study_id)
    events["grade"] = events["grade"].astype("Int64")
    events["origin"] = "synthetic"
    return events


def _contract_frame(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    spec = TABLES[table]
    # Optional columns the registry does not generate (time_origin...) stay out of its files.
    frame = frame[[c.name for c in spec.columns if c.required or c.name in frame.columns]]
    return frame.sort_values(list(spec.key), kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------
# Writing (fixed formats, vectorised)
# --------------------------------------------------------------------------

def _format_column(values: pd.Series, dtype: str, column: str) -> pd.Series:
    missing = values.isna()
    if dtype == "bool":
        text = values.map({True: "True", False: "False"})
    elif dtype == "int":
        text = values.astype("Int64").astype(str)
    elif dtype == "float":
        x = values.astype(float)
        if column in ("age_years", "marrow_blasts_pct") or column.endswith("day") or column.endswith("days"):
            text = x.map(lambda v: f"{v:.1f}")
        else:  # three significant digits, no exponent, as a laboratory reports
            text = x.map(lambda v: (f"{float(f'{v:.3g}'):.12f}".rstrip("0").rstrip(".") or "0"))
    else:
        text = values.astype(object).astype(str)
    return text.mask(missing, "")


def csv_text(frame: pd.DataFrame, table: Optional[str] = None) -> str:
    """CSV text of one table with fixed formats (contract dtypes when ``table`` is given)."""
    columns = TABLES[table].columns if table else None
    cells = {}
    for name in frame.columns:
        dtype = next((c.dtype for c in columns if c.name == name), "str") if columns else "str"
        cells[name] = _format_column(frame[name], dtype, name)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(list(frame.columns))
    writer.writerows(zip(*[cells[c].tolist() for c in frame.columns]))
    return buf.getvalue()


def provenance(shape: Shape, frames: dict) -> pd.DataFrame:
    """One row per column the registry writes (an optional column it leaves out is not listed)."""
    rows = [{"table": t, "column": c.name, "provenance": "synthetic", "register_ids": "",
             "note": "invented by helpers.synthetic.registry; calibrated to no paper"}
            for t in shape.tables for c in TABLES[t].columns if c.name in frames[t].columns]
    return pd.DataFrame(rows, columns=["table", "column", "provenance", "register_ids", "note"])


def write(shape: Shape, out_dir: Path | str, seed: int = DEFAULT_SEED) -> Path:
    """Write ``<out_dir>/<study_id>/<table>.csv`` (+ provenance.csv, infusion_dates.csv)."""
    folder = Path(out_dir) / shape.study_id
    folder.mkdir(parents=True, exist_ok=True)
    frames = generate(shape, seed)
    texts = {f"{name}.csv": csv_text(frame, name if name in TABLES else None)
             for name, frame in frames.items()}
    texts["provenance.csv"] = csv_text(provenance(shape, frames))
    for name, text in texts.items():
        with open(folder / name, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
    return folder


def registry(out_dir: Path | str, n_patients: int = 10_000, seed: int = DEFAULT_SEED) -> Path:
    """The synthetic registry (study ``REG``) under ``out_dir``; returns its folder."""
    return write(registry_shape(n_patients), out_dir, seed)


def single_centre(out_dir: Path | str, seed: int = DEFAULT_SEED) -> Path:
    """The worked intake example (study ``single-centre``) under ``out_dir``."""
    return write(single_centre_shape(), out_dir, seed)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.synthetic.registry", description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="folder to write the study folder into")
    parser.add_argument("--shape", choices=("registry", "single-centre"), default="registry")
    parser.add_argument("--patients", type=int, default=10_000, help="registry size (default 10000)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    folder = (registry(args.out, args.patients, args.seed) if args.shape == "registry"
              else single_centre(args.out, args.seed))
    print(f"wrote {folder} in {time.perf_counter() - start:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
