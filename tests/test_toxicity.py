"""helpers.clinical.toxicity against hand counts, textbook intervals and the published study-000 numbers.

Expected values are independent of the code under test: counts written out by
hand for small made-up tables, Newcombe's (1998) own published intervals for
his method 10, and the published counts of study 000 (59/134, 1/13, 10/121).
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from helpers import clinical, plots, reproduction, stats
from helpers.paths import SYNTHETIC_DIR


# --------------------------------------------------------------------------- #
# a small hand-made cohort
# --------------------------------------------------------------------------- #
def mini():
    patients = pd.DataFrame({"patient_id": ["a1", "a2", "a3", "b1", "b2", "b3", "b4", "b5"],
                             "cohort": ["A"] * 3 + ["B"] * 5})
    ae = pd.DataFrame([
        # patient, category, term, grade, onset, duration
        ("a1", "CRS", "CRS", 2, 2.0, 4.0),
        ("a2", "CRS", "CRS", 0, None, None),
        ("a3", "CRS", "CRS", 3, 1.0, 6.0),
        ("b1", "CRS", "CRS", 1, 3.0, 2.0),
        ("b2", "CRS", "CRS", 4, 1.5, 8.0),
        ("b3", "CRS", "CRS", 0, None, None),
        ("b4", "CRS", "CRS", 1, None, 3.0),    # onset not recorded
        ("a1", "ICANS", "ICANS", 1, 5.0, 2.0),
        ("b2", "ICANS", "ICANS", 3, 6.0, 3.0),
        ("b2", "infection", "sepsis", 5, 20.0, None),
        ("a3", "cytopenia", "neutropenia", 4, 3.0, 12.0),
        ("b1", "cytopenia", "neutropenia", 4, 3.0, 10.0),
    ], columns=["patient_id", "category", "term", "grade", "onset_day", "duration_days"])
    return ae, patients                       # b5 has no adverse-event row at all


def test_graded_population_names_who_was_not_graded():
    ae, patients = mini()
    graded, excluded = clinical.graded_population(ae, patients)
    assert sorted(graded["patient_id"]) == ["a1", "a2", "a3", "b1", "b2", "b3", "b4"]
    assert excluded["patient_id"].tolist() == ["b5"]
    assert excluded["reason"].iloc[0].startswith("no adverse-event assessment")


def test_adverse_events_of_unknown_patients_are_refused():
    ae, patients = mini()
    with pytest.raises(ValueError, match="not in the patients table"):
        clinical.graded_population(ae, patients[patients["patient_id"] != "a1"])


def test_grades_outside_0_to_5_are_refused():
    ae, patients = mini()
    ae.loc[0, "grade"] = 6
    with pytest.raises(ValueError, match="not 0-5"):
        clinical.graded_population(ae, patients)


def test_worst_grades_fill_absent_events_with_zero():
    ae, patients = mini()
    graded, _ = clinical.graded_population(ae, patients)
    icans = clinical.worst_grades(ae, graded, category="ICANS").set_index("patient_id")["grade"]
    assert icans.to_dict() == {"a1": 1, "a2": 0, "a3": 0, "b1": 0, "b2": 3, "b3": 0, "b4": 0}
    anything = clinical.worst_grades(ae, graded, exclude_categories=("cytopenia",)).set_index("patient_id")
    assert anything["grade"].to_dict() == {"a1": 2, "a2": 0, "a3": 3, "b1": 1, "b2": 5, "b3": 0, "b4": 1}
    with pytest.raises(ValueError, match="no adverse events of category"):
        clinical.worst_grades(ae, graded, category="CRS ")


def test_crs_counts_by_hand():
    ae, patients = mini()
    counts = clinical.crs_counts(ae, patients, order=["A", "B"]).set_index("cohort")
    # A: a1 (2), a2 (0), a3 (3) -> any 2/3, severe 1/3; B (graded b1-b4): 1, 4, 0, 1 -> any 3/4, severe 1/4
    assert counts.loc["A", ["graded", "any grade", "severe"]].tolist() == [3, 2, 1]
    assert counts.loc["B", ["graded", "any grade", "severe"]].tolist() == [4, 3, 1]
    assert counts.loc["all", ["graded", "any grade", "severe"]].tolist() == [7, 5, 2]


def test_grade_distribution_lists_every_grade():
    ae, patients = mini()
    graded, _ = clinical.graded_population(ae, patients)
    dist = clinical.grade_distribution(clinical.worst_grades(ae, graded, category="CRS"), order=["A", "B"])
    assert len(dist) == 12 and dist.groupby("cohort")["n"].sum().to_dict() == {"A": 3, "B": 4}
    b = dist[dist["cohort"] == "B"].set_index("grade")["n"].to_dict()
    assert b == {0: 1, 1: 2, 2: 0, 3: 0, 4: 1, 5: 0}
    figure = plots.grade_bars(dist, title="t")
    names = [t.name for t in figure.data]
    assert names == ["No CRS", "Grade 1", "Grade 2", "Grade 3", "Grade 4"]  # nobody had grade 5
    assert "customdata[0]}/%{customdata[1]}" in figure.data[0].hovertemplate


# --------------------------------------------------------------------------- #
# Newcombe's interval: his own published values (Stat Med 1998;17:873, Table II, method 10)
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("k1, n1, k2, n2, lower, upper", [
    (56, 70, 48, 80, 0.0524, 0.3339),
    (9, 10, 3, 10, 0.1705, 0.8090),
    (6, 7, 2, 7, 0.0582, 0.8062),
    (5, 56, 0, 29, -0.0381, 0.1926),
    (0, 10, 0, 20, -0.1611, 0.2775),
    (0, 10, 0, 10, -0.2775, 0.2775),
    (10, 10, 0, 20, 0.6791, 1.0000),
    (10, 10, 0, 10, 0.6075, 1.0000),
])
def test_newcombe_hybrid_score_interval_matches_the_paper(k1, n1, k2, n2, lower, upper):
    d, lo, hi = stats.newcombe_difference(k1, n1, k2, n2)
    assert d == pytest.approx(k1 / n1 - k2 / n2, abs=1e-15)
    assert round(lo, 4) == lower and round(hi, 4) == upper


def test_newcombe_refuses_bad_counts():
    with pytest.raises(ValueError, match="k1|k"):
        stats.newcombe_difference(5, 4, 1, 10)


# --------------------------------------------------------------------------- #
# the adverse-event table
# --------------------------------------------------------------------------- #
def test_adverse_event_table_counts_bands_and_differences():
    ae, patients = mini()
    table = clinical.adverse_event_table(ae, patients, groups=["A", "B"])
    crs_any = table[(table["term"] == "CRS") & (table["outcome"] == "any grade")].iloc[0]
    assert (crs_any["N1"], crs_any["N2"], crs_any["k1"], crs_any["k2"]) == (3, 4, 2, 3)
    assert (crs_any["grade 1–2#1"], crs_any["grade 3–4#1"], crs_any["grade 5#1"]) == (1, 1, 0)
    assert (crs_any["grade 1–2#2"], crs_any["grade 3–4#2"], crs_any["grade 5#2"]) == (2, 1, 0)
    assert crs_any["difference"] == pytest.approx(100 * (2 / 3 - 3 / 4))
    d, lo, hi = stats.newcombe_difference(2, 3, 3, 4)
    assert (crs_any["lower"], crs_any["upper"]) == pytest.approx((100 * lo, 100 * hi))
    assert crs_any["fisher_p"] == pytest.approx(stats.fisher_exact([[2, 1], [3, 1]]))
    sepsis = table[(table["term"] == "sepsis") & (table["outcome"] == "grade ≥3")].iloc[0]
    assert (sepsis["k1"], sepsis["k2"], sepsis["grade 5#2"]) == (0, 1, 1)


def test_printed_table_shows_grade_5_only_when_someone_had_it():
    ae, patients = mini()
    printed = plots.format_event_table(clinical.adverse_event_table(ae, patients, groups=["A", "B"]))
    assert "B: 5" in printed.columns
    assert printed.loc[printed["Event"] == "CRS", "B: any"].iloc[0] == "3 (75.0%)"
    no_deaths = ae[ae["grade"] < 5]
    printed = plots.format_event_table(clinical.adverse_event_table(no_deaths, patients, groups=["A", "B"]))
    assert "B: 5" not in printed.columns


def test_adverse_event_table_needs_two_known_groups():
    ae, patients = mini()
    with pytest.raises(ValueError, match="exactly two"):
        clinical.adverse_event_table(ae, patients, groups=["A"])
    with pytest.raises(ValueError, match="no graded patients"):
        clinical.adverse_event_table(ae, patients, groups=["A", "C"])


def test_difference_figure_has_hover_with_counts():
    ae, patients = mini()
    figure = plots.difference_figure(clinical.adverse_event_table(ae, patients, groups=["A", "B"]))
    assert len(figure.data) == 2
    assert "%{customdata[1]}/%{customdata[2]}" in figure.data[0].hovertemplate
    assert list(figure.layout.yaxis.ticktext) == ["CRS", "ICANS", "neutropenia", "sepsis"]  # category, then term


# --------------------------------------------------------------------------- #
# onset and duration; patients with a given grade
# --------------------------------------------------------------------------- #
def test_onset_duration_and_summary_count_missing_values():
    ae, patients = mini()
    episodes = clinical.onset_duration(ae, patients, category="CRS")
    assert sorted(episodes["patient_id"]) == ["a1", "a3", "b1", "b2", "b4"]
    assert episodes.set_index("patient_id").loc["a3", "end_day"] == 7.0
    summary = clinical.onset_summary(episodes, order=["A", "B"]).set_index("cohort")
    assert summary.loc["B", "onset, day: missing"] == 1
    # B onsets 3.0 and 1.5 -> median 2.25; A onsets 2.0, 1.0 -> 1.5
    assert summary.loc["B", "onset, day: median [IQR] (range)"].startswith("2.2")
    assert summary.loc["A", "onset, day: median [IQR] (range)"].startswith("1.5 ")
    figure = plots.episode_figure(episodes, order=["A", "B"])
    drawn = {y for trace in figure.data for y in trace.y if y is not None}
    assert len(drawn) == 4  # b4 has no onset and cannot be drawn
    assert [a.text for a in figure.layout.annotations] == ["<b>A</b> (2 patients)", "<b>B</b> (2 patients)"]


def test_patients_with_grade_4_exclude_cytopenia_by_default():
    ae, patients = mini()
    result = clinical.patients_with_grade(ae, patients, grade=4)
    assert (result["k"], result["n"]) == (1, 7)                # b2's CRS; a3/b1 neutropenia excluded
    assert result["excluded"]["patient_id"].tolist() == ["b5"]
    assert clinical.patients_with_grade(ae, patients, grade=4, exclude_categories=())["k"] == 3


# --------------------------------------------------------------------------- #
# the published numbers of study 000, recomputed and found in the synthetic cohort
# --------------------------------------------------------------------------- #
def test_published_severe_crs_p_value_recomputes_to_1_000():
    p = stats.fisher_exact([[1, 12], [10, 111]])
    assert reproduction.rounds_to(reproduction.entry("000-crs-severe-p")["value_text"], p)
    assert reproduction.rounds_to("44.0%", 100 * 59 / 134) and reproduction.rounds_to("7.7%", 100 / 13)
    assert reproduction.rounds_to("8.3%", 1000 / 121)


@pytest.mark.skipif(not (SYNTHETIC_DIR / "000" / "adverse_events.csv").exists(), reason="no synthetic cohort")
def test_synthetic_cohort_000_holds_the_published_crs_counts():
    from helpers import contract
    cohort = contract.load_cohort(SYNTHETIC_DIR / "000")
    counts = clinical.crs_counts(cohort["adverse_events"], cohort["patients"],
                                 order=["CML-LBC", "Ph+ ALL"]).set_index("cohort")
    assert (counts.loc["all", "any grade"], counts.loc["all", "graded"]) == (59, 134)
    assert (counts.loc["CML-LBC", "severe"], counts.loc["CML-LBC", "graded"]) == (1, 13)
    assert (counts.loc["Ph+ ALL", "severe"], counts.loc["Ph+ ALL", "graded"]) == (10, 121)
    assert not math.isnan(counts["any grade"].sum())
