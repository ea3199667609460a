"""Real public cohorts converted into the data contract, without inventing a value (issue 15).

Klein & Moeschberger's bone-marrow transplant data (``KMsurv::bmt``, Debian ``r-cran-kmsurv``):
137 adults with acute leukaemia given an allogeneic transplant in complete remission, followed
from the transplant (Copelan et al. 1991, as published in Klein & Moeschberger, *Survival
Analysis*, 2nd ed., section 1.3). The tests read the data through R when KMsurv is installed and
from the committed copy ``tests/fixtures/r/kmsurv_bmt.csv`` otherwise.

What is carried, and from which column:

* ``patients``: group (1 ALL, 2 AML low risk, 3 AML high risk) as the cohort and the diagnosis
  (ALL without its lineage, which the data do not record); z1 patient age; z3 patient sex
  (1 male); every patient was transplanted in complete remission, the data set's inclusion rule,
  so ``disease_status = complete_remission``; time zero is the transplant (``time_origin``).
* ``outcomes``: t1 days to death or last contact with d1 death; d2 relapse, on day t2 (the
  disease-free survival time, which for a relapse is its day); a death without relapse is
  ``non_relapse`` (death in remission) and a death after relapse ``unknown`` (no cause recorded).

* ``covariates`` (:data:`COVARIATES`, declared in ``covariates.csv`` and carried as extra columns
  of ``patients``): z2 donor age, z4 donor sex, z5 and z6 the CMV serostatus of patient and donor,
  z7 the waiting time to transplant, z8 FAB grade 4 or 5 AML, z9 the hospital and z10
  methotrexate prophylaxis of GVHD, each with the coding KMsurv documents.

Not carried, and counted by :data:`NOT_CARRIED`: acute and chronic GVHD (no grade recorded) and
platelet recovery (dated events, which the patients table does not hold).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from helpers.contract.spec import TABLES

FIXTURE = Path(__file__).parent / "fixtures" / "r" / "kmsurv_bmt.csv"
SCRIPT = Path(__file__).parent / "r" / "kmsurv_bmt.R"
STUDY = "bmt-kmsurv"
GROUPS = {1: ("ALL", "ALL"), 2: ("AML low risk", "AML"), 3: ("AML high risk", "AML")}
NOT_CARRIED = {"ta/da": "acute GVHD (no grade)", "tc/dc": "chronic GVHD (no grade)", "tp/dp": "platelet recovery"}
#: Hospitals as KMsurv's documentation names them (z9 = 1, 2, 3, 4; "Alferd" as it is spelled there).
HOSPITALS = ("Ohio State", "Alferd", "St. Vincent", "Hahnemann")
#: bmt column -> (covariate declared in covariates.csv, its values from the bmt codes).
COVARIATES = {
    "z2": (dict(column="donor_age", label="Donor age", type="number", unit="years", per=10), float),
    "z4": (dict(column="donor_sex", label="Donor sex", type="category", levels="female;male"),
           {0: "female", 1: "male"}),
    "z5": (dict(column="patient_cmv_positive", label="Patient CMV seropositive", type="yes_no"), {0: False, 1: True}),
    "z6": (dict(column="donor_cmv_positive", label="Donor CMV seropositive", type="yes_no"), {0: False, 1: True}),
    "z7": (dict(column="waiting_time", label="Waiting time to transplant", type="number", unit="days", per=30),
           float),
    "z8": (dict(column="fab_m4_m5", label="FAB grade 4 or 5 AML", type="yes_no"), {0: False, 1: True}),
    "z9": (dict(column="hospital", label="Hospital", type="category", levels=";".join(HOSPITALS)),
           dict(enumerate(HOSPITALS, start=1))),
    "z10": (dict(column="mtx_prophylaxis", label="Methotrexate GVHD prophylaxis", type="yes_no"), {0: False, 1: True}),
}


def read_bmt() -> pd.DataFrame:
    """The bmt data as R's KMsurv ships them (live when Rscript and KMsurv are installed)."""
    if shutil.which("Rscript"):
        from r_oracle import ROracleError, run_rscript

        try:
            return run_rscript(SCRIPT, {})["bmt"]
        except ROracleError:
            pass  # KMsurv not installed: the committed copy is the same data
    return pd.read_csv(FIXTURE)


def bmt_contract(bmt: pd.DataFrame, out_dir: Path) -> Path:
    """Write ``<out_dir>/bmt-kmsurv/{patients,outcomes,covariates}.csv`` from the bmt data; returns
    the folder. A code outside the documented ones would be a missing value, and is refused here."""
    folder = Path(out_dir) / STUDY
    folder.mkdir(parents=True, exist_ok=True)
    ids = [f"BMT-{i:03d}" for i in range(1, len(bmt) + 1)]
    patients = pd.DataFrame({
        "study_id": STUDY, "patient_id": ids,
        "cohort": bmt["group"].map(lambda g: GROUPS[g][0]),
        "diagnosis": bmt["group"].map(lambda g: GROUPS[g][1]),
        "age_years": bmt["z1"].astype(float),
        "sex": bmt["z3"].map({1: "male", 0: "female"}),
        "disease_status": "complete_remission",
        "time_origin": "allo-HSCT",
        "origin": "user",
    })
    for source, (declared, coding) in COVARIATES.items():
        values = bmt[source].astype(float) if coding is float else bmt[source].map(coding)
        if values.isna().any():
            raise ValueError(f"bmt.{source}: codes outside {sorted(coding)}: {sorted(set(bmt[source]) - set(coding))}")
        patients[declared["column"]] = values
    covariates = pd.DataFrame([dict(study_id=STUDY, **declared) for declared, _ in COVARIATES.values()]).assign(origin="user")
    relapsed = bmt["d2"] == 1
    died = bmt["d1"] == 1
    outcomes = pd.DataFrame({
        "study_id": STUDY, "patient_id": ids,
        "followup_days": bmt["t1"].astype(float),
        "relapsed": relapsed,
        "relapse_day": bmt["t2"].where(relapsed).astype(float),
        "died": died,
        "death_cause": pd.Series(pd.NA, index=bmt.index, dtype=object).mask(died & ~relapsed, "non_relapse")
                         .mask(died & relapsed, "unknown"),
        "origin": "user",
    })
    declared = list(covariates["column"])
    for name, frame in (("patients", patients), ("outcomes", outcomes), ("covariates", covariates)):
        columns = [c for c in TABLES[name].column_names if c in frame.columns] + (declared if name == "patients" else [])
        frame[columns].to_csv(folder / f"{name}.csv", index=False, lineterminator="\n")
    return folder
