"""Numbers in words for the chapters' computed sentences."""

from __future__ import annotations

import numpy as np

_ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
         "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")


def in_words(n: int) -> str:
    """A count from 0 to 999 in English words, as papers print them at the start of a
    sentence ("One hundred and twenty-six")."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 <= n <= 999:
        raise ValueError(f"in_words handles whole numbers 0-999, got {n!r}")
    n = int(n)
    hundreds, rest = divmod(n, 100)
    tens, ones = divmod(rest, 10)
    below = _ONES[rest] if rest < 20 else _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")
    if hundreds == 0:
        words = below
    else:
        words = f"{_ONES[hundreds]} hundred" + (f" and {below}" if rest else "")
    return words[0].upper() + words[1:]
