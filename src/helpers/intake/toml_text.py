"""A small TOML writer for the mapping file: tables, keys with values, and comments.

The standard library reads TOML (``tomllib``) but does not write it; the mapping file needs
only strings, integers, booleans, lists of strings and tables, each with a comment a person
reads before editing. :func:`value` quotes a value; :class:`TomlText` collects the lines.
"""

from __future__ import annotations

import re

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def quoted(text: str) -> str:
    """A TOML basic string (backslash, quote and control characters escaped)."""
    out = []
    for ch in str(text):
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def key(name: str) -> str:
    """A key, bare when TOML allows it (letters, digits, _ and -), quoted otherwise."""
    return name if _BARE_KEY.fullmatch(name) else quoted(name)


def value(item) -> str:
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int):
        return str(item)
    if isinstance(item, float):
        return repr(item)
    if isinstance(item, str):
        return quoted(item)
    if isinstance(item, (list, tuple)):
        return "[" + ", ".join(value(x) for x in item) + "]"
    raise TypeError(f"cannot write {type(item).__name__} to TOML")


class TomlText:
    """Lines of a TOML document, written in order."""

    def __init__(self):
        self.lines: list[str] = []

    def comment(self, text: str = "") -> None:
        for line in (text.splitlines() or [""]):
            self.lines.append(f"# {line}".rstrip())

    def table(self, name: str, comment: str = "") -> None:
        if self.lines:
            self.lines.append("")
        if comment:
            self.comment(comment)
        self.lines.append("[" + ".".join(key(part) for part in name.split(".")) + "]")

    def entry(self, name: str, item, comment: str = "") -> None:
        line = f"{key(name)} = {value(item)}"
        comment = " ".join(comment.split())
        self.lines.append(f"{line}  # {comment}" if comment else line)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"
