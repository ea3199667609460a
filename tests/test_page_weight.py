"""No page of the site weighs more than 400 KB (issue 18), measured on the session build; the
registry benchmark checks the same at 10,000-100,000 patients. And the lightening that helps
(sphinx_site.unwrap_plain_tokens) changes no character of the code a reader sees."""

from __future__ import annotations

import html
import re

import pytest
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from helpers.paths import BUILD_DIR
from helpers.site import sphinx_site

PAGE_LIMIT_BYTES = 400 * 1024


@pytest.mark.build
def test_no_page_is_heavier_than_400_kb(built):
    pages = {path.relative_to(BUILD_DIR / "html").as_posix(): path.stat().st_size
             for path in (BUILD_DIR / "html").rglob("*.html")}
    assert len(pages) > 10
    assert {page: size for page, size in pages.items() if size > PAGE_LIMIT_BYTES} == {}


def _text(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def test_unwrapping_plain_tokens_keeps_the_code_and_its_keyword_string_and_comment_colours():
    code = 'frame = pd.read_csv("a.csv")  # the cohort\nfit = cox_model(frame, ties="efron", alpha=0.05)\n'
    markup, body = _unwrapped(code)
    assert _text(markup).strip() == code.strip()
    assert '<span class="n">' in markup and '<span class="n">' not in body
    assert len(body) < 0.75 * len(markup)


STRING_CLASSES = {"s", "s1", "s2", "sa", "sd", "se", "si"}  # one colour in the theme's light and dark styles
PLAIN_CLASSES = {"n", "p", "o", ""}  # the code block's own colour (operators lose their green)


def _colours(markup: str) -> list[tuple[str, str]]:
    """(character, colour family) of every visible non-space character of highlighted code."""
    out = []
    for match in re.finditer(r'<span class="([^"]*)">([^<]*)</span>|([^<]+)', markup):
        cls, text = (match.group(1), match.group(2)) if match.group(1) is not None else ("", match.group(3))
        family = "string" if cls in STRING_CLASSES else "plain" if cls in PLAIN_CLASSES else cls
        out += [(c, family) for c in html.unescape(text) if not c.isspace()]
    return out


def _unwrapped(code: str) -> tuple[str, str]:
    """(highlighted code, the same after unwrap_plain_tokens), asserting no character's text or colour moved."""
    markup = highlight(code, PythonLexer(), HtmlFormatter())
    context = {"body": markup}
    sphinx_site.unwrap_plain_tokens(None, "page", "page.html", context, None)
    assert _text(context["body"]) == _text(markup)
    assert _colours(context["body"]) == _colours(markup), "a character changed colour"
    return markup, context["body"]


def test_a_string_split_by_the_highlighter_becomes_one_span_of_the_same_colour():
    code = 'note = (f"{n} patients "\n        "and a second line")\n'
    markup, body = _unwrapped(code)
    assert len(re.findall(r'<span class="s[12ai]?">', markup)) >= 5
    assert re.findall(r'<span class="s[12ai]?">', body) == ['<span class="s">'] * 2  # around {n}
