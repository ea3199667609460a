"""Reading CDISC ADaM data sets in any of the formats a sponsor or a centre ships them.

SAS transport (``.xpt``) and SAS data sets (``.sas7bdat``) are read with ``pyreadstat``, parquet
with ``pyarrow`` (``pyarrow.parquet.read_table(...).to_pandas()``: the project stays on pandas 2),
CSV with pandas as text. Every reader returns a :class:`pandas.DataFrame` whose column names are
upper case (ADaM variable names are case-insensitive; SAS keeps whatever case was typed).

A problem in the data is an :class:`AdamError` naming the file, the column and the row; a row is
a data row counted from 1 (the CSV line below the header, the SAS observation number).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

#: The ADaM data sets the intake reads, and what each gives the contract.
DATASETS = {
    "adsl": "subject level: the cohort (arm), age, sex, the origin date, the cause of death",
    "adtte": "time to event: PARAMCD, AVAL, CNSR, STARTDT/ADT, EVNTDESC (OS, PFS/EFS)",
    "adrs": "response: PARAMCD, AVALC and ADY or ADT (one row per assessment)",
    "adae": "adverse events: AEDECOD, ATOXGR/AETOXGR (or severity), ASTDY",
}
#: File endings read, in the order a folder holding the same data set twice is searched.
SUFFIXES = (".sas7bdat", ".xpt", ".parquet", ".csv")
#: Day 0 of SAS dates.
SAS_EPOCH = dt.date(1960, 1, 1)


class AdamError(ValueError):
    """Bad ADaM input or mapping; the message names the file, the column and the row."""

    def __init__(self, message: str, *, file: Optional[str] = None, column: Optional[str] = None,
                 row: Optional[int] = None):
        where = ", ".join(x for x in (file, f"column {column}" if column else None,
                                      f"row {row}" if row is not None else None) if x)
        super().__init__(f"{where}: {message}" if where else message)
        self.file, self.column, self.row = file, column, row


def read_dataset(path: Path) -> pd.DataFrame:
    """One ADaM data set (``.xpt``, ``.sas7bdat``, ``.parquet`` or ``.csv``), columns upper-cased."""
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise AdamError("file not found", file=path.name)
    if suffix in (".xpt", ".sas7bdat"):
        import pyreadstat

        reader = pyreadstat.read_xport if suffix == ".xpt" else pyreadstat.read_sas7bdat
        try:
            frame, _ = reader(str(path))
        except Exception as error:  # pyreadstat raises its own ReadstatError and others
            raise AdamError(f"cannot be read as {suffix} ({error})", file=path.name) from None
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            frame = pq.read_table(path).to_pandas()
        except Exception as error:  # ArrowInvalid and friends
            raise AdamError(f"cannot be read as parquet ({error})", file=path.name) from None
    elif suffix == ".csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    else:
        raise AdamError(f"unknown format {suffix!r}: expected one of {', '.join(SUFFIXES)}", file=path.name)
    frame.columns = [str(c).upper() for c in frame.columns]
    duplicated = frame.columns[frame.columns.duplicated()].tolist()
    if duplicated:
        raise AdamError(f"columns {duplicated} appear twice (names are read without case)", file=path.name)
    return frame.reset_index(drop=True)


def find_datasets(folder: Path) -> dict[str, str]:
    """The file of each ADaM data set in ``folder``: ``{"adsl": "adsl.xpt", "adtte": "adtte_onco.parquet"}``.

    A file belongs to a data set when its name (without ending, any case) is the data set's name
    or starts with it and an underscore (``adtte_onco``). Two candidates for one data set are an
    error: the mapping file must then name the one to read."""
    folder = Path(folder)
    if not folder.is_dir():
        raise AdamError("the ADaM folder does not exist or is not a folder", file=folder.name)
    found: dict[str, list[str]] = {name: [] for name in DATASETS}
    for path in sorted(folder.iterdir()):
        stem, suffix = path.stem.lower(), path.suffix.lower()
        if suffix not in SUFFIXES or not path.is_file():
            continue
        for name in DATASETS:
            if stem == name or stem.startswith(name + "_"):
                found[name].append(path.name)
    chosen = {}
    for name, files in found.items():
        if len(files) > 1:
            raise AdamError(f"{len(files)} files could be {name.upper()} ({', '.join(files)}); name the one to "
                            f"read under [datasets] in the mapping file", file=folder.name)
        if files:
            chosen[name] = files[0]
    return chosen


def id_refusal(subject: str) -> Optional[str]:
    """Why the contract would refuse ``subject`` as a patient_id (its pattern, or a value that looks
    like a phone number, a date or a record number), or None when it keeps it."""
    from helpers.contract import PATIENT_ID, identifier_value_kind

    if not re.fullmatch(PATIENT_ID.pattern, subject):
        return f"does not fit the pattern {PATIENT_ID.pattern}"
    kind = identifier_value_kind(subject, "patient_id")
    return f"looks like a {'phone number' if kind == 'phone' else kind} to the contract" if kind else None


def require_columns(frame: pd.DataFrame, columns, file: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise AdamError(f"required column(s) {', '.join(missing)} not found (columns present: "
                        f"{', '.join(frame.columns[:40])}{' ...' if len(frame.columns) > 40 else ''})",
                        file=file, column=missing[0])


def is_blank(value) -> bool:
    """Missing in any of the ways ADaM files say it: NaN/None/NaT or an empty string."""
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


def text(value) -> str:
    """A cell as text ('' when blank); a float that is a whole number loses its '.0' (SAS numbers)."""
    if is_blank(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def numbers(frame: pd.DataFrame, column: str, file: str) -> pd.Series:
    """``frame[column]`` as floats (blank -> NaN); a value that is not a number is an error naming its row."""
    values = frame[column]
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype(float)
    out = pd.to_numeric(values.map(lambda v: np.nan if is_blank(v) else v), errors="coerce")
    bad = out.isna() & ~values.map(is_blank)
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise AdamError(f"{values.iloc[pos]!r} is not a number ({int(bad.sum())} such value(s))", file=file,
                        column=column, row=pos + 1)
    return out.astype(float)


def dates(frame: pd.DataFrame, column: str, file: str) -> pd.Series:
    """``frame[column]`` as calendar dates (``datetime.date``, blank -> None).

    Accepts ISO 8601 text (``2014-01-02``, a time part is ignored), dates and datetimes (what
    pyreadstat and pyarrow give for formatted SAS dates), and bare numbers as SAS dates (days
    since 1960-01-01), which is what an unformatted SAS date variable holds."""
    def one(value, pos):
        if is_blank(value):
            return None
        if isinstance(value, dt.datetime | pd.Timestamp):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, int | float | np.integer | np.floating):
            return SAS_EPOCH + dt.timedelta(days=int(value))
        try:
            return dt.date.fromisoformat(str(value).strip()[:10])
        except ValueError:
            raise AdamError(f"{value!r} is not a date (ISO 8601 YYYY-MM-DD or a SAS date)", file=file,
                            column=column, row=pos + 1) from None
    return pd.Series([one(v, i) for i, v in enumerate(frame[column])], index=frame.index, dtype=object)
