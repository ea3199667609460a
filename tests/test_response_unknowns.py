"""Response on a centre's cohort: stable and progressive disease, MRD not assessed, disease status
not recorded (issue 15).

Small hand-made cohorts; the right answers are counted by hand in the comments (the oracle is the
definition), the intervals and P values come from R (binom.test, fisher.test).
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from helpers import clinical
from helpers.chapters import response as chapters_response
from helpers.clinical import response as resp
from helpers.plots import response as plots_response


def patients(*rows):
    return pd.DataFrame(rows, columns=["patient_id", "cohort", "disease_status"])


def assessments(*rows):
    return pd.DataFrame(rows, columns=["patient_id", "day", "morphologic", "mrd_flow", "molecular"])


MIXED_PATIENTS = patients(*[(pid, "X", "first_relapse") for pid in ("P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8")])
MIXED_RESPONSES = assessments(
    ("P1", 28, "CR", "not_done", "not_done"),    # remission, MRD not assessed
    ("P2", 28, "CR", "negative", "not_done"),    # MRD-negative CR
    ("P3", 28, "CRi", "positive", "not_done"),   # MRD-positive
    ("P4", 28, "SD", "not_done", "not_done"),    # evaluable, no remission
    ("P5", 28, "PD", "not_done", "not_done"),    # evaluable, no remission
    ("P6", 28, "PD", "not_done", "not_done"),    # PD, then SD: the best is the SD on day 90
    ("P6", 90, "SD", "not_done", "not_done"),
    ("P7", 28, "CR", "positive", "not_done"),    # a positive result, then CR without MRD: known positive
    ("P7", 90, "CR", "not_done", "not_done"),
    ("P8", 14, "not_evaluable", "not_done", "not_done"),
)


def _by_patient():
    return clinical.classify(MIXED_PATIENTS, MIXED_RESPONSES).set_index("patient_id")


def test_stable_and_progressive_disease_are_evaluable_without_remission():
    out = _by_patient()
    for pid in ("P4", "P5", "P6"):
        assert out.loc[pid, "evaluable"] and not out.loc[pid, "remission"], pid
        assert not out.loc[pid, "response"] and out.loc[pid, "best_response"] == "No response", pid
    assert out.loc["P6", "best_day"] == 90, "stable disease is a better response than progression"


def test_sd_pd_and_pr_rank_below_remission_and_pr_above_sd():
    pats = patients(("a", "X", "first_relapse"), ("b", "X", "first_relapse"))
    rows = assessments(("a", 28, "SD", "not_done", "not_done"), ("a", 60, "PR", "not_done", "not_done"),
                       ("b", 28, "PD", "not_done", "not_done"), ("b", 60, "CRi", "negative", "not_done"))
    out = clinical.classify(pats, rows).set_index("patient_id")
    assert (out.loc["a", "best_response"], out.loc["a", "best_day"]) == ("PR", 60)
    assert (out.loc["b", "best_response"], out.loc["b", "best_day"]) == ("MRD-negative CR/CRi", 60)


def test_remission_without_mrd_result_is_its_own_category():
    out = _by_patient()
    assert out.loc["P1", "best_response"] == "CR/CRi, MRD not assessed"
    assert out.loc["P1", "mrd_not_assessed"] and not out.loc["P1", "mrd_negative_cr"]
    assert out.loc["P2", "best_response"] == "MRD-negative CR/CRi"
    assert out.loc["P3", "best_response"] == "MRD-positive CR/CRi"
    # P7's remission has a positive result on day 28: MRD is known, and positive
    assert out.loc["P7", "best_response"] == "MRD-positive CR/CRi" and not out.loc["P7", "mrd_not_assessed"]
    assert out["mrd_not_assessed"].tolist() == [True, False, False, False, False, False, False, False]
    assert out["mrd_assessed"].tolist() == [False, True, True, False, False, False, True, False]


def test_mrd_negative_cr_rate_leaves_the_not_assessed_out_of_n():
    table = clinical.rates(clinical.classify(MIXED_PATIENTS, MIXED_RESPONSES), "mrd_negative_cr").iloc[0]
    # evaluable P1-P7 (7); P1 in CR without MRD is unknown -> n = 6 (P2-P7), k = 1 (P2)
    assert (table["k"], table["n"], table["not_evaluable"], table["not_assessed"]) == (1, 6, 1, 1)
    # R: binom.test(1, 6)$conf.int = 0.004210744514, 0.641234578998
    assert table["cp_lower"] == pytest.approx(0.004210744514, abs=1e-9)
    assert table["cp_upper"] == pytest.approx(0.641234578998, abs=1e-9)
    remission = clinical.rates(clinical.classify(MIXED_PATIENTS, MIXED_RESPONSES), "remission").iloc[0]
    # remission knows no "not assessed": P1, P2, P3, P7 of the 7 evaluable
    assert (remission["k"], remission["n"], remission["not_assessed"]) == (4, 7, 0)


def _no_mrd_cohort():
    """38 patients, none with an MRD result: 30 in CR, 8 without response."""
    ids = [f"U{i:02d}" for i in range(38)]
    pats = patients(*[(pid, "user cohort", None) for pid in ids])
    rows = assessments(*[(pid, 28, "CR" if i < 30 else "NR", "not_done", "not_done") for i, pid in enumerate(ids)])
    return pats, rows


def test_a_cohort_without_mrd_has_no_mrd_negative_rate_and_no_mrd_positive_patient():
    classified = clinical.classify(*_no_mrd_cohort())
    best = classified["best_response"].value_counts().to_dict()
    assert best == {"CR/CRi, MRD not assessed": 30, "No response": 8}
    mrd = clinical.rates(classified, "mrd_negative_cr", label="MRD-negative CR").iloc[0]
    assert (mrd["k"], mrd["n"], mrd["not_evaluable"], mrd["not_assessed"]) == (0, 0, 0, 38)
    assert math.isnan(mrd["pct"])
    shown = chapters_response.rate_display(pd.DataFrame([mrd]), []).iloc[0]
    assert shown["Book (synthetic)"] == "no patient with MRD assessed"
    assert shown[chapters_response.MRD_NOT_ASSESSED_COLUMN] == 38


def test_rate_display_shows_the_not_assessed_column_only_when_there_are_some():
    classified = clinical.classify(MIXED_PATIENTS, MIXED_RESPONSES)
    both = pd.concat([clinical.rates(classified, "remission", label="Remission"),
                      clinical.rates(classified, "mrd_negative_cr", label="MRD-negative CR")], ignore_index=True)
    shown = chapters_response.rate_display(both, []).set_index("Outcome")
    assert shown.loc["MRD-negative CR", "Book (synthetic)"] == "1/6 (16.7%)"
    assert shown[chapters_response.MRD_NOT_ASSESSED_COLUMN].to_dict() == {"Remission": 0, "MRD-negative CR": 1}
    only_remission = chapters_response.rate_display(both.iloc[:1], [])
    assert chapters_response.MRD_NOT_ASSESSED_COLUMN not in only_remission


def test_group_comparison_leaves_the_not_assessed_out():
    # group L: 1 MRD-negative CR, 5 NR MRD-positive, 3 CR without MRD (unknown) -> 1/6
    # group P: 2 MRD-negative CR, 2 NR MRD-positive -> 2/4
    rows, pats = [], []
    for i, (morph, mrd) in enumerate([("CR", "negative")] + [("NR", "positive")] * 5 + [("CR", "not_done")] * 3):
        pats.append((f"L{i}", "L", "first_relapse"))
        rows.append((f"L{i}", 28, morph, mrd, "not_done"))
    for i, (morph, mrd) in enumerate([("CR", "negative")] * 2 + [("NR", "positive")] * 2):
        pats.append((f"P{i}", "P", "first_relapse"))
        rows.append((f"P{i}", 28, morph, mrd, "not_done"))
    classified = clinical.classify(patients(*pats), assessments(*rows))
    row = chapters_response.group_comparison(classified, "mrd_negative_cr", "cohort", ("L", "P")).iloc[0]
    assert (row["L"], row["P"]) == ("1/6", "2/4")
    # R: fisher.test(matrix(c(1, 5, 2, 2), 2))$p.value = 0.5
    assert row["Fisher exact P"] == "0.5000"


def test_disease_status_not_recorded_is_classified_with_the_strict_response():
    pats = patients(("a", "X", None), ("b", "X", None), ("c", "X", "mrd_positive"))
    rows = assessments(("a", 28, "CR", "negative", "not_done"), ("b", 28, "NR", "positive", "CMR"),
                       ("c", 28, "NR", "positive", "CMR"))
    out = clinical.classify(pats, rows).set_index("patient_id")
    # without a status, response is reaching remission; CMR counts only for MRD-positive patients
    assert out["response"].tolist() == [True, False, True]
    assert out["overt"].tolist() == [False, False, False]
    assert clinical.classify(pats.drop(columns="disease_status"), rows)["response"].tolist() == [True, False, False]


def test_the_not_assessed_category_has_its_own_colour_in_the_flow_diagram():
    classified = clinical.classify(MIXED_PATIENTS, MIXED_RESPONSES)
    flow = clinical.flow_counts(classified, ["X"], ["first_relapse"])
    sankey = plots_response.sankey_figure(flow).data[0]
    labels = list(sankey.node.label)
    assert "CR/CRi, MRD not assessed" in labels
    colours = dict(zip(labels, sankey.node.color))
    assert colours["CR/CRi, MRD not assessed"] not in (colours["MRD-positive CR/CRi"], colours["MRD-negative CR/CRi"])
    assert set(plots_response.RESPONSE_COLOURS) == set(resp.BEST_RESPONSE_ORDER)
    assert len(set(plots_response.RESPONSE_COLOURS.values())) == len(resp.BEST_RESPONSE_ORDER)


def test_rate_figure_tick_labels_fit_beside_each_other():
    # six categories as the study-000 figure has them; each line must fit in its sixth of the plot
    labels = [f"{outcome}<br>{subgroup}" for outcome in ("Response", "MRD-negative CR")
              for subgroup in ("All patients", "Overt disease", "MRD-positive")]
    table = pd.DataFrame({"label": labels, "k": 1, "n": 2, "pct": 50.0, "cp_lower": 0.1, "cp_upper": 0.9,
                          "wilson_lower": 0.1, "wilson_upper": 0.9})
    figure = plots_response.rate_figure(table, x="label")
    slot_px = 640 / len(labels)  # the plotting area of a chapter figure, about 640 px
    ticks = list(figure.data[0].x)
    assert len(set(ticks)) == 6
    for tick in ticks:
        for line in tick.split("<br>"):
            assert len(line) * 7.5 < slot_px, (tick, line)  # 7.5 px per character at 12 px
    # the words are all kept, in order
    assert [t.replace("<br>", " ") for t in ticks] == [label.replace("<br>", " ") for label in labels]


def test_a_missing_status_in_pandas_string_dtype_is_not_mrd_positive():
    # the contract's loader may hand text columns over as pandas' string dtype, whose missing is NA
    pats = patients(("a", "X", None), ("b", "X", "mrd_positive")).astype({"disease_status": "string"})
    rows = assessments(("a", 28, "NR", "positive", "CMR"), ("b", 28, "NR", "positive", "CMR"))
    assert clinical.classify(pats, rows)["response"].tolist() == [False, True]
