"""Every survival method on a reader's cohort (issue 15): competing risks, Gray's test,
Fine–Gray, Cox with the patients-table covariates and its PH tests, and transplant after
CAR-T, run by ``own_data.survival_section`` on a cohort the book does not reproduce and
checked against R (survival::coxph, cmprsk::cuminc and crr) fitted on the same design."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from helpers import chapters
from helpers.chapters import own_data
from helpers.clinical.outcomes import outcome_frame
from helpers.synthetic import registry
from r_oracle import SCRIPTS, run_rscript


@pytest.fixture(scope="module")
def three_cohorts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("own") / "data"
    registry.write(registry.Shape("three", 400, tables=("patients", "responses", "treatments", "outcomes")), folder)
    book = chapters.setup("t", folder)
    frame, _ = outcome_frame(book.cohort("three"))
    return book, frame


def test_the_design_keeps_ten_events_per_term_and_never_drops_a_patient(three_cohorts):
    _, frame = three_cohorts
    order = own_data.cohort_order(frame)
    died = frame["os_event"].astype(bool)
    for events in (9, 10, 25, int(died.sum())):
        first = died & (died.cumsum() <= events)  # the first `events` deaths only
        design, labels, fate = own_data.model_design(frame, first, order)
        usable = int((~fate["Why"].str.startswith(("missing", "one value", "no event"))).sum())
        assert len(labels) == min(events // 10, usable)
        assert (fate["In the model"] == "yes").sum() == len(labels)
        assert len(design) == len(frame) and not design.isna().any().any()
        assert list(labels)[:2] == ["cohort_1", "cohort_2"] or len(labels) < 2  # cohorts come first
    incomplete = frame.assign(age_years=frame["age_years"].where(frame.index % 7 != 0))
    _, labels, fate = own_data.model_design(incomplete, died, order)
    age = fate.set_index("Term").loc["Age, per 10 years"]
    assert "age_years" not in labels and age["Why"] == f"missing for {int((frame.index % 7 == 0).sum())} of {len(frame)} patients"


def test_a_term_without_an_event_on_one_side_is_not_fitted(three_cohorts):
    """An arm without a death has no finite hazard ratio (the likelihood is monotone): the
    design leaves it out and says why, instead of printing a coefficient of 30 with SE 1e7."""
    _, frame = three_cohorts
    order = own_data.cohort_order(frame)
    smallest = order[-1]
    no_death_there = frame["os_event"].astype(bool) & (frame["cohort"] != smallest)
    _, labels, fate = own_data.model_design(frame, no_death_there, order)
    row = fate.set_index("Term").loc[f"{smallest} (vs {order[0]})"]
    assert row["In the model"] == "no"
    assert row["Why"] == "no event among the patients with it: its hazard ratio has no finite estimate"
    assert f"cohort_{len(order) - 1}" not in labels


def test_a_cohort_with_one_death_gets_no_model_and_a_note(three_cohorts, capsys):
    book, frame = three_cohorts
    two = frame.head(2).assign(os_event=[True, False])
    patients = book.cohort("three")["patients"]
    assert own_data.cox_section(book, "three", "Overall survival", two, "os_time", "os_event",
                                own_data.cohort_order(two), patients) is None
    out = capsys.readouterr().out
    assert "1 event(s): a model needs 10 events per term" in out or "one value for every patient" in out
    assert "no term can be estimated" in out


def test_survival_models_of_a_readers_cohort_agree_with_r(three_cohorts, capsys):
    if shutil.which("Rscript") is None:
        pytest.skip("Rscript not installed")
    book, frame = three_cohorts
    order = own_data.cohort_order(frame)
    patients = book.cohort("three")["patients"]
    responders = frame[frame["responder"].astype(bool)]
    fits, inputs = {}, {}
    for name, used, time, event in (("os", frame, "os_time", "os_event"), ("lfs", responders, "lfs_time", "lfs_event")):
        fits[name] = own_data.cox_section(book, "three", name, used, time, event, order, patients)
        design, labels, _ = own_data.model_design(used, used[event], order)
        assert list(labels) == list(fits[name].table["term"])
        inputs[name] = pd.concat([used[[time]], used[event].astype(int), design], axis=1)
    competing = own_data.competing_risks_section(book, "three", responders, order, patients)
    design, labels, _ = own_data.model_design(responders, responders["cr_status"] == 1, order)
    inputs["competing"] = pd.concat([responders[["lfs_time", "cr_status", "cohort"]], design], axis=1)
    out = capsys.readouterr().out
    assert "Study three: Cox model of os" in out and set(competing["gray"]) == {1, 2}
    r = run_rscript(SCRIPTS / "own_survival.R", inputs)
    for row in r["cox"].to_dict("records"):
        ours = fits[row["model"]].table.set_index("term").loc[row["term"]]
        assert np.isclose(ours["coef"], row["coef"], rtol=0, atol=1e-6), row
        assert np.isclose(ours["se"], row["se"], rtol=0, atol=1e-6), row
    for row in r["gray"].to_dict("records"):
        ours = competing["gray"][int(row["cause"])]
        assert np.isclose(ours["statistic"], row["statistic"], rtol=1e-8), row
        assert np.isclose(ours["p_value"], row["p"], rtol=1e-6, atol=1e-12), row
    fg = competing["fine_gray"].table.set_index("term")
    for row in r["fine_gray"].to_dict("records"):
        assert np.isclose(fg.loc[row["term"], "coef"], row["coef"], rtol=0, atol=1e-6), row
        assert np.isclose(fg.loc[row["term"], "se"], row["se"], rtol=0, atol=1e-6), row


def test_the_survival_section_shows_every_method_on_the_worked_example(capsys):
    """One cohort, no comparison: the competing-risks curves, both Cox models with their PH tests
    and the three transplant analyses are still there (the section had only KM and log-rank)."""
    from helpers.paths import DATA_DIR

    book = chapters.setup("t", DATA_DIR / "examples" / "single-centre")
    own_data.survival_section(book, "single-centre")
    out = capsys.readouterr().out
    for expected in ("cumulative incidence of relapse, responders", "cumulative incidence of death in remission",
                     "Fine–Gray model of relapse", "Cox model of overall survival: terms offered",
                     "Cox model of leukaemia-free survival: proportional-hazards tests",
                     "Time-dependent covariate (counting process)", "Landmark at 3 months"):
        assert expected in out, expected
    # one cohort: no test between cohorts, and the page says why for each endpoint it would test
    assert "Gray's test: chi-square" not in out and "log-rank test: chi-square" not in out.lower()
    assert "Gray's test of neutrophil recovery not computable for study single-centre: it has one cohort" in out
    # no progression assessment days in the example: no PFS section, the page stays as it was
    assert "progression-free survival" not in out.lower()


def test_models_are_not_fitted_beyond_the_limit_and_the_page_says_so(three_cohorts, capsys, monkeypatch):
    book, frame = three_cohorts
    monkeypatch.setattr(own_data, "MODEL_LIMIT", 100)
    order = own_data.cohort_order(frame)
    patients = book.cohort("three")["patients"]
    assert own_data.cox_section(book, "three", "Overall survival", frame, "os_time", "os_event", order, patients) is None
    responders = frame[frame["responder"].astype(bool)]
    assert "fine_gray" not in own_data.competing_risks_section(book, "three", responders, order, patients)
    out = capsys.readouterr().out
    assert f"The Cox model of overall survival, study three: not fitted for {len(frame):,} patients" in out
    assert f"The Fine–Gray model of relapse, study three: not fitted for {len(responders):,} patients" in out
