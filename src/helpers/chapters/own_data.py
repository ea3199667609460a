"""Analyses of cohorts the book does not reproduce: a reader's own data, or the registry.

Every chapter reproduces published studies (000, 001, 003, 004) in its first
sections. Its last analysis section, "Other cohorts in the data folder", runs
the chapter's core analysis on every *other* study of the data folder -- a
hematology group's own cohort read by ``python -m helpers.site.intake``, the worked
example in ``data/examples/single-centre`` or the 10,000-patient synthetic
registry (:mod:`helpers.synthetic.registry`). The functions here do that, one per
chapter, with the chapter helpers' own definitions (``response.classify``,
``toxicity.worst_grades``, ``cytokines.peaks`` ...), so a reader's cohort is
analysed exactly like the published ones.

Rules they follow:

* **Nothing dropped uncounted.** Each analysis starts with a CONSORT-style
  :class:`helpers.chapters.context.PatientFlow` from the patients table to the patients
  analysed, every exclusion counted with its reason, and the flow is checked
  against the number actually analysed.
* **Absent data are a note, not an error.** A study without the table an
  analysis needs gets the "No data for this analysis" note
  (:meth:`helpers.chapters.context.ChapterContext.require`).
* **Visible degradation.** With one cohort, comparisons between cohorts are not
  computable and a note says so; everything else is shown for the one cohort.
* **Figures aggregate.** Nothing is drawn one line per patient: distributions,
  medians with interquartile ranges and stacked bars stay readable with 10,000
  patients.
* **Provenance.** A figure is stamped "synthetic" only when every patient of
  the study is synthetic; a reader's own rows (``origin = user``) are not.
"""

from __future__ import annotations

import functools
from typing import Optional, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from helpers.chapters import baselines as baselines_chapter
from helpers.chapters import response as response_chapter
from helpers.chapters.context import ChapterContext, PatientFlow, display, no_data_note
from helpers.clinical import cytokines, toxicity
from helpers.clinical import response as resp
from helpers.contract.spec import Covariate
from helpers.contract.validate import declared_covariates
from helpers.escape import escape_html
from helpers.plots import cytokines as plots_cytokines
from helpers.plots import figures, tables
from helpers.plots import response as plots_response
from helpers.plots import toxicity as plots_toxicity
from helpers.stats.proportions import chisq_test, proportion_table

TABLE_ONE_COLUMNS = {
    "age_years": "Age, years", "sex": "Sex", "diagnosis": "Diagnosis", "disease_status": "Disease status",
    "marrow_blasts_pct": "Marrow blasts, %", "abl_kd_mutation": "ABL1 KD mutation",
    "prior_lines": "Prior lines of therapy", "extramedullary_disease": "Extramedullary disease",
    "high_risk_genetics": "High-risk genetics", "tregs_high": "High regulatory T cells",
    "car_target": "CAR target", "car_dose_cells_per_kg": "CAR-T dose, cells/kg",
    "bridged_to_hsct": "Bridged to allo-HSCT",
}
NUMERIC_COLUMNS = ("age_years", "marrow_blasts_pct", "prior_lines", "car_dose_cells_per_kg")


def show(*items) -> None:
    for item in items:
        display(item)


def studies(book: ChapterContext, analysis: str) -> list[str]:
    """The studies this section analyses (those the book does not reproduce); when there are
    none, a note says that the section describes a reader's own cohort."""
    others = book.other_studies
    if not others:
        show(no_data_note(analysis, [
            f"a cohort other than the studies this book reproduces: the data folder "
            f"'{book.data_dir.name}' holds only {', '.join(book.studies) or 'no study'}. Run the book on "
            "your own cohort (python -m helpers.site.intake <folder> --out <folder>) and this section "
            "analyses it"]))
    return others


def cohort_order(patients: pd.DataFrame) -> list[str]:
    """Cohorts from the largest to the smallest (ties alphabetical)."""
    counts = patients["cohort"].value_counts()
    return sorted(counts.index, key=lambda c: (-counts[c], c))


def rows_origin(patients: pd.DataFrame) -> str:
    """Where a study's rows come from, as a table's ``data_origin`` says it: "synthetic" when any
    patient row is invented (a number computed from it is not patient data), "published" when
    every row is transcribed, else "user" (a centre's own patients)."""
    origins = set(patients["origin"].astype(str)) if "origin" in patients else set()
    if "synthetic" in origins:
        return "synthetic"
    return "published" if origins == {"published"} else "user"


def study_section(section):
    """A section on one study (``section(book, study, ...)``): every table it shows without an
    origin of its own says where the study's rows come from (:func:`rows_origin`)."""
    @functools.wraps(section)
    def on_the_rows_of(book: ChapterContext, study: str, *args, **kwargs):
        try:
            origin = rows_origin(book.cohort(study)["patients"])
        except KeyError:  # no such study: the section says so itself, with no table
            origin = None
        with tables.rows_from(origin):
            return section(book, study, *args, **kwargs)
    return on_the_rows_of


def is_synthetic(patients: pd.DataFrame) -> bool:
    return bool(len(patients)) and bool((patients["origin"] == "synthetic").all())


SYNTHETIC_OWN_LABEL = "Synthetic cohort: invented patients, calibrated to no paper; not patient data"


def stamp(figure: go.Figure, patients: pd.DataFrame) -> go.Figure:
    """Stamp a figure drawn from a wholly synthetic study (the registry, the worked example);
    a reader's own rows (origin ``user``) are not stamped."""
    return figures.label_synthetic(figure, SYNTHETIC_OWN_LABEL) if is_synthetic(patients) else figure


#: Time zero of the contract's days unless a study declares another (``patients.time_origin``).
DEFAULT_TIME_ORIGIN = "CAR-T infusion"


def time_origin(patients: pd.DataFrame) -> str:
    """The study's time zero as axes and labels name it: its ``time_origin`` (one per study) or
    the CAR-T infusion."""
    if "time_origin" not in patients.columns:
        return DEFAULT_TIME_ORIGIN
    declared = patients["time_origin"].dropna().unique()
    return str(declared[0]) if len(declared) else DEFAULT_TIME_ORIGIN


def _one_cohort_note(book: ChapterContext, study: str, patients: pd.DataFrame, what: str):
    label = patients["cohort"].iloc[0] if len(patients) else "none"
    return book.notice(f"{what} not computable for study {study}: it has one cohort ({label}). "
                       "The cohort is described on its own; no test between cohorts is shown.",
                       title="One cohort")


def _ci_text(k: int, n: int) -> tuple[str, str]:
    if not n:
        return "no patient", ""
    ci = proportion_table(k, n).iloc[0]
    return f"{k}/{n} ({100 * k / n:.1f}%)", f"{100 * ci['cp_lower']:.1f}–{100 * ci['cp_upper']:.1f}%"


def between_cohorts_test(counts: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """Chi-square test (no continuity correction) of k/n across two or more cohorts,
    one row; with two cohorts Fisher's exact P is given too."""
    from helpers.stats.proportions import fisher_exact

    counts = counts[counts["n"] > 0]  # a cohort with no known outcome (e.g. no MRD measured) is not compared
    table = np.column_stack([counts["k"], counts["n"] - counts["k"]])
    row = {"Outcome": outcome, "Cohorts": len(counts)}
    if len(counts) < 2:
        row.update({"Test": "not computable", "P": "fewer than two cohorts with a known outcome"})
        return pd.DataFrame([row])
    if (table.sum(axis=0) == 0).any():
        row.update({"Test": "not computable", "P": "every patient in the same outcome category"})
        return pd.DataFrame([row])
    chi = chisq_test(table, correct=False).iloc[0]
    row.update({"Test": f"Pearson chi-square, {int(chi['df'])} df", "Statistic": f"{chi['statistic']:.2f}",
                "P": f"{chi['p_value']:.4f}" if chi["p_value"] >= 0.0001 else "< 0.0001"})
    if len(counts) == 2:
        p = fisher_exact(table)
        row["Fisher's exact P"] = f"{p:.4f}" if p >= 0.0001 else "< 0.0001"
    return pd.DataFrame([row])


# --------------------------------------------------------------------------
# Baselines
# --------------------------------------------------------------------------

@study_section
def baselines(book: ChapterContext, study: str) -> None:
    """Patient flow, Table 1 by cohort, and (with calendar dates on) infusions per quarter."""
    cohort = book.cohort(study)
    patients = cohort["patients"]
    order = cohort_order(patients)
    flow = PatientFlow(f"Patients in {cohort.files.get('patients', 'patients.csv')}", len(patients),
                       title=f"Study {study}: patients described")
    flow.exclude({}, "Described in Table 1 (every patient; missing values are counted per row)")
    flow.check(len(patients))
    counts = patients["cohort"].value_counts().reindex(order).rename_axis("Cohort").reset_index(name="Patients")
    show(flow, tables.show_table(counts, caption=f"Study {study}: patients per cohort"))

    table, empty = baselines_chapter.cohort_table_one(patients, TABLE_ONE_COLUMNS, NUMERIC_COLUMNS)
    note = ("n (%) for categories ('not recorded' counts the patients without a value); median [Q1,Q3] "
            "for numbers; 'Missing' counts empty number cells. ")
    note += (f"Not recorded for any patient, so left out: {', '.join(empty)}. " if empty else "")
    declared = declared_covariates(patients)
    note += (f"After the contract's characteristics, the {len(declared)} covariate(s) the study declares in "
             f"covariates.csv ({', '.join(c.label for c in declared)}), a category's levels in their declared "
             "order. " if declared else "")
    note += ("P values: chi-square (Fisher's exact for small 2×2 tables) and Kruskal–Wallis; SMD: "
             "standardized mean difference." if len(order) > 1 else "")
    show(tables.show_table(table, caption=f"Table 1 — study {study}"
                           + (" by cohort" if len(order) > 1 else f" ({order[0]})"), note=note))
    if len(order) < 2:
        show(_one_cohort_note(book, study, patients, "Comparison of baseline characteristics"))
    figure = baselines_chapter.disease_status_figure(patients, order, f"Study {study}: disease status before CAR-T")
    if figure is not None:  # no chart when no patient has a recorded status
        show(figures.show(stamp(figure, patients)))
    months = book.infusion_months(study)
    if months is not None:
        show(*infusion_calendar(study, months, patients))


def infusion_calendar(study: str, months: pd.DataFrame, patients: pd.DataFrame) -> list:
    """Infusions per calendar quarter and cohort (calendar dates switched on): months only,
    aggregated -- never a patient's date."""
    frame = months.merge(patients[["patient_id", "cohort"]], on="patient_id", how="right")
    unknown = int(frame["infusion_month"].isna().sum())
    frame = frame.dropna(subset=["infusion_month"])
    period = pd.PeriodIndex(frame["infusion_month"], freq="M").asfreq("Q")
    frame = frame.assign(quarter=period.astype(str))
    counts = frame.groupby(["quarter", "cohort"]).size().rename("n").reset_index()
    figure = go.Figure()
    for index, (name, part) in enumerate(counts.groupby("cohort", sort=True)):
        figure.add_trace(go.Bar(x=part["quarter"], y=part["n"], name=str(name),
                                marker_color=figures.OKABE_ITO[index % len(figures.OKABE_ITO)],
                                hovertemplate=f"{escape_html(str(name))}<br>%{{x}}: %{{y}} infusions<extra></extra>"))
    figure.update_layout(barmode="stack", xaxis={"title": "Quarter of infusion"},
                         yaxis={"title": "Patients infused"})
    figures.style(figure, f"Study {study}: CAR-T infusions per quarter (calendar dates switched on)")
    per_year = (frame.assign(year=frame["infusion_month"].str[:4]).groupby(["year", "cohort"]).size()
                .unstack(fill_value=0).reset_index())
    note = ("Calendar dates were switched on by the data owner; the book shows months of infusion only, "
            "aggregated. " + (f"{unknown} patient(s) without an infusion date are not counted." if unknown else ""))
    return [figures.show(stamp(figure, patients)),
            tables.show_table(per_year, caption=f"Study {study}: infusions per year", note=note)]


# --------------------------------------------------------------------------
# Response
# --------------------------------------------------------------------------

@study_section
def response(book: ChapterContext, study: str) -> Optional[pd.DataFrame]:
    """Flow to the evaluable patients, remission and MRD-negative CR by cohort with exact CIs,
    best response, and a test between cohorts when there are two or more."""
    if not book.require(study, ["responses"], analysis=f"Response, study {study}"):
        return None
    cohort = book.cohort(study)
    patients = cohort["patients"]
    order = cohort_order(patients)
    classified = resp.classify(patients, cohort["responses"])
    reasons = classified.loc[~classified["evaluable"], "not_evaluable_reason"].map(
        lambda r: "assessment not evaluable" if r.startswith("assessment not evaluable") else r)
    flow = PatientFlow(f"Patients in {cohort.files.get('patients', 'patients.csv')}", len(patients),
                       title=f"Study {study}: patients in the response analysis")
    flow.exclude(reasons.value_counts().to_dict(), "Evaluable for response")
    flow.check(int(classified["evaluable"].sum()))
    show(flow)

    rates = pd.concat([
        resp.rates(classified, "remission", ["cohort"], label="Remission (CR/CRi)"),
        resp.rates(classified.assign(cohort="all cohorts"), "remission", ["cohort"], label="Remission (CR/CRi)"),
        resp.rates(classified, "mrd_negative_cr", ["cohort"], label="MRD-negative CR"),
        resp.rates(classified.assign(cohort="all cohorts"), "mrd_negative_cr", ["cohort"], label="MRD-negative CR"),
    ], ignore_index=True)
    if len(order) < 2:
        rates = rates[rates["cohort"] != "all cohorts"]
    display_rates = response_chapter.rate_display(rates, ["cohort"]).drop(columns="Published").rename(
        columns={"cohort": "Cohort", "Book (synthetic)": "This data" + (" (synthetic)" if is_synthetic(patients)
                                                                        else "")})
    show(tables.show_table(display_rates, caption=f"Study {study}: remission and MRD-negative CR, "
                                                  "with exact and Wilson 95% CIs",
                           note="Among evaluable patients; 'Not evaluable' are the patients of the group "
                                "left out of n (see the flow). MRD-negative CR: n counts the patients whose "
                                "status is known (MRD assessed in CR/CRi, or not in CR/CRi); 'MRD not "
                                "assessed' are the patients in CR/CRi without an MRD result, left out of n "
                                "(every evaluable patient when no MRD was measured in the cohort)."))
    plotted = rates[rates["cohort"] != "all cohorts"]
    plotted = plotted.assign(_o=plotted["cohort"].map({c: i for i, c in enumerate(order)})).sort_values(
        ["_o"], kind="mergesort").drop(columns="_o")
    figure = plots_response.rate_figure(plotted, x="outcome", color="cohort",
                              title=f"Study {study}: remission and MRD-negative CR by cohort (exact 95% CI)")
    show(figures.show(stamp(figure, patients)))
    best = classified.groupby(["cohort", "best_response"]).size().rename("n").reset_index()
    figure = figures.composition_bars(best, group="cohort", category="best_response",
                                      category_order=[c for c in resp.BEST_RESPONSE_ORDER
                                                      if c in set(best["best_response"])], group_order=order,
                                      title=f"Study {study}: best response by cohort")
    figure.update_layout(margin={"t": 150}, height=figure.layout.height + 60)  # six categories: room for the legend
    show(figures.show(stamp(figure, patients)))
    if len(order) < 2:
        show(_one_cohort_note(book, study, patients, "Comparison of response between cohorts"))
    else:
        tests = []
        for flag, label in (("remission", "Remission (CR/CRi)"), ("mrd_negative_cr", "MRD-negative CR")):
            counts = rates[(rates["outcome"] == label) & (rates["cohort"] != "all cohorts")]
            tests.append(between_cohorts_test(counts, label))
        show(tables.show_table(pd.concat(tests, ignore_index=True),
                               caption=f"Study {study}: is the rate the same in every cohort?",
                               note="Evaluable patients only. The chi-square test compares all cohorts at once; "
                                    "with two cohorts Fisher's exact test is given as well."))
    from helpers.chapters import own_models  # imported here: own_models builds on this module

    own_models.response_models(book, study, classified)
    return classified


# --------------------------------------------------------------------------
# Toxicity
# --------------------------------------------------------------------------

@study_section
def toxicity_section(book: ChapterContext, study: str) -> None:
    """Flow to the graded patients; worst CRS and ICANS grade by cohort; rates of any and
    grade ≥3 events with exact CIs; the adverse-event table of the two largest cohorts;
    onset and duration as distributions (never one line per patient)."""
    if not book.require(study, ["adverse_events"], analysis=f"Toxicity, study {study}"):
        return
    cohort = book.cohort(study)
    patients, ae = cohort["patients"], cohort["adverse_events"]
    order = cohort_order(patients)
    graded, excluded = toxicity.graded_population(ae, patients)
    flow = PatientFlow(f"Patients in {cohort.files.get('patients', 'patients.csv')}", len(patients),
                       title=f"Study {study}: patients in the toxicity analysis")
    flow.exclude(excluded["reason"].value_counts().to_dict(), "Graded for adverse events")
    flow.check(len(graded))
    show(flow)
    rows = []
    for syndrome in ("CRS", "ICANS"):
        if syndrome not in set(ae["category"]):
            show(book.notice(f"No {syndrome} rows in the adverse_events table of study {study}: its grade "
                             "distribution is not shown.", title=f"No {syndrome} data"))
            continue
        grades = toxicity.worst_grades(ae, graded, category=syndrome)
        distribution = toxicity.grade_distribution(grades, order=[c for c in order if c in set(grades["cohort"])])
        figure = plots_toxicity.grade_bars(distribution, syndrome=syndrome,
                                     title=f"Study {study}: worst {syndrome} grade per patient")
        show(figures.show(stamp(figure, patients)))
        for name in [c for c in order if c in set(grades["cohort"])] + (["all cohorts"] if len(order) > 1 else []):
            part = grades if name == "all cohorts" else grades[grades["cohort"] == name]
            any_text, any_ci = _ci_text(int((part["grade"] >= 1).sum()), len(part))
            severe_text, severe_ci = _ci_text(int((part["grade"] >= 3).sum()), len(part))
            rows.append({"Syndrome": syndrome, "Cohort": name, "Any grade": any_text, "95% CI": any_ci,
                         "Grade ≥3": severe_text, "95% CI (grade ≥3)": severe_ci})
    if rows:
        show(tables.show_table(pd.DataFrame(rows), caption=f"Study {study}: CRS and ICANS among graded patients",
                               note="Exact (Clopper–Pearson) 95% confidence intervals."))
    if len(order) < 2:
        show(_one_cohort_note(book, study, patients, "Adverse-event comparison between cohorts"))
    else:
        pair = [c for c in order if c in set(graded["cohort"])][:2]
        table = toxicity.adverse_event_table(ae, patients, groups=pair)
        note = (f"n (%) of graded patients by worst grade; difference {pair[0]} minus {pair[1]} in percentage "
                "points with Newcombe's hybrid score 95% CI; Fisher's exact P, not adjusted for multiple "
                "comparisons.")
        if len(order) > 2:
            note += f" The table compares the two largest cohorts; {', '.join(order[2:])} are in the bars above."
        show(tables.show_table(plots_toxicity.format_event_table(table),
                               caption=f"Study {study}: adverse events, {pair[0]} vs {pair[1]}", note=note))
    if "CRS" in set(ae["category"]):
        episodes = toxicity.onset_duration(ae, patients, category="CRS")
        if len(episodes):
            show(tables.show_table(toxicity.onset_summary(episodes, order=[c for c in order
                                                                          if c in set(episodes["cohort"])]),
                                   caption=f"Study {study}: onset and duration of CRS",
                                   note=f"Onset is counted in days since {time_origin(patients)}."))
            show(figures.show(stamp(distribution_figure(
                episodes, ["onset_day", "duration_days"], [f"Day of onset (since {time_origin(patients)})",
                                                           "Duration, days"],
                order=[c for c in order if c in set(episodes["cohort"])],
                title=f"Study {study}: CRS onset and duration (distribution per cohort)"), patients)))


BOX_VALUES_LIMIT = 1000


def box_numbers(values: pd.Series) -> dict:
    """A box plot's five numbers: quartiles by linear interpolation (numpy's default), whiskers
    to the most extreme values within 1.5 IQR of the box (Tukey's rule, as plotly draws them)."""
    v = np.asarray(values, dtype=float)
    q1, median, q3 = np.percentile(v, [25, 50, 75])
    reach = 1.5 * (q3 - q1)
    return {"q1": [q1], "median": [median], "q3": [q3], "lowerfence": [v[v >= q1 - reach].min()],
            "upperfence": [v[v <= q3 + reach].max()]}


def distribution_figure(frame: pd.DataFrame, columns: Sequence[str], labels: Sequence[str], *,
                        order: Sequence[str], group: str = "cohort", title: str = "") -> go.Figure:
    """Box plots (median, quartiles, whiskers to 1.5 IQR) per group, one panel per column:
    an aggregate view that stays readable for any number of patients. Hover gives n."""
    from plotly.subplots import make_subplots

    figure = make_subplots(rows=1, cols=len(columns), subplot_titles=list(labels), horizontal_spacing=0.12)
    for c, column in enumerate(columns, start=1):
        for i, name in enumerate(order):
            values = frame.loc[frame[group] == name, column].dropna()
            # Above BOX_VALUES_LIMIT the box gets its five numbers, not the values (100,000 values weigh 500 KB).
            data = {"y": values} if len(values) <= BOX_VALUES_LIMIT else {"x": [str(name)], **box_numbers(values)}
            figure.add_trace(go.Box(
                **data, name=str(name), marker_color=figures.OKABE_ITO[i % len(figures.OKABE_ITO)],
                boxpoints=False, showlegend=c == 1, legendgroup=str(name),
                hovertemplate=f"{escape_html(str(name))} (n={len(values)})<br>%{{y}}<extra></extra>"),
                row=1, col=c)
    figures.style(figure, title)
    return figure


# --------------------------------------------------------------------------
# Cytokines
# --------------------------------------------------------------------------

@study_section
def cytokine_section(book: ChapterContext, study: str) -> None:
    """Flow to the monitored patients; median (IQR) courses by cohort; peaks by cohort with
    rank-sum comparisons against the largest cohort; IL-6 peak by worst CRS grade."""
    if not book.require(study, ["labs"], analysis=f"Cytokines and inflammatory markers, study {study}"):
        return
    cohort = book.cohort(study)
    patients, labs = cohort["patients"], cohort["labs"]
    present = [a for a in cytokines.CYTOKINES if a in set(labs["analyte"])]
    if not present:
        show(no_data_note(f"Cytokines and inflammatory markers, study {study}",
                          [f"a cytokine or inflammatory marker ({', '.join(cytokines.CYTOKINES)}) in the labs "
                           f"table of study {study}; it holds {', '.join(sorted(set(labs['analyte'])))}"]))
        return
    order = cohort_order(patients)
    series = cytokines.cytokine_series(labs, patients, analytes=present)
    monitored = set(series["patient_id"])
    flow = PatientFlow(f"Patients in {cohort.files.get('patients', 'patients.csv')}", len(patients),
                       title=f"Study {study}: patients in the cytokine analysis")
    flow.exclude({"no cytokine sample": int((~patients["patient_id"].isin(monitored)).sum())},
                 "With at least one cytokine sample")
    flow.check(len(monitored))
    show(flow)
    groups = [c for c in order if c in set(series["cohort"])]
    trajectory = cytokines.trajectories(series)
    from helpers.chapters import own_models  # imported here: own_models builds on this module

    origin = time_origin(patients)
    figure = plots_cytokines.trajectory_figure(trajectory, order=groups, analytes=present,
                                         title=f"Study {study}: median (IQR) after {origin}, log scale")
    figure.for_each_xaxis(lambda axis: axis.update(title_text=f"Days since {origin}") if axis.title.text else None)
    show(figures.show(stamp(figure, patients)))
    peak_table = cytokines.peaks(series)
    if peak_table.empty:
        show(book.notice("No sample between day 0 and day 28: peaks are not computable.", title="No peaks"))
        own_models.cytokine_models(book, study, series, patients)
        return
    summary = (peak_table.groupby(["analyte", "cohort"], sort=False)
               .agg(patients=("peak", "size"), peak=("peak", cytokines.median_iqr),
                    peak_day=("peak_day", cytokines.median_iqr)).reset_index()
               .rename(columns={"peak": "peak, median [IQR]", "peak_day": "day of peak, median [IQR]"}))
    summary["analyte"] = summary["analyte"].map(cytokines.LABELS)
    show(tables.show_table(summary, caption=f"Study {study}: peak value and day of peak, days 0–28"))
    if len(groups) < 2:
        show(_one_cohort_note(book, study, patients, "Comparison of cytokine peaks between cohorts"))
    else:
        reference = groups[0]
        parts = []
        for other in groups[1:]:
            analytes = [a for a in present
                        if {other, reference} <= set(peak_table.loc[peak_table["analyte"] == a, "cohort"])]
            sub = peak_table[peak_table["analyte"].isin(analytes)]
            parts.append(cytokines.format_comparison(cytokines.compare_groups(
                sub, value="peak", group="cohort", groups=[other, reference], by="analyte"))
                .rename(columns={f"n {other}": "n (cohort)", f"n {reference}": "n (reference)"})
                .assign(comparison=f"{other} / {reference}"))
        show(tables.show_table(pd.concat(parts, ignore_index=True),
                               caption=f"Study {study}: peaks compared with the largest cohort ({reference})",
                               note="Wilcoxon rank-sum test on log10 peaks; ratio = Hodges–Lehmann shift "
                                    "back-transformed, with its 95% CI."))
    if "IL-6" in present and "adverse_events" in cohort and "CRS" in set(cohort["adverse_events"]["category"]):
        graded, _ = toxicity.graded_population(cohort["adverse_events"], patients)
        grades = toxicity.worst_grades(cohort["adverse_events"], graded, category="CRS")
        il6 = peak_table[peak_table["analyte"] == "IL-6"]
        with_grade = il6[il6["patient_id"].isin(set(grades["patient_id"]))]
        flow = PatientFlow("Patients with an IL-6 peak (days 0–28)", len(il6),
                           title=f"Study {study}: IL-6 peak by CRS grade")
        flow.exclude({"not graded for adverse events": len(il6) - len(with_grade)}, "With a worst CRS grade")
        joined = cytokines.peak_by_grade(with_grade, grades[grades["patient_id"].isin(set(with_grade["patient_id"]))])
        flow.check(len(joined))
        by_grade = (joined.groupby("grade").agg(patients=("peak", "size"), peak=("peak", cytokines.median_iqr))
                    .reset_index().rename(columns={"grade": "worst CRS grade",
                                                   "peak": "peak IL-6, pg/mL, median [IQR]"}))
        show(flow, tables.show_table(by_grade, caption=f"Study {study}: peak IL-6 by worst CRS grade"))
    own_models.cytokine_models(book, study, series, patients)


# --------------------------------------------------------------------------
# Survival (for the survival chapter: not yet called by it)
# --------------------------------------------------------------------------

@study_section
def survival_section(book: ChapterContext, study: str) -> Optional[pd.DataFrame]:
    """Overall survival of everyone and leukaemia-free survival of responders, by cohort
    (and progression-free survival of everyone when the outcomes record the last progression
    assessments, :func:`helpers.clinical.outcomes.censored_at_assessment`): patient flows, reverse-Kaplan–Meier
    follow-up, Kaplan–Meier curves with risk tables, estimates at 12 and 24 months, and the
    log-rank test when there are two or more cohorts; then EFS, duration of response, GRFS,
    count recovery and the centre's own event types
    (:func:`helpers.chapters.own_endpoints.endpoints_section`). Degrades visibly: one cohort ->
    no log-rank test; no event -> curves flat at 100 % and medians not reached, said in a note.
    Returns the analysis frame."""
    from helpers.chapters import own_endpoints
    from helpers.clinical import outcomes as clinical_outcomes
    from helpers.plots import survival as sv
    from helpers.stats import survival as stats_survival

    cohort = book.cohort(study)
    patients = cohort["patients"]
    order = cohort_order(patients)
    frame, checks = clinical_outcomes.outcome_frame(cohort)
    show(tables.show_table(checks.rename(columns={"rule": "What the data hold", "patients": "Patients"}),
                           caption=f"Study {study}: patients the survival analyses could otherwise lose"))
    follow = stats_survival.median_followup(frame["os_time"], frame["os_event"])
    show(tables.show_table(pd.DataFrame([{
        "Patients": follow["n"], "Alive at last contact": follow["n_alive"],
        "Median follow-up, months (reverse Kaplan–Meier, 95% CI)":
            f"{sv.format_bound(follow['median'])} ({sv.format_bound(follow['lower'])}–{sv.format_bound(follow['upper'])})",
        "Range, months": f"{follow['min']:.1f}–{follow['max']:.1f}"}]),
        caption=f"Study {study}: follow-up"))
    at_assessment = clinical_outcomes.censored_at_assessment(frame)
    # PFS only where it differs from a relapse-or-death endpoint to the last contact: the seed
    # studies record no assessment days, and their pages stay as they were
    with_pfs = bool(at_assessment.any())
    endpoints = [("Overall survival", "os_time", "os_event", "death from any cause", None),
                 ("Leukaemia-free survival", "lfs_time", "lfs_event", "relapse or death", "responder")]
    endpoints += [("Progression-free survival", "pfs_time", "pfs_event", "relapse, progression or death", None)
                  ] if with_pfs else []
    for endpoint, time, event, label, who in endpoints:
        used = frame if who is None else frame[frame[who].astype(bool)]
        flow = PatientFlow(f"Patients in {cohort.files.get('patients', 'patients.csv')}", len(frame),
                           title=f"Study {study}: {endpoint.lower()}")
        if who is not None:
            no_assessment = int(frame["first_response"].isna().sum())
            flow.exclude({"no response assessment": no_assessment,
                          "no CR/CRi at the first assessment": len(frame) - no_assessment - len(used)},
                         "Responders (CR/CRi at the first assessment)")
        flow.check(len(used))
        show(flow)
        if used.empty:
            show(no_data_note(f"{endpoint}, study {study}", ["a patient who reached remission"]))
            continue
        # The one Kaplan–Meier block of the page (EFS, DoR and GRFS use it too).
        own_endpoints.km_endpoint(book, study, used, time, event, endpoint=endpoint, label=label, order=order,
                                  patients=patients, time_title=f"Months since {time_origin(patients)}",
                                  name=own_endpoints.figure_name(study, "pfs") if time == "pfs_time" else None,
                                  note=_assessment_note(at_assessment[used.index]) if time != "os_time" else "")
    own_endpoints.endpoints_section(book, study, order, patients)
    responders = frame[frame["responder"].astype(bool)]
    competing_risks_section(book, study, responders, order, patients)
    for endpoint, time, event, _, who in endpoints:
        cox_section(book, study, endpoint, frame if who is None else responders, time, event, order, patients)
    transplant_section(book, study, responders, patients)
    return frame


def _assessment_note(at_assessment: pd.Series) -> str:
    """What the table of a progression-free endpoint says about its censoring ("" when none)."""
    if not at_assessment.any():
        return ""
    return (f"{int(at_assessment.sum())} patients without relapse are censored at their last progression assessment "
            "(progression_assessed_day), not at their last contact; a death after it is not counted as their "
            "event.")


# --------------------------------------------------------------------------
# Survival models on any cohort: competing risks, Cox, transplant after CAR-T
# --------------------------------------------------------------------------

#: Patients-table columns a model of a reader's cohort may adjust for, in the order they are
#: offered, with the scale a hazard ratio is given per (numbers) or the level compared (yes/no).
#: The covariates a study declares in covariates.csv are offered after these
#: (:func:`model_design`); a frame merged from the patients table keeps them only when the
#: declaration is carried onto it (:func:`helpers.contract.validate.carry_covariates`).
MODEL_COVARIATES = {
    "age_years": ("Age, per 10 years", 10.0), "sex": ("Male (vs female)", None),
    "prior_lines": ("Prior lines of therapy, per line", 1.0),
    "marrow_blasts_pct": ("Marrow blasts, per 10 %", 10.0),
    "extramedullary_disease": ("Extramedullary disease (vs none)", None),
    "high_risk_genetics": ("High-risk genetics", None), "abl_kd_mutation": ("ABL1 KD mutation", None),
    "tregs_high": ("High regulatory T cells", None),
}
#: Most patients a model of this section is fitted to. Fine–Gray's sandwich variance (as cmprsk::crr
#: computes it), cox.zph and the counting-process Cox fit grow faster than the data: at 5,000
#: patients the section took 88 s here, at 20,000 about 14 minutes, against seconds for the curves.
MODEL_LIMIT = 3000
#: Events a model needs per term it estimates (the usual rule of thumb; fewer gives unstable fits).
EVENTS_PER_TERM = 10


def _too_large_to_fit(book: ChapterContext, what: str, study: str, n: int) -> bool:
    """Say so, and return True, when ``n`` patients exceed :data:`MODEL_LIMIT`."""
    if n <= MODEL_LIMIT:
        return False
    show(book.notice(f"{what}, study {study}: not fitted for {n:,} patients. Its computation grows faster than "
                     f"the cohort, so this section fits models up to {MODEL_LIMIT:,} patients; the curves, rates "
                     "and tests of the section cover the whole cohort.", title="Not fitted at this size"))
    return True


def _covariate_column(values: pd.Series, column: str, covariate: Optional[Covariate] = None) -> Optional[pd.Series]:
    """The covariate as a model term (numbers scaled, yes/no as 0/1), or None when unusable: a
    built-in column of :data:`MODEL_COVARIATES`, or a declared number or yes/no ``covariate``."""
    if covariate is not None:
        if covariate.type == "number":
            return pd.to_numeric(values, errors="coerce").astype(float) / (covariate.per or 1.0)
        return values.astype(object).map({True: 1.0, False: 0.0}).astype(float)
    _, per = MODEL_COVARIATES[column]
    if per is not None:
        return pd.to_numeric(values, errors="coerce") / per
    if column == "sex":
        return values.map({"male": 1.0, "female": 0.0})
    if column == "extramedullary_disease":
        return values.map({"none": 0.0, "cns": 1.0, "non_cns": 1.0})
    return values.map({True: 1.0, False: 0.0})


def _declared_label(covariate: Covariate) -> str:
    """A declared covariate as a model term names it: numbers with the scale of the hazard ratio."""
    if covariate.type != "number":
        return covariate.label
    per = covariate.per or 1.0
    unit = covariate.unit or ("unit" if per == 1 else "units")
    return f"{covariate.label}, per {per:g} {unit}"


def _declared_candidates(used: pd.DataFrame) -> list[tuple[str, list[tuple[str, str, pd.Series]], Optional[Covariate]]]:
    """The declared covariates (``covariates.csv``, :func:`declared_covariates`) as groups of terms:
    one term for a number or a yes/no, one indicator per non-reference level for a category (named
    ``<column>__<i>``, which no declared name can be), estimated together or not at all."""
    groups = []
    for cov in declared_covariates(used):
        # a declared column the caller's frame lacks is said as missing for everyone, not skipped
        values = used[cov.name] if cov.name in used.columns else pd.Series(np.nan, index=used.index)
        if cov.type != "category":
            label = _declared_label(cov)
            groups.append((label, [(cov.name, label, _covariate_column(values, cov.name, cov))], None))
            continue
        reference = cov.levels[0]
        terms = [(f"{cov.name}__{i}", f"{cov.label}: {level} (vs {reference})",
                  (values.astype(object) == level).astype(float).where(values.notna()))
                 for i, level in enumerate(cov.levels[1:], start=1)]
        groups.append((f"{cov.label} ({len(cov.levels)} levels, reference {reference})", terms, cov))
    return groups


def _why_not_estimable(values: pd.Series, flags: np.ndarray, n: int, model: str) -> Optional[str]:
    """Why one term cannot be estimated (missing for some patients, one value, and for a Cox model
    no event on one side of a 0/1 term), or None."""
    missing = int(values.isna().sum())
    if missing:
        return f"missing for {missing} of {n} patients"
    if values.nunique() < 2:
        return "one value for every patient"
    x = values.to_numpy()
    if model == "cox" and set(values.unique()) <= {0.0, 1.0} and (flags[x == 1].sum() == 0 or flags[x == 0].sum() == 0):
        side = "with" if flags[x == 1].sum() == 0 else "without"
        return f"no event among the patients {side} it: its hazard ratio has no finite estimate"
    return None


def _why_not_category(values: pd.Series, covariate: Covariate, flags: np.ndarray, model: str) -> Optional[str]:
    """Why a declared category's indicators cannot all be estimated: missing values, or a level
    (the reference included) without a patient or, for a Cox model, without an event."""
    missing = int(values.isna().sum())
    if missing:
        return f"missing for {missing} of {len(values)} patients"
    text = values.astype(object).to_numpy()
    for i, level in enumerate(covariate.levels):
        at = text == level
        where = "the reference level" if i == 0 else "level"
        if not at.any():
            return f"no patient at {where} {level}: its indicator cannot be estimated"
        if model == "cox" and flags[at].sum() == 0:
            return f"no event among the patients at {where} {level}: the hazard ratios have no finite estimate"
    return None


def model_design(used: pd.DataFrame, event: pd.Series, order: Sequence[str], *, model: str = "cox",
                 events_word: str = "events") -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """Terms of a regression model of a reader's cohort: cohort indicators against the largest
    cohort first, then the patients-table covariates in :data:`MODEL_COVARIATES` order, then the
    study's declared covariates (``covariates.csv``) in their declared order, one term per
    :data:`EVENTS_PER_TERM` events (``event``: the patients' event flags). A declared number is
    a term per its ``per`` units, a yes/no a 0/1 term, a category one indicator per level against
    the first (reference) level, all of them or none. Not used, and said why: a covariate missing
    for any analysed patient (the fit would drop those patients silently), one that takes a
    single value, a yes/no term (or a category level) with no event on one side (its hazard
    ratio has no finite estimate: the likelihood is monotone), and terms beyond the events.
    ``model="logistic"`` (``event``: the smaller outcome group, named ``events_word``) keeps a
    term that separates the outcomes: the models are fitted by Firth's penalized likelihood too,
    whose estimates stay finite, and the ML fit names the infinite ones (as the seed chapter does).
    Returns (design frame, labels of the terms, the table of every candidate and its fate)."""
    flags = event.astype(bool).to_numpy()
    events = int(flags.sum())
    budget = events // EVENTS_PER_TERM
    design, labels, fate = pd.DataFrame(index=used.index), {}, []
    groups = [c for c in order if c in set(used["cohort"])]
    candidates = [(label, [(f"cohort_{i}", label, (used["cohort"] == c).astype(float))], None)
                  for i, c in enumerate(groups[1:], start=1) for label in [f"{c} (vs {groups[0]})"]]
    for column in MODEL_COVARIATES:
        if column in used.columns:
            label = MODEL_COVARIATES[column][0]
            candidates.append((label, [(column, label, _covariate_column(used[column], column))], None))
    candidates += _declared_candidates(used)
    for group_label, terms, category in candidates:
        if category is not None:  # a declared category: its indicators together or not at all
            why = _why_not_category(used.get(category.name, terms[0][2]), category, flags, model)
        else:
            why = _why_not_estimable(terms[0][2], flags, len(used), model)
        if why is None and len(labels) + len(terms) > budget:
            why = (f"{events} {events_word} allow {budget} term(s) at {EVENTS_PER_TERM} {events_word} per term"
                   if budget else f"{events} {events_word}: a model needs {EVENTS_PER_TERM} {events_word} per term")
            why += f" ({len(terms)} terms needed)" if len(terms) > 1 else ""
        if why is not None:
            fate.append({"Term": group_label, "In the model": "no", "Why": why})
            continue
        for term, label, values in terms:
            design[term], labels[term] = values, label
            fate.append({"Term": label, "In the model": "yes", "Why": ""})
    return design, labels, pd.DataFrame(fate, columns=["Term", "In the model", "Why"])


def competing_risks_section(book: ChapterContext, study: str, responders: pd.DataFrame, order: Sequence[str],
                            patients: pd.DataFrame) -> dict:
    """Relapse and death in remission among responders: Aalen–Johansen cumulative incidence per
    cohort beside 1 − Kaplan–Meier, Gray's test between cohorts, and the Fine–Gray model of
    relapse on the same terms the Cox models use. Returns what was computed (``gray``: cause ->
    test, ``fine_gray``, ``labels``)."""
    from helpers import stats
    from helpers.plots import survival as sv

    title = f"Study {study}: relapse and death in remission among responders"
    computed = {"gray": {}}
    if responders.empty:
        show(no_data_note(title, ["a patient who reached remission"]))
        return computed
    status = responders["cr_status"].astype(int)
    relapses, deaths = int((status == 1).sum()), int((status == 2).sum())
    if relapses + deaths == 0:
        show(book.notice(f"{title}: no relapse and no death in remission among {len(responders)} responders; "
                         "no cumulative incidence rises above 0.", title="No event"))
        return computed
    groups = [c for c in order if c in set(responders["cohort"])]
    rows = []
    for cause, name in ((1, "Relapse"), (2, "Death in remission")):
        curves = stats.cif_by_group(responders, "lfs_time", "cr_status", "cohort", cause=cause, order=groups)
        table = sv.rate_table(curves, [12, 24], what="CI").assign(Event=name)
        rows.append(table)
        test_text = None
        count = relapses if cause == 1 else deaths
        if len(groups) >= 2 and count:
            gray = stats.gray_test(responders["lfs_time"], responders["cr_status"], responders["cohort"], cause=cause)
            computed["gray"][cause] = gray
            test_text = (f"Gray's test: chi-square {gray['statistic']:.2f} on {gray['df']} df, "
                         f"P = {stats.format_p(gray['p_value'])}")
        naive = [stats.one_minus_km(responders.loc[responders["cohort"] == c, "lfs_time"],
                                    responders.loc[responders["cohort"] == c, "cr_status"], cause, label=c)
                 for c in groups]
        horizon = float(np.ceil(responders["lfs_time"].max() / 6) * 6)
        figure = sv.survival_figure(curves, title=f"Study {study}: cumulative incidence of {name.lower()}, responders",
                                    time_title=f"Months since {time_origin(patients)}",
                                    y_title=f"Cumulative incidence of {name.lower()}", test_text=test_text,
                                    risk_times=list(np.arange(0, horizon + 1, 6 if horizon <= 36 else 12)),
                                    comparison=naive)
        show(figures.show(stamp(figure, patients)))
    note = (f"{relapses} relapses and {deaths} deaths in remission among {len(responders)} responders. "
            "Aalen–Johansen estimates; 95% CI on the log(−log) scale from cmprsk's variance.")
    show(tables.show_table(pd.concat(rows, ignore_index=True), caption=f"{title}: cumulative incidence", note=note))
    if relapses == 0 or deaths == 0:
        show(book.notice(f"{title}: the Fine–Gray model needs both relapses and competing deaths "
                         f"({relapses} relapses, {deaths} deaths in remission).", title="Not computable"))
        return computed
    if _too_large_to_fit(book, "The Fine–Gray model of relapse", study, len(responders)):
        return computed
    design, labels, fate = model_design(responders, responders["cr_status"] == 1, order)
    show(tables.show_table(fate, caption=f"{title}: terms offered to the Fine–Gray model of relapse"))
    if not labels:
        show(book.notice(f"{title}: no term can be estimated (see the table above).", title="Not computable"))
        return computed
    data = pd.concat([responders[["lfs_time", "cr_status"]], design], axis=1)
    fg = stats.fine_gray(data, "lfs_time", "cr_status", list(labels), failcode=1)
    show(tables.show_table(fg.hazard_ratios(labels), caption=f"{title}: Fine–Gray model of relapse",
                           note=f"{fg.events} relapses, {fg.competing} deaths in remission, converged = "
                                f"{fg.converged}; sandwich standard errors as cmprsk::crr."))
    return dict(computed, fine_gray=fg, labels=labels)


def cox_section(book: ChapterContext, study: str, endpoint: str, used: pd.DataFrame, time: str, event: str,
                order: Sequence[str], patients: pd.DataFrame):
    """A Cox model of one endpoint on the cohort and the patients-table covariates
    (:func:`model_design`), its hazard ratios as a table and a forest plot, and the
    proportional-hazards tests of cox.zph. Returns the fit (None when not computable)."""
    from helpers import stats
    from helpers.plots import survival as sv

    title = f"Study {study}: Cox model of {endpoint.lower()}"
    events = int(used[event].astype(bool).sum()) if len(used) else 0
    if events == 0:
        show(book.notice(f"{title}: no event among {len(used)} patients; no hazard ratio is estimable.",
                         title="Not computable"))
        return None
    if _too_large_to_fit(book, f"The Cox model of {endpoint.lower()}", study, len(used)):
        return None
    design, labels, fate = model_design(used, used[event], order)
    show(tables.show_table(fate, caption=f"{title}: terms offered to the model"))
    if not labels:
        show(book.notice(f"{title}: no term can be estimated (see the table above).", title="Not computable"))
        return None
    data = pd.concat([used[[time]], used[event].astype(int).rename(event), design], axis=1)
    cox = stats.cox_model(data, time, event, list(labels))
    show(tables.show_table(cox.hazard_ratios(labels), caption=title,
                           note=f"{cox.n} patients, {cox.events} events; {cox.ties_label} ties; likelihood-ratio test "
                                f"chi-square {cox.lr_statistic:.2f} on {cox.lr_df} df, P = {stats.format_p(cox.lr_p)}."))
    show(figures.show(stamp(sv.forest_plot(cox.table, title=f"{title}: hazard ratios", labels=labels), patients)))
    zph = stats.zph_for(cox, transform="km", labels=labels)
    show(tables.show_table(zph.table.round(4), caption=f"{title}: proportional-hazards tests (cox.zph, KM time scale)"))
    return cox


def transplant_section(book: ChapterContext, study: str, responders: pd.DataFrame, patients: pd.DataFrame) -> None:
    """Allo-HSCT after CAR-T among responders, analysed three ways (naive, time-dependent,
    landmark at 3 months), so the immortal time before a transplant is shown, not hidden."""
    from helpers import stats

    title = f"Study {study}: allo-HSCT after CAR-T and leukaemia-free survival"
    exposed = int(responders["hsct_time"].notna().sum()) if len(responders) else 0
    events = int(responders["lfs_event"].astype(bool).sum()) if len(responders) else 0
    if exposed == 0 or exposed == len(responders) or events == 0:
        show(book.notice(f"{title}: not computable ({exposed} of {len(responders)} responders transplanted after "
                         f"CAR-T, {events} LFS events); the comparison needs both groups and an event.",
                         title="Not computable"))
        return
    if _too_large_to_fit(book, "The analyses of allo-HSCT after CAR-T", study, len(responders)):
        return
    data = responders.assign(lfs_event=responders["lfs_event"].astype(int))
    tx = stats.immortal_time_comparison(data, time="lfs_time", event="lfs_event", exposure_time="hsct_time",
                                        landmark_at=3.0)
    show(tables.show_table(tx["table"], caption=title,
                           note=f"{tx['n_exposed']} transplanted responders contribute {tx['immortal_months']:.0f} "
                                "patient-months of immortal time before their transplant."))


# --------------------------------------------------------------------------
# CAR-T expansion (for the expansion chapter: not yet called by it)
# --------------------------------------------------------------------------

@study_section
def expansion_section(book: ChapterContext, study: str) -> Optional[pd.DataFrame]:
    """Non-compartmental parameters by cohort and the median (IQR) course per scheduled day --
    never one line per patient -- with rank-sum comparisons of Cmax and AUC0–28 against the
    largest cohort. Returns the NCA table."""
    from helpers.clinical import kinetics as clinical_kinetics
    from helpers.plots import kinetics as kin
    from helpers.stats import nca as stats_nca

    if not book.require(study, ["kinetics"], analysis=f"CAR-T expansion, study {study}"):
        return None
    cohort = book.cohort(study)
    patients, samples = cohort["patients"], cohort["kinetics"]
    order = cohort_order(patients)
    nca = stats_nca.nca_table(samples).merge(patients[["patient_id", "cohort"]], on="patient_id", how="left")
    flow = PatientFlow(f"Patients in {cohort.files.get('patients', 'patients.csv')}", len(patients),
                       title=f"Study {study}: patients in the expansion analysis")
    flow.exclude({"no kinetic sample": int((~patients["patient_id"].isin(set(nca["patient_id"]))).sum())},
                 "With at least one kinetic sample")
    flow.check(len(nca))
    show(flow)
    columns = {"cmax": "Cmax, copies/µg", "tmax": "Tmax, days", "auc_0_28": "AUC0–28", "tlast": "Tlast, days"}
    groups = [c for c in order if c in set(nca["cohort"])]
    rank = {c: i for i, c in enumerate(order)}
    summary = kin.summarise(nca.sort_values("cohort", key=lambda c: c.map(rank), kind="mergesort"), "cohort", columns)
    show(tables.show_table(summary, caption=f"Study {study}: non-compartmental parameters by cohort",
                           note="Median [Q1, Q3]; (n=…) when a value is not available for every patient."))
    cohort_of = patients.set_index("patient_id")["cohort"]
    quartiles = clinical_kinetics.schedule_quantiles(samples, samples["patient_id"].map(cohort_of))
    figure = kin.median_band_figure(quartiles, title=f"Study {study}: median and IQR of CAR-T copies by cohort")
    figure.update_xaxes(title=f"Days since {time_origin(patients)}")
    show(figures.show(stamp(figure, patients)))
    if len(groups) < 2:
        show(_one_cohort_note(book, study, patients, "Comparison of expansion between cohorts"))
    else:
        rows, skipped = [], []
        for other in groups[1:]:
            for column, label in (("cmax", "Cmax"), ("auc_0_28", "AUC0–28")):
                # e.g. AUC0–28 of a cohort sampled only in the first fortnight: no value to compare
                empty = [g for g in (other, groups[0]) if nca.loc[nca["cohort"] == g, column].notna().sum() == 0]
                if empty:
                    skipped.append(f"{label} of {other} vs {groups[0]} (no value in {', '.join(empty)})")
                    continue
                rows.append(clinical_kinetics.compare_kinetics(nca[column], nca["cohort"], other, groups[0],
                                                               label=f"{label}: {other}"))
        skipped_note = f" Not computable: {'; '.join(skipped)}." if skipped else ""
        if rows:
            frame = pd.DataFrame(rows)
            show(tables.show_table(kin.comparison_display(frame, first="cohort", second=groups[0]),
                                   caption=f"Study {study}: expansion compared with the largest cohort ({groups[0]})",
                                   note=clinical_kinetics.tests_used(frame) + skipped_note))
        else:
            show(book.notice(f"Comparison of expansion between cohorts not computable for study {study}.{skipped_note}",
                             title="No comparison"))
    from helpers.chapters import own_models  # imported here: own_models builds on this module

    own_models.kinetic_fits(book, study, samples, patients)
    return nca


# --------------------------------------------------------------------------
# Courses (for the case-reports chapter: an aggregate in place of swimmer lanes)
# --------------------------------------------------------------------------

SWIMMER_LIMIT = 60
STATE_ORDER = ("Alive, no relapse", "Alive after relapse", "Died", "Follow-up ended")
STATE_COLOURS = {"Alive, no relapse": figures.OKABE_ITO[2], "Alive after relapse": figures.OKABE_ITO[1],
                 "Died": "#444444", "Follow-up ended": "#cccccc"}


def course_states(outcomes: pd.DataFrame, patients: pd.DataFrame, months: Sequence[float],
                  month_days: float = 30.4375) -> pd.DataFrame:
    """For each cohort and time (months after infusion): how many patients are alive without
    relapse, alive after relapse, dead, or no longer followed. Every patient is in exactly one
    state at every time, so the counts add up to the cohort size."""
    frame = outcomes.merge(patients[["patient_id", "cohort"]], on="patient_id", how="left")
    fu = frame["followup_days"].to_numpy(float) / month_days
    relapse = frame["relapse_day"].to_numpy(float) / month_days
    died = frame["died"].to_numpy(bool)
    rows = []
    for m in months:
        state = np.where(fu >= m, np.where(np.nan_to_num(relapse, nan=np.inf) <= m, STATE_ORDER[1], STATE_ORDER[0]),
                         np.where(died, STATE_ORDER[2], STATE_ORDER[3]))
        counts = pd.crosstab(frame["cohort"], state).reindex(columns=list(STATE_ORDER), fill_value=0)
        for name, row in counts.iterrows():
            rows.append({"cohort": name, "month": m, **row.to_dict(), "N": int(row.sum())})
    return pd.DataFrame(rows)


def course_figure(states: pd.DataFrame, order: Sequence[str], title: str,
                  time_title: str = f"Months since {DEFAULT_TIME_ORIGIN}") -> go.Figure:
    """Stacked areas per cohort: the share of patients in each state month by month (hover n/N)."""
    from plotly.subplots import make_subplots

    figure = make_subplots(rows=1, cols=len(order), subplot_titles=list(order), shared_yaxes=True,
                           horizontal_spacing=0.04)
    for c, name in enumerate(order, start=1):
        part = states[states["cohort"] == name].sort_values("month")
        for state in STATE_ORDER:
            figure.add_trace(go.Scatter(
                x=part["month"], y=100 * part[state] / part["N"], mode="lines", stackgroup=f"s{c}",
                name=state, legendgroup=state, showlegend=c == 1,
                line={"width": 0.5, "color": STATE_COLOURS[state]}, fillcolor=STATE_COLOURS[state],
                customdata=np.column_stack([part[state], part["N"]]),
                hovertemplate=f"{escape_html(str(name))}, month %{{x}}<br>{state}: %{{customdata[0]}}/"
                              "%{customdata[1]} (%{y:.0f}%)<extra></extra>"), row=1, col=c)
    figure.update_yaxes(title_text="Patients (%)", range=[0, 100], row=1, col=1)
    figure.update_xaxes(title_text=time_title)
    figures.style(figure, title, height=460)
    figure.update_layout(margin={"t": 130})  # the legend sits above the panel titles
    return figure


@study_section
def courses_section(book: ChapterContext, study: str, months: Optional[Sequence[float]] = None) -> pd.DataFrame:
    """Where every patient is, month by month after infusion, by cohort: the aggregate view a
    registry needs in place of one swimmer lane per patient (which stops being readable beyond a
    few dozen patients; :data:`SWIMMER_LIMIT`). Returns the state counts."""
    cohort = book.cohort(study)
    patients, outcomes = cohort["patients"], cohort["outcomes"]
    order = cohort_order(patients)
    if months is None:
        last = float(np.ceil(outcomes["followup_days"].max() / 30.4375))
        months = list(np.arange(0, last + 1, 1 if last <= 36 else 3))
    states = course_states(outcomes, patients, months)
    if len(patients) > SWIMMER_LIMIT:
        show(book.notice(f"Study {study} has {len(patients):,} patients: one swimmer lane each would be "
                         "unreadable, so the courses are summarised as the share of patients in each state "
                         "month by month.", title="Aggregated courses"))
    figure = course_figure(states, order, f"Study {study}: patients by state after {time_origin(patients)}",
                           f"Months since {time_origin(patients)}")
    show(figures.show(stamp(figure, patients)))
    return states
