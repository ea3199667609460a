"""How a captioned table or figure's HTML marks its caption, written by the renderers
(:mod:`helpers.plots.tables`, :mod:`helpers.plots.figures`) and read back by the Sphinx extension
(:mod:`helpers.site.sphinx_site`), which puts the number between.

Here, below ``plots``, because the extension runs in every Sphinx build: importing it from
``plots``, whose package imports every renderer, cost each build 1.8 s of imports."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Optional

TABLE_CAPTION_OPEN = "<p class='book-table-caption'><strong>"
FIGURE_CAPTION_OPEN = "<p class='book-figure-caption'><strong>"
CAPTION_CLOSE = "</strong></p>"


def _marked(kind: str, caption_open: str) -> re.Pattern:
    return re.compile(rf"<div class='book-{kind}-wrap'(?: data-label='(?P<label>[^']*)')?>"
                      + re.escape(caption_open) + r"(?P<caption>[^<]*)" + re.escape(CAPTION_CLOSE))


_MARKED_TABLE = _marked("table", TABLE_CAPTION_OPEN)
_MARKED_FIGURE = _marked("figure", FIGURE_CAPTION_OPEN)


@dataclass(frozen=True)
class CaptionedParts:
    """A captioned table's (or figure's) HTML cut at its caption text: ``before`` +
    ``caption_html`` + ``after`` is the whole; ``label`` is its name (None when it has none),
    ``caption`` the caption as plain text."""
    label: Optional[str]
    caption: str
    before: str
    caption_html: str
    after: str


def split_marked(markup: str, marked: re.Pattern) -> Optional[CaptionedParts]:
    """The parts of ``markup`` when it starts as ``marked`` does (a pattern with the groups
    ``label`` and ``caption``), else None."""
    markup = markup.strip()
    found = marked.match(markup)
    if found is None:
        return None
    label = html.unescape(found["label"]) if found["label"] is not None else None
    return CaptionedParts(label, html.unescape(found["caption"]), markup[:found.start("caption")],
                          found["caption"], markup[found.end("caption"):])


def split_table_html(markup: str) -> Optional[CaptionedParts]:
    """The parts of a captioned table written by ``helpers.plots.tables.TableHTML`` (None for any other HTML)."""
    return split_marked(markup, _MARKED_TABLE)


def split_figure_html(markup: str) -> Optional[CaptionedParts]:
    """The parts of a captioned figure written by ``helpers.plots.figures.FigureHTML`` (None for any other HTML)."""
    return split_marked(markup, _MARKED_FIGURE)
