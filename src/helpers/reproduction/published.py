"""Published numbers as printed: parsing "< 0.001" or "46.2%", and whether a value rounds to one."""

from __future__ import annotations

import math
import numbers
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import NamedTuple

import numpy as np


# --------------------------------------------------------------------------- #
# does a recomputed value reproduce a printed one?
# --------------------------------------------------------------------------- #
class PublishedNumber(NamedTuple):
    """A number as printed in a paper, parsed by :func:`parse_published`."""

    text: str           # the text as given
    relation: str       # "=", "<", ">", "<=" or ">="
    number: Decimal     # the printed number, keeping its trailing zeros: Decimal("1.000")
    decimals: int       # digits after the decimal point as printed (may be negative for 1.2e3)
    percent: bool       # a "%" sign was printed


_RELATIONS = {"<": "<", ">": ">", "=": "=", "<=": "<=", ">=": ">=", "≤": "<=", "≥": ">=", "⩽": "<=", "⩾": ">="}
_PUBLISHED_RE = re.compile(
    r"""^\s*
    (?:p(?:\s*-?\s*value)?\s*)?                       # optional "P", "p value", "p-value"
    (?P<rel><=|>=|≤|≥|⩽|⩾|<|>|=)?\s*
    (?P<sign>[+\-\u2212]?)\s*
    (?P<num>\d[\d,]*(?:\.\d*)?|\.\d+)
    (?:\s*[eE](?P<exp>[+\-\u2212]?\d+)
      |\s*[x×·\u00d7*]\s*10\s*\^?\s*(?P<exp10>[+\-\u2212]?\d+))?
    \s*(?P<pct>%)?\s*$""",
    re.IGNORECASE | re.VERBOSE,
)


def parse_published(text: str) -> PublishedNumber:
    """Parse a number as printed in a paper.

    Accepted forms (surrounding spaces ignored, case-insensitive)::

        "0.036"   ".036"   "P = 0.036"   "p-value 0.036"     relation "="
        "< 0.001" "P<.001" "≤ 0.05"     "> 0.99"            relation "<", "<=", ">"
        "61.5%"   "1,234"  "1.2e-05"    "3.4 × 10^-6"       percent, thousands, scientific
        "−0.5"    (Unicode minus)

    The printed precision is kept: ``decimals`` is the number of digits after
    the decimal point (3 for "1.000", 0 for "13", 6 for "1.2e-05"). Text that
    is not a single number -- "NS", "0,036" (decimal comma), "0.03-0.05" --
    raises ValueError rather than being guessed at.
    """
    if not isinstance(text, str):
        raise ValueError(f"published_text must be a string as printed, e.g. '0.036', got {text!r}")
    match = _PUBLISHED_RE.match(text)
    if not match:
        raise ValueError(f"cannot read a published number from {text!r}")
    num = match["num"]
    int_part = num.split(".")[0]
    if "," in int_part:
        if not re.fullmatch(r"[1-9]\d{0,2}(?:,\d{3})+", int_part):
            raise ValueError(f"cannot read a published number from {text!r}: "
                             "commas are only accepted as thousands separators (1,234)")
        num = num.replace(",", "")
    if num.endswith("."):
        num = num[:-1]
    exponent = match["exp"] or match["exp10"]
    literal = ("-" if match["sign"] in ("-", "\u2212") else "") + num
    if exponent:
        literal += "E" + exponent.replace("\u2212", "-")
    number = Decimal(literal)
    return PublishedNumber(
        text=text,
        relation=_RELATIONS[match["rel"]] if match["rel"] else "=",
        number=number,
        decimals=-number.as_tuple().exponent,
        percent=bool(match["pct"]),
    )


def _as_decimal(value, name: str = "value") -> Decimal | None:
    """Exact decimal of the shortest repr of a float (None for NaN)."""
    if isinstance(value, Decimal):
        return None if value.is_nan() else value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    if isinstance(value, numbers.Integral):
        return Decimal(int(value))
    fval = float(value)
    if math.isnan(fval):
        return None
    if math.isinf(fval):
        return Decimal("Infinity") if fval > 0 else Decimal("-Infinity")
    return Decimal(repr(fval))


def rounds_to(published_text: str, value) -> bool:
    """Does ``value`` reproduce the number printed as ``published_text``?

    Rules (this is the reproduction ledger's definition of "reproduced"):

    * ``"0.036"``: round ``value`` half-up (:data:`decimal.ROUND_HALF_UP`) to
      the printed number of decimals (3) and compare: True for values in
      [0.0355, 0.0365). Trailing zeros count: ``"1.000"`` needs value >=
      0.9995; ``"0.04"`` is checked at 2 decimals.
    * ``"< 0.001"``, ``"> 0.99"``, ``"≤ 0.05"``: the relation is applied to
      the unrounded value (``value < 0.001``), since that is what the authors
      asserted.
    * ``"61.5%"``: the ``%`` sign is only notation -- ``value`` must already be
      on the printed scale, i.e. a percent (61.538...), not a fraction (0.615).
    * ``value`` is read through its shortest repr, so the float 0.0355 counts
      as exactly 0.0355 and rounds up to 0.036 (Python's ``round(0.0355, 3)``
      says 0.035 because the binary double is slightly below 0.0355; the
      printed-paper convention is half-up on the decimal value). Ties on
      negative numbers round away from zero (-0.0355 -> -0.036).
    * NaN never reproduces anything: returns False.

    Parameters
    ----------
    published_text : str
        The number exactly as printed (see :func:`parse_published` for the
        accepted forms).
    value : float, int or Decimal
        The recomputed value, on the printed scale.

    Returns
    -------
    bool
    """
    published = parse_published(published_text)
    dec = _as_decimal(value)
    if dec is None:
        return False
    relation = published.relation
    if relation == "<":
        return bool(dec < published.number)
    if relation == "<=":
        return bool(dec <= published.number)
    if relation == ">":
        return bool(dec > published.number)
    if relation == ">=":
        return bool(dec >= published.number)
    if not dec.is_finite():
        return False
    with localcontext() as ctx:
        ctx.prec = 200
        try:
            rounded = dec.quantize(published.number, rounding=ROUND_HALF_UP)
        except InvalidOperation:  # pragma: no cover - needs > 200 significant digits
            return False
    return bool(rounded == published.number)
