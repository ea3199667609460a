"""Run the book on your own cohort: validate a folder of CSV or Excel files, then build.

One command::

    .venv/bin/python -m helpers.site.intake /path/to/my/cohort --out /path/to/output

1. **Finds the studies.** ``/path/to/my/cohort`` is one study (it holds
   ``patients.csv`` or ``patients.xlsx``) or a folder of study folders. A study's
   name is its folder's name.
2. **Validates** every table against the data contract (:mod:`helpers.contract`:
   columns, types, ranges, identifiers, rules across tables) and the intake rules
   below. Every problem is listed with its file, column, row(s) and rule, in the
   terminal and in ``<out>/intake-problems.csv``; nothing is built until the list
   is empty (exit status 2).
3. **Says what each analysis can do** with these data (``<out>/intake-report.md``):
   which tables are absent, whether there is one cohort or several, how many
   patients are not evaluable, whether every patient is censored -- the visible
   degradations the chapters will show.
4. **Builds the book** on the folder into ``<out>/_build/html`` (the build runner
   with ``--data-dir``, ``--allow-absent`` and ``CART_BOOK_OUTPUT=<out>``), so the
   book's own build is untouched. Each chapter gets the papermill parameter
   ``data_dir``; a section or chapter whose data are absent shows a "no data"
   note. The privacy guard (:mod:`helpers.site.privacy`) then checks the built site.

Calendar dates stay off: the book counts days from the infusion. A data owner
who wants the months of infusion shown (aggregated, never a day) adds
``infusion_dates.csv`` (study_id, patient_id, infusion_date as YYYY-MM-DD) to a
study folder and passes ``--absolute-dates``.

Intake rules (beyond the contract)
----------------------------------
* A study folder holds one study: ``study_id`` has one value in every table.
* A folder named after a study the book reproduces (000, 001, 003, 004) is read
  as that study, so its cohort labels must be the ones the chapters compare
  (e.g. ``CML-LBC`` and ``Ph+ ALL`` for 000). Your own data belong in a folder
  with its own name.
* With ``--absolute-dates``, ``infusion_dates.csv`` must name each patient once,
  with a valid date.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pandas as pd

from helpers.chapters.context import (
    ABSOLUTE_DATES_ENV,
    INFUSION_DATES_FILE,
    cohort_folders,
    read_infusion_months,
    register_studies,
)
from helpers.contract import validate as contract
from helpers.contract.validate import PROBLEM_COLUMNS, ContractError
from helpers.paths import REGISTER_CSV, REPO_ROOT, SYNTHETIC_DIR

CYTOKINE_ANALYTES = ("IL-6", "IL-10", "TNF-alpha", "IFN-gamma", "CRP", "ferritin")


@dataclass
class IntakeReport:
    """What intake found: problems (file, column, row, rule), notes, and per-analysis readiness."""

    folder: Path
    studies: dict = field(default_factory=dict)  # study -> contract.Cohort (validated)
    problems: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["study", *PROBLEM_COLUMNS]))
    notes: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["study", "source", "table", "note"]))
    readiness: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["study", "analysis", "status", "detail"]))

    @property
    def ok(self) -> bool:
        return len(self.problems) == 0

    def problem_lines(self) -> list[str]:
        lines = []
        for p in self.problems.to_dict("records"):
            line = contract._format_problem(p)
            lines.append(f"[{p['study']}] {line}")
        return lines

    def text(self) -> str:
        out = [f"Intake of {self.folder}: {len(self.studies) or 'no'} valid stud"
               f"{'y' if len(self.studies) == 1 else 'ies'}"
               + (f" ({', '.join(self.studies)})" if self.studies else "")]
        if not self.ok:
            out.append(f"{len(self.problems)} problem(s) - nothing is built until they are fixed:")
            out += ["  " + line for line in self.problem_lines()]
        for n in self.notes.to_dict("records"):
            out.append(f"  note [{n['study']}] {n['source']}: {n['note']}")
        if len(self.readiness):
            out.append("What the chapters can do with these data:")
            for r in self.readiness.to_dict("records"):
                out.append(f"  [{r['study']}] {r['analysis']}: {r['status']}" + (f" - {r['detail']}" if r['detail'] else ""))
        return "\n".join(out)

    def markdown(self) -> str:
        lines = [f"# Intake report: `{self.folder.name}`", ""]
        if not self.ok:
            lines += [f"**{len(self.problems)} problem(s); the book was not built.**", "",
                      "| Study | File | Column | Row | Rule | Value |", "|---|---|---|---|---|---|"]
            for p in self.problems.to_dict("records"):
                lines.append("| " + " | ".join(_md(x) for x in (p["study"], p["source"], p["column"],
                                                                 p["row"], p["rule"], p["value"])) + " |")
            lines.append("")
        if len(self.notes):
            lines += ["## Notes from loading", ""] + [f"- **{_md(n['study'])}**, {_md(n['source'])}: {_md(n['note'])}"
                                                     for n in self.notes.to_dict("records")] + [""]
        if len(self.readiness):
            lines += ["## What each analysis can do with these data", "",
                      "| Study | Analysis | Status | Detail |", "|---|---|---|---|"]
            lines += ["| " + " | ".join(_md(r[c]) for c in ("study", "analysis", "status", "detail")) + " |"
                      for r in self.readiness.to_dict("records")]
        return "\n".join(lines) + "\n"


def _md(value) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return ""
    return str(value).replace("|", "\\|").replace("\n", " ")


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------

def expected_cohorts(study: str) -> Optional[list[str]]:
    """Cohort labels the chapters compare for a reproduced study (from its synthetic cohort)."""
    path = SYNTHETIC_DIR / study / "patients.csv"
    if study not in register_studies(REGISTER_CSV) or not path.exists():
        return None
    return sorted(pd.read_csv(path, dtype=str, keep_default_na=False, usecols=["cohort"])["cohort"].unique())


def _intake_problems(study: str, cohort: contract.Cohort) -> list[dict]:
    problems = []
    # one study per folder
    ids = {}
    for name, frame in cohort.items():
        for pos, value in enumerate(frame["study_id"]):
            ids.setdefault(value, {}).setdefault(name, []).append(pos + 1)
    if len(ids) > 1:
        main = max(ids, key=lambda v: sum(len(r) for r in ids[v].values()))
        for value, tables in ids.items():
            if value == main:
                continue
            for name, rows in tables.items():
                problems.append(dict(study=study, source=cohort.files.get(name, f"{name}.csv"), table=name,
                                     column="study_id", row=rows[0],
                                     rule=f"a study folder holds one study: study_id {value!r} in "
                                          f"{contract._rows_text(rows)} differs from {main!r}, used in the "
                                          "other rows; put each study in its own folder",
                                     value=repr(value)))
    # cohorts of a reproduced study
    expected = expected_cohorts(study)
    if expected is not None:
        patients = cohort["patients"]
        for label, rows in patients.groupby("cohort", sort=True).groups.items():
            if label not in expected:
                first = [int(r) + 1 for r in rows]
                problems.append(dict(study=study, source=cohort.files["patients"], table="patients",
                                     column="cohort", row=first[0],
                                     rule=f"unknown cohort label for study {study} ({contract._rows_text(first)}): "
                                          f"the chapters that reproduce study {study} compare the cohorts "
                                          f"{', '.join(expected)}; use those labels, or put your own data in a "
                                          f"folder with its own name (not {', '.join(register_studies(REGISTER_CSV))})",
                                     value=repr(label)))
    return problems


def readiness(study: str, cohort: contract.Cohort) -> list[dict]:
    """What each analysis can do with one study's data: ok, degraded (and why) or absent."""
    rows = []
    patients, outcomes = cohort["patients"], cohort["outcomes"]
    n = len(patients)
    labels = sorted(patients["cohort"].unique())

    def add(analysis, status, detail=""):
        rows.append(dict(study=study, analysis=analysis, status=status, detail=detail))

    add("Patients", "ok", f"{n} patients in {len(labels)} cohort(s): {', '.join(labels)}")
    if len(labels) < 2:
        add("Comparisons between cohorts", "degraded",
            f"one cohort ({labels[0]}): between-cohort tests (Fisher, rank-sum, log-rank) are not computable; "
            "chapters describe the cohort on its own")
    else:
        add("Comparisons between cohorts", "ok", f"{len(labels)} cohorts")
    for table, analysis in (("responses", "Response"), ("adverse_events", "Toxicity (CRS, ICANS, other events)"),
                            ("labs", "Cytokines and blood counts"), ("kinetics", "CAR-T expansion"),
                            ("treatments", "Treatment timelines")):
        if table not in cohort:
            add(analysis, "absent", f"no {table} table: the chapter shows 'no data for this analysis'")
            continue
        frame = cohort[table]
        covered = frame["patient_id"].nunique()
        detail = f"{len(frame)} rows for {covered} of {n} patients"
        if table == "labs":
            cytokines = frame[frame["analyte"].isin(CYTOKINE_ANALYTES)]
            if cytokines.empty:
                add(analysis, "degraded", detail + "; no cytokine or inflammatory-marker analyte")
                continue
            detail = f"{cytokines['patient_id'].nunique()} of {n} patients with cytokine samples"
        if table == "responses":
            readable = frame[frame["morphologic"] != "not_evaluable"]["patient_id"].nunique()
            if readable < n:
                detail += f"; {n - readable} patient(s) without a readable assessment are counted as not evaluable"
        add(analysis, "ok" if covered == n or table in ("labs", "kinetics") else "ok (partial)", detail)
    deaths, relapses = int(outcomes["died"].sum()), int(outcomes["relapsed"].sum())
    follow = outcomes["followup_days"]
    add("Follow-up", "ok", f"median {follow.median():.0f} days (range {follow.min():.0f} to {follow.max():.0f})")
    if deaths == 0:
        add("Overall survival", "degraded",
            "every patient is censored (no death): survival stays at 100%, medians are not reached and "
            "the log-rank test is not computable")
    else:
        add("Overall survival", "ok", f"{deaths} deaths among {n}")
    if relapses + deaths == 0:
        add("Relapse-free survival", "degraded", "no relapse and no death: every patient censored")
    else:
        add("Relapse-free survival", "ok", f"{relapses} relapses, {deaths} deaths")
    return rows


def validate(folder: str | Path, *, absolute_dates: bool = False) -> IntakeReport:
    """Validate every study under ``folder``; never raises for bad data (see ``report.problems``)."""
    folder = Path(folder).expanduser().resolve()
    report = IntakeReport(folder)
    problems, notes, ready = [], [], []
    if not folder.is_dir():
        problems.append(dict(study="", source=str(folder), table=None, column=None, row=None,
                             rule="the data folder does not exist or is not a folder", value=None))
    else:
        studies = cohort_folders(folder)
        if not studies:
            problems.append(dict(study="", source=folder.name, table="patients", column=None, row=None,
                                 rule="no study found: neither the folder nor any folder inside it holds a "
                                      "patients.csv or patients.xlsx (the template is in data/template/)",
                                 value=None))
        for study, path in studies.items():
            try:
                cohort = contract.load_cohort(path)
            except ContractError as error:
                problems += [dict(study=study, **p) for p in error.problems.to_dict("records")]
                notes += [dict(study=study, **n) for n in error.notes.to_dict("records")]
                continue
            notes += [dict(study=study, **n) for n in cohort.notes.to_dict("records")]
            found = _intake_problems(study, cohort)
            dates = path / INFUSION_DATES_FILE
            if absolute_dates and dates.exists():
                try:
                    months = read_infusion_months(dates, cohort["patients"])
                    notes.append(dict(study=study, source=dates.name, table=None,
                                      note=f"calendar dates switched on: months of infusion of {len(months)} "
                                           f"patients are shown (aggregated by month, never a day)"))
                except ContractError as error:
                    found += [dict(study=study, **p) for p in error.problems.to_dict("records")]
            elif absolute_dates:
                notes.append(dict(study=study, source=INFUSION_DATES_FILE, table=None,
                                  note="--absolute-dates given but the study has no infusion_dates.csv: "
                                       "days from infusion only"))
            problems += found
            if not found:
                report.studies[study] = cohort
                ready += readiness(study, cohort)
    report.problems = pd.DataFrame(problems, columns=["study", *PROBLEM_COLUMNS])
    report.problems["row"] = report.problems["row"].astype("Int64")
    report.notes = pd.DataFrame(notes, columns=["study", "source", "table", "note"])
    report.readiness = pd.DataFrame(ready, columns=["study", "analysis", "status", "detail"])
    return report


# --------------------------------------------------------------------------
# Build
# --------------------------------------------------------------------------

def build_command(folder: Path, *, seed: int, jobs: int, force: bool) -> list[str]:
    command = [sys.executable, "-m", "helpers.site.build", "--data-dir", str(folder), "--no-regenerate",
               "--allow-absent", "--seed", str(seed), "--jobs", str(jobs)]
    return command + (["--force"] if force else [])


def build(folder: Path, out: Path, *, seed: int = 20240101, jobs: int = 2, force: bool = False,
          absolute_dates: bool = False) -> int:
    """Build the book on ``folder`` into ``out/_build/html``; returns the build's exit status."""
    env = dict(os.environ, CART_BOOK_OUTPUT=str(out))
    env[ABSOLUTE_DATES_ENV] = "1" if absolute_dates else ""
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT / "src"), env.get("PYTHONPATH", "")]))
    return subprocess.run(build_command(folder, seed=seed, jobs=jobs, force=force), cwd=REPO_ROOT,
                          env=env).returncode


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.site.intake",
                                     description="Validate a cohort folder, then build the book on it.")
    parser.add_argument("folder", help="folder of CSV/Excel tables in the data contract (one study, or "
                                       "one folder per study)")
    parser.add_argument("--out", help="output folder (the site goes to <out>/_build/html)")
    parser.add_argument("--check-only", action="store_true", help="validate and report; do not build")
    parser.add_argument("--absolute-dates", action="store_true",
                        help="show months of infusion from infusion_dates.csv (off: days from infusion only)")
    parser.add_argument("--seed", type=int, default=20240101)
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--force", action="store_true", help="re-execute every chapter")
    args = parser.parse_args(argv)
    if not args.check_only and not args.out:
        parser.error("--out is required unless --check-only is given")

    start = time.perf_counter()
    report = validate(args.folder, absolute_dates=args.absolute_dates)
    print(report.text(), flush=True)
    if args.out:
        out = Path(args.out).expanduser().resolve()
        out.mkdir(parents=True, exist_ok=True)
        (out / "intake-report.md").write_text(report.markdown(), encoding="utf-8")
        report.problems.to_csv(out / "intake-problems.csv", index=False, lineterminator="\n")
    if not report.ok:
        print(f"[intake] {len(report.problems)} problem(s): fix them and run again (nothing was built)",
              file=sys.stderr)
        return 2
    if args.check_only:
        return 0
    code = build(report.folder, out, seed=args.seed, jobs=args.jobs, force=args.force,
                 absolute_dates=args.absolute_dates)
    site = out / "_build" / "html" / "index.html"
    print(f"[intake] {'built' if code == 0 else 'build FAILED'} in {time.perf_counter() - start:.0f} s"
          + (f": open {site}" if code == 0 else ""), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
