"""Time units: the book's month is 365.25 / 12 days, everywhere."""

from __future__ import annotations

DAYS_PER_MONTH = 365.25 / 12
