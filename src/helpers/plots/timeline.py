"""Swimmer (timeline) figures: one lane per patient, bars for lines of therapy, markers for events.

No maintained Python library draws a clinical swimmer plot, so the book has its own. It is
written for two very different uses and is tested for both:

* a **case report** with two patients and many dated facts (study 001), where lines of therapy
  overlap (a TKI given together with chemotherapy or interferon), several events fall on the
  same day, and the time axis may change meaning part-way (calendar months before CAR-T, days
  after the infusion) -- hence *panels*;
* a **cohort** of 13 to a few hundred patients (study 000), where the figure must stay a handful
  of traces (one per therapy category and one per event type, never one per patient), the
  legend says how many patients had each thing (k/N), and lane labels give way when there are
  too many to read.

The three inputs are tidy DataFrames (extra columns are ignored):

``bars``      ``lane``, ``start``, ``end``, ``category``; optional ``label`` (e.g. the drug
              and dose) and ``hover`` (free text). ``end`` may be empty: the bar is then
              *open-ended* and runs to the lane's follow-up end, where an arrow says it was
              still going at last contact.
``events``    ``lane``, ``time``, ``event``; optional ``hover``.
``followup``  ``lane``, ``end``; optional ``start`` (default: the lane's first bar or event),
              ``ongoing`` (alive / still followed at ``end`` -> arrow) and ``hover``.

Times are either numbers (days relative to infusion, say) or dates; one panel uses one kind.
Bad input raises :class:`TimelineInputError` naming the table, column and lane at fault;
nothing is silently dropped.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from helpers.escape import escape_html
from helpers.plots.figures import OKABE_ITO, style

BAR_COLUMNS = ("lane", "start", "end", "category")
EVENT_COLUMNS = ("lane", "time", "event")
FOLLOWUP_COLUMNS = ("lane", "end")
ORDERS = ("followup", "start", "given")
EVENT_SYMBOLS = ("diamond", "x", "star", "circle", "square", "triangle-up", "cross", "hexagon",
                 "triangle-down", "pentagon", "star-triangle-up", "hourglass")
ONGOING_SYMBOL = "triangle-right"
# Okabe-Ito without yellow (too pale for a marker on white), plus a dark grey.
EVENT_COLOURS = ("#D55E00", "#000000", "#CC79A7", "#009E73", "#0072B2", "#E69F00", "#56B4E9", "#666666")
LANE_FILL = 0.8  # share of a lane's height the bars may use


class TimelineInputError(ValueError):
    """Input to a swimmer plot that cannot be drawn faithfully."""


@dataclass
class Panel:
    """One stretch of time with its own x axis (e.g. calendar months, or days after infusion)."""

    bars: Optional[pd.DataFrame] = None
    events: Optional[pd.DataFrame] = None
    followup: Optional[pd.DataFrame] = None
    title: str = ""
    x_title: str = ""
    x_range: Optional[Sequence] = None
    width: float = 1.0  # relative width when there are several panels
    prepared: dict = field(default_factory=dict, repr=False)


# ------------------------------------------------------------------ checks --

def _is_datetime(series: pd.Series) -> bool:
    return pd.api.types.is_datetime64_any_dtype(series)


def _as_time(series: pd.Series, table: str, column: str, allow_missing: bool) -> pd.Series:
    """Numbers or dates, never text; missing values only where allowed."""
    if _is_datetime(series):
        out = pd.to_datetime(series)
    elif pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        out = series.astype(float)
    elif series.isna().all():
        out = series.astype(float)
    else:
        values = series.dropna()
        if len(values) and all(isinstance(v, pd.Timestamp) for v in values):
            out = pd.to_datetime(series)
        else:
            bad = [v for v in values if not isinstance(v, (int, float, np.integer, np.floating))]
            raise TimelineInputError(
                f"{table}.{column} must hold numbers (e.g. days) or dates; found {bad[:3]!r}")
    if not allow_missing and out.isna().any():
        lanes = series.index[out.isna()].tolist()
        raise TimelineInputError(f"{table}.{column} is empty in row(s) {lanes}; every row needs a time")
    return out


def _checked(frame: Optional[pd.DataFrame], table: str, required: Sequence[str]) -> Optional[pd.DataFrame]:
    if frame is None:
        return None
    if not isinstance(frame, pd.DataFrame):
        raise TimelineInputError(f"{table} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise TimelineInputError(f"{table} is missing column(s) {missing}; it needs {list(required)}")
    frame = frame.reset_index(drop=True).copy()
    if frame["lane"].isna().any():
        raise TimelineInputError(f"{table}.lane is empty in row(s) {frame.index[frame['lane'].isna()].tolist()}")
    frame["lane"] = frame["lane"].astype(str)
    for optional in ("label", "hover"):
        if optional not in frame.columns:
            frame[optional] = ""
        frame[optional] = frame[optional].fillna("").astype(str)
    return frame


def check_bars(bars: Optional[pd.DataFrame]) -> Optional[pd.DataFrame]:
    """Validate the bars table (see the module docstring); returns a clean copy."""
    bars = _checked(bars, "bars", BAR_COLUMNS)
    if bars is None:
        return None
    bars["start"] = _as_time(bars["start"], "bars", "start", allow_missing=False)
    bars["end"] = _as_time(bars["end"], "bars", "end", allow_missing=True)
    if bars["category"].isna().any():
        raise TimelineInputError(f"bars.category is empty in row(s) {bars.index[bars['category'].isna()].tolist()}")
    if len(bars) and _is_datetime(bars["start"]) != _is_datetime(bars["end"]) and bars["end"].notna().any():
        raise TimelineInputError("bars.start and bars.end must both be dates or both be numbers")
    backwards = bars["end"].notna() & (bars["end"] < bars["start"])
    if backwards.any():
        rows = bars.loc[backwards, ["lane", "category", "label", "start", "end"]].to_dict("records")
        raise TimelineInputError(f"bars end before they start: {rows}")
    return bars


def check_events(events: Optional[pd.DataFrame]) -> Optional[pd.DataFrame]:
    """Validate the events table; returns a clean copy."""
    events = _checked(events, "events", EVENT_COLUMNS)
    if events is None:
        return None
    events["time"] = _as_time(events["time"], "events", "time", allow_missing=False)
    if events["event"].isna().any():
        raise TimelineInputError(f"events.event is empty in row(s) {events.index[events['event'].isna()].tolist()}")
    events["event"] = events["event"].astype(str)
    return events


def check_followup(followup: Optional[pd.DataFrame]) -> Optional[pd.DataFrame]:
    """Validate the follow-up table (one row per lane); returns a clean copy."""
    followup = _checked(followup, "followup", FOLLOWUP_COLUMNS)
    if followup is None:
        return None
    repeated = followup.loc[followup["lane"].duplicated(), "lane"].tolist()
    if repeated:
        raise TimelineInputError(f"followup must have one row per lane; repeated: {repeated}")
    followup["end"] = _as_time(followup["end"], "followup", "end", allow_missing=False)
    if "start" in followup.columns:
        followup["start"] = _as_time(followup["start"], "followup", "start", allow_missing=True)
        backwards = followup["start"].notna() & (followup["end"] < followup["start"])
        if backwards.any():
            raise TimelineInputError(f"follow-up ends before it starts for lane(s) "
                                     f"{followup.loc[backwards, 'lane'].tolist()}")
    else:
        followup["start"] = pd.Series([pd.NaT if _is_datetime(followup["end"]) else np.nan] * len(followup),
                                      dtype=followup["end"].dtype)
    if "ongoing" not in followup.columns:
        followup["ongoing"] = False
    if followup["ongoing"].isna().any():
        raise TimelineInputError("followup.ongoing must be true or false for every lane (not empty)")
    followup["ongoing"] = followup["ongoing"].astype(bool)
    return followup


# ------------------------------------------------------------- geometry --

def resolve_open_ends(bars: pd.DataFrame, followup: Optional[pd.DataFrame]) -> pd.DataFrame:
    """Give every open-ended bar (empty ``end``) its lane's follow-up end.

    Adds ``open_ended`` (bool). An open-ended bar in a lane without a follow-up row, or one that
    starts after the follow-up ends, is an error: the figure would have to invent an end.
    """
    bars = bars.copy()
    bars["open_ended"] = bars["end"].isna()
    if not bars["open_ended"].any():
        return bars
    ends = followup.set_index("lane")["end"] if followup is not None else pd.Series(dtype=float)
    lanes = bars.loc[bars["open_ended"], "lane"]
    orphan = sorted(set(lanes) - set(ends.index))
    if orphan:
        raise TimelineInputError(f"open-ended bar(s) (empty end) in lane(s) {orphan} need a follow-up row "
                                 "giving the lane's last contact")
    bars.loc[bars["open_ended"], "end"] = lanes.map(ends).to_numpy()
    late = bars["open_ended"] & (bars["end"] < bars["start"])
    if late.any():
        raise TimelineInputError(f"open-ended bar(s) start after the lane's follow-up end: "
                                 f"{bars.loc[late, ['lane', 'label', 'start', 'end']].to_dict('records')}")
    return bars


def assign_tracks(bars: pd.DataFrame) -> pd.DataFrame:
    """Stack overlapping bars of a lane on separate tracks (greedy interval partitioning).

    Bars that merely touch (one ends where the next starts) share a track. Adds ``track``
    (0 = top) and ``n_tracks`` (tracks used by the lane), the minimum possible number: the
    greatest number of bars running at once in that lane.
    """
    bars = bars.copy()
    bars["track"] = 0
    bars["n_tracks"] = 1
    for lane, part in bars.groupby("lane", sort=False):
        # by start; on ties the longer bar first, so a continuing line keeps the main track and
        # a short block given alongside it (chemotherapy with a TKI) moves to the next one
        order = part.assign(_end=part["end"].fillna(part["start"])) \
            .sort_values(["start", "_end"], ascending=[True, False], kind="stable").index
        track_ends: list = []
        for index in order:
            start, end = bars.at[index, "start"], bars.at[index, "end"]
            end = start if pd.isna(end) else end
            for track, last_end in enumerate(track_ends):
                if last_end <= start:
                    track_ends[track] = end
                    bars.at[index, "track"] = track
                    break
            else:
                track_ends.append(end)
                bars.at[index, "track"] = len(track_ends) - 1
        bars.loc[part.index, "n_tracks"] = len(track_ends)
    return bars


def event_offsets(events: pd.DataFrame) -> pd.Series:
    """Vertical offsets (in lane units) so that events of one lane at the same time stay visible."""
    offsets = pd.Series(0.0, index=events.index)
    for _, part in events.groupby(["lane", "time"], sort=False):
        k = len(part)
        if k > 1:
            spread = np.linspace(-0.28, 0.28, k)
            offsets.loc[part.index] = spread
    return offsets


def order_lanes(panels: Sequence[Panel], order="followup") -> list[str]:
    """Lane order, top to bottom.

    ``"followup"``  longest follow-up first (the usual swimmer: by the follow-up ``end`` of the
                    first panel that has a follow-up table; lanes without one go last);
    ``"start"``     earliest first bar or event first;
    ``"given"``     order of first appearance in the inputs;
    a list          exactly these lanes, in this order (every lane present, none repeated).
    """
    seen = list(dict.fromkeys(lane for panel in panels for frame in (panel.bars, panel.events, panel.followup)
                              if frame is not None for lane in frame["lane"]))
    if not seen:
        raise TimelineInputError("nothing to draw: no bars, events or follow-up rows")
    if isinstance(order, str):
        if order not in ORDERS:
            raise TimelineInputError(f"order must be one of {ORDERS} or a list of lanes, got {order!r}")
        if order == "given":
            return seen
        if order == "followup":
            for panel in panels:
                if panel.followup is not None and len(panel.followup):
                    ends = panel.followup.set_index("lane")["end"]
                    with_end = sorted((l for l in seen if l in ends.index), key=lambda l: ends[l], reverse=True)
                    # sorted() is stable, so equal follow-up keeps the order of appearance
                    return with_end + [l for l in seen if l not in ends.index]
            return seen
        firsts = {}
        for panel in panels[:1]:
            for frame, column in ((panel.bars, "start"), (panel.events, "time"), (panel.followup, "start")):
                if frame is not None:
                    for lane, value in zip(frame["lane"], frame[column]):
                        if not pd.isna(value) and (lane not in firsts or value < firsts[lane]):
                            firsts[lane] = value
        with_start = sorted((l for l in seen if l in firsts), key=lambda l: firsts[l])
        return with_start + [l for l in seen if l not in firsts]
    wanted = [str(l) for l in order]
    repeated = sorted({l for l in wanted if wanted.count(l) > 1})
    if repeated:
        raise TimelineInputError(f"lane order repeats {repeated}")
    unknown = [l for l in wanted if l not in seen]
    if unknown:
        raise TimelineInputError(f"lane order names lanes with no data: {unknown}")
    missing = [l for l in seen if l not in wanted]
    if missing:
        raise TimelineInputError(f"lane order leaves out lanes that have data: {missing} "
                                 "(nothing is dropped silently; filter the inputs instead)")
    return wanted


# ---------------------------------------------------------------- drawing --

def _fmt(value, dated: bool, unit: str) -> str:
    if pd.isna(value):
        return "?"
    if dated:
        return pd.Timestamp(value).strftime("%d %b %Y")
    return f"{value:g}" + (f" {unit}" if unit else "")


def _duration(start, end, dated: bool, unit: str) -> str:
    if dated:
        days = (pd.Timestamp(end) - pd.Timestamp(start)).days
        return f"{days} days"
    return f"{end - start:g} {unit}".strip()


def _span_x(start, end, dated: bool):
    """Bar base and length as plotly wants them (dates: ISO base, length in ms)."""
    if dated:
        return pd.Timestamp(start).isoformat(), (pd.Timestamp(end) - pd.Timestamp(start)).total_seconds() * 1000
    return float(start), float(end - start)


def _legend_name(name: str, lanes_with: int, n_lanes: int, noun: str, counts: bool) -> str:
    return f"{name} ({lanes_with}/{n_lanes} {noun})" if counts else name


#: Lanes a swimmer plot draws; beyond it, a seeded random sample of this many (said in the title).
#: A registry's courses are better shown aggregated (helpers.chapters.own_data.courses_section).
MAX_LANES = 500
#: The legend of a swimmer plot's event markers (the bars keep plotly's first legend).
EVENT_LEGEND = "legend2"
LANE_SEED = 20240101


def sample_lanes(lanes: Sequence[str], size: int, panels: Sequence[Panel] = (), seed: int = LANE_SEED) -> list[str]:
    """``size`` of ``lanes`` chosen at random with a fixed seed, kept in their order; the
    ``panels`` keep only the rows of those lanes."""
    chosen = [lanes[i] for i in sorted(np.random.default_rng(seed).choice(len(lanes), size=size, replace=False))]
    for panel in panels:
        for key in ("bars", "events", "followup"):
            frame = getattr(panel, key)
            if frame is not None:
                setattr(panel, key, frame[frame["lane"].isin(chosen)])
    return chosen


def swimmer(bars: Optional[pd.DataFrame] = None, events: Optional[pd.DataFrame] = None,
            followup: Optional[pd.DataFrame] = None, *, panels: Optional[Sequence[Panel]] = None,
            order="followup", colors: Optional[Mapping[str, str]] = None,
            symbols: Optional[Mapping[str, str]] = None, category_order: Optional[Sequence[str]] = None,
            event_order: Optional[Sequence[str]] = None, x_title: str = "Days after CAR-T infusion",
            x_unit: str = "days", lane_noun: str = "patients", legend_counts: bool = True,
            max_lane_labels: int = 40, max_lanes: int = MAX_LANES, ongoing_label: str = "Followed beyond this point (alive at last contact)",
            title: Optional[str] = None, plot_height: Optional[int] = None) -> go.Figure:
    """A swimmer plot (see the module docstring for the input tables).

    Either pass ``bars``/``events``/``followup`` for one panel, or ``panels`` (a list of
    :class:`Panel`) for several x axes side by side sharing the lanes. Overlapping bars in a
    lane are stacked on thin tracks; events at the same time in a lane are spread vertically;
    open-ended bars and ongoing follow-up end in an arrow. The legend counts lanes (k/N)
    with each category and event, so a cohort figure can be read without hovering.
    ``plot_height`` is the height of the lanes' area in pixels (default: from the number of
    lanes); title and legend space are added to it. More than ``max_lanes`` lanes: a seeded
    random sample of ``max_lanes`` is drawn and the title says so.
    """
    if panels is None:
        panels = [Panel(bars=bars, events=events, followup=followup, x_title=x_title)]
    elif any(f is not None for f in (bars, events, followup)):
        raise TimelineInputError("pass either bars/events/followup or panels, not both")
    if not panels:
        raise TimelineInputError("panels is empty")
    for panel in panels:
        if not isinstance(panel, Panel):
            raise TimelineInputError(f"panels must hold Panel objects, got {type(panel).__name__}")
        panel.bars, panel.events = check_bars(panel.bars), check_events(panel.events)
        panel.followup = check_followup(panel.followup)
        kinds = set()
        for frame, columns in ((panel.bars, ("start",)), (panel.events, ("time",)), (panel.followup, ("end",))):
            if frame is not None and len(frame):
                kinds.update(_is_datetime(frame[c]) for c in columns)
        if len(kinds) > 1:
            raise TimelineInputError(f"panel {panel.title!r} mixes dates and numbers; use one kind of time "
                                     "per panel (or two panels)")
        panel.prepared["dated"] = kinds == {True}
        if panel.bars is not None:
            panel.bars = assign_tracks(resolve_open_ends(panel.bars, panel.followup))
    lanes = order_lanes(panels, order)
    if len(lanes) > max_lanes:  # the title says how many of how many
        title = f"{title + ' — ' if title else ''}{max_lanes} of {len(lanes):,} {lane_noun} drawn at random"
        lanes = sample_lanes(lanes, max_lanes, panels)
    position = {lane: i for i, lane in enumerate(lanes)}
    n_lanes = len(lanes)

    categories: list[str] = list(category_order or [])
    events_seen: list[str] = list(event_order or [])
    for panel in panels:
        if panel.bars is not None:
            categories += [c for c in panel.bars["category"].astype(str).drop_duplicates() if c not in categories]
        if panel.events is not None:
            events_seen += [e for e in panel.events["event"].drop_duplicates() if e not in events_seen]
    colour = {c: (colors or {}).get(c, OKABE_ITO[i % len(OKABE_ITO)]) for i, c in enumerate(categories)}
    symbol = {e: (symbols or {}).get(e, EVENT_SYMBOLS[i % len(EVENT_SYMBOLS)]) for i, e in enumerate(events_seen)}
    event_colour = {e: (colors or {}).get(e, EVENT_COLOURS[i % len(EVENT_COLOURS)]) for i, e in enumerate(events_seen)}

    def lanes_with(frame_key: str, column: str, value: str) -> int:
        found = set()
        for panel in panels:
            frame = getattr(panel, frame_key)
            if frame is not None:
                found.update(frame.loc[frame[column].astype(str) == value, "lane"])
        return len(found)

    figure = make_subplots(rows=1, cols=len(panels), shared_yaxes=True, horizontal_spacing=0.04,
                           column_widths=[p.width for p in panels],
                           subplot_titles=[p.title for p in panels] if len(panels) > 1 else None)
    legend_done: set = set()
    marker_size = max(5, min(11, int(260 / n_lanes)))  # smaller markers when lanes are thin
    for col, panel in enumerate(panels, start=1):
        dated = panel.prepared["dated"]
        unit = "" if dated else x_unit
        # follow-up lines (one trace) and ongoing arrows (one trace)
        if panel.followup is not None and len(panel.followup):
            xs, ys, hx, hy, htext = [], [], [], [], []
            for _, row in panel.followup.iterrows():
                start = row["start"]
                if pd.isna(start):
                    candidates = []
                    if panel.bars is not None:
                        candidates += panel.bars.loc[panel.bars["lane"] == row["lane"], "start"].tolist()
                    if panel.events is not None:
                        candidates += panel.events.loc[panel.events["lane"] == row["lane"], "time"].tolist()
                    start = min(candidates) if candidates else row["end"]
                y = position[row["lane"]]
                xs += [start, row["end"], None]
                ys += [y, y, None]
                if row["ongoing"]:
                    hx.append(row["end"])
                    hy.append(y)
                    htext.append(f"<b>{escape_html(row['lane'])}</b><br>" + (
                        escape_html(row["hover"]) if row["hover"]
                        else f"last contact {_fmt(row['end'], dated, unit)}, still followed"))
            figure.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"color": "#9a9a9a", "width": 1.5},
                                        name="Follow-up", legendgroup="follow-up", hoverinfo="skip",
                                        showlegend="follow-up" not in legend_done), row=1, col=col)
            legend_done.add("follow-up")
            if hx:
                figure.add_trace(go.Scatter(
                    x=hx, y=hy, mode="markers", marker={"symbol": ONGOING_SYMBOL, "size": marker_size + 2, "color": "#555"},
                    name=ongoing_label, legendgroup="ongoing", showlegend="ongoing" not in legend_done,
                    text=htext, hovertemplate="%{text}<extra></extra>"), row=1, col=col)
                legend_done.add("ongoing")
        # bars: one trace per category
        if panel.bars is not None and len(panel.bars):
            for category in categories:
                part = panel.bars[panel.bars["category"].astype(str) == category]
                if part.empty:
                    continue
                bases, lengths, ys, widths, texts = [], [], [], [], []
                for _, row in part.iterrows():
                    base, length = _span_x(row["start"], row["end"], dated)
                    share = LANE_FILL / row["n_tracks"]
                    bases.append(base)
                    lengths.append(length)
                    ys.append(position[row["lane"]] - LANE_FILL / 2 + share * (row["track"] + 0.5))
                    widths.append(share * 0.9)
                    what = row["label"] or category
                    end_text = (f"{_fmt(row['end'], dated, unit)} (ongoing at last contact)" if row["open_ended"]
                                else _fmt(row["end"], dated, unit))
                    texts.append(f"<b>{escape_html(row['lane'])}</b><br>{escape_html(what)}<br>"
                                 f"{_fmt(row['start'], dated, unit)} to {end_text}"
                                 f" ({_duration(row['start'], row['end'], dated, x_unit)})"
                                 + (f"<br>{escape_html(row['hover'])}" if row["hover"] else ""))
                figure.add_trace(go.Bar(
                    base=bases, x=lengths, y=ys, width=widths, orientation="h",
                    marker={"color": colour[category], "line": {"width": 0.5, "color": "white"}},
                    name=_legend_name(category, lanes_with("bars", "category", category), n_lanes, lane_noun,
                                      legend_counts),
                    legendgroup=f"bar-{category}", showlegend=f"bar-{category}" not in legend_done,
                    text=texts, hovertemplate="%{text}<extra></extra>", textposition="none"), row=1, col=col)
                legend_done.add(f"bar-{category}")
            open_bars = panel.bars[panel.bars["open_ended"]]
            if len(open_bars):
                figure.add_trace(go.Scatter(
                    x=open_bars["end"].tolist(),
                    y=[position[l] - LANE_FILL / 2 + LANE_FILL / n * (t + 0.5)
                       for l, n, t in zip(open_bars["lane"], open_bars["n_tracks"], open_bars["track"])],
                    mode="markers", marker={"symbol": ONGOING_SYMBOL, "size": marker_size,
                                            "color": [colour[str(c)] for c in open_bars["category"]]},
                    name="Therapy ongoing at last contact", legendgroup="open-bar",
                    showlegend="open-bar" not in legend_done, hoverinfo="skip"), row=1, col=col)
                legend_done.add("open-bar")
        # events: one trace per event type
        if panel.events is not None and len(panel.events):
            offsets = event_offsets(panel.events)
            for event in events_seen:
                part = panel.events[panel.events["event"] == event]
                if part.empty:
                    continue
                texts = [f"<b>{escape_html(r['lane'])}</b><br>{escape_html(event)}: {_fmt(r['time'], dated, unit)}"
                         + (f"<br>{escape_html(r['hover'])}" if r["hover"] else "") for _, r in part.iterrows()]
                figure.add_trace(go.Scatter(
                    x=part["time"].tolist(), y=[position[l] + offsets[i] for i, l in zip(part.index, part["lane"])],
                    mode="markers", name=_legend_name(event, lanes_with("events", "event", event), n_lanes,
                                                      lane_noun, legend_counts),
                    legendgroup=f"event-{event}", showlegend=f"event-{event}" not in legend_done,
                    legend=EVENT_LEGEND, marker={"symbol": symbol[event], "size": marker_size, "color": event_colour[event],
                            "line": {"width": 1, "color": "white"}},
                    text=texts, hovertemplate="%{text}<extra></extra>"), row=1, col=col)
                legend_done.add(f"event-{event}")
        axis = {"title": panel.x_title or None, "zeroline": False}
        if dated:
            axis["type"] = "date"
        if panel.x_range is not None:
            axis["range"] = list(panel.x_range)
        figure.update_xaxes(row=1, col=col, **axis)

    show_labels = n_lanes <= max_lane_labels
    figure.update_yaxes(
        tickmode="array", tickvals=list(range(n_lanes)) if show_labels else [],
        ticktext=lanes if show_labels else [], autorange="reversed", range=None, showgrid=False,
        title=None if show_labels else f"{n_lanes} {lane_noun} (one lane each; hover for details)",
    )
    figure.update_layout(barmode="overlay", bargap=0, hovermode="closest")
    if plot_height is None:
        lane_px = 70 if n_lanes <= 4 else 32 if n_lanes <= 20 else max(5, int(900 / n_lanes))
        plot_height = int(min(1200, max(160, lane_px * n_lanes)))
    # Two titled legends below the plot, clear of the x-axis title and of a "synthetic" stamp:
    # what the bars are, then what the markers are (one list of both ran to 19 entries).
    entries = Counter(trace.legend or "legend" for trace in figure.data if trace.showlegend is not False)
    rows = {name: math.ceil(entries[name] / 3) for name in ("legend", EVENT_LEGEND)}
    bottom = 100 + 24 * rows["legend"] + (34 + 24 * rows[EVENT_LEGEND] if entries[EVENT_LEGEND] else 0)
    top = (90 if title else 40) + (20 if len(panels) > 1 else 0)
    style(figure, title, height=top + plot_height + bottom)
    below = {"orientation": "h", "yanchor": "top", "x": 0, "title": {"side": "top"}}
    figure.update_layout(legend={**below, "y": -92 / plot_height, "title": {"text": "Bars", "side": "top"}},
                         margin={"b": bottom, "t": top})
    if entries[EVENT_LEGEND]:
        figure.update_layout({EVENT_LEGEND: {**below, "y": -(92 + 24 * rows["legend"] + 34) / plot_height,
                                             "title": {"text": "Markers", "side": "top"}}})
    return figure


def lanes_in(figure: go.Figure) -> list[str]:
    """The lane labels of a swimmer figure, top to bottom (for checks and tests)."""
    return list(figure.layout.yaxis.ticktext or [])
