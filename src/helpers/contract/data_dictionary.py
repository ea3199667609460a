"""The data dictionary: the contract as a table and as Markdown, generated from the spec."""

from __future__ import annotations

from typing import Any

import pandas as pd

from helpers.contract.spec import TABLES, Column
from helpers.contract.validate import (
    _TYPE_WORDS,
    CROSS_TABLE_RULES,
    MISSING_TEXT,
    REQUIRED_TABLES,
    _fmt_num,
)

# --------------------------------------------------------------------------
# Data dictionary
# --------------------------------------------------------------------------

DICTIONARY_COLUMNS = ("table", "column", "type", "unit", "required", "nullable", "key",
                      "allowed", "range", "pattern", "description")


def _range_text(col: Column) -> str:
    if col.minimum is not None and col.maximum is not None:
        return f"{_fmt_num(col.minimum)} to {_fmt_num(col.maximum)}"
    if col.minimum is not None:
        return f"≥ {_fmt_num(col.minimum)}"
    if col.maximum is not None:
        return f"≤ {_fmt_num(col.maximum)}"
    return ""


def dictionary() -> pd.DataFrame:
    """The data dictionary: one row per contract column, generated from the spec."""
    rows = []
    for table in TABLES.values():
        for col in table.columns:
            allowed = ", ".join(map(str, col.allowed)) if col.allowed is not None else ""
            if col.dtype == "bool":
                allowed = "true, false (also written TRUE/FALSE, 1/0, yes/no)"
            rows.append(dict(
                table=table.name, column=col.name, type=_TYPE_WORDS[col.dtype], unit=col.unit or "",
                required=col.required, nullable=col.nullable, key=col.name in table.key,
                allowed=allowed, range=_range_text(col), pattern=col.pattern or "",
                description=col.description,
            ))
    return pd.DataFrame(rows, columns=list(DICTIONARY_COLUMNS))


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def dictionary_markdown(heading_level: int = 2) -> str:
    """The data dictionary as MyST markdown: one section and table per contract table."""
    h = "#" * heading_level
    d = dictionary()
    out = [
        "Every table is tidy: one row per patient (`patients`, `outcomes`) or one row per "
        "observation, keyed by `study_id` + `patient_id`. Days are counted from the CAR-T infusion "
        "(day 0; negative = before). Empty cells (or " + ", ".join(f"`{m}`" for m in MISSING_TEXT if m)
        + ") are missing values. Columns marked *optional* may be left out of the file.",
        "",
    ]
    for table in TABLES.values():
        out += [f"{h} `{table.name}`", "", table.description, "",
                f"Key (unique together): {', '.join(f'`{k}`' for k in table.key)}."
                + (" One row per patient." if table.one_row_per_patient else "")
                + (" Required table." if table.name in REQUIRED_TABLES else " Optional table."), ""]
        out.append("| Column | Type | Unit | Present | Empty allowed | Allowed values / range / pattern "
                   "| Description |")
        out.append("|---|---|---|---|---|---|---|")
        for r in d[d["table"] == table.name].to_dict("records"):
            rules = [x for x in (r["allowed"], r["range"]) if x]
            if r["pattern"]:
                rules.append(f"pattern `{r['pattern']}`")
            out.append("| " + " | ".join(_md(x) for x in (
                f"`{r['column']}`", r["type"], r["unit"], "required" if r["required"] else "optional",
                "yes" if r["nullable"] else "no", "; ".join(rules), r["description"])) + " |")
        out.append("")
        if table.per_analyte_units:
            out += ["Units per analyte:", "", "| Analyte | Unit |", "|---|---|"]
            out += [f"| {_md(a)} | {_md(' or '.join(u))} |" for a, u in table.per_analyte_units.items()]
            out.append("")
    out += [f"{h} Rules across columns and tables", ""]
    out += [f"- {rule}" for rule in CROSS_TABLE_RULES]
    out.append("")
    return "\n".join(out)
