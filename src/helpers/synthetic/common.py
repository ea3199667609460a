"""Machinery shared by the generators of the seed studies (:mod:`helpers.synthetic.study_000` ...).

* :class:`Reg` -- register access: every published number enters through it, by ``register_id``;
* :class:`Study` -- the rows of every contract table of one study, plus its provenance rows;
* CSV formatting (:func:`to_csv_text`: contract column order, fixed float formats);
* row builders shared by the studies (serial cytokines, blood counts, CAR-T kinetics,
  treatments), all synthetic and clinically plausible;
* follow-up helpers, calibration deviations and the constants the studies share.

The approach (calibrated / published / synthetic columns, determinism) is described in
:mod:`helpers.synthetic.cohorts`.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.contract.spec import LAB_UNITS, TABLES
from helpers.paths import REGISTER_CSV
from helpers.reproduction import register
from helpers.stats.units import DAYS_PER_MONTH

#: One year in days (twelve of the book's months of 365.25 / 12 days).
YEAR_DAYS = 12 * DAYS_PER_MONTH
PROVENANCE_COLUMNS = ("table", "column", "provenance", "register_ids", "note")
PROVENANCE_KINDS = ("calibrated", "published", "synthetic")
#: Candidate sub-seeds tried by each run-time calibration search.
SEARCH_LIMIT = 400

#: Where the register is read from (a module attribute so tests can point elsewhere).
REGISTER_PATH: Path = REGISTER_CSV


# --------------------------------------------------------------------------
# Register access (every published number enters through here)
# --------------------------------------------------------------------------

class Reg:
    """Reads published numbers by register_id and remembers which ids were used."""

    def __init__(self, study: str):
        self.study = study
        self.used: list[str] = []

    def _row(self, rid: str) -> pd.Series:
        if rid not in self.used:
            self.used.append(rid)
        return register.entry(rid, REGISTER_PATH)

    def n(self, rid: str) -> int:
        """The published count (numerator; for a plain count, the value)."""
        row = self._row(rid)
        if not pd.isna(row["numerator"]):
            return int(row["numerator"])
        v = float(row["value"])
        if not v.is_integer():
            raise ValueError(f"register row {rid!r} is not a count")
        return int(v)

    def d(self, rid: str) -> int:
        row = self._row(rid)
        if pd.isna(row["denominator"]):
            raise ValueError(f"register row {rid!r} has no denominator")
        return int(row["denominator"])

    def v(self, rid: str) -> float:
        return float(self._row(rid)["value"])

    def text(self, rid: str) -> str:
        return str(self._row(rid)["value_text"])

    def date(self, rid: str) -> pd.Timestamp:
        """A published date; a month-only date is taken as the 15th of that month."""
        text = self.text(rid).strip()
        ts = pd.to_datetime(text, format="mixed", dayfirst=True)
        if not re.match(r"^\d", text):
            ts = ts.replace(day=15)
        return ts


def dev_pp(x: float, target: float) -> float:
    return abs(x - target)


def dev_ratio(x: float, target: float) -> float:
    """|log(x / target)| (0 when equal); inf for non-positive x."""
    if not (x > 0) or not math.isfinite(x):
        return float("inf")
    return abs(math.log(x / target))



# --------------------------------------------------------------------------
# Output formatting
# --------------------------------------------------------------------------

_DAY_COLUMNS = {"day", "onset_day", "duration_days", "start_day", "end_day", "followup_days",
                "relapse_day", "progression_assessed_day"}


def sig(x: float, digits: int = 3) -> str:
    """``x`` rounded to ``digits`` significant digits, written without exponent."""
    if x == 0:
        return "0"
    r = float(f"{x:.{digits}g}")
    text = f"{r:.12f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def _fmt_cell(value, dtype: str, column: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    if dtype == "bool":
        return "True" if bool(value) else "False"
    if dtype == "int":
        return str(int(value))
    if dtype == "float":
        x = float(value)
        if column in _DAY_COLUMNS or column in ("age_years", "marrow_blasts_pct"):
            text = f"{x:.1f}"
            return "0.0" if text == "-0.0" else text
        return sig(x, 3)
    return str(value)


def to_csv_text(df: pd.DataFrame, table: str) -> str:
    """The CSV text of one contract table, columns in contract order, fixed formats."""
    spec = TABLES[table]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(spec.column_names)
    cols = [(c.name, c.dtype) for c in spec.columns]
    for rec in df[[c for c, _ in cols]].itertuples(index=False, name=None):
        writer.writerow([_fmt_cell(v, dt, name) for v, (name, dt) in zip(rec, cols)])
    return buf.getvalue()


def _frame(table: str, rows: list[dict]) -> pd.DataFrame:
    """Rows -> DataFrame with exactly the contract columns, sorted by the table key."""
    spec = TABLES[table]
    df = pd.DataFrame(rows, columns=spec.column_names)
    for c in spec.columns:
        if c.dtype == "float":
            df[c.name] = pd.to_numeric(df[c.name], errors="coerce").astype(float)
        elif c.dtype == "int":
            df[c.name] = df[c.name].astype("Int64")
        elif c.dtype == "bool":
            df[c.name] = df[c.name].astype(object)
    key = list(spec.key)
    if key and len(df):
        df = df.sort_values(key, kind="stable").reset_index(drop=True)
        dup = df.duplicated(key)
        if dup.any():
            raise AssertionError(f"{table}: duplicated key rows:\n{df[dup]}")
    return df


def r1(x: float) -> float:
    """Round a day to the written precision (0.1 day)."""
    return float(f"{x:.1f}")



# --------------------------------------------------------------------------
# Building blocks shared by the studies (all synthetic, clinically plausible)
# --------------------------------------------------------------------------

@dataclass
class Study:
    """Rows of every table of one study, plus its provenance rows."""

    study: str
    rows: dict = field(default_factory=lambda: {t: [] for t in TABLES})
    prov: list = field(default_factory=list)
    report: dict = field(default_factory=dict)

    def add(self, table: str, **values) -> None:
        values.setdefault("study_id", self.study)
        self.rows[table].append(values)

    def provenance(self, table: str, columns, kind: str, ids=(), note: str = "") -> None:
        if kind not in PROVENANCE_KINDS:
            raise ValueError(kind)
        for column in ([columns] if isinstance(columns, str) else columns):
            self.prov.append(dict(table=table, column=column, provenance=kind,
                                  register_ids=";".join(ids), note=note))

    def frames(self) -> dict[str, pd.DataFrame]:
        out = {t: _frame(t, rows) for t, rows in self.rows.items() if rows}
        out["provenance"] = self._provenance_frame(out)
        return out

    def _provenance_frame(self, tables: dict) -> pd.DataFrame:
        declared = {}
        for p in self.prov:
            declared.setdefault((p["table"], p["column"]), p)
        rows = []
        for table in TABLES:
            if table not in tables:
                continue
            for column in TABLES[table].column_names:
                p = declared.get((table, column))
                if p is None:
                    if column in ("study_id", "patient_id"):
                        p = dict(provenance="synthetic", register_ids="",
                                 note="pseudonymous code made up by the book")
                    elif column == "origin":
                        p = dict(provenance="synthetic", register_ids="",
                                 note="row origin flag: published (transcribed) or synthetic (generated)")
                    else:
                        p = dict(provenance="synthetic", register_ids="",
                                 note="invented, clinically plausible; constrained by nothing published")
                rows.append(dict(table=table, column=column, provenance=p["provenance"],
                                 register_ids=p["register_ids"], note=p["note"]))
        return pd.DataFrame(rows, columns=list(PROVENANCE_COLUMNS))


#: Cytokines and inflammatory markers: baseline median, baseline log-sd, fold rise at the
#: peak by CRS grade 0..4, lower limit of quantification, peak delay (days), decay width.
_CYTOKINES = {
    "IL-6": (6.0, 0.6, (3.0, 15.0, 60.0, 300.0, 1000.0), 1.0, 0.0, 3.5),
    "IL-10": (4.0, 0.5, (2.0, 5.0, 15.0, 50.0, 120.0), 1.0, 0.0, 3.5),
    "TNF-alpha": (2.5, 0.5, (1.5, 2.5, 4.0, 8.0, 15.0), 1.0, 0.0, 4.5),
    "IFN-gamma": (4.0, 0.6, (3.0, 10.0, 40.0, 150.0, 400.0), 1.0, 0.0, 3.5),
    "CRP": (6.0, 0.7, (3.0, 10.0, 20.0, 35.0, 45.0), 0.5, 1.0, 6.0),
    "ferritin": (600.0, 0.7, (1.5, 2.5, 5.0, 12.0, 25.0), 10.0, 2.0, 9.0),
}
_CYTOKINE_DAYS = (-1.0, 1.0, 3.0, 5.0, 7.0, 10.0, 14.0, 21.0, 28.0)
_COUNT_DAYS = (-6.0, 0.0, 3.0, 7.0, 10.0, 14.0, 21.0, 28.0)
KINETIC_DAYS = (1.0, 4.0, 7.0, 10.0, 14.0, 21.0, 28.0, 60.0, 90.0, 180.0, 365.0)
#: qPCR lower limit of quantification, copies per microgram genomic DNA.
KINETICS_LLOQ = 50.0


def cytokine_rows(st: Study, rng: np.random.Generator, pid: str, grade: int, peak_day: float,
                   followup: float, origin: str = "synthetic", days=_CYTOKINE_DAYS,
                   mild: float = 1.0) -> None:
    """Serial cytokines and inflammatory markers rising to a peak on days 3-10."""
    grade = int(min(max(grade, 0), 4))
    for analyte, (base, sd, folds, lloq, delay, width) in _CYTOKINES.items():
        b = base * math.exp(sd * rng.standard_normal())
        fold = max(1.0, (folds[grade] * mild) * math.exp(0.4 * rng.standard_normal()))
        peak = min(max(peak_day + delay, 3.0), 10.0)
        for day in days:
            if day > followup:
                continue
            w = 2.0 if day < peak else width
            bump = math.exp(-0.5 * ((day - peak) / w) ** 2)
            value = b * fold ** bump * math.exp(0.12 * rng.standard_normal())
            if analyte == "CRP":
                value = min(value, 350.0)
            below = value < lloq
            st.add("labs", patient_id=pid, analyte=analyte, day=day, value=lloq if below else value,
                   unit=LAB_UNITS[analyte][0], below_lloq=below, origin=origin)


def _count_series(days, knots_x, knots_y) -> list[float]:
    """Log-linear interpolation of a blood count through knots."""
    return [float(math.exp(np.interp(d, knots_x, np.log(knots_y)))) for d in days]


def count_rows(st: Study, rng: np.random.Generator, pid: str, followup: float, anc0: float,
                plt0: float, anc_recovery: float, plt_recovery: float, origin: str = "synthetic",
                days=_COUNT_DAYS, noise: float = 0.08, anc_limit: float = 0.5,
                plt_limit: float = 100.0) -> None:
    """ANC and platelets: lymphodepletion nadir, then recovery above 0.5 and 100 x10^9/L."""
    nadir_day = float(rng.uniform(3.0, min(6.0, anc_recovery - 1.0)))
    anc_knots = ([-6.0, 0.0, nadir_day, anc_recovery - 0.5, anc_recovery, 28.0],
                 [anc0, anc0 * rng.uniform(0.3, 0.6), rng.uniform(0.03, 0.25), 0.9 * anc_limit,
                  anc_limit * rng.uniform(1.25, 2.0), rng.uniform(1.2, 3.0)])
    plt_nadir_day = float(rng.uniform(5.0, min(10.0, plt_recovery - 1.0)))
    plt_knots = ([-6.0, 0.0, plt_nadir_day, plt_recovery - 0.5, plt_recovery, 28.0],
                 [plt0, plt0 * rng.uniform(0.6, 0.9), rng.uniform(8.0, 35.0), 0.9 * plt_limit,
                  plt_limit * rng.uniform(1.1, 1.4), rng.uniform(1.2, 2.2) * plt_limit])
    for analyte, (kx, ky), limit in (("ANC", anc_knots, anc_limit), ("platelets", plt_knots, plt_limit)):
        values = _count_series(days, kx, ky)
        for day, value in zip(days, values):
            if day > followup:
                continue
            value *= math.exp(noise * rng.standard_normal())
            recovery = kx[4]
            # keep the recovery threshold crossing where the knots put it
            if day >= recovery:
                value = max(value, limit * 1.05)
            elif day > kx[2]:
                value = min(value, limit * 0.95)
            st.add("labs", patient_id=pid, analyte=analyte, day=day, value=value,
                   unit=LAB_UNITS[analyte][0], below_lloq=False, origin=origin)


def kinetic_values(rng: np.random.Generator, peak: float, tpeak: float, days) -> list[float]:
    """CAR transgene copies: expansion to a peak, then biphasic (fast, then slow) decline."""
    k_up = math.log(300.0) / max(tpeak - 1.0, 1.0)
    f_fast = rng.uniform(0.95, 0.99)
    hl_fast = rng.uniform(3.0, 6.0)
    hl_slow = rng.uniform(40.0, 120.0)
    out = []
    for d in days:
        if d <= tpeak:
            v = peak * math.exp(-k_up * (tpeak - d))
        else:
            dt = d - tpeak
            v = peak * (f_fast * 2.0 ** (-dt / hl_fast) + (1.0 - f_fast) * 2.0 ** (-dt / hl_slow))
        if d != tpeak:
            v = min(v * math.exp(0.15 * rng.standard_normal()), 0.9 * peak)
        out.append(float(sig(v, 3)))   # as written

    return out


#: Half-life (days) of CAR-T copies after an allogeneic HSCT. A modelling assumption, not a
#: published figure: conditioning ablates the recipient's lymphocytes, CAR-T cells among them,
#: and donor cells replace them, so copies fall about 100-fold within four weeks and become
#: unquantifiable soon after.
HSCT_CART_HALF_LIFE_DAYS = 4.0


def after_allo_hsct(days, values, hsct_day: float, half_life: float = HSCT_CART_HALF_LIFE_DAYS) -> list[float]:
    """CAR-T copies with the fall after an allo-HSCT on ``hsct_day`` (nan: no transplant)."""
    if hsct_day is None or math.isnan(hsct_day):
        return list(values)
    return [float(sig(v * 2.0 ** (-(d - hsct_day) / half_life), 3)) if d > hsct_day else v
            for d, v in zip(days, values)]


def kinetic_rows(st: Study, pid: str, days, values, origin: str = "synthetic") -> None:
    for d, v in zip(days, values):
        below = v < KINETICS_LLOQ
        st.add("kinetics", patient_id=pid, day=float(d), copies_per_ug_gdna=KINETICS_LLOQ if below else v,
               below_lloq=below, origin=origin)


def potential_followup(rng: np.random.Generator, n: int, min_months: float, median_months: float,
                        max_months: float) -> np.ndarray:
    """Potential follow-up (cut-off minus infusion date), days; accrual growing over time.

    Stratified quantiles of ``min + (max - min) * u**a`` with ``a`` chosen so the
    median is ``median_months``.
    """
    a = math.log((median_months - min_months) / (max_months - min_months)) / math.log(0.5)
    u = (rng.permutation(n) + rng.random(n)) / n
    return (min_months + (max_months - min_months) * u ** a) * DAYS_PER_MONTH



def tx(st: Study, pid: str, category: str, agent: str, start: float, end, dose=None, unit=None,
        origin: str = "synthetic") -> None:
    st.add("treatments", patient_id=pid, category=category, agent=agent, start_day=r1(start),
           end_day=None if end is None else r1(end), dose=dose, dose_unit=unit, origin=origin)
