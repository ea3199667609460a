"""Interactive figures for the book: plotly, offline, colour-blind safe.

Every figure is shown through :func:`show`, which emits the figure as HTML
*without* plotly.js: the site loads one shared copy of ``plotly.min.js`` from
its static files (no CDN, no 4.8 MB per page). Figures drawn from synthetic
data carry a visible label saying so (:func:`label_synthetic`).

Numbers and names
-----------------
Like a table (:mod:`helpers.plots.tables`), a figure is numbered by Sphinx, never by its text:
a chapter shows it as ``show(figure, name="fig-<chapter>-<what>")``, and ``{numref}`fig-...```
refers to it (:mod:`helpers.site.sphinx_site`). A named figure's title becomes its caption,
written in the page above the plot with the number Sphinx gives it ("Figure 3.2"), and leaves
the plot: two copies of one title would waste the figure's top, and plotly's toolbar covered
long titles there. The static SVG/PNG copies keep the title, since they travel without a page.

Text that comes from data (cohort and category labels, titles naming a study) is escaped with
:func:`helpers.escape.escape_html` before plotly sees it: plotly.js reads labels as limited
HTML, and a label must show as written.
"""

from __future__ import annotations

import copy
import hashlib
import html
import re
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from helpers.escape import escape_html, escape_labels
from helpers.markup import CAPTION_CLOSE, FIGURE_CAPTION_OPEN

# Okabe & Ito (2008) palette: distinguishable with the common colour-vision deficiencies.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
SYNTHETIC_LABEL = "Synthetic cohort: generated to match published aggregates, not patient data"
#: What a figure's name looks like: it is the id of its anchor on the page.
FIGURE_NAME = re.compile(r"fig-[a-z0-9]+(?:-[a-z0-9]+)*")
#: The trace types the site's plotly.js draws (a partial bundle: scripts/plotly_bundle.py). A figure
#: of any other type is refused when it is made, not found blank on the page.
SITE_TRACES = ("scatter", "bar", "box", "sankey")
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True,
                 "toImageButtonOptions": {"format": "svg", "scale": 1}}


# Static SVG/PNG copies of each figure (for slides and papers). The build sets both
# (helpers.chapters.outputs.configure): every figure shown writes its JSON spec to ``folder``, and
# helpers.site.export_figures draws the copies from those specs while the site is built;
# the page links them under ``href``. A notebook run by hand writes nothing and shows no links.
_EXPORTS: dict = {"folder": None, "href": None}


def configure_exports(folder: Optional[Path], href_prefix: Optional[str]) -> None:
    """Write the spec of every figure shown from now on to ``folder`` (emptied first: a
    chapter's figures are exactly those of its last run) and link copies as ``href_prefix``."""
    _EXPORTS.update(folder=Path(folder) if folder else None, href=href_prefix)
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        for stale in Path(folder).glob("fig-*.json"):
            stale.unlink()


class FigureHTML:
    """A plotly figure that renders as an HTML div relying on the site's shared plotly.js;
    captioned (and so numbered on the site) when it has a ``name`` or a ``caption``."""

    def __init__(self, figure: go.Figure, name: Optional[str] = None, caption: Optional[str] = None):
        if name is not None and not FIGURE_NAME.fullmatch(name):
            raise ValueError(f"a figure's name is 'fig-' and lower-case words joined by '-', not {name!r}")
        title = figure.layout.title.text
        if caption is None and name is not None and title:
            caption = html.unescape(title)  # style() escaped it for plotly; the caption is escaped once, below
        if name is not None and not caption:
            raise ValueError(f"figure {name!r} has neither a title nor a caption: only a captioned figure is numbered")
        unknown = sorted({trace.type for trace in figure.data} - set(SITE_TRACES))
        if unknown:
            raise ValueError(f"figure {name or title!r} uses trace type(s) {', '.join(unknown)}, which the site's "
                             f"plotly.js does not draw ({', '.join(SITE_TRACES)}): add them to "
                             "helpers.plots.figures.SITE_TRACES and run make plotly-bundle")
        self.figure, self.name, self.caption = figure, name, caption

    @property
    def div_id(self) -> str:
        return _figure_id(pio.to_json(compact_template(self.figure), validate=False))

    def shown_spec(self, spec: dict) -> dict:
        """What the page draws: ``spec`` without its title when the caption carries it."""
        if not self.caption or "title" not in spec.get("layout", {}):
            return spec
        shown = copy.deepcopy(spec)
        shown["layout"].pop("title")
        margin = shown["layout"].setdefault("margin", {})
        margin["t"] = max(30, margin.get("t", 90) - 40)  # style() gave the title 40 px
        return shown

    def _repr_html_(self) -> str:
        compact = compact_template(self.figure)
        spec = pio.to_json(compact, validate=False)  # once: it names the figure and is what the exporter draws
        div_id = _figure_id(spec)
        markup = trim_floats(pio.to_html(self.shown_spec(compact), include_plotlyjs=False, full_html=False,
                                         div_id=div_id, config=PLOTLY_CONFIG, validate=False))
        folder, href = _EXPORTS["folder"], _EXPORTS["href"]
        if folder is not None:  # written whole, then renamed: the exporter never reads half a spec
            partial = folder / f".{div_id}.partial"
            partial.write_text(trim_floats(spec), encoding="utf-8")
            partial.replace(folder / f"{div_id}.json")
        if href:
            markup += (f"<p class='figure-export'>Static copy for slides and papers: "
                       f"<a href='{escape_html(f'{href}{div_id}.svg')}' download>SVG</a> · "
                       f"<a href='{escape_html(f'{href}{div_id}.png')}' download>PNG</a></p>")
        if compact.get("layout", {}).get("width") is not None:  # fixed (WIDE_FIGURE_PX): scrolls in its box
            markup = f"<div class='book-figure-scroll'>{markup}</div>"
        if not self.caption:
            return markup
        label = f" data-label='{escape_html(self.name)}'" if self.name else ""
        return (f"<div class='book-figure-wrap'{label}>{FIGURE_CAPTION_OPEN}{escape_html(self.caption)}{CAPTION_CLOSE}"
                f"{markup}</div>")

    def __repr__(self) -> str:
        title = self.caption or self.figure.layout.title.text or "plotly figure"
        return f"<Figure: {title}>"




#: Template layout parts that only subplots of these trace types use.
_SUBPLOT_KINDS = {"geo": ("scattergeo", "choropleth"), "polar": ("scatterpolar", "scatterpolargl", "barpolar"),
                  "ternary": ("scatterternary",), "scene": ("scatter3d", "surface", "mesh3d"),
                  "mapbox": ("scattermapbox", "choroplethmapbox", "densitymapbox")}


def compact_template(figure: go.Figure) -> dict:
    """The figure as a dict whose template keeps only what this figure can use: the trace
    defaults of its own trace types and no layout for subplot kinds it does not have. Nothing
    drawn changes; every figure of a page stops carrying ~8 KB of defaults for 25 trace types."""
    spec = figure.to_dict()
    template = spec.get("layout", {}).get("template")
    if template:
        used = {trace.get("type", "scatter") for trace in spec.get("data", [])}
        if "data" in template:
            template["data"] = {kind: value for kind, value in template["data"].items() if kind in used}
        for part, kinds in _SUBPLOT_KINDS.items():
            if not used & set(kinds):
                template.get("layout", {}).pop(part, None)
        if not _uses_colour_scale(spec.get("data", [])):  # 0.8 KB of scales no drawn trace reads
            for part in ("colorscale", "coloraxis"):
                template.get("layout", {}).pop(part, None)
    return fit_to_phone(spec)


#: Trace types that colour by a continuous scale (the template's ``colorscale``/``coloraxis``).
_SCALE_TRACES = {"heatmap", "contour", "histogram2d", "histogram2dcontour", "choropleth", "choroplethmapbox",
                 "densitymapbox", "surface", "mesh3d", "cone", "streamtube", "volume", "isosurface", "parcoords"}


def _uses_colour_scale(traces: Sequence[dict]) -> bool:
    """Whether any trace reads a continuous colour scale: a scale trace type, a colour axis, or
    marker or line colours given as numbers."""
    for trace in traces:
        if trace.get("type") in _SCALE_TRACES or "coloraxis" in trace:
            return True
        for part in ("marker", "line"):
            style = trace.get(part)
            if not isinstance(style, dict):
                continue
            if "coloraxis" in style:
                return True
            colours = np.asarray(style.get("color", []), dtype=object).ravel()
            if any(isinstance(c, (int, float, np.number)) and not isinstance(c, bool) for c in colours):
                return True
    return False


#: Width of a figure whose text columns beside the plot (a forest plot's estimates and events/n,
#: several panels side by side) cannot shrink to a phone's 390 px without being cut at its edges:
#: it keeps this width and scrolls sideways inside its own box there, as a wide table does. It fits
#: the 784 px text column; in print it is scaled to an A4 page (about 700 CSS px between the margins).
WIDE_FIGURE_PX = 760


#: Longest line (characters) of a figure text before it is broken at a space: at 390 px a figure
#: is 358 px wide and its plot area about 280, so longer axis titles, legend entries and notes ran
#: past the figure's edge, where a phone cuts them (27 figures did). Axis titles are drawn 1.2 times
#: the figure's font size; a y-axis title runs along the plot's height and may be longer.
PHONE_LINE_CHARS = {"x_title": 22, "y_title": 44, "legend": 34, "note": 42}


def wrap_line(text: str, width: int) -> str:
    """``text`` broken with ``<br>`` at spaces so that no line is longer than ``width`` characters
    as read (an entity such as ``&amp;`` counts as one); a line's existing ``<br>`` breaks stay, and
    text holding other markup (``<b>``, ``<sup>``) is left as it is."""
    if not isinstance(text, str) or re.search(r"<(?!br>)[A-Za-z/]", text):
        return text
    lines = []
    for line in text.split("<br>"):
        current = ""
        for word in line.split(" "):
            joined = f"{current} {word}" if current else word
            if current and len(html.unescape(joined)) > width:
                lines.append(current)
                current = word
            else:
                current = joined
        lines.append(current)
    return "<br>".join(lines)


def side_by_side(layout: dict) -> bool:
    """Does the figure put panels next to each other (an x axis that starts right of the left edge)?"""
    return any(key.startswith("xaxis") and isinstance(axis, dict) and (axis.get("domain") or [0])[0] > 0.05
               for key, axis in layout.items())


def fit_to_phone(spec: dict) -> dict:
    """Make a figure spec readable at a phone's width: break its long texts (axis titles, legend
    entries, free notes) into lines (:data:`PHONE_LINE_CHARS`), and give a figure with panels side
    by side the fixed :data:`WIDE_FIGURE_PX`, which scrolls in its box (each panel was a few dozen
    pixels wide at 390 px). Nothing drawn changes otherwise."""
    layout = spec.setdefault("layout", {})
    if side_by_side(layout) and layout.get("width") is None:
        layout["width"] = WIDE_FIGURE_PX
    for key, axis in layout.items():
        kind = "x_title" if key.startswith("xaxis") else "y_title" if key.startswith("yaxis") else None
        title = axis.get("title") if kind and isinstance(axis, dict) else None
        if isinstance(title, dict) and "text" in title:
            title["text"] = wrap_line(title["text"], PHONE_LINE_CHARS[kind])
    for trace in spec.get("data", []):
        if "name" in trace and trace.get("showlegend", True) and trace.get("type") not in ("sankey",):
            trace["name"] = wrap_line(trace["name"], PHONE_LINE_CHARS["legend"])
    for note in layout.get("annotations", []):
        if "text" in note and note.get("showarrow") is False:
            note["text"] = wrap_line(note["text"], PHONE_LINE_CHARS["note"])
    return spec


def _figure_id(spec: str) -> str:
    """A figure's div id: a hash of its JSON, so stable across runs and new when it changes."""
    return "fig-" + hashlib.sha1(spec.encode()).hexdigest()[:12]




def trim_floats(markup: str, digits: int = 5) -> str:
    """Print long floats of a figure's JSON with ``digits`` significant digits.

    Pages carry every plotted number; 17-digit floats nearly double their weight, and 5 digits
    are finer than a pixel (0.001 of a 76-month axis 700 px wide is 0.01 px; hover text prints
    at most 3). Printed numbers never come from here: tables and hover text are formatted first.
    """
    def shorter(match: re.Match) -> str:
        significant = match.group(1).replace(".", "").lstrip("-0")
        return format(float(match.group(0)), f".{digits}g") if len(significant) > digits else match.group(0)

    return _FLOAT.sub(shorter, markup)


_FLOAT = re.compile(r"(?<![\w.#])(-?\d+\.\d+)(?:[eE][-+]?\d+)?")


def show(figure: go.Figure, name: Optional[str] = None, caption: Optional[str] = None) -> FigureHTML:
    """Display a figure in a chapter (the last expression of a cell). ``name`` is what
    ``{numref}`` calls it (``fig-<chapter>-<what>``); the caption is ``caption`` or else the
    figure's title (see the module text)."""
    return FigureHTML(figure, name, caption)


def style(figure: go.Figure, title: Optional[str] = None, height: int = 420) -> go.Figure:
    """The book's common layout: readable fonts, white background, legend on top.
    ``title`` is plain text (it often names a study or cohort) and is escaped here."""
    figure.update_layout(
        title={"text": escape_html(title)} if title else None, template="simple_white", height=height,
        font={"family": "Arial, Helvetica, sans-serif", "size": 13},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        margin={"l": 60, "r": 20, "t": 90 if title else 50, "b": 60},
        colorway=list(OKABE_ITO),
    )
    return figure


#: A log axis labelled at the powers of ten only ("10³"), with unlabelled minor ticks between.
#: Plotly's own log ticks also print "2" and "5" beside each 10ⁿ when a few decades are shown.
DECADE_AXIS = {"type": "log", "dtick": 1, "exponentformat": "power", "minor": {"ticks": "outside", "ticklen": 3}}


def step_ticks() -> dict:
    """Tick marks at 1-2-5 steps for a log axis, printed in full (20, not "2"): for an axis that
    spans too few decades for :data:`DECADE_AXIS` to label more than one or two ticks."""
    values = [m * 10.0 ** e for e in range(-3, 7) for m in (1, 2, 5)]
    text = [f"{v:,.0f}" if v >= 1 else f"{v:g}" for v in values]
    return {"tickmode": "array", "tickvals": values, "ticktext": text}


#: Fewest values a box summarises. A box of 1-4 values draws quartiles and whiskers that are
#: only the values again, and reads as a distribution; such a group is drawn as its points alone.
MIN_BOX_N = 5
POINTS_ONLY_NOTE = f"groups of n < {MIN_BOX_N}: points only"


def add_boxes(figure: go.Figure, x: Sequence, y: Sequence, *, name: str, color: str,
              customdata=None, text=None, **trace) -> bool:
    """Add one series of box plots with every value as a point: each x category with at least
    :data:`MIN_BOX_N` values gets a box, a smaller one only its points (a box trace whose box is
    not drawn, in the same slot). True when some category was drawn as points only, for the
    figure to say so (:data:`POINTS_ONLY_NOTE`)."""
    x = pd.Series(list(x))
    small = x.map(x.value_counts()).lt(MIN_BOX_N).to_numpy()
    common = dict(boxpoints="all", jitter=0.45, pointpos=0, offsetgroup=name, legendgroup=name,
                  hoveron="points", **trace)
    for part, box in ((~small, True), (small, False)):
        if not part.any():
            continue
        figure.add_trace(go.Box(
            x=x[part].tolist(), y=pd.Series(list(y))[part].tolist(), name=escape_html(name),
            customdata=None if customdata is None else [row for row, keep in zip(customdata, part) if keep],
            text=None if text is None else [t for t, keep in zip(text, part) if keep],
            line={"color": color, "width": 2 if box else 0},
            fillcolor=None if box else "rgba(0,0,0,0)", showlegend=box, **common))
    if not (~small).any():  # no box to stand for the series in the legend: its marker does
        figure.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=escape_html(name), legendgroup=name,
                                    marker=trace.get("marker", {"color": color}), hoverinfo="skip"))
    return bool(small.any())


def label_synthetic(figure: go.Figure, text: str = SYNTHETIC_LABEL) -> go.Figure:
    """Stamp a figure computed from synthetic data, so a screenshot cannot lose the fact."""
    # Offset in pixels below the axis title, so it never overlaps whatever the figure's height; on
    # two lines (after the first colon), so that it fits a phone's width (it was cut at 390 px).
    figure.add_annotation(text=escape_html(text).replace(": ", ":<br>", 1), xref="paper", yref="paper", x=1, y=0,
                          yshift=-58, xanchor="right", align="right", yanchor="top", showarrow=False,
                          font={"size": 11, "color": "#555"})
    figure.update_layout(margin={"b": 110})
    return figure


def composition_bars(counts: pd.DataFrame, *, group: str, category: str, n: str = "n",
                     category_order: Optional[Sequence[str]] = None,
                     group_order: Optional[Sequence[str]] = None,
                     labels: Optional[dict] = None, title: Optional[str] = None,
                     x_title: str = "Patients (%)") -> go.Figure:
    """100 %-stacked horizontal bars: the make-up of each group, hover with n/N and %.

    ``counts`` is tidy: one row per (group, category) with a count column ``n``; ``x_title`` says
    what is counted (patients unless told).
    """
    labels = labels or {}
    categories = list(category_order or counts[category].drop_duplicates())
    groups = list(group_order or counts[group].drop_duplicates())
    totals = counts.groupby(group)[n].sum()
    figure = go.Figure()
    for index, cat in enumerate(categories):
        rows = counts.set_index([group, category])
        ks = [int(rows[n].get((g, cat), 0)) for g in groups]
        pct = [100 * k / totals[g] if totals[g] else 0 for k, g in zip(ks, groups)]
        figure.add_trace(go.Bar(
            y=escape_labels(groups), x=pct, orientation="h", name=escape_html(labels.get(cat, cat)),
            marker_color=OKABE_ITO[index % len(OKABE_ITO)],
            customdata=[[k, int(totals[g])] for k, g in zip(ks, groups)],
            hovertemplate="%{y}<br>" + escape_html(labels.get(cat, cat))
            + ": %{customdata[0]}/%{customdata[1]} (%{x:.1f}%)<extra></extra>",
            text=[f"{p:.0f}%" if p >= 6 else "" for p in pct], textposition="inside",
        ))
    figure.update_layout(barmode="stack", xaxis={"title": x_title, "range": [0, 100]},
                         yaxis={"autorange": "reversed"})
    return style(figure, title, height=160 + 60 * len(groups))


def proportion_bars(rates: pd.DataFrame, *, x: str, k: str = "k", n: str = "n",
                    lower: str = "lower", upper: str = "upper", color: Optional[str] = None,
                    title: Optional[str] = None, y_title: str = "Patients (%)") -> go.Figure:
    """Percentages with 95 % CI error bars; hover shows k/n and the interval."""
    figure = go.Figure()
    series: Iterable = rates.groupby(color, sort=False) if color else [(None, rates)]
    for index, (name, part) in enumerate(series):
        pct = 100 * part[k] / part[n]
        figure.add_trace(go.Bar(
            x=escape_labels(part[x]), y=pct, name=escape_html(name) if name is not None else "",
            marker_color=OKABE_ITO[index % len(OKABE_ITO)],
            error_y={"type": "data", "symmetric": False, "array": 100 * part[upper] - pct,
                     "arrayminus": pct - 100 * part[lower]},
            customdata=part[[k, n, lower, upper]].to_numpy(),
            hovertemplate="%{x}: %{customdata[0]}/%{customdata[1]} (%{y:.1f}%)<br>95% CI "
                          "%{customdata[2]:.1%}–%{customdata[3]:.1%}<extra></extra>",
        ))
    figure.update_layout(barmode="group", yaxis={"title": y_title, "range": [0, 105]},
                         showlegend=color is not None)
    return style(figure, title)
