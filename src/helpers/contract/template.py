"""The intake template: header-only files and a README a group fills in with its own cohort."""

from __future__ import annotations

from pathlib import Path

pass


# --------------------------------------------------------------------------
# The template folder
# --------------------------------------------------------------------------

TEMPLATE_README = """# Template: your cohort in the book's data contract

Copy this folder, rename it after your study (not `000`, `001`, `003` or `004`, the studies
the book reproduces), fill one row per patient or observation into each file, and run from the
repository root:

```bash
.venv/bin/python -m helpers.site.intake /path/to/my-study --check-only      # validate only
.venv/bin/python -m helpers.site.intake /path/to/my-study --out /path/to/output
```

The book is then in `/path/to/output/_build/html/index.html`; the intake report
(`intake-report.md`, `intake-problems.csv`) is next to it.

Each file here holds the header row only. `patients.csv` and `outcomes.csv` are required; the
other tables are optional: delete a file you have no data for, and the chapters that need it show
"No data for this analysis" instead. Excel workbooks (`<table>.xlsx`, first sheet or a sheet named
after the table) are read as well. Column by column, with types, units, allowed values and ranges:
`data_dictionary.csv` in this folder (the same as `data/data_dictionary.csv`, and the *Data
dictionary* page of the book); the intake ignores it, and this README, when it reads the folder.

## The rules in short

- **Days, not dates.** Every time is a number of days from the CAR-T infusion (day 0; negative
  before it). A calendar date anywhere in a table is refused. To have the months of infusion
  shown (aggregated), add `infusion_dates.csv` (`study_id,patient_id,infusion_date`, dates as
  `YYYY-MM-DD`) and pass `--absolute-dates`; no day is ever shown.
- **No direct identifiers.** `patient_id` is a pseudonymous study code (not a record number);
  columns named like names, record numbers, birth dates, addresses, phone numbers or e-mail
  addresses are refused, and so are cells that look like one.
- `origin` is `user` for your own rows.
- **Covariates of your own** (centre, donor age, CMV serostatus...) are extra columns of
  `patients.csv`, each declared by one row of `covariates.csv`: `study_id`, `column` (its name,
  lower_snake_case), `label`, `type` (`number`, `category` or `yes_no`), `levels` (a category's
  values separated by `;`, the reference first), `unit` and `per` (numbers only). An undeclared
  extra column is refused; delete `covariates.csv` when you have none.
{rules}
Every problem is reported with its file, column, row and rule; nothing is changed or dropped
silently (stray spaces are stripped and reported; empty rows are skipped and reported).
"""


def template_files() -> dict[str, str]:
    """File name -> text of the template folder (``data/template``): one header-only CSV per
    contract table and the README, generated from the contract."""
    from helpers.contract.data_dictionary import dictionary
    from helpers.contract.spec import TABLES
    from helpers.contract.validate import CROSS_TABLE_RULES

    files = {f"{name}.csv": ",".join(table.column_names) + "\n" for name, table in TABLES.items()}
    rules = "".join(f"- {rule}\n" for rule in CROSS_TABLE_RULES)
    files["README.md"] = TEMPLATE_README.replace("{rules}", rules)
    files["data_dictionary.csv"] = dictionary().to_csv(index=False, lineterminator="\n")
    return files


def write_template(folder: str | Path) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in template_files().items():
        with open(folder / name, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
    return folder
