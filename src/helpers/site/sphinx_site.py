"""A small Sphinx extension for the book's site (listed in ``_config.yml``).

Jupyter Book 1 always loads sphinx-thebe. The book does not use Thebe (live
code cells need a kernel server), and sphinx-thebe registers its inline
configuration script twice, which throws "THEBE_JS_URL has already been
declared" in the browser and names a CDN URL. This extension removes Thebe's
scripts and stylesheet from every page, so pages load with no error and
reference no CDN.

It also gives every page's footer a place for the build stamp, which it fills once the pages
are written with the commit, data fingerprint and package versions it wrote to
``_static/build-stamp.json`` (:mod:`helpers.site.provenance`).

Table numbers
-------------
A chapter's tables are raw HTML outputs of code cells (:func:`helpers.plots.tables.show_table`),
which Sphinx cannot number. :class:`NumberBookTables` runs while a page is read, before the
standard domain collects labels: it replaces each output holding a captioned book table by a
:class:`BookTable` node, an enumerable node of type ``table``, so that Sphinx numbers it in the
same sequence as any other table ("Table 3.1" in the numbered chapters) and registers its name
(``data-label``) as an explicit target for ``{numref}``. The HTML writer puts the table back
as it was, inside ``<div class="book-table-numbered" id="<name>">``, with Sphinx's
``<span class="caption-number">`` before the caption text. A table without a name is numbered
under an id of docutils' choosing.

Figure numbers
--------------
Figures are numbered the same way: an output holding a captioned book figure
(:func:`helpers.plots.figures.show` with a name) becomes a :class:`BookFigure`, an enumerable
node of type ``figure`` ("Figure 3.1"), inside ``<div class="book-figure-numbered" id="<name>">``.
Sphinx's own figures, if a page has any, share the sequence.
"""

from __future__ import annotations

import re

from docutils import nodes
from sphinx.transforms import SphinxTransform

from helpers.markup import split_figure_html, split_table_html


class BookTable(nodes.General, nodes.Element):
    """A book table (raw HTML cut at its caption, see :class:`helpers.markup.CaptionedParts`)."""


class BookFigure(nodes.General, nodes.Element):
    """A book figure (raw HTML cut at its caption, as a :class:`BookTable`)."""


def book_output_caption(node: nodes.Element) -> str:
    return node["caption"]


def _bundle_of(raw: nodes.raw) -> nodes.Element:
    """The node a table output stands for: myst-nb's mime bundle around it (whose other
    renderings, text/plain, are the same table), or the raw node itself."""
    container = raw.parent
    if (isinstance(container, nodes.container) and "mime_type" in container
            and container.parent is not None and container.parent.get("nb_element") == "mime_bundle"):
        return container.parent
    return raw


class NumberBookTables(SphinxTransform):
    """Turn every captioned book table and figure into a numbered :class:`BookTable` or
    :class:`BookFigure` (see the module text)."""

    # Before SphinxDomains (850), which collects the labels that {numref} resolves.
    default_priority = 700

    def apply(self, **kwargs) -> None:
        for raw in list(self.document.findall(nodes.raw)):
            if "html" not in raw.get("format", "").split():
                continue
            markup = raw.astext()
            for kind, split in ((BookTable, split_table_html), (BookFigure, split_figure_html)):
                parts = split(markup)
                if parts is not None:
                    self.number(raw, kind, parts)
                    break

    def number(self, raw: nodes.raw, kind: type, parts) -> None:
        numbered = kind("", caption=parts.caption, before=parts.before, caption_html=parts.caption_html,
                        after=parts.after)
        numbered.source, numbered.line = raw.source, raw.line
        _bundle_of(raw).replace_self(numbered)
        if parts.label:
            numbered["names"].append(nodes.fully_normalize_name(parts.label))
            self.document.note_explicit_target(numbered, numbered)
        else:
            self.document.set_id(numbered)


def _numbered_visitor(css_class: str):
    def visit(self, node: nodes.Element) -> None:
        self.body.append(self.starttag(node, "div", CLASS=css_class))
        self.body.append(node["before"])
        self.add_fignumber(node)
        self.body.append(node["caption_html"] + node["after"])
    return visit


def depart_numbered(self, node: nodes.Element) -> None:
    self.body.append("</div>\n")


def _is_thebe(asset) -> bool:
    filename = str(getattr(asset, "filename", "") or asset)
    body = str(getattr(asset, "attributes", {}).get("body", ""))
    return "thebe" in filename.lower() or "THEBE" in body


def drop_thebe(app, pagename, templatename, context, doctree) -> None:
    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [asset for asset in context[key] if not _is_thebe(asset)]


#: Pygments' spans for names, punctuation and operators: 4,081 spans, 93 KB of the survival page's
#: 492 KB (which has to stay under 400 KB). The theme's styles (light and dark) give names and
#: punctuation the colour of the code block itself, so they look the same unwrapped; operators
#: lose their green and take the text colour. Keywords, strings, numbers and comments keep theirs.
_PLAIN_TOKEN = re.compile(r'<span class="[npo]">([^<]*)</span>')
#: Pygments splits one string into spans of its parts (an f-string's prefix, text and braces; a
#: string continued on the next line): all of them have the string colour in both of the theme's
#: styles, so a run of them, whitespace between included, is one ``s`` span. 9.5 KB of the survival
#: page.
_STRING_SPAN = r'<span class="(?:s|s1|s2|sa|sd|se|si)">[^<]*</span>'
_STRING_RUN = re.compile(f"{_STRING_SPAN}(?:\\s*{_STRING_SPAN})+")


def _one_string_span(run: re.Match) -> str:
    return '<span class="s">' + re.sub(r"</?span[^>]*>", "", run.group(0)) + "</span>"


def unwrap_plain_tokens(app, pagename, templatename, context, doctree) -> None:
    """Drop the highlighting spans of :data:`_PLAIN_TOKEN` from a page and join each run of string
    spans (:data:`_STRING_RUN`); the code's text and every character's colour are unchanged."""
    if "body" in context:
        context["body"] = _STRING_RUN.sub(_one_string_span, _PLAIN_TOKEN.sub(r"\1", context["body"]))


def add_build_stamp(app, config) -> None:
    """The footer's place for the build stamp (:data:`helpers.site.provenance.PAGE_STAMP`), the
    same whatever the stamp says: the build writes the stamp into every page after Sphinx
    (:func:`write_build_stamp`). Were the stamp itself in the theme's options,
    a new stamp (the first edit after a commit adds "+local changes") would change the options
    and make Sphinx write all 17 pages again, where the edited one takes a second."""
    from helpers.site.provenance import PAGE_STAMP, read_stamp

    if not read_stamp(app.srcdir):
        return
    options = dict(config.html_theme_options or {})
    options["extra_footer"] = options.get("extra_footer", "") + PAGE_STAMP
    config.html_theme_options = options


def write_build_stamp(app, exception) -> None:
    """After a build that succeeded, by the runner or the preview alike: the stamp into every
    page's footer (see :func:`add_build_stamp`)."""
    from pathlib import Path

    from helpers.site.provenance import read_stamp, stamp_pages

    line = read_stamp(app.srcdir).get("line")
    if exception is None and line:
        stamp_pages(Path(app.outdir), line)


def tag_data_origin(app, config) -> None:
    """Sphinx tag ``synthetic_data`` for the book's own synthetic cohorts, ``own_data`` for a
    build whose data hold a user's rows, so a page can say which it is (``{only}`` blocks)."""
    from helpers.site.provenance import read_stamp, synthetic_only

    app.tags.add("synthetic_data" if synthetic_only(read_stamp(app.srcdir)) else "own_data")


def absent_table_reference(app, env, node, contnode):
    """A reference to a table (or figure) of a seed study that this build's data lack (a reader's
    own cohort) reads "a table not shown in this build" instead of failing the strict build. With
    every seed study present, an unknown label stays an error."""
    from docutils import nodes

    target = str(node.get("reftarget", ""))
    kinds = {"tbl-": "table", "fig-": "figure"}
    kind = next((word for prefix, word in kinds.items() if target.startswith(prefix)), None)
    if node.get("reftype") != "numref" or kind is None:
        return None
    from helpers.site.provenance import read_stamp

    if read_stamp(app.srcdir).get("all_seed_studies", True):
        return None
    return nodes.inline("", f"a {kind} not shown in this build (its study is not in the data)",
                        classes=["absent-table-reference"])


def figure_number_format(app, config) -> None:
    """Number figures "Figure 3.1" (Sphinx says "Fig."), as tables are "Table 3.1"."""
    config.numfig_format = {"figure": "Figure %s", **(config.numfig_format or {})}


def setup(app):
    app.add_enumerable_node(BookTable, "table", book_output_caption,
                            html=(_numbered_visitor("book-table-numbered"), depart_numbered))
    app.add_enumerable_node(BookFigure, "figure", book_output_caption,
                            html=(_numbered_visitor("book-figure-numbered"), depart_numbered))
    app.connect("config-inited", figure_number_format)
    app.add_transform(NumberBookTables)
    app.connect("html-page-context", drop_thebe, priority=900)
    app.connect("html-page-context", unwrap_plain_tokens)
    app.connect("config-inited", add_build_stamp)
    app.connect("build-finished", write_build_stamp)
    app.connect("config-inited", tag_data_origin)
    app.connect("missing-reference", absent_table_reference)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
