"""The shared set-up step of every chapter.

A chapter's first code cell (after its ``parameters`` cell) is::

    book = chapter.setup("baselines", data_dir, seed, ledger_dir, register_csv)
    book.banner()

which loads and validates the cohorts, opens the chapter's reproduction
ledger, and shows the reader the parameters and the provenance of the data.

Absent data are a normal case, not an error: a reader may run the book on a
folder with one study, one cohort, or without laboratory data. A section that
needs something absent starts with::

    if book.require("000", ["responses"], analysis="Response by cohort, study 000"):
        ...

which shows a "No data for this analysis" note (saying what is missing) and
returns False. Patients left out of an analysis are counted and shown with
:class:`PatientFlow`, a CONSORT-style flow.
"""

from __future__ import annotations

import os
import shlex
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from helpers.chapters import outputs
from helpers.contract import validate as contract
from helpers.contract.files import cohort_folders
from helpers.contract.validate import MissingData
from helpers.escape import escape_html
from helpers.paths import ABSOLUTE_DATES_ENV, NOTEBOOKS_DIR, REGISTER_CSV, REPO_ROOT, SYNTHETIC_DIR
from helpers.reproduction.ledger import Ledger


def say(text: str):
    """A computed sentence for the chapter text (numbers come from the data, not typed)."""

    return HTMLBlock(f"<p class='computed-text'>{escape_html(text)}</p>", text)


class HTMLBlock:
    def __init__(self, markup: str, text: str):
        self.markup, self.text = markup, text

    def _repr_html_(self) -> str:
        return self.markup

    def __repr__(self) -> str:
        return self.text


@dataclass
class ChapterContext:
    name: str
    data_dir: Path
    seed: int
    ledger: Ledger
    parameters: dict
    _cohorts: dict = field(default_factory=dict)
    absent: list = field(default_factory=list)  # analyses shown as "no data" (see require)

    @property
    def studies(self) -> list[str]:
        return list(cohort_folders(self.data_dir))

    def cohort(self, study: str) -> dict[str, pd.DataFrame]:
        """The validated tables of one study (cached).

        Raises :class:`MissingData` (a ``KeyError``) when the data folder holds no such
        study; ``cohort(study)[table]`` raises it too for an absent optional table.
        Use :meth:`require` first in a section that may lack its data.
        """
        if study not in self._cohorts:
            folders = cohort_folders(self.data_dir)
            if study not in folders:
                raise MissingData(f"no data for study {study!r}: the data folder {self.data_dir.name!r} "
                                  f"holds {', '.join(sorted(folders)) or 'no study'}")
            self._cohorts[study] = contract.load_cohort(folders[study])
        return self._cohorts[study]

    def has_table(self, study: str, table: str) -> bool:
        return study in self.studies and table in self.cohort(study)

    # ---------------------------------------------------- absent data --

    @property
    def reproduced_studies(self) -> list[str]:
        """Studies in the data folder whose published numbers the book reproduces."""
        published = set(register_studies(self.ledger.register_csv))
        return [s for s in self.studies if s in published]

    @property
    def other_studies(self) -> list[str]:
        """Studies in the data folder that the book does not reproduce: a reader's own cohorts
        (or the synthetic registry). Each chapter analyses them in its section "Other cohorts
        in the data folder"."""
        published = set(register_studies(self.ledger.register_csv))
        return [s for s in self.studies if s not in published]

    def register_ids(self, *prefixes: str, exclude: Sequence[str] = ()) -> list[str]:
        """Register ids starting with any of ``prefixes`` (except ``exclude``): the published
        numbers a section reproduces, to pass to :meth:`require`."""
        from helpers.reproduction import register

        ids = register.load_register(self.ledger.register_csv)["register_id"].astype(str)
        return [i for i in ids if i.startswith(tuple(prefixes)) and i not in set(exclude)]

    def missing(self, study: str, tables: Sequence[str] = ("patients",), *, min_cohorts: int = 1,
                min_patients: int = 1) -> list[str]:
        """What an analysis of ``study`` needing ``tables`` lacks, in words (empty: nothing)."""
        if study not in self.studies:
            held = ", ".join(self.studies) or "no study"
            return [f"study {study} is not in the data folder '{self.data_dir.name}' (it holds: {held})"]
        cohort = self.cohort(study)
        lacking = []
        for table in tables:
            if table not in cohort:
                lacking.append(f"the {table} table of study {study} is absent (no {table}.csv or "
                               f"{table}.xlsx, or a file without data rows)")
            elif len(cohort[table]) == 0:
                lacking.append(f"the {table} table of study {study} has no rows")
        patients = cohort["patients"]
        if len(patients) < min_patients:
            lacking.append(f"it needs at least {min_patients} patients; study {study} has {len(patients)}")
        labels = sorted(patients["cohort"].dropna().unique())
        if len(labels) < min_cohorts:
            lacking.append(f"it compares cohorts and needs at least {min_cohorts}; study {study} has "
                           f"{len(labels)} ({', '.join(labels) or 'none'})")
        return lacking

    def require(self, study: str, tables: Sequence[str] = ("patients",), *, analysis: str,
                min_cohorts: int = 1, min_patients: int = 1,
                register_ids: Sequence[str] = ()) -> bool:
        """True when ``study`` and its ``tables`` (non-empty) are there; otherwise show a
        "No data for this analysis" note saying what is missing, and return False.

        ``min_cohorts=2`` asks for two cohort labels (a between-cohort comparison);
        ``register_ids`` are published numbers the section would reproduce: when the
        data are absent they go into the ledger as not reproducible, with the reason.
        """
        lacking = self.missing(study, tables, min_cohorts=min_cohorts, min_patients=min_patients)
        if not lacking:
            return True
        reason = "; ".join(lacking)
        for register_id in register_ids:
            self.ledger.not_reproducible(register_id, note=f"no data in this run: {reason}")
        self.absent.append({"analysis": analysis, "study": study, "why": reason})
        display(no_data_note(analysis, lacking))
        return False

    def notice(self, text: str, title: str = "Not computable") -> "HTMLBlock":
        """A visible note for an analysis that runs but must leave something out
        (e.g. "log-rank test not computable: one group")."""
        return HTMLBlock(f"<div class='admonition warning book-notice'><p class='admonition-title'>"
                         f"{escape_html(title)}</p><p>{escape_html(text)}</p></div>", f"{title}: {text}")

    # ----------------------------------------------------- calendar dates --

    @property
    def absolute_dates(self) -> bool:
        """Whether the data owner switched calendar dates on (``python -m helpers.site.intake
        --absolute-dates``, which sets ``CART_BOOK_ABSOLUTE_DATES=1``). Off by default: the
        book counts days from the infusion and shows no calendar date."""
        return absolute_dates_enabled()

    def infusion_months(self, study: str) -> Optional[pd.DataFrame]:
        """Month of infusion per patient (``YYYY-MM``) from the study's optional
        ``infusion_dates.csv`` — only when absolute dates are switched on, else None.

        Only the month ever leaves this function: a full date is a quasi-identifier.
        """
        if not self.absolute_dates or study not in self.studies:
            return None
        path = cohort_folders(self.data_dir)[study] / INFUSION_DATES_FILE
        if not path.exists():
            return None
        return read_infusion_months(path, self.cohort(study)["patients"])

    def provenance(self, study: str) -> Optional[pd.DataFrame]:
        path = cohort_folders(self.data_dir)[study] / "provenance.csv"
        return pd.read_csv(path, keep_default_na=False) if path.exists() else None

    def rng(self) -> np.random.Generator:
        """The chapter's random generator, seeded by the ``seed`` parameter."""
        return np.random.default_rng(self.seed)

    def banner(self) -> HTMLBlock:
        """Parameters and data provenance, shown at the top of every chapter."""
        rows = []
        for study in self.studies:
            patients = self.cohort(study)["patients"]
            origins = patients["origin"].value_counts().to_dict()
            tables = ", ".join(sorted(self.cohort(study)))
            rows.append((study, len(patients), ", ".join(f"{k}: {v}" for k, v in sorted(origins.items())),
                         tables))
        params = "".join(f"<tr><td><code>{escape_html(k)}</code></td><td><code>"
                         f"{escape_html(shown_path(v) if k in PATH_PARAMETERS else v)}</code></td></tr>"
                         for k, v in self.parameters.items())
        data = "".join(f"<tr><td>{escape_html(s)}</td><td>{n}</td><td>{escape_html(o)}</td>"
                       f"<td>{escape_html(t)}</td></tr>" for s, n, o, t in rows)
        synthetic = all("synthetic" in o or "published" in o for _, _, o, _ in rows) and rows
        warning = ("<p><strong>Synthetic data.</strong> The patients below were generated by this book "
                   "to reproduce published aggregates; they are not real patients. Numbers marked "
                   "<em>published</em> come from the papers; numbers computed here are "
                   "<em>recomputed</em> (from published counts) or <em>synthetic</em>.</p>") if synthetic else ""
        rerun, inside = rerun_command(self.name, self.data_dir, self.seed)
        elsewhere = ("" if inside else
                     f"<p>The data folder is outside the repository: replace <code>{RERUN_PLACEHOLDER}</code> "
                     f"with the path of the folder that holds <code>{escape_html(shown_path(self.data_dir))}"
                     "</code> on your machine. No page shows where the data live, because folder names often "
                     "name a person or a machine.</p>")
        rerun_box = ("<p><strong>Re-run this chapter</strong> from the repository root, after "
                     "<code>make book</code> has set up <code>.venv</code>. The chapter runs in "
                     "<code>notebooks/</code> (<code>--cwd notebooks</code>), so <code>data_dir</code> is "
                     f"relative to that folder:</p><pre class='rerun-command'>{escape_html(rerun)}</pre>"
                     + elsewhere)
        markup = (
            "<div class='admonition note chapter-banner'><p class='admonition-title'>"
            "Parameters and data provenance</p>" + warning +
            # Each table in the book's scroll box: on a phone it scrolls inside the banner, not past it.
            "<div class='book-table-wrap'><table class='book-table'><tr><th>Parameter</th><th>Value</th></tr>"
            + params + "</table></div><div class='book-table-wrap'><table class='book-table'><tr><th>Study</th>"
            "<th>Patients</th><th>Row origin</th><th>Tables present</th></tr>" + data + "</table></div>"
            + rerun_box + "</div>"
        )
        text = f"chapter {self.name}: " + "; ".join(f"{s}: {n} patients ({o})" for s, n, o, _ in rows)
        return HTMLBlock(markup, text)


INFUSION_DATES_FILE = "infusion_dates.csv"

# Parameters that are paths: the banner shows them by :func:`shown_path`, never as given.
PATH_PARAMETERS = ("data_dir", "ledger_dir", "register_csv")
# Where the printed re-run command writes its executed copy (inside _build/, which git ignores:
# never notebooks/ or book/, whose twins jupytext keeps in step).
RERUN_FOLDER = "_build/rerun"
# Stands in the re-run command for the folders around a data folder outside the repository.
RERUN_PLACEHOLDER = "PATH/TO"


def shown_path(path) -> str:
    """``path`` as a page may show it. Inside the repository it is written relative to the
    repository root (``data/synthetic``); outside, only its last component is shown. The folders
    around the data often name a person or a machine, so a page never shows an absolute path.
    Relative paths are read from the working folder, as the chapter reads them."""
    if path is None or str(path) == "None":
        return "None"
    resolved, root = Path(path).resolve(), REPO_ROOT.resolve()
    if resolved.is_relative_to(root):
        return resolved.relative_to(root).as_posix() or "."
    return resolved.name


def rerun_command(name: str, data_dir, seed: int) -> tuple[str, bool]:
    """The shell command that re-runs chapter ``name`` on ``data_dir``, and whether that folder
    is inside the repository.

    The command is meant to be run from the repository root. papermill reads the input and
    output paths from there, and the chapter runs in ``notebooks/`` (``--cwd notebooks``) like
    the build runs it. So ``data_dir`` is given relative to ``notebooks/``; without
    ``--cwd notebooks`` a path like ``../data/synthetic`` fails (issue 16). ``-r`` passes it as
    a string as written. A folder outside the repository is shown as
    ``PATH/TO/<its name>`` (see :func:`shown_path`)."""
    resolved, root = Path(data_dir).resolve(), REPO_ROOT.resolve()
    inside = resolved.is_relative_to(root)
    as_seen = (Path(os.path.relpath(resolved, NOTEBOOKS_DIR.resolve())).as_posix() if inside
               else f"{RERUN_PLACEHOLDER}/{resolved.name}")
    output = f"{RERUN_FOLDER}/{name}.ipynb"
    command = (f"mkdir -p {RERUN_FOLDER} && .venv/bin/papermill {shlex.quote(f'notebooks/{name}.ipynb')} "
               f"{shlex.quote(output)} --cwd notebooks -r data_dir {shlex.quote(as_seen)} -p seed {int(seed)}")
    return command, inside


def absolute_dates_enabled() -> bool:
    return os.environ.get(ABSOLUTE_DATES_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def read_infusion_months(path: Path, patients: pd.DataFrame) -> pd.DataFrame:
    """``infusion_dates.csv`` (study_id, patient_id, infusion_date as YYYY-MM-DD) reduced to
    the month of infusion. Every problem is named with file, column and row; the file is read
    like a contract table (a link, another encoding or a 0-byte file is a problem, not a crash)."""
    from helpers.contract import files as input_files

    path = Path(path)
    required = ("study_id", "patient_id", "infusion_date")
    problems: list[dict] = []
    read = input_files.read_csv_table(path, "infusion_dates", [], problems, columns=required)
    if read is None or problems:
        raise contract.ContractError(problems, where=path.name)
    header, records, _ = read
    names = [str(h).replace("\ufeff", "").strip() for h in header]
    for column in required:
        if column not in names:
            problems.append(dict(source=path.name, table="infusion_dates", column=column, row=None,
                                 rule="is required but missing: the file has no such column", value=None))
    if problems:
        raise contract.ContractError(problems, where=path.name)
    rows = [row for row, cells in enumerate(records, start=1) if any(c.strip() for c in cells)]  # file rows
    frame = pd.DataFrame([dict(zip(names, records[row - 1])) for row in rows], columns=names, dtype=str)
    known = set(zip(patients["study_id"], patients["patient_id"]))
    dates = pd.to_datetime(frame["infusion_date"].str.strip(), format="%Y-%m-%d", errors="coerce")
    for row, study, patient, date in zip(rows, frame["study_id"], frame["patient_id"], dates):
        if pd.isna(date):
            problems.append(dict(source=path.name, table="infusion_dates", column="infusion_date", row=row,
                                 rule="must be a date written YYYY-MM-DD", value=None))
        if (study, patient) not in known:
            problems.append(dict(source=path.name, table="infusion_dates", column="patient_id", row=row,
                                 rule="patient is not in patients.csv", value=None))
    duplicated = frame.duplicated(["study_id", "patient_id"], keep=False).to_numpy()
    for row, twice in zip(rows, duplicated):
        if twice:
            problems.append(dict(source=path.name, table="infusion_dates", column="patient_id", row=row,
                                 rule="patient has more than one infusion date", value=None))
    from helpers.contract.plausibility import infusion_date_problems

    for problem in infusion_date_problems(frame, path.name):  # a date after today
        problems.append(problem | {"row": rows[problem["row"] - 1]})  # data row -> file row
    if problems:
        raise contract.ContractError(problems, where=path.name)
    return pd.DataFrame({"study_id": frame["study_id"], "patient_id": frame["patient_id"],
                         "infusion_month": dates.dt.strftime("%Y-%m")})


def register_studies(register_csv) -> list[str]:
    from helpers.reproduction import register

    try:
        return sorted(register.load_register(register_csv)["study"].astype(str).unique())
    except FileNotFoundError:
        return []


def display(block) -> None:
    """Show ``block`` in a notebook, or print its text outside one."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython is a dependency of the book
        get_ipython = None
    if get_ipython is None or get_ipython() is None:
        print(getattr(block, "text", None) or repr(block))
    else:
        display(block)


def no_data_note(analysis: str, lacking: Sequence[str]) -> HTMLBlock:
    """The "No data for this analysis" note: what was to be shown and what is missing."""
    items = "".join(f"<li>{escape_html(x)}</li>" for x in lacking)
    markup = (f"<div class='admonition note no-data'><p class='admonition-title'>No data for this analysis"
              f"</p><p><strong>{escape_html(analysis)}</strong> is not shown: {'this is' if len(lacking) == 1 else 'these are'} "
              f"missing from the data this book was run on:</p><ul>{items}</ul>"
              "<p>Nothing was computed from partial data; the rest of the chapter continues.</p></div>")
    return HTMLBlock(markup, f"No data for this analysis: {analysis}: " + "; ".join(lacking))


class PatientFlow:
    """A CONSORT-style flow of patients through an analysis: nothing left out uncounted.

    >>> flow = PatientFlow("Patients in patients.csv", 120)
    >>> flow.exclude({"no response assessment": 3}, "Evaluable for response")
    >>> flow.remaining
    117

    Each step removes counted patients for stated reasons and names what is left.
    ``frame`` is the flow as a table; ``_repr_html_`` draws boxes and arrows with
    CSS only. ``check(n)`` raises when an analysis used a number of patients
    other than what the flow says is left (the flow then does not describe it).
    """

    def __init__(self, start_label: str, n: int, title: str = "Patient flow"):
        self.title = title
        self.steps: list[dict] = [{"label": start_label, "n": int(n), "excluded": {}}]

    @property
    def remaining(self) -> int:
        return self.steps[-1]["n"]

    def exclude(self, reasons: dict, label: str) -> "PatientFlow":
        reasons = {str(k): int(v) for k, v in reasons.items() if int(v) != 0}
        if any(v < 0 for v in reasons.values()):
            raise ValueError(f"negative exclusion count in {reasons}")
        left = self.remaining - sum(reasons.values())
        if left < 0:
            raise ValueError(f"the flow excludes {sum(reasons.values())} of {self.remaining} patients")
        self.steps.append({"label": label, "n": left, "excluded": reasons})
        return self

    def check(self, n: int) -> None:
        if int(n) != self.remaining:
            raise ValueError(f"{self.title}: the analysis uses {n} patients but the flow leaves "
                             f"{self.remaining}; a patient was dropped without being counted")

    @property
    def frame(self) -> pd.DataFrame:
        rows = []
        for i, step in enumerate(self.steps):
            for reason, k in step["excluded"].items():
                rows.append({"step": i, "stage": step["label"], "excluded": reason, "patients": -k})
            rows.append({"step": i, "stage": step["label"], "excluded": "", "patients": step["n"]})
        return pd.DataFrame(rows, columns=["step", "stage", "excluded", "patients"])

    def _repr_html_(self) -> str:
        parts = [f"<div class='patient-flow' role='figure' aria-label='{escape_html(self.title)}'>"
                 f"<p class='patient-flow-title'>{escape_html(self.title)}</p>"]
        for i, step in enumerate(self.steps):
            if i:
                side = "".join(f"<li>{escape_html(r)}: {k:,}</li>" for r, k in step["excluded"].items())
                parts.append("<div class='flow-arrow' aria-hidden='true'>↓</div>" if not side else
                             "<div class='flow-exclude'><span class='flow-arrow' aria-hidden='true'>↓</span>"
                             f"<div class='flow-box flow-excluded'><strong>Excluded "
                             f"{sum(step['excluded'].values()):,}</strong><ul>{side}</ul></div></div>")
            parts.append(f"<div class='flow-box'>{escape_html(step['label'])}<br><strong>n = "
                         f"{step['n']:,}</strong></div>")
        return "".join(parts) + "</div>"

    def __repr__(self) -> str:
        lines = [self.title]
        for step in self.steps:
            for reason, k in step["excluded"].items():
                lines.append(f"   excluded: {reason}: {k}")
            lines.append(f"{step['label']}: n = {step['n']}")
        return "\n".join(lines)


def warning_without_path(message, category, filename, lineno, line=None) -> str:
    """A warning as a chapter prints it: the warning and the package that raised it, never the
    file's absolute path (which names the folders of whoever built the site)."""
    parts = Path(str(filename)).parts
    where = parts[parts.index("site-packages") + 1] if "site-packages" in parts[:-1] else Path(str(filename)).name
    return f"{category.__name__} ({where}): {message}\n"


def show_warning_without_path(message, category, filename, lineno, file=None, line=None) -> None:
    import sys

    (file or sys.stderr).write(warning_without_path(message, category, filename, lineno))


def setup(name: str, data_dir: str | Path = SYNTHETIC_DIR, seed: int = 20240101,
          ledger_dir: Optional[str | Path] = None, register_csv: str | Path = REGISTER_CSV) -> ChapterContext:
    """Load the data, open the ledger and remember the parameters of one chapter."""
    warnings.formatwarning = warning_without_path
    warnings.showwarning = show_warning_without_path  # IPython prints warnings its own way otherwise
    data_dir = Path(data_dir)
    parameters = {"data_dir": str(data_dir), "seed": seed, "ledger_dir": str(ledger_dir),
                  "register_csv": str(register_csv)}
    context = ChapterContext(name, data_dir, seed, Ledger(name, ledger_dir, register_csv, data_dir), parameters)
    outputs.configure(name, ledger_dir)
    for study in context.studies:
        context.cohort(study)  # validate everything up front: bad data stop the chapter here
    return context
