"""helpers.clinical.response: the response definitions, rates, salvage logic and figures.

The definitions are checked on small hand-made cohorts whose right answers are
worked out by hand in the comments (the oracle is the definition itself, not
the code). The chapter-level tests then check that the synthetic cohorts,
classified by the one helper, give every published response count exactly.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from helpers import clinical, plots, reproduction
from helpers.chapters import response as chapters_response
from helpers.paths import SYNTHETIC_DIR


def patients(*rows):
    return pd.DataFrame(rows, columns=["patient_id", "cohort", "disease_status"])


def assessments(*rows):
    return pd.DataFrame(rows, columns=["patient_id", "day", "morphologic", "mrd_flow", "molecular"])


# --------------------------------------------------------------------------- #
# definitions, by hand
# --------------------------------------------------------------------------- #
HAND_PATIENTS = patients(
    ("A", "X", "first_relapse"),       # overt: CR, MRD+            -> response, not MRD-neg CR
    ("B", "X", "primary_refractory"),  # overt: NR but CMR          -> no response (CMR does not count for overt)
    ("C", "X", "mrd_positive"),        # MRD+: NR but CMR           -> response (CMR reached)
    ("D", "X", "mrd_positive"),        # MRD+: CR kept, MRD+        -> response, not MRD-neg CR
    ("E", "Y", "mrd_positive"),        # MRD+: lost CR (NR), no CMR -> no response
    ("F", "Y", "second_or_later_relapse"),  # CRi MRD- at day 60 after NR at day 28 -> best is CRi MRD-
    ("G", "Y", "first_relapse"),       # only not_evaluable         -> not evaluable
    ("H", "Y", "first_relapse"),       # no assessment at all       -> not evaluable, kept
)
HAND_RESPONSES = assessments(
    ("A", 28, "CR", "positive", "detectable"),
    ("B", 28, "NR", "positive", "CMR"),
    ("C", 28, "NR", "positive", "CMR"),
    ("D", 28, "CR", "positive", "detectable"),
    ("E", 28, "NR", "positive", "detectable"),
    ("F", 28, "NR", "positive", "detectable"),
    ("F", 60, "CRi", "negative", "not_done"),
    ("G", 14, "not_evaluable", "not_done", "not_done"),
)
EXPECTED = {  # patient: (evaluable, remission, mrd_negative_cr, cmr, response, best_response)
    "A": (True, True, False, False, True, "MRD-positive CR/CRi"),
    "B": (True, False, False, True, False, "CMR without CR"),
    "C": (True, False, False, True, True, "CMR without CR"),
    "D": (True, True, False, False, True, "MRD-positive CR/CRi"),
    "E": (True, False, False, False, False, "No response"),
    "F": (True, True, True, False, True, "MRD-negative CR/CRi"),
    "G": (False, False, False, False, False, "Not evaluable"),
    "H": (False, False, False, False, False, "Not evaluable"),
}


def test_classify_applies_the_definitions():
    out = clinical.classify(HAND_PATIENTS, HAND_RESPONSES).set_index("patient_id")
    assert list(out.index) == list("ABCDEFGH"), "every patient appears once, in order"
    for pid, (ev, rem, mrdneg, cmr, response, best) in EXPECTED.items():
        row = out.loc[pid]
        assert (bool(row["evaluable"]), bool(row["remission"]), bool(row["mrd_negative_cr"]), bool(row["cmr"]),
                bool(row["response"]), row["best_response"]) == (ev, rem, mrdneg, cmr, response, best), pid
    assert out.loc["F", "best_day"] == 60
    assert out.loc["G", "not_evaluable_reason"] == "assessment not evaluable (day 14)"
    assert out.loc["H", "not_evaluable_reason"] == "no response assessment recorded"
    assert out.loc["A", "overt"] and not out.loc["C", "overt"]


def test_window_restricts_assessments():
    # F's remission is on day 60; a window ending on day 30 leaves only the NR on day 28
    out = clinical.classify(HAND_PATIENTS, HAND_RESPONSES, before_day=pd.Series({"F": 30})).set_index("patient_id")
    assert not out.loc["F", "remission"] and out.loc["F", "best_response"] == "No response"
    out = clinical.classify(HAND_PATIENTS, HAND_RESPONSES, after_day=pd.Series({"F": 30})).set_index("patient_id")
    assert out.loc["F", "mrd_negative_cr"] and out.loc["F", "assessments"] == 1


def test_rates_count_not_evaluable_but_leave_them_out_of_n():
    out = clinical.classify(HAND_PATIENTS, HAND_RESPONSES)
    table = clinical.rates(out, "response", ["cohort"]).set_index("cohort")
    # cohort X: A, C, D respond of A-D (4 evaluable); cohort Y: F of E, F (G, H not evaluable)
    assert (table.loc["X", "k"], table.loc["X", "n"], table.loc["X", "not_evaluable"]) == (3, 4, 0)
    assert (table.loc["Y", "k"], table.loc["Y", "n"], table.loc["Y", "not_evaluable"]) == (1, 2, 2)
    assert table.loc["X", "pct"] == pytest.approx(75.0)
    # the exact interval of 3/4 from R: binom.test(3, 4)$conf.int = 0.1941204497, 0.9936905368
    assert table.loc["X", "cp_lower"] == pytest.approx(0.1941204497, abs=1e-9)
    assert table.loc["X", "cp_upper"] == pytest.approx(0.9936905368, abs=1e-9)


def test_not_evaluable_lists_reasons():
    shown = clinical.not_evaluable(clinical.classify(HAND_PATIENTS, HAND_RESPONSES))
    assert shown["patient_id"].tolist() == ["G", "H"]
    assert shown["disease_status"].tolist() == ["First relapse", "First relapse"]


@pytest.mark.parametrize("frame, bad, message", [
    (HAND_PATIENTS.drop(columns="cohort"), None, "lacks column"),
    (pd.concat([HAND_PATIENTS, HAND_PATIENTS.head(1)]), None, "repeated patient_id"),
    (HAND_PATIENTS, assessments(("Z", 28, "CR", "negative", "CMR")), "not in patients"),
    ("not a frame", None, "must be a pandas DataFrame"),
])
def test_classify_refuses_bad_input(frame, bad, message):
    with pytest.raises(ValueError, match=message):
        clinical.classify(frame, HAND_RESPONSES if bad is None else bad)


def test_group_comparison_marks_the_matching_test():
    # the published response comparison of study 000: 8/13 vs 108/119, P printed as 0.009 (Yates)
    frame = pd.DataFrame({"cohort": ["L"] * 13 + ["P"] * 119,
                          "flag": [True] * 8 + [False] * 5 + [True] * 108 + [False] * 11, "evaluable": True})
    row = chapters_response.group_comparison(frame, "flag", "cohort", ("L", "P"), published_p="0.009").iloc[0]
    assert (row["matches (Fisher)"], row["matches (Yates)"]) == ("", "✓")
    assert row["Fisher exact P"] == "0.0099" and row["Yates chi-square P"] == "0.0089"
    with pytest.raises(ValueError, match="two groups"):
        chapters_response.group_comparison(frame, "flag", "cohort", ("L",))
    with pytest.raises(ValueError, match="no evaluable patient"):
        chapters_response.group_comparison(frame, "flag", "cohort", ("L", "Q"))


def test_salvage_response_by_hand():
    pats = patients(("1", "c", "first_relapse"), ("2", "c", "first_relapse"), ("3", "c", "first_relapse"),
                    ("4", "c", "first_relapse"))
    outcomes = pd.DataFrame({"patient_id": list("1234"), "relapsed": True, "relapse_day": [100.0, 50, 80, 60]})
    treatments = pd.DataFrame({
        "patient_id": ["1", "1", "2", "3", "4"],
        "category": ["CAR-T", "blinatumomab", "chemotherapy", "inotuzumab", "chemotherapy"],
        "start_day": [0.0, 120, 70, -200, 61]})   # patient 3's inotuzumab was before CAR-T: not salvage
    responses = assessments(
        ("1", 28, "CR", "negative", "not_done"), ("1", 150, "CR", "negative", "not_done"),
        ("2", 28, "CR", "negative", "not_done"), ("2", 100, "NR", "positive", "not_done"),
        ("3", 28, "CR", "negative", "not_done"),
        ("4", 28, "CR", "positive", "not_done"))   # patient 4: salvage but no assessment afterwards
    out = clinical.salvage_response(pats, responses, treatments, outcomes).set_index("patient_id")
    assert out["salvage"].tolist() == [True, True, False, True]
    assert out["antibody_salvage"].tolist() == [True, False, False, False]
    assert out["remission"].tolist() == [True, False, False, False]   # only post-progression assessments count
    assert out["evaluable_after_progression"].tolist() == [True, True, False, False]
    assert out["salvage_cr"].tolist() == [True, False, False, False]


def test_analysis_frame_keeps_missing_values_missing():
    pats = pd.DataFrame({"patient_id": list("ABC"), "cohort": ["CML-LBC", "Ph+ ALL", "Ph+ ALL"],
                         "disease_status": ["first_relapse", "mrd_positive", "first_relapse"],
                         "marrow_blasts_pct": [35.0, np.nan, 10.0], "abl_kd_mutation": [True, False, None]})
    classified = clinical.classify(pats, assessments(("A", 28, "NR", "positive", "detectable"),
                                                 ("B", 28, "CR", "negative", "CMR"),
                                                 ("C", 28, "CR", "positive", "detectable")))
    frame = chapters_response.analysis_frame_000(pats, classified, 10).set_index("patient_id")
    assert frame.loc["A", "blasts_ge_cutoff"] == 1 and math.isnan(frame.loc["B", "blasts_ge_cutoff"])
    assert frame.loc["C", "blasts_ge_cutoff"] == 1          # the cut-off is ">= 10%"
    assert math.isnan(frame.loc["C", "abl_kd"])
    assert frame["cml_lbc"].tolist() == [1, 0, 0]
    assert frame["response"].tolist() == [0, 1, 1]


def test_figures_carry_hover_counts():
    table = clinical.rates(clinical.classify(HAND_PATIENTS, HAND_RESPONSES), "response", ["cohort"])
    fig = plots.rate_figure(table, x="cohort", title="t")
    assert "%{customdata[0]}/%{customdata[1]}" in fig.data[0].hovertemplate
    flow = clinical.flow_counts(clinical.classify(HAND_PATIENTS, HAND_RESPONSES), ["X", "Y"],
                            ["first_relapse", "primary_refractory", "second_or_later_relapse", "mrd_positive"])
    assert flow["n"].sum() == 8
    sankey = plots.sankey_figure(flow)
    assert sum(sankey.data[0].link.value) == 2 * 8   # every patient flows through both steps


# --------------------------------------------------------------------------- #
# the synthetic cohorts reproduce the published response numbers
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def cohorts():
    from helpers import contract
    return {s: contract.load_cohort(SYNTHETIC_DIR / s) for s in ("000", "003", "004")}


def test_study_000_rates_are_exact(cohorts, tmp_path):
    c = cohorts["000"]
    classified = clinical.classify(c["patients"], c["responses"])
    ledger = reproduction.Ledger("response-test", tmp_path)
    table = chapters_response.rates_000(classified)
    chapters_response.record_rates(ledger, table, chapters_response.PUBLISHED_000, ["subgroup", "cohort"], note="test")
    rows = ledger.table().set_index("register_id")
    assert set(rows.index) == set(chapters_response.PUBLISHED_000.values())
    assert (rows["status"] == "exact").all(), rows.loc[rows["status"] != "exact", ["published", "reproduced"]]
    # the 2 not-evaluable Ph+ ALL patients are counted, not dropped
    assert int((~classified["evaluable"]).sum()) == 121 - reproduction.denominator("000-response-phall")


def test_study_000_p_values_match_a_test(cohorts):
    c = cohorts["000"]
    table = chapters_response.comparisons_000(clinical.classify(c["patients"], c["responses"]))
    published = table[table["Published P"] != "not published"]
    assert len(published) == 4
    assert ((published["matches (Fisher)"] == "✓") | (published["matches (Yates)"] == "✓")).all()


def test_study_004_and_003_are_exact(cohorts, tmp_path):
    """The chapter's helpers, on the synthetic cohorts, give the published counts exactly."""
    ledger = reproduction.Ledger("response-test", tmp_path)
    classified = chapters_response.classify_004(cohorts["004"])
    orr = clinical.rates(classified, "remission")
    ledger.record_proportion("004-orr-all", int(orr.at[0, "k"]), int(orr.at[0, "n"]), basis="synthetic")
    subgroups = chapters_response.subgroup_rates_004(classified)
    chapters_response.record_rates(ledger, subgroups, {("Non-CNS EMD", "Remission"): "004-orr-emd-noncns"}, ["group"], note="")
    c3 = cohorts["003"]
    salvage = clinical.salvage_response(c3["patients"], c3["responses"], c3["treatments"], c3["outcomes"])
    chapters_response.record_rates(ledger, chapters_response.salvage_rates_003(salvage), chapters_response.PUBLISHED_003, [], note="")
    rows = ledger.table().set_index("register_id")
    assert set(rows.index) == {"004-orr-all", "004-orr-emd-noncns", *chapters_response.PUBLISHED_003.values()}
    assert (rows["status"] == "exact").all(), rows.loc[rows["status"] != "exact", ["published", "reproduced"]]
    assert int(salvage["antibody_salvage"].sum()) == reproduction.count("003-blina-ino-n")
    # every 004 patient is in exactly one group of each characteristic, none dropped
    for name in subgroups["characteristic"].unique():
        part = subgroups[subgroups["characteristic"] == name]
        assert int(part["n"].sum() + part["not_evaluable"].sum()) == len(classified)


def test_published_ci_table_uses_published_counts():
    table = chapters_response.published_ci_table(["000-mrdnegcr-rr-lbc"]).iloc[0]
    # 1/7: binom.test(1, 7)$conf.int = 0.003610297, 0.578723197 (tests/fixtures/r/binomial_expected.csv)
    assert table["published"] == "1/7 (14.3%)" and table["exact 95% CI"] == "0.4–57.9%"
    with pytest.raises(ValueError, match="no numerator"):
        chapters_response.published_ci_table(["000-response-p"])


def test_classify_004_marks_missing_characteristics():
    c = {"patients": pd.DataFrame({"patient_id": ["a", "b"], "cohort": "r/r", "disease_status": "first_relapse",
                                   "extramedullary_disease": ["non_cns", None], "tregs_high": [True, None],
                                   "high_risk_genetics": [None, False]}),
         "responses": assessments(("a", 28, "CR", "negative", "not_done"), ("b", 28, "NR", "positive", "not_done"))}
    out = chapters_response.classify_004(c).set_index("patient_id")
    assert out.loc["a", "extramedullary_disease"] == "Non-CNS EMD"
    assert out.loc["b", "extramedullary_disease"] == "not recorded"
    assert out.loc["a", "high_risk_genetics"] == "not recorded" and out.loc["b", "tregs_high"] == "not recorded"


def test_the_flow_diagram_draws_one_patient_a_few_pixels_high_and_has_a_legend(cohorts):
    """Issue 16: study 000's one-patient flows were about 1 px high and the link colours had no key."""
    classified = clinical.classify(cohorts["000"]["patients"], cohorts["000"]["responses"])
    flow = clinical.flow_counts(classified, ["CML-LBC", "Ph+ ALL"],
                                ["primary_refractory", "first_relapse", "second_or_later_relapse", "mrd_positive"])
    figure = plots.sankey_figure(flow, title="t")
    patients = int(flow["n"].sum())
    statuses = flow[["cohort", "disease_status"]].drop_duplicates().shape[0]
    plot_height = figure.layout.height - figure.layout.margin.t - figure.layout.margin.b
    one_patient = plot_height * (1 - 0.04 * (statuses - 1)) / patients
    assert one_patient >= 3.9, one_patient
    legend = [trace.name for trace in figure.data[1:]]
    assert legend == [b for b in clinical.BEST_RESPONSE_ORDER if b in set(flow["best_response"])]
    assert figure.layout.showlegend and not figure.layout.xaxis.visible
