"""Input validation every estimator calls: times, events, counts, levels, samples, tables.

Modelled on scikit-survival's ``check_y_survival``: each check names the argument and the
first offending positions, and never drops a value silently.
"""

from __future__ import annotations

import math
import numbers
from typing import Sequence

import numpy as np
import pandas as pd


# --------------------------------------------------------------------------- #
# validation
# --------------------------------------------------------------------------- #
def as_count(value, name: str) -> int:
    """``value`` as a non-negative Python int, or a ValueError naming ``name``."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a non-negative integer count, got the boolean {value!r}")
    if isinstance(value, numbers.Integral):
        out = int(value)
    elif isinstance(value, numbers.Real):
        fval = float(value)
        if not math.isfinite(fval) or fval != math.floor(fval):
            raise ValueError(f"{name} must be a non-negative integer count, got {value!r}")
        out = int(fval)
    else:
        raise ValueError(f"{name} must be a non-negative integer count, got {value!r}")
    if out < 0:
        raise ValueError(f"{name} must be a non-negative integer count, got {value!r}")
    return out


def as_k_n(k, n, k_name: str = "k", n_name: str = "n") -> tuple[int, int]:
    """Validated (k, n) with 0 <= k <= n and n >= 1."""
    k_int = as_count(k, k_name)
    n_int = as_count(n, n_name)
    if n_int == 0:
        raise ValueError(f"{n_name} must be at least 1, got {n!r}")
    if k_int > n_int:
        raise ValueError(f"{k_name} must not exceed {n_name}: got {k_name}={k!r} > {n_name}={n!r}")
    return k_int, n_int


def as_level(level) -> float:
    try:
        lev = float(level)
    except (TypeError, ValueError):
        raise ValueError(f"level must be a number strictly between 0 and 1, got {level!r}") from None
    if not (0.0 < lev < 1.0):
        raise ValueError(f"level must be a number strictly between 0 and 1, got {level!r}")
    return lev


def as_table(table, name: str = "table") -> np.ndarray:
    """A 2-D integer array of counts with at least 2 rows and 2 columns."""
    if isinstance(table, pd.DataFrame):
        raw = table.to_numpy(dtype=object)
    else:
        try:
            raw = np.array(table, dtype=object)
        except ValueError:  # ragged nested lists
            raise ValueError(f"{name} must be a rectangular 2-D table of counts, got {table!r}") from None
    if raw.ndim != 2:
        raise ValueError(f"{name} must be a 2-D table of counts, got an array of shape {raw.shape}")
    if raw.shape[0] < 2 or raw.shape[1] < 2:
        raise ValueError(f"{name} must have at least 2 rows and 2 columns, got shape {raw.shape}")
    out = np.empty(raw.shape, dtype=np.int64)
    for (i, j), cell in np.ndenumerate(raw):
        out[i, j] = as_count(cell, f"{name}[{i}][{j}]")
    return out


# --------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------

def positions_text(mask: np.ndarray, limit: int = 8) -> str:
    idx = np.flatnonzero(mask)
    shown = ", ".join(str(i) for i in idx[:limit])
    return shown + (f", ... ({idx.size} in all)" if idx.size > limit else "")


def as_times(values, name: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric; got values such as {list(values)[:3]!r}") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: there is nothing to estimate")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(f"{name} has {int(bad.sum())} missing or infinite value(s) at positions "
                         f"{positions_text(bad)}; drop or fix those rows explicitly first")
    if (arr < 0).any():
        raise ValueError(f"{name} has negative values at positions {positions_text(arr < 0)}; times are "
                         "measured from the time origin and cannot be negative")
    return arr


def as_events(values, name: str, n: int) -> np.ndarray:
    raw = np.asarray(values)
    if raw.ndim != 1 or raw.size != n:
        raise ValueError(f"{name} must have one value per time ({n}), got shape {raw.shape}")
    try:
        arr = raw.astype(float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be 0/1 or True/False; got values such as {list(raw[:3])!r}") from None
    bad = ~np.isin(arr, (0.0, 1.0))
    if bad.any():
        raise ValueError(f"{name} must be 0/1 or True/False; positions {positions_text(bad)} hold "
                         f"{sorted(set(raw[bad].tolist()), key=str)[:5]!r}")
    return arr.astype(bool)


def check_time_event(time, event, what: str = "") -> tuple[np.ndarray, np.ndarray]:
    prefix = f"{what}: " if what else ""
    t = as_times(time, prefix + "time")
    e = as_events(event, prefix + "event", t.size)
    return t, e


def check_frame(frame: pd.DataFrame, columns: Sequence[str], what: str,
                 labels: Sequence[str] = ()) -> pd.DataFrame:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"{what}: columns {missing} not in the data (has {list(frame.columns)})")
    data = frame[list(columns)].copy()
    na = data.isna().any(axis=1)
    if na.any():
        cols = [c for c in columns if data[c].isna().any()]
        raise ValueError(f"{what}: {int(na.sum())} row(s) have missing values in {cols}; a Cox model "
                         "would drop them silently in R; exclude them explicitly and report it")
    for c in columns:
        if c in labels:
            continue
        if data[c].dtype == bool:
            data[c] = data[c].astype(int)
        elif not pd.api.types.is_numeric_dtype(data[c]):
            raise ValueError(f"{what}: column {c!r} is not numeric (dtype {data[c].dtype}); code it 0/1")
    return data


# --------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------

def check_time_status(time, status, cencode=0, what: str = "") -> tuple[np.ndarray, np.ndarray]:
    prefix = f"{what}: " if what else ""
    t = as_times(time, prefix + "time")
    raw = np.asarray(status)
    if raw.ndim != 1 or raw.size != t.size:
        raise ValueError(f"{prefix}status must have one value per time ({t.size}), got shape {raw.shape}")
    try:
        s = raw.astype(float)
    except (TypeError, ValueError):
        raise ValueError(f"{prefix}status must be integer codes (0 = censored, 1, 2, ... causes)") from None
    bad = ~np.isfinite(s) | (s != np.round(s))
    if bad.any():
        raise ValueError(f"{prefix}status must be integer codes; positions {positions_text(bad)} are not")
    s = s.astype(int)
    if (s < 0).any():
        raise ValueError(f"{prefix}status codes must be >= 0; negative at positions {positions_text(s < 0)}")
    return t, s


def as_sample(values, name: str, nan_policy: str) -> tuple[np.ndarray, int]:
    try:
        arr = np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric values, got {values!r}") from None
    if np.isinf(arr).any():
        raise ValueError(f"{name} contains {int(np.isinf(arr).sum())} infinite values")
    dropped = int(np.isnan(arr).sum())
    if dropped:
        if nan_policy == "raise":
            raise ValueError(f"{name} contains {dropped} missing values; pass nan_policy='omit' "
                             "to drop them (the count is reported in the result's notes)")
        arr = arr[~np.isnan(arr)]
    if arr.size < 1:
        raise ValueError(f"{name} needs at least one value")
    return arr, dropped


def as_finite_sample(values, name: str) -> np.ndarray:
    try:
        x = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: values must be numeric") from None
    if x.ndim != 1:
        raise ValueError(f"{name}: must be one-dimensional")
    if np.any(~np.isfinite(x)):
        raise ValueError(f"{name}: {int((~np.isfinite(x)).sum())} missing or infinite value(s); "
                         "remove them explicitly (and report how many) before testing")
    if len(x) == 0:
        raise ValueError(f"{name}: no values")
    return x
