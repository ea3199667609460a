"""Table 1 and the disease-status chart on a cohort whose optional fields are not recorded
(issue 15): no invented or absent value is shown as data.

In-memory cohorts; the expected counts are counted by hand in the comments.
"""

from __future__ import annotations

import pandas as pd

from helpers import clinical
from helpers.chapters import baselines as chapter
from helpers.clinical import baseline

LABELS = {"age_years": "Age, years", "sex": "Sex", "diagnosis": "Diagnosis", "disease_status": "Disease status",
          "car_target": "CAR target"}


def _cohort(status=None, target=None, diagnosis=None) -> pd.DataFrame:
    """12 patients in two cohorts of 6; the optional fields as given (None: not recorded)."""
    return pd.DataFrame({
        "patient_id": [f"P{i:02d}" for i in range(12)], "cohort": ["A"] * 6 + ["B"] * 6,
        "age_years": [float(40 + i) for i in range(12)], "sex": ["male", "female"] * 6,
        "diagnosis": pd.Series(diagnosis if diagnosis is not None else [None] * 12, dtype=object),
        "disease_status": pd.Series(status if status is not None else [None] * 12, dtype=object),
        "car_target": pd.Series(target if target is not None else [None] * 12, dtype=object),
    })


def _text(table: pd.DataFrame) -> str:
    return " | ".join(table.astype(str).to_numpy().ravel())


def test_table_one_leaves_out_what_no_patient_has():
    table, left_out = chapter.cohort_table_one(_cohort(), LABELS, numeric=["age_years"])
    assert left_out == ["Diagnosis", "Disease status", "CAR target"]
    shown = _text(table)
    for absent in ("Diagnosis", "Disease status", "CAR target", "None", "100.0"):
        assert absent not in shown, absent
    assert "Sex" in shown and "Age, years" in shown


def test_table_one_counts_a_partly_missing_value_as_not_recorded():
    # 3 of cohort A in first relapse, the other 9 patients without a status
    table, left_out = chapter.cohort_table_one(_cohort(status=["first_relapse"] * 3 + [None] * 9), LABELS,
                                               numeric=["age_years"])
    assert "Disease status" not in left_out
    rows = table.set_index(table["Characteristic"].str.replace("\u200b", "", regex=False).str.strip())
    overall = next(c for c in table.columns if c.startswith("Overall"))
    assert rows.loc["not recorded", overall] == "9 (75.0)"      # 9/12
    assert rows.loc["First relapse", overall] == "3 (25.0)"     # 3/12
    assert "None" not in _text(table)


def test_recorded_columns_splits_absent_and_empty_from_recorded():
    frame = _cohort(target=["CD19"] + [None] * 11).drop(columns="diagnosis")
    assert baseline.recorded_columns(frame, ["sex", "diagnosis", "disease_status", "car_target"]) == (
        ["sex", "car_target"], ["diagnosis", "disease_status"])


def test_status_counts_add_up_to_each_cohort_and_name_the_unrecorded():
    patients = _cohort(status=["first_relapse", "mrd_positive", None, None, None, None] + [None] * 6)
    counts = baseline.status_counts(patients).set_index(["cohort", "disease_status"])["n"]
    # cohort A: 1 first relapse, 1 MRD-positive, 4 not recorded; cohort B: 6 not recorded
    assert counts[("A", "first_relapse")] == 1 and counts[("A", "mrd_positive")] == 1
    assert counts[("A", "not recorded")] == 4 and counts[("B", "not recorded")] == 6
    assert counts.groupby(level="cohort").sum().to_dict() == {"A": 6, "B": 6}
    assert baseline.status_counts(_cohort()) is None
    assert baseline.status_counts(_cohort().drop(columns="disease_status")) is None


def test_counts_by_with_an_order_keeps_the_missing_in_the_total():
    patients = _cohort(status=["first_relapse"] * 2 + [None] * 10)
    counts = clinical.counts_by(patients, "disease_status", order=["first_relapse"])
    assert counts.groupby("cohort")["n"].sum().to_dict() == {"A": 6, "B": 6}
    assert set(counts["disease_status"]) == {"first_relapse", "not recorded"}


def test_disease_status_chart_is_not_drawn_without_a_status_and_has_no_empty_category():
    assert chapter.disease_status_figure(_cohort(), ["A", "B"], "t") is None
    figure = chapter.disease_status_figure(_cohort(status=["first_relapse"] * 3 + [None] * 9), ["A", "B"], "t")
    names = [trace.name for trace in figure.data]
    assert names == ["First relapse", "not recorded"]
    for trace in figure.data:
        assert sum(k for k, _ in trace.customdata) > 0, f"empty category {trace.name!r}"
    # cohort A: 3 of 6 first relapse (50 %), cohort B: 0 of 6
    assert list(figure.data[0].x) == [50.0, 0.0]


def test_table_one_frame_names_a_missing_category_and_keeps_numbers_missing():
    frame = baseline.table_one_frame(_cohort(status=["first_relapse"] + [None] * 11, target=["CD19"] + [None] * 11)
                                     .assign(age_years=[None] + [50.0] * 11))
    assert frame["disease_status"].tolist() == ["First relapse"] + ["not recorded"] * 11
    assert frame["car_target"].value_counts().to_dict() == {"not recorded": 11, "CD19": 1}
    assert frame["age_years"].isna().sum() == 1   # a number is not given a word
