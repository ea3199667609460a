"""Converting an ADaM folder to contract tables through an (edited) mapping file.

:func:`convert` applies the mapping (:func:`load_mapping`) and returns the contract tables
(``origin = "user"``) with a :class:`ConversionReport`: per data set, the rows read, the rows
written and every excluded record counted under its reason. Nothing is dropped silently and
nothing is invented: a contract field the ADaM data do not carry is left empty where the
contract allows it. Bad input is an :class:`~helpers.intake.read.AdamError` naming the file,
the column and the row (a data row counted from 1).

Days: the contract counts days from day 0 (the mapping's ``[time] origin``). AVAL counts the
origin day as ``aval_origin_day`` (1 in most ADTTE data sets: AVAL = ADT - STARTDT + 1), so the
contract's day is ``AVAL - aval_origin_day``; ADaM study days (ADY, ASTDY) have no day 0, so day
1 becomes 0 and day -1 stays -1.

Endpoints: OS gives ``followup_days`` and ``died``; a PFS progression gives ``relapsed`` and
``relapse_day``; a PFS censored before the OS time gives ``progression_assessed_day`` (the last
assessment without progression), so the book's PFS is censored where ADTTE's is.
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.contract import spec

from .propose import EXCLUDE
from .read import AdamError, dates, id_refusal, is_blank, numbers, read_dataset, require_columns, text

ORIGIN = "user"
REPORT_FILE = "conversion-report.md"
#: Lowest AE onset day the contract accepts (days before day 0).
AE_ONSET_MINIMUM = spec.ADVERSE_EVENTS.column("onset_day").minimum
#: How a subject's PFS record ends (the conversion report counts the censorings).
PFS_EVENT, PFS_AT_ASSESSMENT, PFS_AT_CONTACT, PFS_AFTER_CONTACT = (
    "event", "censored at the last assessment", "censored at the last contact", "censored after the last contact")


@dataclass
class DatasetCount:
    """Rows of one data set: read, written (to which table) and excluded, by reason."""

    file: str
    read: int = 0
    written: Counter = field(default_factory=Counter)   # contract table -> rows
    excluded: Counter = field(default_factory=Counter)  # reason -> records

    def accounted(self) -> int:
        return sum(self.written.values()) + sum(self.excluded.values())


@dataclass
class ConversionReport:
    datasets: dict = field(default_factory=dict)  # ADaM data set -> DatasetCount
    notes: list = field(default_factory=list)

    def lines(self) -> list[str]:
        out = []
        for name, count in self.datasets.items():
            written = ", ".join(f"{n} -> {table}" for table, n in count.written.items()) or "nothing written"
            out.append(f"{name.upper()} ({count.file}): {count.read} rows read; {written}")
            for reason, n in count.excluded.items():
                out.append(f"  excluded {n}: {reason}")
        out += [f"note: {note}" for note in self.notes]
        return out

    def markdown(self) -> str:
        lines = ["# Conversion of the ADaM data sets", "",
                 "| Data set | File | Rows read | Written | Excluded | Reason |", "|---|---|---|---|---|---|"]
        for name, count in self.datasets.items():
            written = ", ".join(f"{n} to {table}" for table, n in count.written.items())
            reasons = list(count.excluded.items()) or [("", "")]
            for i, (reason, n) in enumerate(reasons):
                first = i == 0
                lines.append(f"| {name.upper() if first else ''} | {count.file if first else ''} | "
                             f"{count.read if first else ''} | {written if first else ''} | {n} | {reason} |")
        if self.notes:
            lines += ["", "## Notes", ""] + [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# the mapping file
# --------------------------------------------------------------------------

_REQUIRED_KEYS = {
    "datasets": ("adsl", "adtte"),
    "study": ("study_id",),
    "patients": ("id", "cohort", "sex"),
    "time": ("aval_origin_day",),
    "endpoints": ("os",),
}


def load_mapping(path: str | Path) -> dict:
    """The mapping file, read with ``tomllib`` and checked for the keys :func:`convert` needs."""
    path = Path(path)
    try:
        mapping = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AdamError("mapping file not found", file=path.name) from None
    except tomllib.TOMLDecodeError as error:
        raise AdamError(f"not valid TOML ({error})", file=path.name) from None
    return check_mapping(mapping, path.name)


def check_mapping(mapping: dict, name: str = "mapping") -> dict:
    for table, keys in _REQUIRED_KEYS.items():
        for key in keys:
            if is_blank(mapping.get(table, {}).get(key)):
                raise AdamError(f"[{table}] {key} is missing or empty", file=name, column=f"{table}.{key}")
    study = mapping["study"]["study_id"]
    if not re.fullmatch(spec.STUDY_ID.pattern, study):
        raise AdamError(f"study_id {study!r} does not fit the contract's pattern {spec.STUDY_ID.pattern}",
                        file=name, column="study.study_id")
    categories = {**mapping.get("adverse_events", {}).get("categories", {}),
                  **mapping.get("adverse_events", {}).get("body_systems", {})}
    for term, category in categories.items():
        if category not in spec.AE_CATEGORIES:
            raise AdamError(f"{term!r} is mapped to {category!r}, not a contract category "
                            f"({', '.join(spec.AE_CATEGORIES)})", file=name, column="adverse_events.categories")
    for value, response in mapping.get("responses", {}).get("values", {}).items():
        if response not in (*spec.MORPHOLOGIC_RESPONSES, EXCLUDE, ""):
            raise AdamError(f"AVALC {value!r} is mapped to {response!r}, not a contract response "
                            f"({', '.join(spec.MORPHOLOGIC_RESPONSES)}) or {EXCLUDE!r}", file=name,
                            column="responses.values")
    return mapping


# --------------------------------------------------------------------------
# conversion
# --------------------------------------------------------------------------

def study_day_to_day(study_day: pd.Series, origin_day: int) -> pd.Series:
    """ADaM study days (no day 0; ``origin_day`` is the origin's number, 1) -> contract days."""
    return study_day.where(study_day < origin_day, study_day - origin_day)


class _Converter:
    def __init__(self, folder: Path, mapping: dict, mapping_name: str):
        self.folder, self.mapping, self.mapping_name = Path(folder), mapping, mapping_name
        self.report = ConversionReport()
        self.files = {k: v for k, v in mapping["datasets"].items() if v}
        self.frames = {}
        for name, file in self.files.items():
            self.frames[name] = read_dataset(self.folder / file)
            self.report.datasets[name] = DatasetCount(file, read=len(self.frames[name]))
        self.study = mapping["study"]["study_id"]
        self.offset = int(mapping["time"]["aval_origin_day"])
        self.study_day_origin = int(mapping["time"].get("study_day_origin", 1))

    def count(self, name: str) -> DatasetCount:
        return self.report.datasets[name]

    def error(self, name: str, message: str, column: str, pos: int | None = None) -> AdamError:
        return AdamError(message, file=self.files[name], column=column, row=None if pos is None else pos + 1)

    # --- ADSL ------------------------------------------------------------------
    def subjects(self) -> pd.DataFrame:
        adsl, m = self.frames["adsl"], self.mapping["patients"]
        columns = [m["id"], m["cohort"], m["sex"]] + [m[k] for k in ("age",) if m.get(k)]
        require_columns(adsl, columns, self.files["adsl"])
        ids = adsl[m["id"]].map(text)
        for pos in np.flatnonzero((ids == "").to_numpy() | ids.duplicated().to_numpy()):
            raise self.error("adsl", f"{m['id']} is blank or repeats an earlier row ({ids.iloc[pos]!r})", m["id"], pos)
        return adsl.assign(_id=ids, _row=np.arange(len(adsl)))

    def patient_ids(self, subjects: list) -> dict:
        """USUBJID -> patient_id: kept when the contract accepts it, else recoded (when asked)."""
        refused = {s: why for s in subjects if (why := id_refusal(s))}
        if not self.mapping["patients"].get("recode_ids", False):
            if refused:
                first = next(iter(refused))
                pos = int(np.flatnonzero(self.frames["adsl"][self.mapping["patients"]["id"]].map(text) == first)[0])
                raise self.error("adsl", f"USUBJID {first!r} {refused[first]} ({len(refused)} such): set "
                                 "[patients] recode_ids = true", self.mapping["patients"]["id"], pos)
            return {s: s for s in subjects}
        width = max(3, len(str(len(subjects))))
        recoded = {s: f"P{i + 1:0{width}d}" for i, s in enumerate(sorted(subjects))}
        why = f" (e.g. one {next(iter(refused.values()))})" if refused else ""
        self.report.notes.append(f"patient identifiers recoded to P{1:0{width}d}, P{2:0{width}d}, ... in USUBJID "
                                 f"order: {len(refused)} of {len(subjects)} USUBJIDs would be refused as patient_id"
                                 f"{why}")
        return recoded

    # --- ADTTE -----------------------------------------------------------------
    def endpoint_rows(self, known: set) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        adtte, endpoints = self.frames["adtte"], self.mapping["endpoints"]
        file = self.files["adtte"]
        require_columns(adtte, ["USUBJID", "PARAMCD", "AVAL", "CNSR"], file)
        code = adtte["PARAMCD"].map(text)
        found = sorted(code.unique())
        for key in ("os", "pfs"):
            wanted = endpoints.get(key, "")
            if wanted and wanted not in found:
                raise AdamError(f"PARAMCD {wanted!r} named by [endpoints] {key} does not exist in {file} "
                                f"(found: {', '.join(found)})", file=self.mapping_name, column=f"endpoints.{key}")
        frame = adtte.assign(_id=adtte["USUBJID"].map(text), _code=code, _row=np.arange(len(adtte)),
                             _aval=numbers(adtte, "AVAL", file), _cnsr=numbers(adtte, "CNSR", file))
        for pos in np.flatnonzero(~frame["_cnsr"].isin([0, 1]).to_numpy()):
            raise self.error("adtte", f"CNSR must be 0 (event) or 1 (censored), found {adtte['CNSR'].iloc[pos]!r}",
                             "CNSR", pos)
        for pos in np.flatnonzero(~frame["_id"].isin(known).to_numpy()):
            raise self.error("adtte", f"USUBJID {frame['_id'].iloc[pos]!r} is not in ADSL", "USUBJID", pos)
        used = {endpoints["os"]: "outcomes (OS)"}
        if endpoints.get("pfs"):
            used[endpoints["pfs"]] = "outcomes (PFS)"
        for c, n in frame[~frame["_code"].isin(used)]["_code"].value_counts().sort_index().items():
            self.count("adtte").excluded[f"PARAMCD {c} is not mapped to an endpoint"] += int(n)
        self._check_origin(frame[frame["_code"].isin(used)])
        chosen = {}
        for c, what in used.items():
            rows = frame[frame["_code"] == c]
            for pos in rows.index[rows["_id"].duplicated()]:
                raise self.error("adtte", f"a second {c} record for USUBJID {frame['_id'].iloc[pos]!r}", "PARAMCD", pos)
            for pos in rows.index[rows["_aval"].isna() | (rows["_aval"] < self.offset)]:
                raise self.error("adtte", f"AVAL {adtte['AVAL'].iloc[pos]!r} is blank or before the origin day "
                                 f"(aval_origin_day = {self.offset})", "AVAL", pos)
            chosen[c] = rows.assign(_day=rows["_aval"] - self.offset).set_index("_id")
        return chosen[endpoints["os"]], chosen.get(endpoints.get("pfs"))

    def _check_origin(self, frame: pd.DataFrame) -> None:
        """AVAL counts from STARTDT: it must be the origin date of ADSL, or days would shift."""
        origin = self.mapping["time"].get("origin", "")
        if not origin or "STARTDT" not in frame:
            return
        require_columns(self.frames["adsl"], [origin], self.files["adsl"])
        origin_dates = dict(zip(self.frames["adsl"][self.mapping["patients"]["id"]].map(text),
                                dates(self.frames["adsl"], origin, self.files["adsl"])))
        start = dates(frame, "STARTDT", self.files["adtte"])
        for pos, subject, day in zip(frame.index, frame["_id"], start):
            if day is not None and origin_dates.get(subject) is not None and day != origin_dates[subject]:
                raise self.error("adtte", f"STARTDT {day} differs from ADSL.{origin} {origin_dates[subject]} of "
                                 f"USUBJID {subject!r}: AVAL counts from another day than the origin", "STARTDT", pos)

    def origin_dates(self) -> dict:
        origin = self.mapping["time"].get("origin", "")
        if not origin:
            return {}
        adsl = self.frames["adsl"]
        return dict(zip(adsl[self.mapping["patients"]["id"]].map(text), dates(adsl, origin, self.files["adsl"])))

    # --- the tables ------------------------------------------------------------
    def run(self) -> dict[str, pd.DataFrame]:
        subjects = self.subjects()
        os_rows, pfs_rows = self.endpoint_rows(set(subjects["_id"]))
        population = subjects[subjects["_id"].isin(os_rows.index)]
        left = subjects[~subjects["_id"].isin(os_rows.index)]
        cohort = self.mapping["patients"]["cohort"]
        if len(left):
            arms = ", ".join(f"{a or '(blank)'} {n}" for a, n in left[cohort].map(text).value_counts().sort_index().items())
            self.count("adsl").excluded[f"no {self.mapping['endpoints']['os']} record in ADTTE ({cohort}: {arms})"] += len(left)
        self.ids = self.patient_ids(population["_id"].tolist())
        tables = {"patients": self.patients(population), "outcomes": self.outcomes(population, os_rows, pfs_rows)}
        self.count("adsl").written["patients"] = len(population)
        self.followup = dict(zip(population["_id"], os_rows.loc[population["_id"], "_day"]))
        if "adrs" in self.frames and self.mapping.get("responses", {}).get("paramcd"):
            tables["responses"] = self.responses()
        if "adae" in self.frames and self.mapping.get("adverse_events", {}).get("term"):
            tables["adverse_events"] = self.adverse_events()
        return tables

    def patients(self, population: pd.DataFrame) -> pd.DataFrame:
        m, file = self.mapping["patients"], self.files["adsl"]
        sex_values = m.get("sex_values", {})
        sex = []
        for pos, value in zip(population["_row"], population[m["sex"]].map(text)):
            if not sex_values.get(value):
                raise self.error("adsl", f"{value!r} is not mapped under [patients.sex_values] (male, female, unknown)",
                                 m["sex"], pos)
            sex.append(sex_values[value])
        cohorts = population[m["cohort"]].map(text)
        for pos in population["_row"][(cohorts == "").to_numpy()]:
            raise self.error("adsl", "the cohort (arm) is blank", m["cohort"], pos)
        age = pd.Series(np.nan, index=population.index)
        if m.get("age"):
            age = numbers(self.frames["adsl"], m["age"], file).loc[population.index]
            if "AGEU" in population:
                for pos, unit in zip(population["_row"], population["AGEU"].map(text)):
                    if unit and unit.upper() not in ("YEARS", "YEAR", "Y"):
                        raise self.error("adsl", f"age unit {unit!r} is not years", "AGEU", pos)
        diagnosis = self.mapping["patients"].get("diagnosis", "")
        if diagnosis and diagnosis not in spec.DIAGNOSES:
            raise AdamError(f"diagnosis {diagnosis!r} is not one of {', '.join(spec.DIAGNOSES)}",
                            file=self.mapping_name, column="patients.diagnosis")
        frame = pd.DataFrame({c.name: "" for c in spec.PATIENTS.columns
                              if c.required or c.name in ("diagnosis", "disease_status", "car_target")},
                             index=population.index)
        frame = frame.assign(study_id=self.study, patient_id=population["_id"].map(self.ids), cohort=cohorts,
                             diagnosis=diagnosis, age_years=age, sex=sex, origin=ORIGIN)
        return frame.reset_index(drop=True)

    def outcomes(self, population: pd.DataFrame, os_rows: pd.DataFrame, pfs_rows: pd.DataFrame | None) -> pd.DataFrame:
        endpoints = self.mapping["endpoints"]
        causes = endpoints.get("death_causes", {})
        cause_column = endpoints.get("death_cause_column", "")
        adsl_cause = (dict(zip(self.frames["adsl"][self.mapping["patients"]["id"]].map(text),
                               self.frames["adsl"][cause_column].map(text))) if cause_column else {})
        rows, censored, unknown_cause, no_pfs = [], Counter(), 0, 0
        for subject in population["_id"]:
            os_row = os_rows.loc[subject]
            died, followup = bool(os_row["_cnsr"] == 0), float(os_row["_day"])
            relapsed, relapse_day, assessed = False, np.nan, np.nan
            if pfs_rows is not None and subject in pfs_rows.index:
                relapsed, relapse_day, assessed, how = self._progression(pfs_rows.loc[subject], followup, died)
                censored[how] += 1
            elif pfs_rows is not None:
                no_pfs += 1
            cause = ""
            if died:
                cause = causes.get(adsl_cause.get(subject, ""), "unknown") or "unknown"
                if cause == "relapse" and not relapsed:
                    cause = "unknown"
                unknown_cause += cause == "unknown"
            row = dict(study_id=self.study, patient_id=self.ids[subject], followup_days=followup,
                       relapsed=relapsed, relapse_day=relapse_day)
            if pfs_rows is not None:  # without PFS records the column is left out: nothing was assessed
                row["progression_assessed_day"] = assessed
            rows.append(dict(row, died=died, death_cause=cause, origin=ORIGIN))
        count = self.count("adtte")
        count.written["outcomes"] = len(rows) + (0 if pfs_rows is None else len(pfs_rows))
        if pfs_rows is not None:
            outside = len(set(pfs_rows.index) - set(population["_id"]))
            if outside:
                count.excluded[f"{endpoints['pfs']} record of a subject without an OS record"] += outside
                count.written["outcomes"] -= outside
        self._pfs_notes(censored, no_pfs)
        if unknown_cause:
            self.report.notes.append(f"{unknown_cause} death(s) with death_cause 'unknown' (cause blank or not mapped "
                                     "to relapse/non_relapse)")
        return pd.DataFrame(rows)

    def _progression(self, p: pd.Series, followup: float, died: bool) -> tuple[bool, float, float, str]:
        """(relapsed, relapse_day, progression_assessed_day, how it is censored) from one PFS record.

        A censoring before the OS time is the last assessment without progression: PFS is censored
        there (the FDA convention ADTTE follows), not at the last contact. A PFS death is the death
        of OS (followup_days), so the column stays empty and the death counts."""
        endpoints = self.mapping["endpoints"]
        what = text(p["EVNTDESC"]) if "EVNTDESC" in p.index else ""
        day, row = float(p["_day"]), int(p["_row"])
        if p["_cnsr"] == 1:
            if day < followup:
                return False, np.nan, day, PFS_AT_ASSESSMENT
            return False, np.nan, np.nan, PFS_AFTER_CONTACT if day > followup else PFS_AT_CONTACT
        if what in endpoints.get("progression_events", []):
            if day > followup:
                raise self.error("adtte", f"progression on day {day:g} is after the end of {endpoints['os']} "
                                 f"follow-up (day {followup:g})", "AVAL", row)
            return True, day, np.nan, PFS_EVENT
        if what not in endpoints.get("death_events", []):
            raise self.error("adtte", f"EVNTDESC {what!r} of a {endpoints['pfs']} event is listed neither in "
                             "progression_events nor in death_events of [endpoints]", "EVNTDESC", row)
        if not died:
            raise self.error("adtte", f"a {endpoints['pfs']} death ({what!r}) but {endpoints['os']} is censored",
                             "EVNTDESC", row)
        if day != followup:
            raise self.error("adtte", f"a {endpoints['pfs']} death on day {day:g} but the {endpoints['os']} death is "
                             f"on day {followup:g}", "AVAL", row)
        return False, np.nan, np.nan, PFS_EVENT

    def _pfs_notes(self, censored: Counter, no_pfs: int) -> None:
        pfs, os_code = self.mapping["endpoints"].get("pfs"), self.mapping["endpoints"]["os"]
        if censored[PFS_AT_ASSESSMENT]:
            self.report.notes.append(
                f"{censored[PFS_AT_ASSESSMENT]} patient(s) have {pfs} censored at their last assessment, before "
                f"their last contact: progression_assessed_day holds that day, so progression-free endpoints are "
                f"censored there as in ADTTE (a later death is not their event)")
        if censored[PFS_AFTER_CONTACT]:
            self.report.notes.append(
                f"{censored[PFS_AFTER_CONTACT]} patient(s) have {pfs} censored after their last contact ({os_code} "
                f"time): the contract holds no assessment after followup_days, so their progression-free endpoints "
                f"are censored at the last contact, earlier than ADTTE's {pfs}")
        if no_pfs:
            self.report.notes.append(f"{no_pfs} patient(s) have no {pfs} record: relapsed is false")

    def _day_of(self, name: str, frame: pd.DataFrame, column: str) -> pd.Series:
        if column.upper().endswith("DY"):
            return study_day_to_day(numbers(frame, column, self.files[name]), self.study_day_origin)
        origin = self.origin_dates()
        if not origin:
            raise AdamError(f"days from {column} need [time] origin (an ADSL date column)", file=self.mapping_name,
                            column="time.origin")
        when = dates(frame, column, self.files[name])
        return pd.Series([(d - origin[s]).days if d is not None and origin.get(s) is not None else np.nan
                          for s, d in zip(frame["USUBJID"].map(text), when)], index=frame.index, dtype=float)

    def responses(self) -> pd.DataFrame:
        adrs, m, count = self.frames["adrs"], self.mapping["responses"], self.count("adrs")
        require_columns(adrs, ["USUBJID", "PARAMCD", "AVALC", m["day"]], self.files["adrs"])
        code = adrs["PARAMCD"].map(text)
        if m["paramcd"] not in set(code):
            raise AdamError(f"PARAMCD {m['paramcd']!r} named by [responses] paramcd does not exist in "
                            f"{self.files['adrs']} (found: {', '.join(sorted(set(code)))})", file=self.mapping_name,
                            column="responses.paramcd")
        for c, n in code[code != m["paramcd"]].value_counts().sort_index().items():
            count.excluded[f"PARAMCD {c} is not the response parameter"] += int(n)
        rows = adrs[code == m["paramcd"]]
        rows = self._keep_population("adrs", rows)
        values = m.get("values", {})
        avalc = rows["AVALC"].map(text)
        for pos, value in zip(rows.index, avalc):
            if not values.get(value):
                raise self.error("adrs", f"AVALC {value!r} of PARAMCD {m['paramcd']} is not mapped under "
                                 f"[responses.values] of {self.mapping_name}", "AVALC", pos)
        mapped = avalc.map(values)
        for value, n in avalc[mapped == EXCLUDE].value_counts().sort_index().items():
            count.excluded[f"AVALC {value or '(blank)'} mapped to {EXCLUDE}"] += int(n)
        rows = rows[mapped != EXCLUDE].assign(_response=mapped[mapped != EXCLUDE])
        rows = rows.assign(_day=self._day_of("adrs", rows, m["day"]))
        rows = self._keep_days("adrs", rows, minimum=0, what="assessment")
        rows = rows.sort_values(["_id", "_day"], kind="stable")
        twice = rows.duplicated(["_id", "_day"])
        if twice.any():
            count.excluded["a second assessment on the same day (the first is kept)"] += int(twice.sum())
        rows = rows[~twice]
        count.written["responses"] = len(rows)
        return pd.DataFrame(dict(study_id=self.study, patient_id=rows["_id"].map(self.ids).to_numpy(),
                                 day=rows["_day"].astype(int).to_numpy(), morphologic=rows["_response"].to_numpy(),
                                 mrd_flow=m.get("mrd_flow", "not_done"), molecular=m.get("molecular", "not_done"),
                                 origin=ORIGIN))

    def _keep_population(self, name: str, rows: pd.DataFrame) -> pd.DataFrame:
        rows = rows.assign(_id=rows["USUBJID"].map(text))
        outside = ~rows["_id"].isin(list(self.ids))
        if outside.any():
            self.count(name).excluded["subject not among the patients (no OS record)"] += int(outside.sum())
        return rows[~outside]

    def _keep_days(self, name: str, rows: pd.DataFrame, *, minimum: float, what: str) -> pd.DataFrame:
        count = self.count(name)
        blank = rows["_day"].isna()
        if what == "assessment" and blank.any():
            count.excluded["no day (date or study day blank)"] += int(blank.sum())
            rows = rows[~blank]
        early = rows["_day"] < minimum
        if early.any():
            count.excluded[f"{what} before day {minimum:g} (the contract's first day)"] += int(early.sum())
        late = rows["_day"] > rows["_id"].map(self.followup)
        if late.any():
            count.excluded[f"{what} after the patient's last follow-up ({self.mapping['endpoints']['os']} time)"] += \
                int(late.sum())
        return rows[~early & ~late]

    def adverse_events(self) -> pd.DataFrame:
        adae, m, count = self.frames["adae"], self.mapping["adverse_events"], self.count("adae")
        file = self.files["adae"]
        require_columns(adae, ["USUBJID", m["term"], m["grade"]] + [m[k] for k in ("onset", "duration") if m.get(k)],
                        file)
        rows = adae
        if m.get("treatment_emergent_only"):
            require_columns(adae, ["TRTEMFL"], file)
            emergent = adae["TRTEMFL"].map(text).str.upper() == "Y"
            count.excluded["not treatment-emergent (TRTEMFL is not Y)"] += int((~emergent).sum())
            rows = adae[emergent]
        rows = self._keep_population("adae", rows)
        terms = rows[m["term"]].map(text)
        for pos in rows.index[(terms == "").to_numpy()]:
            raise self.error("adae", "the event term is blank", m["term"], pos)
        rows = rows.assign(_term=terms, _grade=self._grades(rows))
        ungraded = rows["_grade"] == 0
        if ungraded.any():
            count.excluded[f"{m['grade']} mapped to grade 0 (not graded)"] += int(ungraded.sum())
            rows = rows[~ungraded]
        onset = (self._day_of("adae", rows, m["onset"]) if m.get("onset") else pd.Series(np.nan, index=rows.index))
        rows = rows.assign(_day=onset)
        rows = self._keep_days("adae", rows, minimum=AE_ONSET_MINIMUM, what="onset")
        categories, systems = m.get("categories", {}), m.get("body_systems", {})
        body = rows["AEBODSYS"].map(text) if "AEBODSYS" in rows else pd.Series("", index=rows.index)
        rows = rows.assign(_category=[categories.get(t) or systems.get(b) or "other" for t, b in zip(rows["_term"], body)])
        rows = rows.assign(_duration=self._durations(rows))
        # the contract keys a patient's event by category and term: the worst grade stands for repeats
        rows = rows.sort_values(["_id", "_category", "_term", "_grade", "_day"], ascending=[True, True, True, False, True],
                                kind="stable", na_position="last")
        repeat = rows.duplicated(["_id", "_category", "_term"])
        if repeat.any():
            count.excluded["a repeat of the same term in the same patient (merged into its worst-grade record)"] += \
                int(repeat.sum())
        rows = rows[~repeat]
        count.written["adverse_events"] = len(rows)
        if m.get("grading_system", "unspecified") == "unspecified":
            self.report.notes.append(f"adverse-event grades from {m['grade']} through [adverse_events.grade_values] "
                                     "(grading_system 'unspecified')")
        return pd.DataFrame(dict(study_id=self.study, patient_id=rows["_id"].map(self.ids).to_numpy(),
                                 category=rows["_category"].to_numpy(), term=rows["_term"].to_numpy(),
                                 grade=rows["_grade"].astype(int).to_numpy(),
                                 grading_system=m.get("grading_system", "unspecified"),
                                 onset_day=rows["_day"].to_numpy(), duration_days=rows["_duration"].to_numpy(),
                                 origin=ORIGIN))

    def _grades(self, rows: pd.DataFrame) -> list[int]:
        m = self.mapping["adverse_events"]
        values = m.get("grade_values", {})
        out = []
        for pos, value in zip(rows.index, rows[m["grade"]].map(text)):
            if values:
                if value not in values:
                    raise self.error("adae", f"{value!r} is not mapped under [adverse_events.grade_values]",
                                     m["grade"], pos)
                out.append(int(values[value]))
                continue
            digits = re.fullmatch(r"(?:GRADE\s*)?([0-5])(?:\.0)?", value.upper())
            if not digits:
                raise self.error("adae", f"{value!r} is not a grade 0-5", m["grade"], pos)
            out.append(int(digits.group(1)))
        return out

    def _durations(self, rows: pd.DataFrame) -> pd.Series:
        m = self.mapping["adverse_events"]
        if not m.get("duration"):
            return pd.Series(np.nan, index=rows.index)
        values = numbers(rows, m["duration"], self.files["adae"])
        if "ADURU" in rows:
            in_days = rows["ADURU"].map(text).str.upper().isin(["DAYS", "DAY", "D"])
            values = values.where(in_days)
        return values.where(values >= 0)


def convert(folder: str | Path, mapping: dict, *, mapping_name: str = "mapping") -> tuple[dict, ConversionReport]:
    """Contract tables (name -> frame) from the ADaM data sets in ``folder``, and the report."""
    converter = _Converter(Path(folder), check_mapping(mapping, mapping_name), mapping_name)
    return converter.run(), converter.report


def write_tables(tables: dict, report: ConversionReport, out: str | Path) -> Path:
    """The contract CSVs and ``conversion-report.md`` in ``out`` (created)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame = frame.copy()
        for column in frame.columns:
            if frame[column].dtype == bool:
                frame[column] = frame[column].map({True: "true", False: "false"})
        frame.to_csv(out / f"{name}.csv", index=False, lineterminator="\n")
    (out / REPORT_FILE).write_text(report.markdown(), encoding="utf-8")
    return out
