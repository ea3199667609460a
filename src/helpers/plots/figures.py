"""Interactive figures for the book: plotly, offline, colour-blind safe.

Every figure is shown through :func:`show`, which emits the figure as HTML
*without* plotly.js: the site loads one shared copy of ``plotly.min.js`` from
its static files (no CDN, no 4.8 MB per page). Figures drawn from synthetic
data carry a visible label saying so (:func:`label_synthetic`).

Text that comes from data (cohort and category labels, titles naming a study) is escaped with
:func:`helpers.plots.escape.escape_html` before plotly sees it: plotly.js reads labels as limited
HTML, and a label must show as written.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Iterable, Optional, Sequence

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from helpers.plots.escape import escape_html, escape_labels

# Okabe & Ito (2008) palette: distinguishable with the common colour-vision deficiencies.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
SYNTHETIC_LABEL = "Synthetic cohort: generated to match published aggregates, not patient data"
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
    """A plotly figure that renders as an HTML div relying on the site's shared plotly.js."""

    def __init__(self, figure: go.Figure):
        self.figure = figure

    @property
    def div_id(self) -> str:
        return _figure_id(pio.to_json(compact_template(self.figure), validate=False))

    def _repr_html_(self) -> str:
        compact = compact_template(self.figure)
        spec = pio.to_json(compact, validate=False)  # once: it names the figure and is what the exporter draws
        div_id = _figure_id(spec)
        markup = trim_floats(pio.to_html(compact, include_plotlyjs=False, full_html=False, div_id=div_id,
                                         config=PLOTLY_CONFIG, validate=False))
        folder, href = _EXPORTS["folder"], _EXPORTS["href"]
        if folder is not None:  # written whole, then renamed: the exporter never reads half a spec
            partial = folder / f".{div_id}.partial"
            partial.write_text(trim_floats(spec), encoding="utf-8")
            partial.replace(folder / f"{div_id}.json")
        if href:
            markup += (f"<p class='figure-export'>Static copy for slides and papers: "
                       f"<a href='{escape_html(f'{href}{div_id}.svg')}' download>SVG</a> · "
                       f"<a href='{escape_html(f'{href}{div_id}.png')}' download>PNG</a></p>")
        return markup

    def __repr__(self) -> str:
        title = self.figure.layout.title.text or "plotly figure"
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
    return spec


def _figure_id(spec: str) -> str:
    """A figure's div id: a hash of its JSON, so stable across runs and new when it changes."""
    return "fig-" + hashlib.sha1(spec.encode()).hexdigest()[:12]


_LONG_FLOAT = re.compile(r"(?<![\w.#])-?\d+\.\d{7,}(?:[eE][-+]?\d+)?")


def trim_floats(markup: str, digits: int = 6) -> str:
    """Print long floats of a figure's JSON with ``digits`` significant digits.

    Pages carry every plotted number; 17-digit floats nearly double their weight and no reader
    can see past the 6th digit on a screen or in hover text.
    """
    return _LONG_FLOAT.sub(lambda m: format(float(m.group(0)), f".{digits}g"), markup)


def show(figure: go.Figure) -> FigureHTML:
    """Display a figure in a chapter (the last expression of a cell)."""
    return FigureHTML(figure)


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


def label_synthetic(figure: go.Figure, text: str = SYNTHETIC_LABEL) -> go.Figure:
    """Stamp a figure computed from synthetic data, so a screenshot cannot lose the fact."""
    # Offset in pixels below the axis title, so it never overlaps whatever the figure's height.
    figure.add_annotation(text=escape_html(text), xref="paper", yref="paper", x=1, y=0, yshift=-58, xanchor="right",
                          yanchor="top", showarrow=False, font={"size": 11, "color": "#555"})
    figure.update_layout(margin={"b": 95})
    return figure


def composition_bars(counts: pd.DataFrame, *, group: str, category: str, n: str = "n",
                     category_order: Optional[Sequence[str]] = None,
                     group_order: Optional[Sequence[str]] = None,
                     labels: Optional[dict] = None, title: Optional[str] = None) -> go.Figure:
    """100 %-stacked horizontal bars: the make-up of each group, hover with n/N and %.

    ``counts`` is tidy: one row per (group, category) with a count column ``n``.
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
    figure.update_layout(barmode="stack", xaxis={"title": "Patients (%)", "range": [0, 100]},
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
