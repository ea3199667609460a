"""Input validation every estimator calls: times, events, codes, groups, samples, profiles, tables.

Modelled on scikit-survival's ``check_y_survival``: each check names the argument and the
first offending positions, and never drops a value silently. Every estimator module of
``helpers.stats`` imports its checks from here; none converts or checks its inputs by hand.

Shared primitives (every check below is built on them)
------------------------------------------------------
``as_numeric(values, name)``         the one conversion to a float array; a failure names
                                     ``name`` and shows the first values.
``check_finite(arr, name, ...)``     the one finiteness rule: infinite values are always
                                     refused; missing values (NaN) are refused
                                     (``nan_policy="raise"``), dropped and counted by the caller
                                     (``"omit"``) or kept where NaN means something
                                     (``"propagate"``, e.g. "never exposed").
``positions_text(mask)``             the one text for where the offending values are (positions,
                                     rows, or labels such as sample days).
``check_choice(value, allowed, name)``  an option that must be one of a few strings.
``check_columns(frame, columns, what)`` columns a frame must have (:class:`MissingColumnsError`).

Checks
------
scalars   ``as_count``, ``as_k_n``, ``as_level``, ``as_proportion``, ``as_finite_number``,
          ``as_positive``
arrays    ``as_times``, ``as_query_times``, ``as_events``, ``as_flags``, ``as_sample``,
          ``as_profile``, ``check_groups``
pairs     ``check_time_event`` (survival), ``check_time_status`` (competing risks)
frames    ``check_columns``, ``check_frame``, ``check_frame_groups``
tables    ``as_table`` (contingency tables of counts)

>>> as_sample([1.0, float("nan"), 3.0], "x", nan_policy="omit")
(array([1., 3.]), 1)
>>> positions_text(np.array([False, True, True]))
'1, 2'
"""

from __future__ import annotations

import math
import numbers
from typing import Optional, Sequence

import numpy as np
import pandas as pd

NAN_POLICIES = ("raise", "omit", "propagate")
_NUMBER_WORDS = {1: "one", 2: "two"}


# --------------------------------------------------------------------------- #
# shared primitives
# --------------------------------------------------------------------------- #
def _preview(values, limit: int = 3) -> str:
    try:
        return repr(list(values)[:limit])
    except TypeError:  # not iterable
        return repr(values)


def _label(value) -> str:
    return f"{value:g}" if isinstance(value, numbers.Real) and not isinstance(value, bool) else str(value)


def positions_text(mask: np.ndarray, limit: int = 8, *, labels: Optional[Sequence] = None) -> str:
    """Where ``mask`` is true: "0, 3, 7" (positions) or, with ``labels``, the labels there
    ("14, 28" for sample days); the first ``limit``, then how many in all."""
    idx = np.flatnonzero(mask)
    shown = [str(i) if labels is None else _label(labels[i]) for i in idx[:limit]]
    return ", ".join(shown) + (f", ... ({idx.size} in all)" if idx.size > limit else "")


def as_numeric(values, name: str, *, ndim: Optional[int | tuple] = 1, expected: str = "numeric") -> np.ndarray:
    """``values`` as a float array of ``ndim`` dimensions (a tuple allows several; None any),
    or a ValueError naming ``name`` ("x must be numeric; got values such as ['a', 2]")."""
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {expected}; got values such as {_preview(values)}") from None
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if allowed is not None and arr.ndim not in allowed:
        kind = "one-dimensional" if allowed == (1,) else f"of {' or '.join(map(str, allowed))} dimensions"
        raise ValueError(f"{name} must be {kind}, got shape {arr.shape}")
    return arr


def check_finite(arr: np.ndarray, name: str, *, nan_policy: str = "raise", noun: str = "value(s)",
                 labels: Optional[Sequence] = None, where: str = "positions",
                 advice: Optional[str] = None) -> np.ndarray:
    """The finiteness rule of every check: ``arr`` without what the rule refuses, or a ValueError.

    Infinite values always raise. Missing values (NaN) raise with ``nan_policy="raise"``, are
    dropped with ``"omit"`` (1-D only; the caller reports how many) and are kept with
    ``"propagate"``. The message names ``name``, counts the offending ``noun`` and lists their
    positions (rows of a 2-D array; ``labels`` at those positions, such as sample days, when given).
    """
    check_choice(nan_policy, NAN_POLICIES, "nan_policy")
    bad = np.isinf(arr) if nan_policy != "raise" else ~np.isfinite(arr)
    if bad.any():
        kinds = [k for k, hit in (("missing", np.isnan(arr[bad]).any()), ("infinite", np.isinf(arr[bad]).any()))
                 if hit]
        if advice is None:
            advice = (f"{' and '.join(kinds)} values are never dropped silently: remove or fix them "
                      "explicitly (and report how many) first")
        rows = bad.any(axis=tuple(range(1, arr.ndim))) if arr.ndim > 1 else bad
        at = "rows" if arr.ndim > 1 else where
        raise ValueError(f"{name} contains {int(bad.sum())} missing or infinite {noun} at {at} "
                         f"{positions_text(rows, labels=labels)}; {advice}")
    if nan_policy == "omit":
        return arr[~np.isnan(arr)]
    return arr


def check_choice(value, allowed: Sequence[str], name: str) -> None:
    """``value`` must be one of ``allowed`` ("method must be one of ('linear', ...), got 'log'")."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {tuple(allowed)}, got {value!r}")


class MissingColumnsError(KeyError, ValueError):
    """Columns a function needs are not in the frame: a KeyError (a failed look-up, as pandas
    raises) that is also a ValueError (bad input, as every other check raises)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def check_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """Every one of ``columns`` is in ``frame``, or a :class:`MissingColumnsError`."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise MissingColumnsError(f"{what}: columns {missing} not in the data (has {list(frame.columns)})")


# --------------------------------------------------------------------------- #
# scalars
# --------------------------------------------------------------------------- #
def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


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


def as_level(level, name: str = "level") -> float:
    """A confidence level: a real number strictly between 0 and 1 (not a percent, not text)."""
    if not _is_real(level) or not (0.0 < float(level) < 1.0):
        raise ValueError(f"{name} must be a number strictly between 0 and 1, got {level!r}")
    return float(level)


def as_proportion(value, name: str) -> float:
    """A real number in [0, 1] (a fraction, not a percent); NaN is refused."""
    if not _is_real(value) or not (0.0 <= float(value) <= 1.0):
        raise ValueError(f"{name} must be in [0, 1] (a proportion, not a percent), got {value!r}")
    return float(value)


def as_finite_number(value, name: str, *, minimum: Optional[float] = None) -> float:
    """A finite real number (not a boolean, not text), at least ``minimum`` when given."""
    if not _is_real(value) or not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if minimum is not None and float(value) < minimum:
        raise ValueError(f"{name} must be >= {minimum:g}, got {value!r}")
    return float(value)


def as_positive(value, name: str) -> float:
    """A finite real number > 0."""
    if not _is_real(value) or not math.isfinite(float(value)) or float(value) <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


# --------------------------------------------------------------------------- #
# arrays
# --------------------------------------------------------------------------- #
def _one_per_time(values, name: str, n: int) -> np.ndarray:
    raw = np.asarray(values)
    if raw.ndim != 1 or raw.size != n:
        raise ValueError(f"{name} must have one value per time ({n}), got shape {raw.shape}")
    return raw


def as_times(values, name: str, *, nan_policy: str = "raise") -> np.ndarray:
    """Follow-up times: 1-D, non-empty, finite (NaN kept only with ``nan_policy="propagate"``)
    and >= 0."""
    arr = as_numeric(values, name)
    if arr.size == 0:
        raise ValueError(f"{name} is empty: there is nothing to estimate")
    check_finite(arr, name, nan_policy=nan_policy)
    negative = arr < 0
    if negative.any():
        raise ValueError(f"{name} has negative values at positions {positions_text(negative)}; times are "
                         "measured from the time origin and cannot be negative")
    return arr


def as_events(values, name: str, n: int) -> np.ndarray:
    """Event indicators, one per time: 0/1 or True/False, as a bool array."""
    raw = _one_per_time(values, name, n)
    arr = check_finite(as_numeric(raw, name, expected="0/1 or True/False"), name)
    bad = ~np.isin(arr, (0.0, 1.0))
    if bad.any():
        raise ValueError(f"{name} must be 0/1 or True/False; positions {positions_text(bad)} hold "
                         f"{sorted(set(raw[bad].tolist()), key=str)[:5]!r}")
    return arr.astype(bool)


def as_flags(values, name: str) -> np.ndarray:
    """Strict True/False flags (1-D): text such as "False" and numbers are refused, never read
    as true."""
    raw = np.asarray(values)
    if raw.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {raw.shape}")
    if raw.dtype != bool:
        bad = [v for v in raw if not isinstance(v, (bool, np.bool_))]
        if bad:
            raise ValueError(f"{name} must be True/False, got {bad[:3]}")
    return raw.astype(bool)


def as_sample(values, name: str, nan_policy: str = "raise", *, min_size: int = 1) -> tuple[np.ndarray, int]:
    """One sample for a two-sample test: (values, number of missing values dropped).

    1-D numbers, all finite; missing values raise (``nan_policy="raise"``, the default) or are
    dropped and counted (``"omit"``); at least ``min_size`` values must remain.
    """
    check_choice(nan_policy, ("raise", "omit"), "nan_policy")
    arr = as_numeric(values, name)
    advice = None
    if nan_policy == "raise" and not np.isinf(arr).any():
        advice = ("missing values are never dropped silently: remove them explicitly (and report how many) "
                  "first, or pass nan_policy='omit' where it is offered (the count is then reported)")
    kept = check_finite(arr, name, nan_policy=nan_policy, advice=advice)
    if kept.size < min_size:
        need = "one value" if min_size == 1 else f"{min_size} values"
        raise ValueError(f"{name} needs at least {need}, got {'no values' if kept.size == 0 else kept.size}")
    return kept, int(arr.size - kept.size)


def as_profile(day, copies, below_lloq, who: str = "profile") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One patient's kinetics samples (day, copies, below-limit flag), sorted by day.

    Days finite, >= 0 and distinct; copies finite and >= 0; a quantifiable sample is > 0 and a
    below-limit (BLQ) sample carries the limit (> 0) as its value; flags strictly True/False.
    Every message starts with ``who`` (e.g. "patient MC-01").
    """
    t = as_numeric(day, f"{who}: day")
    c = as_numeric(copies, f"{who}: copies")
    b = as_flags(below_lloq, f"{who}: below_lloq")
    if not (len(t) == len(c) == len(b)):
        raise ValueError(f"{who}: day ({len(t)}), copies ({len(c)}) and below_lloq ({len(b)}) "
                         "must have the same length")
    if len(t) == 0:
        raise ValueError(f"{who}: no samples")
    check_finite(t, who, noun="day(s)")
    if np.any(t < 0):
        raise ValueError(f"{who}: negative day(s) {positions_text(t < 0, labels=t)} (day 0 is the infusion; "
                         "kinetics start at day 0)")
    check_finite(c, who, noun="copies value(s)", labels=t, where="days")
    if np.any(c < 0):
        raise ValueError(f"{who}: negative copies on days {positions_text(c < 0, labels=t)}")
    if np.any((c == 0) & ~b):
        raise ValueError(f"{who}: copies of 0 on days {positions_text((c == 0) & ~b, labels=t)} are marked "
                         "quantifiable; a level below the limit must have below_lloq True")
    if np.any(b & (c <= 0)):
        raise ValueError(f"{who}: below-limit samples must carry the limit (> 0) as their value; "
                         f"days {positions_text(b & (c <= 0), labels=t)}")
    order = np.argsort(t, kind="stable")
    t, c, b = t[order], c[order], b[order]
    dup = np.r_[False, np.diff(t) == 0]
    if dup.any():
        first = dup & ~np.r_[False, dup[:-1]]          # each repeated day once
        raise ValueError(f"{who}: more than one sample on day(s) {positions_text(first, labels=t)}")
    return t, c, b


def check_groups(group, n: int, *, name: str = "group", what: str = "", test: str = "the test",
                 min_groups: int = 2, as_text: bool = False) -> tuple[np.ndarray, list]:
    """Group labels, one per time, none missing, at least ``min_groups`` distinct.

    Returns (labels, levels): levels in order of appearance, or -- with ``as_text`` -- labels
    compared as text and levels sorted, as R orders factor levels.
    """
    prefix = f"{what}: " if what else ""
    raw = _one_per_time(np.asarray(group, dtype=object) if as_text else group, prefix + name, n)
    missing = pd.isna(pd.Series(raw)).to_numpy()
    if missing.any():
        raise ValueError(f"{prefix}{name} has missing values at positions {positions_text(missing)}")
    values = pd.Series(raw).astype(str).to_numpy() if as_text else raw
    levels = sorted(set(values.tolist())) if as_text else list(pd.unique(pd.Series(values)))
    if len(levels) < min_groups:
        raise ValueError(f"{test} needs at least {_NUMBER_WORDS.get(min_groups, min_groups)} groups; "
                         f"{name} has only {levels}")
    return values, levels


def as_query_times(times, name: str = "times") -> np.ndarray:
    """Times at which an estimate is read (a number or a 1-D array), none missing: a 1-D array."""
    return check_finite(np.atleast_1d(as_numeric(times, name, ndim=(0, 1))), name)


# --------------------------------------------------------------------------- #
# time and event or status, together
# --------------------------------------------------------------------------- #
def check_time_event(time, event, what: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Right-censored survival data: times (:func:`as_times`) and 0/1 events, one per time."""
    prefix = f"{what}: " if what else ""
    t = as_times(time, prefix + "time")
    e = as_events(event, prefix + "event", t.size)
    return t, e


def check_time_status(time, status, cencode=0, what: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Competing-risks data: times and integer status codes >= 0 (0 = censored, 1, 2, ... causes)."""
    prefix = f"{what}: " if what else ""
    t = as_times(time, prefix + "time")
    raw = _one_per_time(status, prefix + "status", t.size)
    s = check_finite(as_numeric(raw, prefix + "status", expected="integer codes (0 = censored, 1, 2, ... causes)"),
                     prefix + "status")
    bad = s != np.round(s)
    if bad.any():
        raise ValueError(f"{prefix}status must be integer codes; positions {positions_text(bad)} are not")
    s = s.astype(int)
    if (s < 0).any():
        raise ValueError(f"{prefix}status codes must be >= 0; negative at positions {positions_text(s < 0)}")
    return t, s


# --------------------------------------------------------------------------- #
# frames and tables
# --------------------------------------------------------------------------- #
def check_frame(frame: pd.DataFrame, columns: Sequence[str], what: str, labels: Sequence[str] = (),
                dropped_by: str = "R's model function") -> pd.DataFrame:
    """The ``columns`` of ``frame``, none missing a value, numeric except ``labels`` (booleans
    become 0/1). ``dropped_by`` names what would drop incomplete rows silently in R."""
    check_columns(frame, columns, what)
    data = frame[list(columns)].copy()
    na = data.isna().any(axis=1)
    if na.any():
        cols = [c for c in columns if data[c].isna().any()]
        raise ValueError(f"{what}: {int(na.sum())} row(s) have missing values in {cols} (rows "
                         f"{positions_text(na.to_numpy())}); {dropped_by} would drop them silently; "
                         "exclude them explicitly and report it")
    for c in columns:
        if c in labels:
            continue
        if data[c].dtype == bool:
            data[c] = data[c].astype(int)
        elif not pd.api.types.is_numeric_dtype(data[c]):
            raise ValueError(f"{what}: column {c!r} is not numeric (dtype {data[c].dtype}); code it as "
                             "numbers (0/1 for a yes/no covariate)")
    return data


def check_frame_groups(frame: pd.DataFrame, columns: Sequence[str], group: str, order: Optional[Sequence],
                       what: str) -> list:
    """The groups of ``frame[group]`` to estimate by, in ``order`` (default: order of appearance).
    ``columns`` and ``group`` must be in the frame, every row must have a group (none is left
    out silently) and every group in ``order`` must have rows."""
    check_columns(frame, [*columns, group], what)
    missing = frame[group].isna().to_numpy()
    if missing.any():
        raise ValueError(f"{what}: {int(missing.sum())} row(s) have no {group!r} (rows {positions_text(missing)}); "
                         "decide what they are before estimating by group")
    levels = list(order) if order is not None else list(pd.unique(frame[group]))
    absent = [g for g in levels if not (frame[group] == g).any()]
    if absent:
        raise ValueError(f"{what}: group(s) {absent} have no rows in column {group!r}")
    return levels


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
