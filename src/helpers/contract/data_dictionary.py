"""The data dictionary: the contract as a table and as Markdown, generated from the spec."""

from __future__ import annotations

from typing import Any

import pandas as pd

from helpers.contract.spec import PLAUSIBILITY_RULES, RESPONSE_MAPPING, TABLES, Column
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

#: How a declared covariate is read, shown under the covariates table.
COVARIATES_TEXT = (
    "A column of `patients.csv` the contract does not define is refused unless a row here declares it. "
    "Once declared it must be present in `patients.csv`; its empty cells are missing values. A `number` "
    "is read as a number, a `category` must hold one of its `levels` (as written), and a `yes_no` is "
    "read like the contract's true/false columns. Table 1 shows the declared covariates after the "
    "contract's characteristics, labelled with `label`; the regression models of the reader's-cohort "
    "sections offer them after the built-in terms: a number per `per` units, a yes/no as yes against "
    "no, a category as one indicator per level against the first level, all of them or none.")

DICTIONARY_COLUMNS = ("table", "column", "type", "unit", "required", "nullable", "key",
                      "allowed", "range", "pattern", "plausibility", "description")
PLAUSIBILITY_COLUMNS = ("rule", "severity", "tables", "columns", "reads", "summary", "message")


def _range_text(col: Column) -> str:
    if col.minimum is not None and col.maximum is not None:
        return f"{_fmt_num(col.minimum)} to {_fmt_num(col.maximum)}"
    if col.minimum is not None:
        return f"≥ {_fmt_num(col.minimum)}"
    if col.maximum is not None:
        return f"≤ {_fmt_num(col.maximum)}"
    return ""


def _plausibility_text(table: str, column: str) -> str:
    """The plausibility rules reported on one contract column: ``id (severity)``, ``; ``-joined."""
    return "; ".join(f"{r.id} ({r.severity})" for r in PLAUSIBILITY_RULES
                     if table in r.tables and column in r.columns
                     and column in TABLES[table].column_names)


def plausibility_rules() -> pd.DataFrame:
    """The plausibility rules (spec.PLAUSIBILITY_RULES), one row each: id, severity, the tables and
    columns they report on, the other tables they read, the rule in plain words and the message
    template."""
    return pd.DataFrame([dict(rule=r.id, severity=r.severity, tables=", ".join(r.tables),
                              columns=", ".join(r.columns), reads=", ".join(r.reads), summary=r.summary,
                              message=r.message)
                         for r in PLAUSIBILITY_RULES], columns=list(PLAUSIBILITY_COLUMNS))


def response_mapping() -> pd.DataFrame:
    """How each disease's response criteria are written in ``responses.morphologic``
    (spec.RESPONSE_MAPPING), one row per category: criteria, their category, contract value."""
    return pd.DataFrame([dict(criteria=criteria, category=theirs, morphologic=ours)
                         for criteria, pairs in RESPONSE_MAPPING.items() for theirs, ours in pairs],
                        columns=["criteria", "category", "morphologic"])


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
                plausibility=_plausibility_text(table.name, col.name), description=col.description,
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
        "observation, keyed by `study_id` + `patient_id`; `covariates` declares a centre's own columns of "
        "`patients`, one row per column. Days are counted from the CAR-T infusion "
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
            if r["plausibility"]:
                rules.append(f"plausibility: {r['plausibility']}")
            out.append("| " + " | ".join(_md(x) for x in (
                f"`{r['column']}`", r["type"], r["unit"], "required" if r["required"] else "optional",
                "yes" if r["nullable"] else "no", "; ".join(rules), r["description"])) + " |")
        out.append("")
        if table.name == "covariates":
            out += [COVARIATES_TEXT, ""]
        if table.per_analyte_units:
            out += ["Units per analyte:", "", "| Analyte | Unit |", "|---|---|"]
            out += [f"| {_md(a)} | {_md(' or '.join(u))} |" for a, u in table.per_analyte_units.items()]
            out.append("")
    out += [f"{h} Response criteria", "",
            "`responses.morphologic` holds one vocabulary for every disease; each disease's criteria are "
            "written in it as follows (CR and CRi are remission; PR, SD, PD and NR are evaluable without "
            "remission).", "",
            "| Criteria | Their category | `morphologic` |", "|---|---|---|"]
    out += [f"| {_md(r['criteria'])} | {_md(r['category'])} | `{r['morphologic']}` |"
            for r in response_mapping().to_dict("records")]
    out.append("")
    out += [f"{h} Rules across columns and tables", ""]
    out += [f"- {rule}" for rule in CROSS_TABLE_RULES]
    out.append("")
    out += [f"{h} Plausibility rules", "",
            "Values each column accepts that cannot be true together (*error*: the cohort is refused, "
            "naming file, column, row and rule) or hardly at all (*warning*: the cohort is read and the "
            "warning is printed).", "",
            "| Rule | Severity | Reported on | Also reads | Rule in words |", "|---|---|---|---|---|"]
    out += ["| " + " | ".join(_md(x) for x in (
        r["rule"], r["severity"], "; ".join(f"{t}.{c}" for t in r["tables"].split(", ") for c in r["columns"].split(", ")),
        r["reads"], r["summary"]))
            + " |" for r in plausibility_rules().to_dict("records")]
    out.append("")
    return "\n".join(out)
