"""The mapping file an ADaM folder gets: what was found, and the proposed choice for each item.

:func:`propose` reads the folder and writes TOML (:mod:`helpers.intake.toml_text`): every
PARAMCD of ADTTE and ADRS with its PARAM label and counts, every AVALC value of the response
parameter, the ADAE terms that look like CRS or ICANS, the ADSL columns for the cohort, age and
sex, and the time origin AVAL counts from, each with the choice :func:`helpers.intake.convert`
will apply unless the file is edited. Nothing in it is a patient's value: only column names,
codes, labels and counts.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from helpers.contract import spec

from .read import AdamError, dates, find_datasets, id_refusal, numbers, read_dataset, require_columns, text
from .toml_text import TomlText

#: Columns without which a data set cannot be read at all.
NEEDED_COLUMNS = {"adsl": ("USUBJID",), "adtte": ("USUBJID", "PARAMCD", "AVAL", "CNSR"),
                  "adrs": ("USUBJID", "PARAMCD", "AVALC"), "adae": ("USUBJID", "AEDECOD")}
#: ADSL columns that hold the arm a patient is compared in, best first (planned arm first: intention to treat).
COHORT_COLUMNS = ("ARM", "TRT01P", "ACTARM", "TRT01A", "ARMCD")
#: ADSL date columns an ADTTE STARTDT usually equals.
ORIGIN_COLUMNS = ("TRTSDT", "RANDDT", "RFSTDTC", "RFXSTDTC")
#: Toxicity-grade columns of ADAE, best first; severity columns are the fallback.
GRADE_COLUMNS = ("ATOXGR", "AETOXGR", "ATOXGRN", "AETOXGRN")
SEVERITY_COLUMNS = ("ASEV", "AESEV")
#: CTCAE's own words for grades 1-3 ("Mild", "Moderate", "Severe or medically significant").
SEVERITY_GRADES = {"MILD": 1, "MODERATE": 2, "SEVERE": 3}
SEX_VALUES = {"M": "male", "MALE": "male", "F": "female", "FEMALE": "female", "U": "unknown",
              "UNKNOWN": "unknown", "UNDIFFERENTIATED": "unknown"}
#: ADRS AVALC codes (RECIST, Lugano, iwCLL, IMWG, ELN as sponsors write them) -> the contract's values.
RESPONSE_VALUES = {"CR": "CR", "CMR": "CR", "SCR": "CR", "CRI": "CRi", "CRH": "CRi", "PR": "PR", "PMR": "PR",
                   "VGPR": "PR", "MLFS": "PR", "SD": "SD", "NMR": "SD", "MR": "SD", "NON-CR/NON-PD": "SD",
                   "PD": "PD", "PMD": "PD", "NR": "NR", "NE": "not_evaluable", "NOT EVALUABLE": "not_evaluable"}
#: AVALC codes that say no assessment took place: the record is excluded (and counted).
NO_ASSESSMENT = ("MISSING", "ND", "NOT DONE", "NA", "")
EXCLUDE = "exclude"
CRS_TERM = re.compile(r"cytokine release|\bCRS\b", re.IGNORECASE)
ICANS_TERM = re.compile(r"immune effector|\bICANS\b|neurotoxicity|encephalopathy", re.IGNORECASE)
CYTOPENIA_TERM = re.compile(r"penia\b|an(a)?emia|(neutrophil|platelet|white blood cell|lymphocyte) count decreased",
                            re.IGNORECASE)
INFECTION_BODY_SYSTEM = "INFECTIONS AND INFESTATIONS"
OS_PARAM = re.compile(r"overall survival", re.IGNORECASE)
PFS_PARAMCDS = ("PFS", "EFS", "DFS", "RFS", "LFS")
PFS_PARAM = re.compile(r"(progression|event|disease|relapse|leuk(a)?emia)[- ]free survival", re.IGNORECASE)
PROGRESSION_WORDS = re.compile(r"progress|relapse|recurren", re.IGNORECASE)
DEATH_WORDS = re.compile(r"death|died", re.IGNORECASE)


def _counts(values: pd.Series) -> str:
    counts = values.map(text).value_counts()
    return ", ".join(f"{v or '(blank)'} {n}" for v, n in sorted(counts.items()))


def _paramcds(frame: pd.DataFrame, file: str) -> list[dict]:
    out = []
    for code, rows in frame.groupby(frame["PARAMCD"].map(text), sort=True):
        label = text(rows["PARAM"].iloc[0]) if "PARAM" in rows else ""
        entry = dict(paramcd=code, param=label, records=len(rows), subjects=rows["USUBJID"].nunique())
        if "CNSR" in rows:
            cnsr = numbers(rows, "CNSR", file)
            entry.update(events=int((cnsr == 0).sum()), censored=int((cnsr == 1).sum()))
        out.append(entry)
    return out


def _choose_os(params: list[dict]) -> str:
    for p in params:
        if p["paramcd"] == "OS" or OS_PARAM.search(p["param"]):
            return p["paramcd"]
    return ""


def _choose_pfs(params: list[dict]) -> str:
    for p in params:
        if p["paramcd"] in PFS_PARAMCDS or PFS_PARAM.search(p["param"]):
            return p["paramcd"]
    return ""


def _time_origin(adtte: pd.DataFrame, adsl: pd.DataFrame, files: dict) -> tuple[str, str, int, str]:
    """(ADSL origin column, comment, day of the origin in AVAL, comment)."""
    origin, origin_note, offset, offset_note = "", "ADTTE has no STARTDT: check the origin by hand", 1, ""
    if "STARTDT" in adtte:
        start = dates(adtte, "STARTDT", files["adtte"])
        by_subject = adtte.assign(_start=start).groupby("USUBJID")["_start"].first()
        best = (0, "")
        for column in ORIGIN_COLUMNS:
            if column in adsl:
                origin_dates = pd.Series(dates(adsl, column, files["adsl"]).to_numpy(), index=adsl["USUBJID"])
                same = sum(origin_dates.get(s) == d for s, d in by_subject.items() if d is not None)
                if same > best[0]:
                    best = (same, column)
        if best[1]:
            origin = best[1]
            origin_note = (f"ADSL.{origin} equals ADTTE.STARTDT for {best[0]} of {by_subject.notna().sum()} "
                           "subjects: day 0 of the contract; ADY/ASTDY count from it too")
        if "ADT" in adtte and "AVAL" in adtte:
            elapsed = pd.Series([(a - s).days if a is not None and s is not None else None
                                 for a, s in zip(dates(adtte, "ADT", files["adtte"]), start)], dtype=float)
            shift = (numbers(adtte, "AVAL", files["adtte"]) - elapsed).dropna()
            if len(shift):
                offset = int(shift.mode().iloc[0])
                offset_note = (f"AVAL = ADT - STARTDT + {offset} in {int((shift == offset).sum())} of {len(shift)} "
                               "records (AVAL in days)")
    return origin, origin_note, offset, offset_note


def propose(folder: str | Path) -> str:
    """The mapping file (TOML text) proposed for the ADaM data sets in ``folder``."""
    folder = Path(folder)
    files = find_datasets(folder)
    for needed in ("adsl", "adtte"):
        if needed not in files:
            raise AdamError(f"no {needed.upper()} data set found (a file named {needed}.xpt, .sas7bdat, "
                            f".parquet or .csv, or {needed}_<anything>)", file=folder.name)
    frames = {name: read_dataset(folder / file) for name, file in files.items()}
    for name, columns in NEEDED_COLUMNS.items():
        if name in frames:
            require_columns(frames[name], columns, files[name])
    adsl, adtte = frames["adsl"], frames["adtte"]
    out = TomlText()
    out.comment("Mapping of a CDISC ADaM folder to the book's data contract (helpers.intake).\n"
                "Proposed by `python -m helpers.intake propose`; check every choice, edit, then run\n"
                "`python -m helpers.intake convert <adam folder> --mapping <this file> --out <folder>`.\n"
                "Lines starting with # list what was found; an empty string \"\" means 'not available'.")
    out.table("datasets", "The file read for each data set (in the ADaM folder).")
    for name in ("adsl", "adtte", "adrs", "adae"):
        out.entry(name, files.get(name, ""), "" if name in files else "not found: the table is not written")

    _propose_patients(out, adsl, files)
    origin, origin_note, offset, offset_note = _time_origin(adtte, adsl, files)
    out.table("time", "Where the contract's day 0 lies and how ADaM days are counted from it.")
    out.entry("origin", origin, origin_note)
    out.entry("aval_origin_day", offset, offset_note or "AVAL of an event on the origin day")
    out.entry("study_day_origin", 1, "ADaM study days (ADY, ASTDY) count the origin day as 1 and have no day 0")
    _propose_endpoints(out, adtte, adsl, files)
    if "adrs" in frames:
        _propose_responses(out, frames["adrs"], files)
    if "adae" in frames:
        _propose_adverse_events(out, frames["adae"], files)
    return out.text()


def _propose_patients(out: TomlText, adsl: pd.DataFrame, files: dict) -> None:
    out.table("study", "The contract's study_id (also the name to give the output folder).")
    study = text(adsl["STUDYID"].iloc[0]) if "STUDYID" in adsl and len(adsl) else ""
    out.entry("study_id", study, f"ADSL.STUDYID: {_counts(adsl['STUDYID'])}" if "STUDYID" in adsl else "")
    out.table("patients", "ADSL columns giving the patients table (one row per patient with an OS record).")
    ids = adsl["USUBJID"].map(text) if "USUBJID" in adsl else pd.Series([], dtype=str)
    refusals = [r for r in ids.map(id_refusal) if r]
    out.entry("id", "USUBJID", "the pseudonymous study code")
    out.entry("recode_ids", bool(refusals),
              f"{len(refusals)} of {len(ids)} USUBJIDs would be refused as patient_id (e.g. one "
              f"{refusals[0]}): recoded to P001, P002, ... in USUBJID order" if refusals else
              "every USUBJID is a valid contract patient_id: kept")
    cohort = next((c for c in COHORT_COLUMNS if c in adsl), "")
    for column in COHORT_COLUMNS:
        if column in adsl:
            out.comment(f"found ADSL.{column}: {_counts(adsl[column])}")
    out.entry("cohort", cohort, "the arm patients are compared in (planned arm: intention to treat)")
    out.entry("age", "AGE" if "AGE" in adsl else "",
              f"AGEU: {_counts(adsl['AGEU'])}" if "AGEU" in adsl else "age in years at the origin")
    out.entry("sex", "SEX" if "SEX" in adsl else "", f"found: {_counts(adsl['SEX'])}" if "SEX" in adsl else "")
    out.entry("diagnosis", "", "not an ADaM variable: the disease treated, one of " + ", ".join(spec.DIAGNOSES)
              + "; empty = not recorded")
    out.table("patients.sex_values", "ADSL.SEX -> patients.sex (male, female, unknown).")
    found = sorted(adsl["SEX"].map(text).unique()) if "SEX" in adsl else []
    for code in found:
        out.entry(code, SEX_VALUES.get(code.upper(), ""), "" if code.upper() in SEX_VALUES else "choose")


def _propose_endpoints(out: TomlText, adtte: pd.DataFrame, adsl: pd.DataFrame, files: dict) -> None:
    params = _paramcds(adtte, files["adtte"])
    out.table("endpoints", "Which ADTTE PARAMCD is which endpoint (AVAL = time, CNSR = 1 censored, 0 event).")
    for p in params:
        out.comment(f"found PARAMCD {p['paramcd']} ({p['param']}): {p['records']} records, {p['subjects']} subjects, "
                    f"{p.get('events', '?')} events, {p.get('censored', '?')} censored")
    os_code, pfs_code = _choose_os(params), _choose_pfs(params)
    out.entry("os", os_code, "overall survival: followup_days, died")
    out.entry("pfs", pfs_code, "PFS or EFS: its progression/relapse events give relapsed and relapse_day, a "
              "censoring before the OS time progression_assessed_day")
    pfs_events = adtte[(adtte["PARAMCD"].map(text) == pfs_code)] if pfs_code else adtte.iloc[:0]
    if "EVNTDESC" in adtte and "CNSR" in adtte and len(pfs_events):
        events = pfs_events[numbers(pfs_events, "CNSR", files["adtte"]) == 0]["EVNTDESC"].map(text)
        found = sorted(events.unique())
        out.comment(f"EVNTDESC of {pfs_code} events: {_counts(events) or 'none'}")
        out.entry("progression_events", [e for e in found if PROGRESSION_WORDS.search(e)],
                  "EVNTDESC values of progression or relapse")
        out.entry("death_events", [e for e in found if DEATH_WORDS.search(e) and not PROGRESSION_WORDS.search(e)],
                  "EVNTDESC values of death without progression")
    else:
        out.entry("progression_events", [], "no EVNTDESC: list the values of progression events")
        out.entry("death_events", [], "no EVNTDESC: list the values of death events")
    out.entry("death_cause_column", "DTHCAUS" if "DTHCAUS" in adsl else "", "ADSL column with the cause of death")
    out.table("endpoints.death_causes", "Cause of death (ADSL) -> outcomes.death_cause (relapse, non_relapse, "
              "unknown); a death whose cause is blank or not listed is 'unknown'.")
    if "DTHCAUS" in adsl:
        for cause in sorted(c for c in adsl["DTHCAUS"].map(text).unique() if c):
            out.entry(cause, "relapse" if PROGRESSION_WORDS.search(cause) else "unknown",
                      "" if PROGRESSION_WORDS.search(cause) else "non_relapse if unrelated to the disease")


def _propose_responses(out: TomlText, adrs: pd.DataFrame, files: dict) -> None:
    params = _paramcds(adrs, files["adrs"])
    out.table("responses", "The ADRS parameter whose records are the response assessments (one per visit).")
    for p in params:
        out.comment(f"found PARAMCD {p['paramcd']} ({p['param']}): {p['records']} records, {p['subjects']} subjects")
    visit = [p["paramcd"] for p in params if p["paramcd"] == "OVR"]
    visit += [p["paramcd"] for p in params if re.search(r"overall response", p["param"], re.I)
              and not re.search(r"best|confirm", p["param"], re.I)]
    code = visit[0] if visit else ""
    out.entry("paramcd", code, "per-visit overall response (not best response: the book takes the first assessment)")
    out.entry("day", "ADY" if "ADY" in adrs else ("ADT" if "ADT" in adrs else ""),
              "study day of the assessment" if "ADY" in adrs else "ADRS has no ADY: days from the origin to ADT")
    out.entry("mrd_flow", "not_done", "not an ADaM response variable: not assessed")
    out.entry("molecular", "not_done", "not an ADaM response variable: not assessed")
    out.table("responses.values", "AVALC -> responses.morphologic (" + ", ".join(spec.MORPHOLOGIC_RESPONSES)
              + f"); \"{EXCLUDE}\" drops the record (counted in the report).")
    rows = adrs[adrs["PARAMCD"].map(text) == code]
    for value, n in sorted(rows["AVALC"].map(text).value_counts().items()):
        upper = value.upper()
        choice = RESPONSE_VALUES.get(upper, EXCLUDE if upper in NO_ASSESSMENT else "")
        out.entry(value, choice, f"{n} records" + ("; choose" if not choice else ""))


def _propose_adverse_events(out: TomlText, adae: pd.DataFrame, files: dict) -> None:
    out.table("adverse_events", "ADAE columns giving the adverse_events table.")
    grade = next((c for c in GRADE_COLUMNS if c in adae), "")
    severity = next((c for c in SEVERITY_COLUMNS if c in adae), "")
    out.entry("term", "AEDECOD", f"{adae['AEDECOD'].map(text).nunique()} distinct terms" if "AEDECOD" in adae else "")
    if grade:
        out.entry("grade", grade, f"toxicity grade: {_counts(adae[grade])}")
        out.entry("grading_system", "CTCAE", "ASTCT for CRS/ICANS when the sponsor graded them so")
    else:
        out.entry("grade", severity, f"no toxicity grade (ATOXGR/AETOXGR): severity {_counts(adae[severity])}"
                  if severity else "no toxicity grade or severity column")
        out.entry("grading_system", "unspecified", "grades from severity are not CTCAE grades")
    out.entry("onset", "ASTDY" if "ASTDY" in adae else "", "analysis study day of onset")
    out.entry("duration", "ADURN" if "ADURN" in adae else "",
              f"ADURU: {_counts(adae['ADURU'])}" if "ADURU" in adae else "")
    out.entry("treatment_emergent_only", "TRTEMFL" in adae,
              f"keep TRTEMFL = Y only: {_counts(adae['TRTEMFL'])}" if "TRTEMFL" in adae else "no TRTEMFL")
    if not grade and severity:
        out.table("adverse_events.grade_values", "Severity -> grade (CTCAE's words: 1 mild, 2 moderate, 3 severe).")
        for value in sorted(adae[severity].map(text).unique()):
            out.entry(value, SEVERITY_GRADES.get(value.upper(), 0) if value else 0,
                      "" if value.upper() in SEVERITY_GRADES else "choose (0 = excluded)")
    out.table("adverse_events.categories", "AEDECOD -> category (" + ", ".join(spec.AE_CATEGORIES)
              + "); terms not listed take their body system's category below, else 'other'. "
              "Proposed: terms that look like CRS, ICANS or a cytopenia.")
    terms = sorted(adae["AEDECOD"].map(text).unique()) if "AEDECOD" in adae else []
    for term in terms:
        for category, pattern in (("CRS", CRS_TERM), ("ICANS", ICANS_TERM), ("cytopenia", CYTOPENIA_TERM)):
            if pattern.search(term):
                out.entry(term, category, f"{int((adae['AEDECOD'].map(text) == term).sum())} records")
                break
    if not any(CRS_TERM.search(t) or ICANS_TERM.search(t) for t in terms):
        out.comment("no term looks like CRS or ICANS")
    out.table("adverse_events.body_systems", "AEBODSYS -> category for terms not listed above.")
    if "AEBODSYS" in adae:
        for system, n in sorted(adae["AEBODSYS"].map(text).value_counts().items()):
            if system == INFECTION_BODY_SYSTEM:
                out.entry(system, "infection", f"{n} records")
            else:
                out.comment(f"found {system}: {n} records (other)")
