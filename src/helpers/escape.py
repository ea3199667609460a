"""Output safety in one place: escaping for every value that reaches a page, and formula
neutralising for every CSV the site offers for download.

HTML and figure text
--------------------
:func:`escape_html` is the only escaping function the renderers use (chapter banners, notes and
computed sentences in :mod:`helpers.chapters.context`; table captions, notes and links in
:mod:`helpers.plots.tables`; figure titles, legend names, category labels and hover text in
:mod:`helpers.plots.figures`). Table cells and headers are escaped by pandas
(``DataFrame.to_html(escape=True)``).

Plotly.js draws titles, legend names, tick labels, annotations and hover labels from a
limited HTML (``<b>``, ``<br>``, ``<a href>``...). It builds SVG text nodes and does not parse the
markup as HTML, so ``<img onerror=...>`` in a label does not run there. Escaping is still needed
so that a label is shown exactly as written. It also protects us if plotly changes how it
renders labels. Plotly decodes ``&amp; &lt; &gt;`` and numeric entities but not ``&quot;``, so
:func:`escape_html` writes ``"`` as ``&#34;``. That is equally valid HTML, and a quote in a
cohort label then shows as ``"`` in a figure rather than as ``&quot;``.

CSV downloads
-------------
A spreadsheet runs a cell that begins with ``=``, ``+``, ``-`` or ``@`` (and, in some, one that
begins with a tab or a carriage return) as a formula, for example ``=HYPERLINK(...)`` or a DDE
payload (OWASP, "CSV Injection"). :func:`neutralise_formulas` (for a DataFrame) and
:func:`neutralise_csv_text` (for a CSV already written) put a single quote before such a
cell, which makes it text. There is one exception: a number is left as it is. Cells of numeric
columns are never touched. A text cell is left alone when it is a plain decimal number
(``-0.25``, ``-1e-3``, ``+3``). A sign followed by digits cannot start a formula call, and
changing it would corrupt the value. Anything else that begins with a sign gets the quote,
e.g. ``+1+2``, ``-cmd``, ``-inf``, ``-1,000`` and ``-0.6 (-9.5 to +25.3)``: the reader then sees a
leading ``'`` in that cell. Header cells are neutralised like data cells.

A cell that holds a carriage return is also quoted. Python's CSV writer, with the ``"\n"`` line
ending the downloads use, leaves a bare ``"\r"`` unquoted, and every reader then splits the row
there. That would shift the cells that follow into the wrong columns.
"""

from __future__ import annotations

import csv
import html
import io
import re
from typing import TYPE_CHECKING, Iterable, Sequence

if TYPE_CHECKING:  # pandas is imported by whoever has a frame: the Sphinx extension escapes text only
    import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# A plain decimal number with an optional sign and exponent: left as it is in a CSV.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def escape_html(value: object) -> str:
    """``value`` as text for HTML element content, for a quoted attribute value, and for
    plotly's label markup. ``&``, ``<``, ``>``, ``"`` and ``'`` are written as entities."""
    return html.escape(str(value), quote=True).replace("&quot;", "&#34;")


def escape_labels(values: Iterable) -> list:
    """Category labels for a plotly axis, bar or legend: text is escaped and numbers are
    left as numbers, so a numeric axis stays numeric."""
    return [escape_html(v) if isinstance(v, str) else v for v in values]


def neutralise_cell(value: object) -> object:
    """``value`` with a leading ``'`` if it is text that a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def _neutralise_label(label: object) -> object:
    if isinstance(label, tuple):  # a MultiIndex label: each level is a header cell
        return tuple(neutralise_cell(part) for part in label)
    return neutralise_cell(label)


def _neutralise_index(index: pd.Index) -> pd.Index:
    renamed = index.map(_neutralise_label)
    renamed.names = [neutralise_cell(n) for n in index.names]
    return renamed


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` to write as a CSV download. Text cells, column names and index
    labels that would run as formulas get a leading quote. Numeric columns are not changed."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    out = frame.copy()
    for position in range(out.shape[1]):
        column = out.iloc[:, position]
        if is_numeric_dtype(column) or is_bool_dtype(column):
            continue
        out.isetitem(position, column.astype(object).map(neutralise_cell))
    out.columns = _neutralise_index(out.columns)
    out.index = _neutralise_index(out.index)
    return out


def _csv_lines(rows: Iterable[Sequence]) -> str:
    """CSV text with ``"\n"`` line endings, quoting a cell that holds ``"\r"`` or ``"\n"``.
    Each row is written with a ``"\r\n"`` terminator, so the writer quotes both characters,
    and that terminator is then replaced by ``"\n"``."""
    lines = []
    for row in rows:
        buffer = io.StringIO(newline="")
        csv.writer(buffer, lineterminator="\r\n").writerow(row)
        lines.append(buffer.getvalue()[:-2] + "\n")
    return "".join(lines)


def frame_to_csv(frame: pd.DataFrame, index: bool = False) -> str:
    """The CSV download of ``frame``, neutralised as described in the module text. Values are
    formatted by pandas, as ``DataFrame.to_csv`` does."""
    written = neutralise_formulas(frame).to_csv(index=index, lineterminator="\r\n")
    return _csv_lines(csv.reader(io.StringIO(written, newline="")))


def neutralise_csv_text(text: str) -> str:
    """The CSV ``text`` with every formula-leading cell neutralised (see the module text). A file
    that needs no change comes back unchanged, byte for byte."""
    rows = list(csv.reader(io.StringIO(text, newline="")))
    fixed = [[neutralise_cell(cell) for cell in row] for row in rows]
    return text if fixed == rows else _csv_lines(fixed)


def neutralise_csv_bytes(data: bytes) -> bytes:
    """:func:`neutralise_csv_text` for a UTF-8 CSV file's bytes (the site's downloads)."""
    text = data.decode("utf-8")
    fixed = neutralise_csv_text(text)
    return data if fixed is text else fixed.encode("utf-8")
