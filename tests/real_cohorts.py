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

Not carried, and counted by :data:`NOT_CARRIED`: donor age, donor sex, CMV status of patient and
donor, waiting time to transplant, FAB grade, hospital and methotrexate prophylaxis (the contract
has no user covariates yet), acute and chronic GVHD (no grade recorded) and platelet recovery
(the contract has no count-recovery endpoint).
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
NOT_CARRIED = {"z2": "donor age", "z4": "donor sex", "z5": "patient CMV status", "z6": "donor CMV status",
               "z7": "waiting time to transplant", "z8": "FAB grade", "z9": "hospital",
               "z10": "methotrexate prophylaxis", "ta/da": "acute GVHD (no grade)",
               "tc/dc": "chronic GVHD (no grade)", "tp/dp": "platelet recovery"}


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
    """Write ``<out_dir>/bmt-kmsurv/{patients,outcomes}.csv`` from the bmt data; returns the folder."""
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
    for name, frame in (("patients", patients), ("outcomes", outcomes)):
        columns = [c for c in TABLES[name].column_names if c in frame.columns]
        frame[columns].to_csv(folder / f"{name}.csv", index=False, lineterminator="\n")
    return folder
