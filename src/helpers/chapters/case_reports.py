"""The case-reports chapter: the two CD38 CAR-T patients of study 001, fact by fact.

Study 001 is a case report, so -- unlike the other studies -- its patient-level facts *are*
published: ages, dates, doses, laboratory values, days after the infusion. This module turns
the study's register rows (``data/published_register.csv``, ids ``001-*``) into

* tidy **fact tables** (one row per register row, with the register id as its source, the value
  as printed, and the book's reading of *when* it happened);
* **timeline rows** for :mod:`helpers.plots.timeline` (each bar and marker lists the register ids it
  was drawn from);
* the **BCR::ABL1 (IS) course** of patient 1 and the **blast counts** before and after CAR-T,
  on log scales with a separate strip for values that a log axis cannot hold (0 %);
* calendar **intervals** with the range of days that month-level dates allow.

It also draws the study 000 CML-LBC swimmer (the paper's Fig. 1A) from the *synthetic* cohort,
and says what that cohort lacks to draw it properly.

Rules kept here: a published value is always read from the register (never typed in this file);
dates published to the month are placed at mid-month *and* carry the whole month as their range;
intervals printed in months ("one month", "half a month") are converted at 30.44 days per month
and marked approximate; nothing in a register row is dropped -- a row this module does not know
how to place raises an error naming it.
"""

from __future__ import annotations

import calendar
import math
import re
from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from helpers.escape import escape_html
from helpers.paths import REGISTER_CSV
from helpers.plots.figures import OKABE_ITO, label_synthetic, style
from helpers.plots.timeline import Panel, swimmer
from helpers.reproduction import register as reg
from helpers.reproduction.published import parse_published
from helpers.stats.units import DAYS_PER_MONTH

STUDY = "001"
MONTH_DAYS = DAYS_PER_MONTH  # 30.44 days: how an interval printed in months is converted
UNIT_DAYS = {"day": 1.0, "days": 1.0, "week": 7.0, "weeks": 7.0}  # months: MONTH_DAYS, read when used
SUBJECTS = {"patient 1": "Patient 1", "patient 2": "Patient 2", "patients 1 and 2": "Both patients",
            "all": "Both patients", "patient not stated": "Patient not stated", "article": "Article",
            "literature": "Background (cited)", "cited study": "Background (cited)"}
SECTIONS = ("Chronic phase", "Blast phase", "Tumour reduction",
            "CAR-T and after", "Article, background")
LANES = ("Patient 1", "Patient 2")

# --------------------------------------------------------------------------------------------
# Where each register row sits in the patients' course. Keys are register ids; values are
# (section, when). ``when`` names a moment (see :func:`moments`), or is one of
#   "self-date"     the row is itself a published date;
#   "self-day"      the row's value is a day after the infusion;
#   "self-interval" the row's value is an interval after the infusion (weeks or months);
#   "regimen"       a day of the tumour-reduction regimen (its calendar date is not published);
#   "n/a"           not a point in a patient's course (study size, background, thresholds).
# A register row missing here stops the chapter (see :func:`facts`): nothing is dropped.
# --------------------------------------------------------------------------------------------
WHEN = {
    "001-n-all": ("Article, background", "n/a"),
    "001-pub-received": ("Article, background", "self-date"),
    "001-pub-accepted": ("Article, background", "self-date"),
    "001-pub-published": ("Article, background", "self-date"),
    "001-bg-cp-to-bp-risk": ("Article, background", "n/a"),
    "001-cite-aml-orr": ("Article, background", "n/a"),
    "001-bg-bp-b-lymphoid": ("Article, background", "n/a"),
    "001-cd38-expression": ("Blast phase", "blast phase, before CAR-T"),
    "001-car-dose": ("CAR-T and after", "day 0 (dose split over 4 days)"),
    "001-car-dose-escalation-days": ("CAR-T and after", "day 0 onwards"),
    "001-crs-grade-p1": ("CAR-T and after", "after infusion (day not published)"),
    "001-crs-grade-p2": ("CAR-T and after", "after infusion (day not published)"),
    "001-ia-idarubicin-days": ("Blast phase", "with dasatinib at blast phase"),
    "001-ia-cytarabine-days": ("Blast phase", "with dasatinib at blast phase"),
    "001-p1-age": ("Chronic phase", "p1-adm"),
    "001-p1-date-admission": ("Chronic phase", "self-date"),
    "001-p1-wbc-diagnosis": ("Chronic phase", "p1-adm"),
    "001-p1-blasts-fcm-diagnosis": ("Chronic phase", "p1-adm"),
    "001-p1-sokal": ("Chronic phase", "p1-adm"),
    "001-p1-dose-imatinib": ("Chronic phase", "p1-adm"),
    "001-p1-date-blast-crisis": ("Blast phase", "self-date"),
    "001-p1-blasts-morph-bc": ("Blast phase", "p1-bc"),
    "001-p1-dose-dasatinib": ("Blast phase", "p1-bc"),
    "001-p1-bcrabl-after-ia": ("Blast phase", "p1-ia-window"),
    "001-p1-date-bcrabl-rise": ("Blast phase", "self-date"),
    "001-p1-bcrabl-2019-11-15": ("Blast phase", "p1-rise"),
    "001-p1-dose-nilotinib": ("Blast phase", "p1-rise"),
    "001-p1-time-nilotinib-to-bcrabl-fall": ("Blast phase", "p1-fall"),
    "001-p1-bcrabl-nilotinib-1mo": ("Blast phase", "p1-fall"),
    "001-p1-date-mrd": ("Blast phase", "self-date"),
    "001-p1-mrd-blasts-2019-12-30": ("Blast phase", "p1-mrd"),
    "001-p1-bcrabl-2019-12-30": ("Blast phase", "p1-mrd"),
    "001-p1-dose-ponatinib": ("Blast phase", "p1-mrd"),
    "001-p1-time-ponatinib-to-progression": ("Blast phase", "p1-prog"),
    "001-p1-blasts-pre-cart": ("Blast phase", "p1-prog"),
    "001-p1-bcrabl-pre-cart": ("Blast phase", "p1-prog"),
    "001-pre-decitabine-dose": ("Tumour reduction", "regimen"),
    "001-pre-decitabine-day-first": ("Tumour reduction", "regimen"),
    "001-pre-decitabine-day-last": ("Tumour reduction", "regimen"),
    "001-pre-hht-dose": ("Tumour reduction", "regimen"),
    "001-pre-hht-day-first": ("Tumour reduction", "regimen"),
    "001-pre-hht-day-last": ("Tumour reduction", "regimen"),
    "001-pre-cytarabine-dose": ("Tumour reduction", "regimen"),
    "001-pre-cytarabine-interval": ("Tumour reduction", "regimen"),
    "001-pre-cytarabine-day-first": ("Tumour reduction", "regimen"),
    "001-pre-cytarabine-day-last": ("Tumour reduction", "regimen"),
    "001-pre-aclarubicin-dose": ("Tumour reduction", "regimen"),
    "001-pre-aclarubicin-day-first": ("Tumour reduction", "regimen"),
    "001-pre-aclarubicin-day-last": ("Tumour reduction", "regimen"),
    "001-pre-gcsf-dose-min": ("Tumour reduction", "regimen"),
    "001-pre-gcsf-dose-max": ("Tumour reduction", "regimen"),
    "001-pre-gcsf-day-first": ("Tumour reduction", "regimen"),
    "001-pre-gcsf-day-last": ("Tumour reduction", "regimen"),
    "001-pre-gcsf-wbc-threshold": ("Tumour reduction", "regimen"),
    "001-p1-cart-peak-day": ("CAR-T and after", "self-day"),
    "001-p1-cr-time": ("CAR-T and after", "self-interval"),
    "001-p1-bcrabl-pre-cart-fig1d": ("CAR-T and after", "before infusion (day not stated)"),
    "001-p1-bcrabl-post-cart": ("CAR-T and after", "@001-p1-cr-time"),
    "001-p1-bcrabl-zero-time-fig1d": ("CAR-T and after", "self-interval"),
    "001-p1-hsct-time": ("CAR-T and after", "self-interval"),
    "001-p1-date-last-followup": ("CAR-T and after", "self-date"),
    "001-p1-anc-recovery-day": ("CAR-T and after", "self-day"),
    "001-p1-plt-recovery-day": ("CAR-T and after", "self-day"),
    "001-anc-threshold": ("CAR-T and after", "n/a"),
    "001-plt-threshold": ("CAR-T and after", "n/a"),
    "001-fig1b-blasts-pre": ("CAR-T and after", "before CAR-T (day not stated)"),
    "001-fig1b-blasts-post": ("CAR-T and after", "@001-fig1-assessment-time"),
    "001-fig1-assessment-time": ("CAR-T and after", "self-interval"),
    "001-p2-age": ("Chronic phase", "p2-adm"),
    "001-p2-date-admission": ("Chronic phase", "self-date"),
    "001-p2-wbc-diagnosis": ("Chronic phase", "p2-adm"),
    "001-p2-blasts-morph-diagnosis": ("Chronic phase", "p2-adm"),
    "001-p2-blasts-fcm-diagnosis": ("Chronic phase", "p2-adm"),
    "001-p2-sokal": ("Chronic phase", "p2-adm"),
    "001-p2-dose-imatinib": ("Chronic phase", "p2-adm"),
    "001-p2-time-imatinib-to-bcrabl-rise": ("Chronic phase", "p2-switch"),
    "001-p2-dose-dasatinib": ("Chronic phase", "p2-switch"),
    "001-p2-date-readmission": ("Blast phase", "self-date"),
    "001-p2-blasts-pb-2018-06": ("Blast phase", "p2-readm"),
    "001-p2-date-t315i": ("Blast phase", "self-date"),
    "001-p2-dose-ponatinib": ("Blast phase", "p2-t315i"),
    "001-p2-date-progression": ("Blast phase", "self-date"),
    "001-p2-blasts-morph-2020-03": ("Blast phase", "p2-prog"),
    "001-p2-blasts-fcm-2020-03": ("Blast phase", "p2-prog"),
    "001-p2-bcrabl-2020-03": ("Blast phase", "p2-prog"),
    "001-p2-cart-peak-day": ("CAR-T and after", "self-day"),
    "001-p2-cr-time": ("CAR-T and after", "self-interval"),
    "001-p2-death-time": ("CAR-T and after", "self-interval"),
    "001-p2-anc-recovery-day": ("CAR-T and after", "self-day"),
    "001-p2-plt-recovery-day": ("CAR-T and after", "self-day"),
}


# ------------------------------------------------------------------ dates --

_DAY_DATE = re.compile(r"^\s*(\d{1,2})\s+([A-Za-z]+)\s+(\d{4})\s*$")
_MONTH_DATE = re.compile(r"^\s*([A-Za-z]+)\s+(\d{4})\s*$")
_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}


@dataclass(frozen=True)
class PublishedDate:
    """A date as a paper prints it: to the day ("15 November 2019") or to the month ("July 2019").

    ``first``/``last`` are the earliest and latest days it can mean (the same day, or the first
    and last day of the month); ``mid`` is where a figure places it (the 15th for a month).
    """

    text: str
    first: pd.Timestamp
    last: pd.Timestamp
    precision: str  # "day" or "month"
    zero_padded: bool = False

    @property
    def mid(self) -> pd.Timestamp:
        return self.first if self.precision == "day" else self.first + pd.Timedelta(days=14)

    def shown(self) -> str:
        """The date written back the way the paper prints dates (for the ledger's round trip)."""
        if self.precision == "month":
            return f"{calendar.month_name[self.first.month]} {self.first.year}"
        day = f"{self.first.day:02d}" if self.zero_padded else str(self.first.day)
        return f"{day} {calendar.month_name[self.first.month]} {self.first.year}"


def parse_date(text: str) -> PublishedDate:
    """Read "January 2019" or "15 November 2019"; anything else raises ValueError."""
    if not isinstance(text, str):
        raise ValueError(f"a published date must be text such as 'July 2019', got {text!r}")
    match = _DAY_DATE.match(text)
    if match:
        day, month, year = match.groups()
        if month.lower() not in _MONTHS:
            raise ValueError(f"cannot read a date from {text!r}: unknown month {month!r}")
        try:
            stamp = pd.Timestamp(int(year), _MONTHS[month.lower()], int(day))
        except ValueError as error:
            raise ValueError(f"cannot read a date from {text!r}: {error}") from None
        return PublishedDate(text, stamp, stamp, "day", zero_padded=day.startswith("0"))
    match = _MONTH_DATE.match(text)
    if match:
        month, year = match.groups()
        if month.lower() not in _MONTHS:
            raise ValueError(f"cannot read a date from {text!r}: unknown month {month!r}")
        first = pd.Timestamp(int(year), _MONTHS[month.lower()], 1)
        last = first + pd.offsets.MonthEnd(0)
        return PublishedDate(text, first, last, "month")
    raise ValueError(f"cannot read a date from {text!r}; expected e.g. 'July 2019' or '15 November 2019'")


def month_interval(start: PublishedDate, end: PublishedDate) -> dict:
    """The time between two published dates: calendar months, and the range of days possible.

    With month-level dates the exact number of days is unknown; it lies between the latest
    possible start and the earliest possible end, and the earliest start and latest end.
    """
    if end.last < start.first:
        raise ValueError(f"{end.text!r} is before {start.text!r}")
    months = (end.first.year - start.first.year) * 12 + end.first.month - start.first.month
    min_days = max(0, (end.first - start.last).days)
    max_days = (end.last - start.first).days
    return {"months": months, "min_days": min_days, "max_days": max_days,
            "exact": start.precision == "day" and end.precision == "day"}


def interval_text(row: pd.Series) -> str:
    """An interval as printed, with its unit when the paper printed only the number ("7 weeks")."""
    text = str(row["value_text"])
    try:
        parse_published(text)
    except ValueError:
        return text  # printed in words with its unit: "Two weeks", "Half a month"
    return f"{text} {row['unit']}"


def interval_days(row: pd.Series) -> tuple[float, bool]:
    """An interval register row in days, and whether the conversion is approximate (months)."""
    unit = str(row["unit"]).strip()
    if unit in ("month", "months"):
        return float(row["value"]) * MONTH_DAYS, True
    if unit not in UNIT_DAYS:
        raise ValueError(f"{row['register_id']}: cannot convert unit {unit!r} to days")
    return float(row["value"]) * UNIT_DAYS[unit], False


# ---------------------------------------------------------------- moments --

@dataclass(frozen=True)
class Moment:
    """A point of a patient's calendar course, with the range it may mean and its sources."""

    label: str
    first: pd.Timestamp
    last: pd.Timestamp
    mid: pd.Timestamp
    precision: str  # "day", "month", "approximate" (derived from an interval in months) or "window"
    sources: tuple


def _register(register_csv) -> pd.DataFrame:
    frame = reg.load_register(register_csv)
    return frame[frame["study"] == STUDY]


def moments(register_csv=REGISTER_CSV) -> dict[str, Moment]:
    """The dated points of both patients' courses before CAR-T, and patient 1's last follow-up."""
    rows = _register(register_csv)

    def date(rid: str) -> Moment:
        d = parse_date(rows.loc[rid, "value_text"])
        return Moment(d.text + (" (month only)" if d.precision == "month" else ""), d.first, d.last, d.mid,
                      d.precision, (rid,))

    def after(base: Moment, rid: str, what: str) -> Moment:
        days, _ = interval_days(rows.loc[rid])
        shift = pd.Timedelta(days=round(days))
        mid = base.mid + shift
        when = (f"{mid.day} {calendar.month_name[mid.month]} {mid.year}" if base.precision == "day"
                else f"{calendar.month_name[mid.month]} {mid.year}")
        return Moment(f"about {when} ({interval_text(rows.loc[rid]).lower()} after {what})",
                      base.first + shift, base.last + shift, mid, "approximate", base.sources + (rid,))

    m = {
        "p1-adm": date("001-p1-date-admission"), "p1-bc": date("001-p1-date-blast-crisis"),
        "p1-rise": date("001-p1-date-bcrabl-rise"), "p1-mrd": date("001-p1-date-mrd"),
        "p1-last": date("001-p1-date-last-followup"), "p2-adm": date("001-p2-date-admission"),
        "p2-readm": date("001-p2-date-readmission"), "p2-t315i": date("001-p2-date-t315i"),
        "p2-prog": date("001-p2-date-progression"),
    }
    m["p1-fall"] = after(m["p1-rise"], "001-p1-time-nilotinib-to-bcrabl-fall", "the switch to nilotinib")
    m["p1-prog"] = after(m["p1-mrd"], "001-p1-time-ponatinib-to-progression", "the switch to ponatinib")
    m["p2-switch"] = after(m["p2-adm"], "001-p2-time-imatinib-to-bcrabl-rise", "starting imatinib")
    bc, rise = m["p1-bc"], m["p1-rise"]
    m["p1-ia-window"] = Moment(f"between {bc.label.replace(' (month only)', '')} and {rise.label} (date not given)",
                               bc.first, rise.first, bc.first + (rise.first - bc.first) / 2, "window",
                               bc.sources + rise.sources)
    return m


# ------------------------------------------------------------------ facts --

def _shown_value(row: pd.Series) -> str:
    """The value as printed, with its unit when the paper printed a bare number ("400 mg/day").

    Words carry their own unit ("One month", "Two weeks"); dates and percentages need none.
    """
    text = str(row["value_text"])
    unit = "" if pd.isna(row["unit"]) else str(row["unit"])
    try:
        parse_published(text)
    except ValueError:
        return text
    if not unit or text.endswith("%") or unit == "%":
        return text
    if row["kind"] == "day" and unit == "day":
        return f"day {text}"
    return f"{text} {unit}"


def facts(register_csv=REGISTER_CSV) -> pd.DataFrame:
    """One row per study-001 register row: the fact as printed and when it happened.

    Columns: ``register_id`` (the source), ``subject`` (Patient 1, Patient 2, Both patients,
    Patient not stated, Article, Background), ``section``, ``quantity``, ``as_printed`` (value
    and unit as printed), ``value`` (the number, empty for dates), ``shown`` (what the book shows
    and the ledger records: the number, or for dates and words the text), ``when`` (the book's
    reading of the timing), ``day_after_infusion`` (where the paper gives one), ``approximate``,
    ``location`` and ``note``.

    Raises ValueError if a 001 register row is not placed in :data:`WHEN` (a new row must be
    read before it can be shown) or if :data:`WHEN` names a row the register lacks.
    """
    rows = _register(register_csv)
    unknown = sorted(set(rows.index) - set(WHEN))
    if unknown:
        raise ValueError(f"study {STUDY} register rows not placed in case_reports.WHEN: {unknown}")
    stale = sorted(set(WHEN) - set(rows.index))
    if stale:
        raise ValueError(f"case_reports.WHEN names register rows that do not exist: {stale}")
    m = moments(register_csv)
    out = []
    for rid, row in rows.iterrows():
        section, when = WHEN[rid]
        day, approximate, when_text = np.nan, False, when
        if row["kind"] == "date":
            published = parse_date(row["value_text"])
            shown = published.shown()
            when_text = published.text + (" (month only; day not published)" if published.precision == "month" else "")
        else:
            try:
                parse_published(str(row["value_text"]))
                shown = float(row["value"])
            except ValueError:
                shown = str(row["value_text"])  # words ("two", "II", "One month"): shown as printed
        if when in m:
            when_text = m[when].label
            approximate = m[when].precision == "approximate"
        elif when == "self-day":
            day = float(row["value"])
            when_text = f"day {day:g} after infusion"
        elif when == "self-interval":
            day, approximate = interval_days(row)
            when_text = (f"{interval_text(row)} after infusion "
                         f"({'about ' if approximate else ''}day {day:.0f}{', printed in months' if approximate else ''})")
        elif when.startswith("@"):
            day, approximate = interval_days(rows.loc[when[1:]])
            when_text = (f"{interval_text(rows.loc[when[1:]])} after infusion (day {day:.0f}; "
                         f"timing from {when[1:]})")
        elif when == "regimen":
            when_text = "tumour-reduction regimen before FC and CAR-T (calendar dates not published)"
        elif when == "self-date":
            pass
        elif when == "n/a":
            when_text = ""
        out.append({
            "register_id": rid, "subject": SUBJECTS.get(row["group"], row["group"]), "section": section,
            "quantity": row["quantity"], "as_printed": _shown_value(row),
            "value": np.nan if pd.isna(row["value"]) else float(row["value"]), "shown": shown,
            "relation": row["relation"] if not pd.isna(row["relation"]) else "",
            "unit": "" if pd.isna(row["unit"]) else row["unit"], "kind": row["kind"], "when": when_text,
            "day_after_infusion": day, "approximate": approximate, "location": row["location"],
            "note": "" if pd.isna(row["note"]) else row["note"],
        })
    frame = pd.DataFrame(out)
    frame["section"] = pd.Categorical(frame["section"], categories=SECTIONS, ordered=True)
    return frame


def ledger_summary(recorded: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """Facts by subject (rows) and ledger status (columns), with totals."""
    counts = pd.crosstab(table.set_index("register_id").loc[recorded["register_id"], "subject"].to_numpy(),
                         recorded["status"].to_numpy(), margins=True, margins_name="All")
    counts.index.name, counts.columns.name = "Facts about", None
    return counts.reset_index()


def therapy_table(course: dict) -> pd.DataFrame:
    """The bars of the calendar panel: each line of therapy with its published ends and sources."""
    return course["calendar_bars"][["lane", "label", "start_as_published", "end_as_published", "precision",
                                    "sources"]].rename(columns={
        "lane": "Patient", "label": "Therapy", "start_as_published": "From (as published)",
        "end_as_published": "To (as published)", "precision": "Precision", "sources": "Sources (register ids)"})


def fact_table(table: pd.DataFrame, subjects) -> pd.DataFrame:
    """The facts of some subjects, for display: grouped by section, in register order."""
    subjects = [subjects] if isinstance(subjects, str) else list(subjects)
    part = table[table["subject"].isin(subjects)].sort_values("section", kind="stable")
    shown = part.assign(**{
        "Day after infusion": part["day_after_infusion"].map(lambda d: "" if pd.isna(d) else f"{d:.0f}")
        + np.where(part["approximate"] & part["day_after_infusion"].notna(), " (approx.)", ""),
    })
    columns = {"section": "Stage", "quantity": "Fact", "as_printed": "As printed", "when": "When",
               "Day after infusion": "Day after infusion", "register_id": "Source (register id)",
               "location": "Where in the paper"}
    if len(subjects) > 1:
        columns = {"subject": "Who", **columns}
    return shown[list(columns)].rename(columns=columns).reset_index(drop=True)


# Register rows another chapter records in the ledger (each published number is recorded once in
# the book); this chapter still shows them in its tables.
RECORDED_ELSEWHERE = {
    "001-crs-grade-p1": "toxicity", "001-crs-grade-p2": "toxicity",
    "001-p1-cart-peak-day": "expansion", "001-p2-cart-peak-day": "expansion",
    "001-p1-anc-recovery-day": "expansion", "001-p2-anc-recovery-day": "expansion",
    "001-p1-plt-recovery-day": "expansion", "001-p2-plt-recovery-day": "expansion",
}


def record_facts(ledger, table: pd.DataFrame, elsewhere: Optional[dict] = None) -> pd.DataFrame:
    """Record every fact in the chapter's ledger as *transcribed*, with the value the book shows.

    Numbers go through ``ledger.record`` (exact when the shown number rounds to the printed
    one); dates and numbers printed as words ("two", "II", "One month") through
    ``ledger.record_text`` (exact when the text the book shows is the printed text -- for dates,
    the date is parsed and written back, so a misread date would show as ``differs``).
    Facts in ``elsewhere`` (default :data:`RECORDED_ELSEWHERE`: register id -> chapter) are
    recorded by that chapter instead and are returned with status ``recorded in <chapter>``.
    Returns one row per fact.
    """
    elsewhere = RECORDED_ELSEWHERE if elsewhere is None else elsewhere
    kept = []
    for _, fact in table.iterrows():
        if fact["register_id"] in elsewhere:
            kept.append({"register_id": fact["register_id"], "published": fact["as_printed"],
                         "reproduced": fact["shown"], "status": f"recorded in {elsewhere[fact['register_id']]}",
                         "basis": "transcribed"})
            continue
        note = "as printed; " + fact["when"] if fact["when"] else "as printed"
        if isinstance(fact["shown"], str):
            kept.append(ledger.record_text(fact["register_id"], fact["shown"], basis="transcribed", note=note))
        else:
            kept.append(ledger.record(fact["register_id"], fact["shown"], basis="transcribed", note=note))
    return pd.DataFrame(kept)


def intervals(register_csv=REGISTER_CSV) -> pd.DataFrame:
    """Intervals between published dates (and to the infusion where the paper allows).

    Month-level dates give a range of days, shown with the calendar-month difference. The
    infusion dates are not published: intervals to or from them are given as bounds, with the
    reason, or marked not computable.
    """
    rows = _register(register_csv)
    d = {rid: parse_date(rows.loc[rid, "value_text"]) for rid in rows.index if rows.loc[rid, "kind"] == "date"}

    def between(who, what, a, b):
        span = month_interval(d[a], d[b])
        days = f"{span['min_days']}" if span["exact"] else f"{span['min_days']}–{span['max_days']}"
        return {"Patient": who, "Interval": what, "From": d[a].text, "To": d[b].text,
                "Calendar months": span["months"], "Days": days,
                "Reading": "exact (both dates to the day)" if span["exact"]
                else "approximate: only the month is published for at least one date",
                "Sources": f"{a}; {b}"}

    table = [
        between("Patient 1", "CML diagnosis to myeloid blast crisis", "001-p1-date-admission", "001-p1-date-blast-crisis"),
        between("Patient 1", "Blast crisis to rising BCR::ABL1 (switch to nilotinib)", "001-p1-date-blast-crisis",
                "001-p1-date-bcrabl-rise"),
        between("Patient 1", "Switch to nilotinib to MRD check (switch to ponatinib)", "001-p1-date-bcrabl-rise",
                "001-p1-date-mrd"),
        between("Patient 1", "CML diagnosis to last dated fact before CAR-T", "001-p1-date-admission", "001-p1-date-mrd"),
        between("Patient 2", "CML diagnosis to blast phase (readmission)", "001-p2-date-admission",
                "001-p2-date-readmission"),
        between("Patient 2", "Blast phase to T315I (switch to ponatinib)", "001-p2-date-readmission", "001-p2-date-t315i"),
        between("Patient 2", "T315I to marrow progression before CAR-T", "001-p2-date-t315i", "001-p2-date-progression"),
        between("Patient 2", "CML diagnosis to marrow progression before CAR-T", "001-p2-date-admission",
                "001-p2-date-progression"),
    ]
    hsct, _ = interval_days(rows.loc["001-p1-hsct-time"])
    death, _ = interval_days(rows.loc["001-p2-death-time"])
    last = d["001-p1-date-last-followup"]
    mrd = d["001-p1-date-mrd"]
    upper = (last.last - mrd.first).days
    table += [
        {"Patient": "Patient 1", "Interval": "CAR-T infusion to allo-HSCT", "From": "infusion (day 0)",
         "To": rows.loc["001-p1-hsct-time", "value_text"] + " weeks", "Calendar months": np.nan,
         "Days": f"{hsct:.0f}", "Reading": "published relative to the infusion", "Sources": "001-p1-hsct-time"},
        {"Patient": "Patient 1", "Interval": "CAR-T infusion to last follow-up", "From": "infusion (date not published)",
         "To": last.text, "Calendar months": np.nan, "Days": f"fewer than {upper}",
         "Reading": f"bound only: the infusion came after {mrd.text} (and after half a month of ponatinib, "
                    "the tumour-reduction regimen and FC), so follow-up was under "
                    f"{upper / MONTH_DAYS:.1f} months; its length is not published",
         "Sources": "001-p1-date-mrd; 001-p1-date-last-followup"},
        {"Patient": "Patient 2", "Interval": "CAR-T infusion to death", "From": "infusion (day 0)",
         "To": rows.loc["001-p2-death-time", "value_text"], "Calendar months": np.nan, "Days": f"about {death:.0f}",
         "Reading": "approximate: printed in months", "Sources": "001-p2-death-time"},
        {"Patient": "Patient 2", "Interval": "Marrow progression to CAR-T infusion", "From": d["001-p2-date-progression"].text,
         "To": "infusion (date not published)", "Calendar months": np.nan, "Days": "not computable",
         "Reading": "the infusion date is not published; the same tumour-reduction regimen (9 days) and FC came in between",
         "Sources": "001-p2-date-progression"},
    ]
    return pd.DataFrame(table)


# --------------------------------------------------------------- timeline --

def _src(*ids: str) -> str:
    return "; ".join(ids)


def course_rows(register_csv=REGISTER_CSV) -> dict[str, pd.DataFrame]:
    """Timeline rows of both patients, every row with the register ids it was drawn from.

    Returns a dict of DataFrames: ``calendar_bars`` and ``calendar_events`` (before CAR-T,
    dates), ``calendar_followup``, ``day_bars``, ``day_events`` and ``day_followup`` (days from
    the infusion). A row's ``precision`` says how its position was obtained.
    """
    rows = _register(register_csv)
    m = moments(register_csv)
    v = lambda rid: rows.loc[rid, "value_text"]  # noqa: E731 - the printed text of a register row
    num = lambda rid: float(rows.loc[rid, "value"])  # noqa: E731
    ia_days = int(num("001-ia-cytarabine-days"))

    def bar(lane, category, label, start: Moment, end, sources, hover="", precision=None, end_label=""):
        end_mid = end.mid if isinstance(end, Moment) else end
        prec = precision or ("day" if start.precision == "day" and getattr(end, "precision", "day") == "day"
                             else "approximate or month")
        return {"lane": lane, "category": category, "label": label, "start": start.mid, "end": end_mid,
                "start_as_published": start.label,
                "end_as_published": end.label if isinstance(end, Moment) else end_label,
                "precision": prec, "sources": sources, "hover": hover + f"<br>sources: {sources}"}

    def event(lane, name, at: Moment, sources, hover=""):
        return {"lane": lane, "event": name, "time": at.mid, "as_published": at.label, "precision": at.precision,
                "sources": sources, "hover": f"{at.label}" + (f"<br>{hover}" if hover else "") + f"<br>sources: {sources}"}

    p1, p2 = LANES
    cal_bars = [
        bar(p1, "TKI", f"imatinib {v('001-p1-dose-imatinib')} {rows.loc['001-p1-dose-imatinib', 'unit']}",
            m["p1-adm"], m["p1-bc"], _src("001-p1-dose-imatinib", "001-p1-date-admission", "001-p1-date-blast-crisis"),
            "from diagnosis to blast crisis (both month only)"),
        bar(p1, "TKI", f"dasatinib {v('001-p1-dose-dasatinib')} {rows.loc['001-p1-dose-dasatinib', 'unit']}",
            m["p1-bc"], m["p1-rise"], _src("001-p1-dose-dasatinib", "001-p1-date-blast-crisis", "001-p1-date-bcrabl-rise"),
            "started at blast crisis (month only); replaced by nilotinib after 15 November 2019"),
        bar(p1, "Chemotherapy", "IA '3 + 7' (idarubicin 3 days, cytarabine 7 days)", m["p1-bc"],
            m["p1-bc"].mid + pd.Timedelta(days=ia_days),
            _src("001-ia-idarubicin-days", "001-ia-cytarabine-days", "001-p1-date-blast-crisis"),
            "given with dasatinib at blast crisis; exact start day not published (drawn at mid-month)",
            end_label=f"{ia_days} days later (the '3 + 7' regimen)"),
        bar(p1, "TKI", f"nilotinib {v('001-p1-dose-nilotinib')} {rows.loc['001-p1-dose-nilotinib', 'unit']}",
            m["p1-rise"], m["p1-mrd"], _src("001-p1-dose-nilotinib", "001-p1-date-bcrabl-rise", "001-p1-date-mrd"),
            "switched on 15 November 2019; replaced by ponatinib after 30 December 2019"),
        bar(p1, "Interferon", "interferon-α (with nilotinib)", m["p1-fall"], m["p1-mrd"],
            _src("001-p1-time-nilotinib-to-bcrabl-fall", "001-p1-date-mrd"),
            "added about one month after nilotinib; its end is not published (drawn to the ponatinib switch)"),
        bar(p1, "TKI", f"ponatinib {v('001-p1-dose-ponatinib')} {rows.loc['001-p1-dose-ponatinib', 'unit']}",
            m["p1-mrd"], m["p1-prog"], _src("001-p1-dose-ponatinib", "001-p1-date-mrd", "001-p1-time-ponatinib-to-progression"),
            "end not published: drawn to the progression half a month later"),
        bar(p2, "TKI", f"imatinib {v('001-p2-dose-imatinib')} {rows.loc['001-p2-dose-imatinib', 'unit']}",
            m["p2-adm"], m["p2-switch"], _src("001-p2-dose-imatinib", "001-p2-date-admission",
                                              "001-p2-time-imatinib-to-bcrabl-rise"),
            "about one month, from diagnosis (month only)"),
        bar(p2, "TKI", f"dasatinib {v('001-p2-dose-dasatinib')} {rows.loc['001-p2-dose-dasatinib', 'unit']}",
            m["p2-switch"], m["p2-t315i"], _src("001-p2-dose-dasatinib", "001-p2-time-imatinib-to-bcrabl-rise",
                                                "001-p2-date-t315i"),
            "replaced by ponatinib when T315I was found (December 2018, month only)"),
        bar(p2, "Chemotherapy", "IA '3 + 7' induction (consolidation not dated)", m["p2-readm"],
            m["p2-readm"].mid + pd.Timedelta(days=ia_days),
            _src("001-ia-idarubicin-days", "001-ia-cytarabine-days", "001-p2-date-readmission"),
            "induction at blast phase, June 2018 (month only); consolidation followed, number and dates not published",
            end_label=f"{ia_days} days later (the '3 + 7' regimen)"),
        bar(p2, "TKI", f"ponatinib {v('001-p2-dose-ponatinib')} {rows.loc['001-p2-dose-ponatinib', 'unit']}",
            m["p2-t315i"], m["p2-prog"], _src("001-p2-dose-ponatinib", "001-p2-date-t315i", "001-p2-date-progression"),
            "from December 2018 to progression in March 2020 (both month only); end not published"),
    ]
    cal_events = [
        event(p1, "CML chronic-phase diagnosis", m["p1-adm"],
              _src("001-p1-date-admission", "001-p1-wbc-diagnosis", "001-p1-sokal"),
              f"WBC {v('001-p1-wbc-diagnosis')} ×10^9/L; Sokal {v('001-p1-sokal')} (low risk)"),
        event(p1, "Blast crisis / progression", m["p1-bc"], _src("001-p1-date-blast-crisis", "001-p1-blasts-morph-bc"),
              f"{v('001-p1-blasts-morph-bc')} myeloid blasts in marrow"),
        event(p1, "Kinase-domain mutation found", m["p1-bc"], _src("001-p1-date-blast-crisis"), "E255K (P-loop)"),
        event(p1, "BCR::ABL1 (IS) measured", m["p1-ia-window"], _src("001-p1-bcrabl-after-ia"),
              f"{v('001-p1-bcrabl-after-ia')} after dasatinib + IA (date not given: drawn mid-window)"),
        event(p1, "BCR::ABL1 (IS) measured", m["p1-rise"], _src("001-p1-bcrabl-2019-11-15"),
              v("001-p1-bcrabl-2019-11-15")),
        event(p1, "BCR::ABL1 (IS) measured", m["p1-fall"], _src("001-p1-bcrabl-nilotinib-1mo"),
              v("001-p1-bcrabl-nilotinib-1mo")),
        event(p1, "BCR::ABL1 (IS) measured", m["p1-mrd"], _src("001-p1-bcrabl-2019-12-30", "001-p1-mrd-blasts-2019-12-30"),
              f"{v('001-p1-bcrabl-2019-12-30')}; MRD blasts {v('001-p1-mrd-blasts-2019-12-30')}"),
        event(p1, "Blast crisis / progression", m["p1-prog"],
              _src("001-p1-time-ponatinib-to-progression", "001-p1-blasts-pre-cart", "001-p1-bcrabl-pre-cart"),
              f"marrow blasts {v('001-p1-blasts-pre-cart')}; BCR::ABL1 {v('001-p1-bcrabl-pre-cart')}"),
        event(p2, "CML chronic-phase diagnosis", m["p2-adm"],
              _src("001-p2-date-admission", "001-p2-wbc-diagnosis", "001-p2-sokal"),
              f"WBC {v('001-p2-wbc-diagnosis')} ×10^9/L; Sokal {v('001-p2-sokal')} (intermediate risk)"),
        event(p2, "Other genetic lesion found", m["p2-switch"], _src("001-p2-time-imatinib-to-bcrabl-rise"),
              "BCR::ABL1 rising; CBFB::MYH11 fusion detected"),
        event(p2, "Blast crisis / progression", m["p2-readm"], _src("001-p2-date-readmission", "001-p2-blasts-pb-2018-06"),
              f"{v('001-p2-blasts-pb-2018-06')} blasts in the blood smear"),
        event(p2, "Kinase-domain mutation found", m["p2-t315i"], _src("001-p2-date-t315i"), "T315I"),
        event(p2, "Blast crisis / progression", m["p2-prog"],
              _src("001-p2-date-progression", "001-p2-blasts-morph-2020-03", "001-p2-blasts-fcm-2020-03"),
              f"marrow blasts {v('001-p2-blasts-morph-2020-03')} (smear), {v('001-p2-blasts-fcm-2020-03')} (flow)"),
        event(p2, "Other genetic lesion found", m["p2-prog"], _src("001-p2-date-progression"), "RUNX1 and WT1 mutations"),
        event(p2, "BCR::ABL1 (IS) measured", m["p2-prog"], _src("001-p2-bcrabl-2020-03"), v("001-p2-bcrabl-2020-03")),
    ]
    cal_followup = [
        {"lane": p1, "start": m["p1-adm"].mid, "end": m["p1-prog"].mid, "ongoing": True,
         "hover": "continues to tumour-reduction chemotherapy, FC and CAR-T: their dates are not published",
         "sources": _src("001-p1-date-admission", "001-p1-time-ponatinib-to-progression")},
        {"lane": p2, "start": m["p2-adm"].mid, "end": m["p2-prog"].mid, "ongoing": True,
         "hover": "continues to tumour-reduction chemotherapy, FC and CAR-T: their dates are not published",
         "sources": _src("001-p2-date-admission", "001-p2-date-progression")},
    ]

    esc = num("001-car-dose-escalation-days")
    dose = f"CAR-T-38 {v('001-car-dose')} cells/kg, dose escalation within {esc:g} days"
    crs = {p1: v("001-crs-grade-p1"), p2: v("001-crs-grade-p2")}
    day_bars = [{"lane": lane, "category": "CAR-T", "label": dose, "start": 0.0, "end": esc,
                 "precision": "day", "sources": _src("001-car-dose", "001-car-dose-escalation-days", f"001-crs-grade-p{i}"),
                 "hover": f"CRS grade {crs[lane]} (fever; day not published)<br>sources: "
                          f"001-car-dose; 001-car-dose-escalation-days; 001-crs-grade-p{i}"}
                for i, lane in enumerate(LANES, start=1)]

    def dev(lane, name, rid, hover="", day=None):
        if day is None:
            if rows.loc[rid, "kind"] == "day":
                day, approx = float(rows.loc[rid, "value"]), False
            else:
                day, approx = interval_days(rows.loc[rid])
        else:
            approx = False
        text = f"day {day:.0f}" + (" (approximate: printed in months)" if approx else "")
        return {"lane": lane, "event": name, "time": day, "precision": "approximate" if approx else "day",
                "sources": rid, "hover": f"{text}" + (f"<br>{hover}" if hover else "") + f"<br>source: {rid}"}

    anc, plt = v("001-anc-threshold"), v("001-plt-threshold")
    day_events = [
        dev(p1, "CAR-T peak in blood", "001-p1-cart-peak-day"),
        dev(p2, "CAR-T peak in blood", "001-p2-cart-peak-day"),
        dev(p1, f"Neutrophils > {anc} ×10^9/L", "001-p1-anc-recovery-day"),
        dev(p2, f"Neutrophils > {anc} ×10^9/L", "001-p2-anc-recovery-day"),
        dev(p1, f"Platelets > {plt} ×10^9/L", "001-p1-plt-recovery-day"),
        dev(p2, f"Platelets > {plt} ×10^9/L", "001-p2-plt-recovery-day"),
        dev(p1, "Complete remission", "001-p1-cr-time", "CR; BCR::ABL1 (IS) fell to 0% (text: with CR at 2 weeks)"),
        dev(p1, "BCR::ABL1 undetectable (Fig. 1D legend)", "001-p1-bcrabl-zero-time-fig1d",
            "the Figure 1D legend says one week; the case text ties the 0% to CR at two weeks"),
        dev(p2, "Complete remission", "001-p2-cr-time",
            "MRD-negative, BCR::ABL1-negative CR (platelets > 100 only on day 14: at one week a CRi at most)"),
        dev(p1, "allo-HSCT", "001-p1-hsct-time", "from his brother"),
        dev(p2, "Death", "001-p2-death-time",
            "relapse and infection; no allo-HSCT. The relapse date is not published"),
    ]
    for lane in LANES:
        day_events.append(dev(lane, "Mutation undetectable in marrow", "001-fig1-assessment-time",
                              "E255K (patient 1) / T315I (patient 2) no longer found (Fig. 1C legend)"))
    death_day, _ = interval_days(rows.loc["001-p2-death-time"])
    day_followup = [
        {"lane": p1, "start": 0.0, "end": np.nan, "ongoing": True,
         "hover": f"alive in continued haematologic and molecular CR in {v('001-p1-date-last-followup')} "
                  "(the day after infusion is not published)", "sources": "001-p1-date-last-followup"},
        {"lane": p2, "start": 0.0, "end": death_day, "ongoing": False, "hover": "", "sources": "001-p2-death-time"},
    ]
    return {k: pd.DataFrame(x) for k, x in (
        ("calendar_bars", cal_bars), ("calendar_events", cal_events), ("calendar_followup", cal_followup),
        ("day_bars", day_bars), ("day_events", day_events), ("day_followup", day_followup))}


COURSE_COLOURS = {"TKI": OKABE_ITO[0], "Chemotherapy": OKABE_ITO[1], "Interferon": OKABE_ITO[3],
                  "CAR-T": OKABE_ITO[2], "Tumour reduction": OKABE_ITO[5]}
COURSE_SYMBOLS = {
    "CML chronic-phase diagnosis": "circle", "Blast crisis / progression": "x",
    "Kinase-domain mutation found": "star", "Other genetic lesion found": "star-triangle-up",
    "BCR::ABL1 (IS) measured": "diamond-open", "CAR-T peak in blood": "triangle-up",
    "Complete remission": "square", "BCR::ABL1 undetectable (Fig. 1D legend)": "square-open",
    "Mutation undetectable in marrow": "star-open", "allo-HSCT": "hexagon", "Death": "x-thin-open",
}


def course_figure(rows: dict[str, pd.DataFrame], day_axis_end: float = 75.0) -> go.Figure:
    """Both patients from CML diagnosis to last follow-up: calendar before CAR-T, days after."""
    day_followup = rows["day_followup"].copy()
    day_followup["end"] = day_followup["end"].fillna(day_axis_end)
    symbols = dict(COURSE_SYMBOLS)
    for name in rows["day_events"]["event"]:
        if name.startswith("Neutrophils"):
            symbols[name] = "circle-open"
        if name.startswith("Platelets"):
            symbols[name] = "triangle-down-open"
    panels = [
        Panel(bars=rows["calendar_bars"], events=rows["calendar_events"], followup=rows["calendar_followup"],
              title="Before CAR-T (calendar)", x_title="Date (month-only dates at mid-month)",
              width=0.62),
        Panel(bars=rows["day_bars"], events=rows["day_events"], followup=day_followup,
              title="After CAR-T (days)",
              x_title="Days after infusion", x_range=[-3, day_axis_end + 4], width=0.38),
    ]
    figure = swimmer(panels=panels, order=list(LANES), colors=COURSE_COLOURS, symbols=symbols,
                     category_order=["TKI", "Chemotherapy", "Interferon", "CAR-T"], legend_counts=False,
                     ongoing_label="Course continues (hover for what follows)",
                     title="Study 001: the two patients' courses (published facts)", plot_height=240)
    figure.add_annotation(text="in CR, June 2022 →", x=day_axis_end, y=0, xref="x2", yref="y", yshift=16,
                          showarrow=False, xanchor="right", font={"size": 11})
    return figure


def regimen_rows(register_csv=REGISTER_CSV) -> pd.DataFrame:
    """The tumour-reduction regimen given to both patients, in days of the regimen (day 1 = first)."""
    rows = _register(register_csv)
    v = lambda rid: rows.loc[rid, "value_text"]  # noqa: E731
    num = lambda rid: float(rows.loc[rid, "value"])  # noqa: E731
    drugs = [
        ("Decitabine", "pre-decitabine", f"{v('001-pre-decitabine-dose')} {rows.loc['001-pre-decitabine-dose', 'unit']}"),
        ("Homoharringtonine", "pre-hht", f"{v('001-pre-hht-dose')} {rows.loc['001-pre-hht-dose', 'unit']}"),
        ("Cytarabine (subcutaneous)", "pre-cytarabine",
         f"{v('001-pre-cytarabine-dose')} {rows.loc['001-pre-cytarabine-dose', 'unit']}, every "
         f"{v('001-pre-cytarabine-interval')} {rows.loc['001-pre-cytarabine-interval', 'unit']}"),
        ("Aclarubicin", "pre-aclarubicin", f"{v('001-pre-aclarubicin-dose')} {rows.loc['001-pre-aclarubicin-dose', 'unit']}"),
        ("G-CSF", "pre-gcsf", f"{v('001-pre-gcsf-dose-min')}–{v('001-pre-gcsf-dose-max')} "
                              f"{rows.loc['001-pre-gcsf-dose-max', 'unit']}, withheld if WBC > "
                              f"{v('001-pre-gcsf-wbc-threshold')} ×10^9/L"),
    ]
    out = []
    for name, key, dose in drugs:
        first, last = num(f"001-{key}-day-first"), num(f"001-{key}-day-last")
        ids = [i for i in rows.index if i.startswith(f"001-{key}-")]
        out.append({"lane": name, "category": "Hypomethylating agent" if name == "Decitabine"
                    else "Growth factor" if name == "G-CSF" else "Chemotherapy",
                    "label": f"{name}: {dose}, days {first:g}–{last:g}", "start": first, "end": last + 1,
                    "first_day": first, "last_day": last, "dose": dose, "sources": _src(*ids),
                    "hover": f"drawn from the start of day {first:g} to the end of day {last:g}<br>sources: {_src(*ids)}"})
    return pd.DataFrame(out)


def regimen_figure(regimen: pd.DataFrame) -> go.Figure:
    """The decitabine + HAAG regimen as a small swimmer, one lane per drug.

    Each day is a unit of the axis (day d spans d to d + 1), so the tick for day d sits in the
    middle of its day and a bar covers exactly the days the drug was given.
    """
    figure = swimmer(regimen, order="given", x_title="Day of the tumour-reduction regimen (day 1 = first dose)",
                     x_unit="days", lane_noun="drugs", legend_counts=False,
                     colors={"Chemotherapy": OKABE_ITO[1], "Hypomethylating agent": OKABE_ITO[4],
                             "Growth factor": OKABE_ITO[2]},
                     title="Tumour reduction before lymphodepletion (both patients)", plot_height=220)
    days = range(int(regimen["first_day"].min()), int(regimen["last_day"].max()) + 1)
    figure.update_xaxes(tickvals=[d + 0.5 for d in days], ticktext=[str(d) for d in days],
                        range=[min(days), max(days) + 1], showgrid=True, gridcolor="#eee")
    return figure


# ----------------------------------------------------------- BCR::ABL1 --

def bcr_abl_course(register_csv=REGISTER_CSV) -> pd.DataFrame:
    """Every BCR::ABL1 (IS) value of patient 1 in the text, with where it sits in time.

    ``axis`` is ``calendar`` (dated before CAR-T) or ``days`` (relative to the infusion);
    ``detectable`` is False for the published 0 %, which is drawn in the 'undetectable' strip
    below the log axis (0 has no place on a log scale).
    """
    rows = _register(register_csv)
    m = moments(register_csv)
    value = lambda rid: float(rows.loc[rid, "value"])  # noqa: E731
    out = []

    def calendar_point(rid, moment: Moment, context):
        out.append({"register_id": rid, "axis": "calendar", "x": moment.mid, "x_first": moment.first,
                    "x_last": moment.last, "when": moment.label, "precision": moment.precision,
                    "value_pct": value(rid), "as_printed": rows.loc[rid, "value_text"], "detectable": True,
                    "context": context})

    calendar_point("001-p1-bcrabl-after-ia", m["p1-ia-window"], "after dasatinib + IA; complete haematological response")
    calendar_point("001-p1-bcrabl-2019-11-15", m["p1-rise"], "rising on dasatinib: switch to nilotinib")
    calendar_point("001-p1-bcrabl-nilotinib-1mo", m["p1-fall"], "one month of nilotinib; interferon-α added")
    calendar_point("001-p1-bcrabl-2019-12-30", m["p1-mrd"], "MRD blasts 8.1%: switch to ponatinib")
    calendar_point("001-p1-bcrabl-pre-cart", m["p1-prog"], "progression on ponatinib (last value in the text before CAR-T)")
    out.append({"register_id": "001-p1-bcrabl-pre-cart-fig1d", "axis": "days", "x": 0.0, "x_first": np.nan,
                "x_last": np.nan, "when": "before infusion (day not stated; drawn at day 0)", "precision": "not stated",
                "value_pct": value("001-p1-bcrabl-pre-cart-fig1d"),
                "as_printed": rows.loc["001-p1-bcrabl-pre-cart-fig1d", "value_text"], "detectable": True,
                "context": "the text's 'from 24%' — conflicts with 55.7% measured about mid-January 2020"})
    text_day, _ = interval_days(rows.loc["001-p1-cr-time"])
    legend_day, _ = interval_days(rows.loc["001-p1-bcrabl-zero-time-fig1d"])
    out.append({"register_id": "001-p1-bcrabl-post-cart", "axis": "days", "x": text_day, "x_first": np.nan,
                "x_last": np.nan, "when": f"with CR at {rows.loc['001-p1-cr-time', 'value_text'].lower()} (case text)",
                "precision": "week", "value_pct": value("001-p1-bcrabl-post-cart"),
                "as_printed": rows.loc["001-p1-bcrabl-post-cart", "value_text"], "detectable": False,
                "context": "0% as published: undetectable"})
    out.append({"register_id": "001-p1-bcrabl-zero-time-fig1d", "axis": "days", "x": legend_day, "x_first": np.nan,
                "x_last": np.nan, "when": f"{rows.loc['001-p1-bcrabl-zero-time-fig1d', 'value_text']} (Figure 1D legend)",
                "precision": "week", "value_pct": value("001-p1-bcrabl-post-cart"),
                "as_printed": rows.loc["001-p1-bcrabl-post-cart", "value_text"], "detectable": False,
                "context": "the same 0%, timed by the figure legend instead of the text"})
    return pd.DataFrame(out)


def bcr_abl_table(course: pd.DataFrame) -> pd.DataFrame:
    """Patient 1's BCR::ABL1 values for display, with timing and source."""
    return course[["as_printed", "when", "precision", "context", "register_id"]].rename(columns={
        "as_printed": "BCR::ABL1 (IS)", "when": "When", "precision": "Date precision", "context": "Context",
        "register_id": "Source"})


UNDETECTABLE = "undetectable (0%)"


def bcr_abl_figure(course: pd.DataFrame, register_csv=REGISTER_CSV, day_axis_end: float = 75.0) -> go.Figure:
    """Patient 1's BCR::ABL1 (IS) on a log axis; 0 % sits in a separate strip below the axis.

    Left: the dated values before CAR-T with the TKI periods shaded. Right: days from the
    infusion (the infusion date is not published, so the two x axes cannot be joined).
    """
    rows = _register(register_csv)
    m = moments(register_csv)
    figure = make_subplots(rows=2, cols=2, shared_xaxes="columns", shared_yaxes="rows", row_heights=[0.82, 0.18],
                           column_widths=[0.64, 0.36], vertical_spacing=0.04, horizontal_spacing=0.04,
                           subplot_titles=("Before CAR-T (calendar)", "After CAR-T (days)"))
    colour = OKABE_ITO[0]
    for col, axis in ((1, "calendar"), (2, "days")):
        part = course[course["axis"] == axis]
        for detectable, row in ((True, 1), (False, 2)):
            pts = part[part["detectable"] == detectable]
            if pts.empty:
                continue
            texts = [f"<b>BCR::ABL1 (IS) {escape_html(str(r.as_printed))}</b><br>{escape_html(r.when)}<br>"
                     f"{escape_html(r.context)}<br>source: {r.register_id}" for r in pts.itertuples()]
            approx = pts["precision"].isin(["approximate", "window", "not stated", "month"])
            symbols = np.where(approx, "circle-open", "circle")
            if not detectable:
                symbols = np.where(pts["register_id"].str.endswith("fig1d"), "square-open", "square")
            if axis == "calendar" and detectable:
                # the window a date can fall in, as a grey whisker (plotly has no error bars on dates)
                xs, ys = [], []
                for r in pts.itertuples():
                    if r.precision in ("window", "month"):
                        xs += [r.x_first, r.x_last, None]
                        ys += [r.value_pct, r.value_pct, None]
                if xs:
                    figure.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"color": "#999", "width": 2},
                                                name="window the paper allows", hoverinfo="skip",
                                                showlegend=True), row=row, col=col)
            y = pts["value_pct"].tolist() if detectable else [UNDETECTABLE] * len(pts)
            figure.add_trace(go.Scatter(
                x=pts["x"].tolist(), y=y, mode="markers+lines" if detectable else "markers",
                line={"color": colour, "width": 1, "dash": "dot"},
                marker={"symbol": list(symbols), "size": 11, "color": colour, "line": {"width": 1.5, "color": colour}},
                name="BCR::ABL1 (IS), patient 1", legendgroup="bcr", showlegend=(col == 1 and row == 1),
                text=texts, hovertemplate="%{text}<extra></extra>"), row=row, col=col)
    # an empty strip under the calendar panel still needs its axis drawn
    figure.add_trace(go.Scatter(x=[pd.Timestamp("2019-10-01")], y=[UNDETECTABLE], mode="markers",
                                marker={"opacity": 0}, showlegend=False, hoverinfo="skip"), row=2, col=1)
    # the continued molecular response to the last follow-up: an arrow in the strip
    last = rows.loc["001-p1-date-last-followup", "value_text"]
    figure.add_trace(go.Scatter(
        x=[course.loc[course["axis"] == "days", "x"].max(), day_axis_end], y=[UNDETECTABLE, UNDETECTABLE],
        mode="lines+markers", line={"color": colour, "width": 1, "dash": "dot"},
        marker={"symbol": ["circle-open", "triangle-right"], "size": [1, 12], "color": colour},
        name=f"still undetectable, {last}", showlegend=False,
        text=["", f"complete molecular response continued up to {last}<br>(calendar date; the day after infusion "
                  "is not published)<br>source: 001-p1-date-last-followup"],
        hovertemplate="%{text}<extra></extra>"), row=2, col=2)
    # TKI periods, as in the paper's Fig. 1D
    periods = [("DAS + IA", m["p1-bc"].mid, m["p1-rise"].mid), ("NIL", m["p1-rise"].mid, m["p1-mrd"].mid),
               ("PON", m["p1-mrd"].mid, m["p1-prog"].mid)]
    shades = ("#e8f1fa", "#fdf2e0", "#e6f5ef")
    for (label, start, end), shade in zip(periods, shades):
        for row in (1, 2):
            figure.add_vrect(x0=start, x1=end, fillcolor=shade, line_width=0, layer="below", row=row, col=1)
        figure.add_annotation(text=label, x=start + (end - start) / 2, y=math.log10(90), xref="x", yref="y",
                              showarrow=False, font={"size": 11, "color": "#333"})
    figure.add_vrect(x0=m["p1-fall"].mid, x1=m["p1-mrd"].mid, fillcolor="rgba(204,121,167,0.18)", line_width=0,
                     layer="below", row=1, col=1)
    figure.add_annotation(text="+IFN", x=m["p1-fall"].mid + (m["p1-mrd"].mid - m["p1-fall"].mid) / 2,
                          y=math.log10(60), xref="x", yref="y", showarrow=False, font={"size": 10, "color": "#333"})
    figure.add_vline(x=0, line={"color": "#555", "dash": "dash", "width": 1}, row=1, col=2)
    figure.add_vline(x=0, line={"color": "#555", "dash": "dash", "width": 1}, row=2, col=2)
    hsct, _ = interval_days(rows.loc["001-p1-hsct-time"])
    for row in (1, 2):
        figure.add_vline(x=hsct, line={"color": OKABE_ITO[5], "dash": "dot", "width": 1.5}, row=row, col=2)
    figure.add_annotation(text="CAR-T", x=0, y=math.log10(90), xref="x2", yref="y", showarrow=False, xanchor="left",
                          font={"size": 11})
    figure.add_annotation(text=f"allo-HSCT (week {rows.loc['001-p1-hsct-time', 'value_text']})", x=hsct,
                          y=math.log10(45), xref="x2", yref="y", showarrow=False, xanchor="right", font={"size": 11})
    for level, label in ((10, "10%"), (1, "1%"), (0.1, "0.1% = major molecular response")):
        for col in (1, 2):
            figure.add_hline(y=level, line={"color": "#bbb", "width": 1, "dash": "dash"}, row=1, col=col)
        figure.add_annotation(text=label, x=0, xref="x domain", y=math.log10(level), yref="y", showarrow=False,
                              xanchor="left", yanchor="bottom", font={"size": 10, "color": "#777"})
    for col in (1, 2):
        figure.update_yaxes(type="log", range=[math.log10(0.05), math.log10(100)],
                            tickvals=[0.1, 1, 10, 100], ticktext=["0.1", "1", "10", "100"], row=1, col=col)
        figure.update_yaxes(type="category", categoryarray=[UNDETECTABLE], row=2, col=col)
    figure.update_yaxes(title="BCR::ABL1 (IS), %", row=1, col=1)
    figure.update_xaxes(type="date", range=[pd.Timestamp("2019-06-01"), pd.Timestamp("2020-02-01")], row=2, col=1,
                        title="Date")
    figure.update_xaxes(range=[-5, day_axis_end + 4], row=2, col=2, title="Days after infusion")
    style(figure, "Patient 1: BCR::ABL1 (IS), published values", height=600)
    figure.update_layout(legend={"orientation": "h", "x": 0, "y": -0.2, "yanchor": "top"}, margin={"b": 150, "t": 110})
    return figure


# ---------------------------------------------------------------- blasts --

BLAST_STAGES = ("CML diagnosis", "Blast phase onset", "On salvage TKI", "Before CAR-T", "2 weeks after CAR-T")
NO_VALUE = "no % printed"


def blast_measurements(register_csv=REGISTER_CSV) -> pd.DataFrame:
    """Every blast percentage in study 001, by patient, stage and method (value as printed).

    Results after CAR-T given only in words (CR, MRD-negative CR) are kept as rows without a
    value (``value_pct`` empty), so the figure can show them in a 'no % printed' strip.
    """
    rows = _register(register_csv)
    spec = [
        ("Patient 1", "CML diagnosis", "flow cytometry (marrow)", "001-p1-blasts-fcm-diagnosis"),
        ("Patient 1", "Blast phase onset", "morphology (marrow)", "001-p1-blasts-morph-bc"),
        ("Patient 1", "On salvage TKI", "flow-cytometry MRD (marrow)", "001-p1-mrd-blasts-2019-12-30"),
        ("Patient 1", "Before CAR-T", "marrow, method not stated", "001-p1-blasts-pre-cart"),
        ("Patient 2", "CML diagnosis", "morphology (marrow)", "001-p2-blasts-morph-diagnosis"),
        ("Patient 2", "CML diagnosis", "flow cytometry (marrow)", "001-p2-blasts-fcm-diagnosis"),
        ("Patient 2", "Blast phase onset", "blood smear", "001-p2-blasts-pb-2018-06"),
        ("Patient 2", "Before CAR-T", "morphology (marrow)", "001-p2-blasts-morph-2020-03"),
        ("Patient 2", "Before CAR-T", "flow cytometry (marrow)", "001-p2-blasts-fcm-2020-03"),
        ("Patient not stated (Fig. 1B)", "Before CAR-T", "flow cytometry (marrow)", "001-fig1b-blasts-pre"),
        ("Patient not stated (Fig. 1B)", "2 weeks after CAR-T", "flow cytometry (marrow)", "001-fig1b-blasts-post"),
    ]
    out = []
    for who, stage, method, rid in spec:
        row = rows.loc[rid]
        value = float(row["value"])
        note = ""
        if str(row["unit"]).startswith("fraction"):
            value, note = 100 * value, "printed without a unit; read as a fraction (×100 for %)"
        out.append({"patient": who, "stage": stage, "method": method, "value_pct": value,
                    "as_printed": row["value_text"], "register_id": rid, "note": note})
    out += [
        {"patient": "Patient 1", "stage": "2 weeks after CAR-T", "method": "morphology (marrow)", "value_pct": np.nan,
         "as_printed": "CR", "register_id": "001-p1-cr-time", "note": "complete remission at two weeks; no blast % printed"},
        {"patient": "Patient 2", "stage": "2 weeks after CAR-T", "method": "flow-cytometry MRD (marrow)",
         "value_pct": np.nan, "as_printed": "MRD-negative CR", "register_id": "001-p2-cr-time",
         "note": "MRD-negative CR from one week; no blast % printed"},
    ]
    return pd.DataFrame(out)


def blast_table(blasts: pd.DataFrame) -> pd.DataFrame:
    """The blast measurements for display (percent as a plain number, empty when not printed)."""
    return blasts.assign(value_pct=blasts["value_pct"].map(lambda v: "" if pd.isna(v) else f"{v:g}")).rename(
        columns={"patient": "Patient", "stage": "Stage", "method": "Method", "value_pct": "Blasts (%)",
                 "as_printed": "As printed", "register_id": "Source", "note": "Note"})


METHOD_SYMBOLS = {"morphology (marrow)": "circle", "flow cytometry (marrow)": "diamond",
                  "flow-cytometry MRD (marrow)": "diamond-open", "blood smear": "triangle-up",
                  "marrow, method not stated": "square-open"}
PATIENT_COLOURS = {"Patient 1": OKABE_ITO[0], "Patient 2": OKABE_ITO[5], "Patient not stated (Fig. 1B)": OKABE_ITO[7]}


def blasts_figure(blasts: pd.DataFrame) -> go.Figure:
    """Blast percentages by stage on a log axis (each patient a colour, each method a symbol)."""
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.82, 0.18], vertical_spacing=0.04)
    offsets = {"Patient 1": -0.2, "Patient 2": 0.0, "Patient not stated (Fig. 1B)": 0.2}
    nudge = {"morphology (marrow)": -0.05, "flow cytometry (marrow)": 0.05}
    stage_index = {s: i for i, s in enumerate(BLAST_STAGES)}
    for (who, method), part in blasts.groupby(["patient", "method"], sort=False):
        x = [stage_index[s] + offsets[who] + nudge.get(method, 0.0) for s in part["stage"]]
        has = part["value_pct"].notna().to_numpy()
        texts = [f"<b>{escape_html(who)}</b><br>{escape_html(r.stage)}: {escape_html(str(r.as_printed))}"
                 f"<br>{escape_html(method)}" + (f"<br>{escape_html(r.note)}" if r.note else "")
                 + f"<br>source: {r.register_id}" for r in part.itertuples()]
        for row, mask in ((1, has), (2, ~has)):
            if mask.any():
                figure.add_trace(go.Scatter(
                    x=np.array(x)[mask], y=part["value_pct"][mask] if row == 1 else [NO_VALUE] * int(mask.sum()),
                    mode="markers", name=f"{who}: {method}", legendgroup=f"{who}{method}",
                    marker={"symbol": METHOD_SYMBOLS[method], "size": 12, "color": PATIENT_COLOURS[who],
                            "line": {"width": 1.5, "color": PATIENT_COLOURS[who]}},
                    text=list(np.array(texts)[mask]), hovertemplate="%{text}<extra></extra>",
                    showlegend=row == 1 or not has.any()), row=row, col=1)
    fig1b = blasts[blasts["patient"].str.startswith("Patient not stated")].dropna(subset=["value_pct"])
    figure.add_trace(go.Scatter(x=[stage_index[s] + 0.25 for s in fig1b["stage"]], y=fig1b["value_pct"],
                                mode="lines", line={"color": OKABE_ITO[7], "dash": "dot", "width": 1},
                                showlegend=False, hoverinfo="skip"), row=1, col=1)
    figure.add_hline(y=5, line={"color": "#bbb", "dash": "dash", "width": 1}, row=1, col=1)
    figure.add_annotation(text="5% (morphological remission threshold)", x=0, xref="x domain", y=math.log10(5),
                          yref="y", showarrow=False, xanchor="left", yanchor="bottom", font={"size": 10, "color": "#777"})
    figure.update_yaxes(type="log", range=[math.log10(0.02), math.log10(150)], title="Blasts, %",
                        tickvals=[0.1, 1, 10, 100], ticktext=["0.1", "1", "10", "100"], row=1, col=1)
    figure.update_yaxes(type="category", categoryarray=[NO_VALUE], row=2, col=1)
    figure.update_xaxes(tickmode="array", tickvals=list(range(len(BLAST_STAGES))), ticktext=list(BLAST_STAGES),
                        range=[-0.5, len(BLAST_STAGES) - 0.5], row=2, col=1)
    style(figure, "Blasts before and after CAR-T-38 (published values)", height=640)
    figure.update_layout(legend={"orientation": "h", "x": 0, "y": -0.12, "yanchor": "top"}, margin={"b": 190})
    return figure


def early_course(register_csv=REGISTER_CSV) -> pd.DataFrame:
    """Days after the infusion of expansion peak, count recovery, remission and what followed."""
    rows = _register(register_csv)

    def day(rid):
        if rid is None:
            return "", ""
        row = rows.loc[rid]
        if row["kind"] == "day":
            return f"{float(row['value']):g}", rid
        days, approx = interval_days(row)
        return (f"about {days:.0f}" if approx else f"{days:.0f}") + f" ({row['value_text']})", rid

    spec = [
        ("CAR-T copies peak in blood (Fig. 2A)", "001-p1-cart-peak-day", "001-p2-cart-peak-day"),
        (f"Neutrophils above {rows.loc['001-anc-threshold', 'value_text']} ×10^9/L (Fig. 2B)",
         "001-p1-anc-recovery-day", "001-p2-anc-recovery-day"),
        (f"Platelets above {rows.loc['001-plt-threshold', 'value_text']} ×10^9/L (Fig. 2B)",
         "001-p1-plt-recovery-day", "001-p2-plt-recovery-day"),
        ("Complete remission", "001-p1-cr-time", "001-p2-cr-time"),
        ("BCR::ABL1 (IS) 0% — Figure 1D legend", "001-p1-bcrabl-zero-time-fig1d", None),
        ("Marrow re-assessed; kinase-domain mutation gone (Fig. 1A–C)", "001-fig1-assessment-time",
         "001-fig1-assessment-time"),
        ("allo-HSCT", "001-p1-hsct-time", None),
        ("Death (relapse and infection)", None, "001-p2-death-time"),
    ]
    out = []
    for what, r1, r2 in spec:
        d1, s1 = day(r1)
        d2, s2 = day(r2)
        out.append({"Event": what, "Patient 1 (day)": d1 or "—", "Patient 2 (day)": d2 or "—",
                    "Sources": "; ".join(dict.fromkeys(s for s in (s1, s2) if s))})
    return pd.DataFrame(out)


FIGURE_ONLY = pd.DataFrame([
    ("Fig. 1A", "marrow morphology before and 2 weeks after CAR-T", "CR at 2 weeks (patient 1) / 1 week (patient 2)",
     "timing only; the images cannot be re-analysed"),
    ("Fig. 1B", "flow-cytometry plots of marrow blasts", "28.8% before and 7.3 × 10^-4 after, patient not stated",
     "both values shown; the patient is not identified"),
    ("Fig. 1C", "kinase-domain mutation (E255K, T315I) before and after", "both gone 2 weeks after infusion",
     "shown as an event at day 14"),
    ("Fig. 1D", "patient 1's whole BCR::ABL1 (IS) curve", "the values quoted in the text (12.5% … 0%)",
     "only the text values are drawn; points read off the figure are not invented"),
    ("Fig. 2A", "CAR-T copies per µg DNA over time", "peak days only (4 and 6)",
     "peak days shown; no copy numbers — the synthetic 001 kinetics table is not used here"),
    ("Fig. 2B", "neutrophil and platelet curves", "the recovery days (14/7 and 14/14)", "recovery days shown"),
    ("Fig. 2C", "IL-6, IL-10, TNF-α and IFN-γ over time", "'mild increase' only", "nothing to show: no values printed"),
    ("Fig. 2D", "CRP and ferritin over time", "nothing", "nothing to show: no values printed"),
], columns=["Figure", "What it shows", "What the text gives", "What this chapter does"])


# --------------------------------------------------------- study 000 (synthetic) --

PROXY_DIAGNOSIS = "CML diagnosis (proxy: first TKI start)"
PROXY_BLAST_CRISIS = "Blast crisis (proxy: first chemotherapy before CAR-T)"


def lbc_timeline(cohort: dict[str, pd.DataFrame], group: str = "CML-LBC", months: bool = True) -> dict:
    """Swimmer rows for one cohort of study 000 from the synthetic ``treatments``,
    ``responses`` and ``outcomes`` tables.

    The contract has no column for the date of CML diagnosis or of blast crisis. They are
    *inferred*: diagnosis = start of the earliest TKI; blast crisis = start of the earliest
    chemotherapy block before CAR-T (in the synthetic generator, lymphoid blast crisis is treated
    with VDCP plus a TKI). Patients for whom a proxy cannot be found are counted in ``missing``.
    Times are in months (30.44 days) relative to the infusion when ``months`` is True.

    Returns dict(bars, events, followup, summary, missing, n).
    """
    for table in ("patients", "treatments", "outcomes"):
        if table not in cohort:
            raise ValueError(f"the study 000 cohort has no {table} table; the timeline needs it")
    patients = cohort["patients"]
    ids = patients.loc[patients["cohort"] == group, "patient_id"].tolist()
    if not ids:
        raise ValueError(f"no patients in cohort {group!r}; cohorts present: {sorted(patients['cohort'].unique())}")
    scale = MONTH_DAYS if months else 1.0
    tx = cohort["treatments"][cohort["treatments"]["patient_id"].isin(ids)].copy()
    out = cohort["outcomes"].set_index("patient_id").loc[ids]
    resp = cohort.get("responses")
    bars, events, followup, summary, missing = [], [], [], [], []
    for pid in ids:
        mine = tx[tx["patient_id"] == pid]
        tki = mine[(mine["category"] == "TKI") & (mine["start_day"] < 0)]
        chemo = mine[(mine["category"] == "chemotherapy") & (mine["start_day"] < 0)]
        dx = tki["start_day"].min() if len(tki) else np.nan
        bc = chemo["start_day"].min() if len(chemo) else np.nan
        if pd.isna(dx):
            missing.append({"patient_id": pid, "what": "CML diagnosis proxy", "why": "no TKI before CAR-T"})
        if pd.isna(bc):
            missing.append({"patient_id": pid, "what": "blast crisis proxy", "why": "no chemotherapy before CAR-T"})
        for r in mine.itertuples():
            if r.category in ("CAR-T", "allo-HSCT") or (not pd.isna(r.end_day) and r.end_day == r.start_day):
                continue  # single-day procedures are events, below
            dose = "" if pd.isna(r.dose) else f" {r.dose:g} {r.dose_unit}"
            bars.append({"lane": pid, "category": r.category, "label": f"{r.agent}{dose}",
                         "start": r.start_day / scale, "end": np.nan if pd.isna(r.end_day) else r.end_day / scale,
                         "hover": f"days {r.start_day:g} to {'ongoing' if pd.isna(r.end_day) else f'{r.end_day:g}'} "
                                  f"(synthetic)"})
        o = out.loc[pid]
        if not pd.isna(dx):
            events.append({"lane": pid, "event": PROXY_DIAGNOSIS, "time": dx / scale, "hover": f"day {dx:g} (synthetic)"})
        if not pd.isna(bc):
            events.append({"lane": pid, "event": PROXY_BLAST_CRISIS, "time": bc / scale, "hover": f"day {bc:g} (synthetic)"})
        events.append({"lane": pid, "event": "CAR-T infusion", "time": 0.0, "hover": "day 0"})
        for r in mine[mine["category"] == "allo-HSCT"].itertuples():
            events.append({"lane": pid, "event": "allo-HSCT", "time": r.start_day / scale, "hover": f"day {r.start_day:g}"})
        best = ""
        if resp is not None:
            mine_resp = resp[resp["patient_id"] == pid].sort_values("day")
            hit = mine_resp[mine_resp["morphologic"].isin(["CR", "CRi"])]
            if len(hit):
                first = hit.iloc[0]
                best = f"{first['morphologic']}, MRD {first['mrd_flow']}"
                events.append({"lane": pid, "event": "Response (CR/CRi)", "time": first["day"] / scale,
                               "hover": f"day {first['day']:g}: {best}"})
            elif len(mine_resp):
                best = "no response"
                events.append({"lane": pid, "event": "No response", "time": mine_resp.iloc[0]["day"] / scale,
                               "hover": f"day {mine_resp.iloc[0]['day']:g}: {mine_resp.iloc[0]['morphologic']}"})
        if bool(o["relapsed"]) and not pd.isna(o["relapse_day"]):
            events.append({"lane": pid, "event": "Relapse / progression", "time": o["relapse_day"] / scale,
                           "hover": f"day {o['relapse_day']:g}"})
        if bool(o["died"]):
            events.append({"lane": pid, "event": "Death", "time": o["followup_days"] / scale,
                           "hover": f"day {o['followup_days']:g}; cause: {o['death_cause']}"})
        start = dx if not pd.isna(dx) else min(mine["start_day"].min(), 0.0)
        followup.append({"lane": pid, "start": start / scale, "end": o["followup_days"] / scale,
                         "ongoing": not bool(o["died"]),
                         "hover": f"alive at last contact, day {o['followup_days']:g}" if not o["died"] else ""})
        summary.append({"patient_id": pid, "CML diagnosis to blast crisis (months)": (bc - dx) / MONTH_DAYS,
                        "Blast crisis to CAR-T (months)": -bc / MONTH_DAYS, "TKIs before CAR-T": ", ".join(
                            dict.fromkeys(tki.sort_values("start_day")["agent"])),
                        "Response": best, "allo-HSCT": bool((mine["category"] == "allo-HSCT").any()),
                        "Relapse": bool(o["relapsed"]), "Died": bool(o["died"]),
                        "Follow-up (months)": o["followup_days"] / MONTH_DAYS})
    return {"bars": pd.DataFrame(bars), "events": pd.DataFrame(events), "followup": pd.DataFrame(followup),
            "summary": pd.DataFrame(summary), "missing": pd.DataFrame(missing, columns=["patient_id", "what", "why"]),
            "n": len(ids), "group": group}


LBC_SYMBOLS = {PROXY_DIAGNOSIS: "circle-open", PROXY_BLAST_CRISIS: "x", "CAR-T infusion": "triangle-up",
               "Response (CR/CRi)": "square", "No response": "square-open", "allo-HSCT": "hexagon",
               "Relapse / progression": "diamond", "Death": "x-thin-open"}


def lbc_figure(timeline: dict) -> go.Figure:
    """The 13 CML-LBC patients from (proxy) CML diagnosis to death or last follow-up -- synthetic."""
    figure = swimmer(timeline["bars"], timeline["events"], timeline["followup"], order="followup",
                     x_title="Months relative to CAR-T infusion (synthetic)", x_unit="months",
                     colors={"TKI": OKABE_ITO[0], "chemotherapy": OKABE_ITO[1], "lymphodepletion": OKABE_ITO[4]},
                     symbols=LBC_SYMBOLS, event_order=list(LBC_SYMBOLS),
                     title=f"Study 000: clinical course of the {timeline['n']} {timeline['group']} patients (synthetic cohort)")
    bottom = figure.layout.margin.b
    label_synthetic(figure)
    figure.update_layout(margin={"b": max(bottom, 95)})  # keep room for the legend under the stamp
    return figure


def contract_gaps() -> pd.DataFrame:
    """What the data contract / synthetic generator would need for a faithful Fig. 1A."""
    return pd.DataFrame([
        ("Date of CML (chronic-phase) diagnosis", "none", "inferred from the first TKI start",
         "patients.cml_diagnosis_day (float, days relative to infusion, ≤ 0, nullable; CML diagnoses only)"),
        ("Date of blast crisis (lymphoid transformation)", "none", "inferred from the first chemotherapy before CAR-T",
         "patients.blast_phase_day (float, days relative to infusion, ≤ 0, nullable)"),
        ("Disease phase of each line of therapy", "none", "not shown",
         "treatments.phase (chronic_phase / blast_phase / post_CAR-T, nullable)"),
        ("Precision of each date (day, month, approximate)", "none", "all synthetic days treated as exact",
         "a day_precision column wherever a day is stored (day / month / approximate)"),
        ("Date a kinase-domain mutation was found", "none", "not shown (only yes/no in patients)",
         "patients.abl_kd_mutation_day (float, nullable)"),
    ], columns=["Needed for Fig. 1A", "In the contract now", "What this chapter does", "Proposed addition"])
