"""Study 001 facts, dates, timeline rows and figures; the study 000 CML-LBC swimmer.

Oracles: calendar arithmetic done by hand (written out in the comments), the register itself for
the values, and small hand-made cohorts for the study 000 timeline.
"""

import math

import numpy as np
import pandas as pd
import pytest

from helpers import reproduction
from helpers.chapters import case_reports as cr
from helpers.paths import REGISTER_CSV, SYNTHETIC_DIR
from helpers.reproduction import Ledger


@pytest.fixture(scope="module")
def register_001():
    frame = reproduction.load_register()
    return frame[frame["study"] == "001"]


@pytest.fixture(scope="module")
def facts():
    return cr.facts()


# --------------------------------------------------------------------- dates --

@pytest.mark.parametrize("text, first, last, precision", [
    ("January 2019", "2019-01-01", "2019-01-31", "month"),
    ("February 2020", "2020-02-01", "2020-02-29", "month"),  # leap year
    ("February 2018", "2018-02-01", "2018-02-28", "month"),
    ("15 November 2019", "2019-11-15", "2019-11-15", "day"),
    ("06 August 2022", "2022-08-06", "2022-08-06", "day"),
])
def test_published_dates_are_read_with_their_precision(text, first, last, precision):
    d = cr.parse_date(text)
    assert (d.first, d.last, d.precision) == (pd.Timestamp(first), pd.Timestamp(last), precision)
    assert d.shown() == text  # written back exactly as printed
    assert d.first <= d.mid <= d.last


@pytest.mark.parametrize("text", ["2019-01", "Smarch 2019", "31 February 2019", "mid-2019", "", "July"])
def test_unreadable_dates_raise(text):
    with pytest.raises(ValueError, match="cannot read a date"):
        cr.parse_date(text)


def test_non_text_date_raises():
    with pytest.raises(ValueError, match="must be text"):
        cr.parse_date(20190101)


@pytest.mark.parametrize("a, b, months, min_days, max_days", [
    # Jan 2019 -> Jul 2019: 31 Jan -> 1 Jul = 28+31+30+31+30+1 = 151; 1 Jan -> 31 Jul = 30+28+31+30+31+30+31 = 211
    ("January 2019", "July 2019", 6, 151, 211),
    # Feb 2018 -> Jun 2018: 28 Feb -> 1 Jun = 31+30+31+1 = 93; 1 Feb -> 30 Jun = 28+31+30+31+29 = 149
    ("February 2018", "June 2018", 4, 93, 149),
    # 15 Nov 2019 -> 30 Dec 2019: 15 days left in November + 30 = 45, exactly
    ("15 November 2019", "30 December 2019", 1, 45, 45),
    # same month: from 0 to 30 days
    ("June 2022", "June 2022", 0, 0, 29),
])
def test_intervals_between_month_dates_give_the_possible_range(a, b, months, min_days, max_days):
    span = cr.month_interval(cr.parse_date(a), cr.parse_date(b))
    assert (span["months"], span["min_days"], span["max_days"]) == (months, min_days, max_days)


def test_interval_backwards_raises():
    with pytest.raises(ValueError, match="before"):
        cr.month_interval(cr.parse_date("July 2019"), cr.parse_date("January 2019"))


def test_intervals_printed_in_months_are_approximate_and_weeks_exact(register_001):
    days, approx = cr.interval_days(register_001.loc["001-p2-death-time"])
    assert approx and days == pytest.approx(2 * 365.25 / 12)
    days, approx = cr.interval_days(register_001.loc["001-p1-hsct-time"])
    assert not approx and days == 49
    bad = register_001.loc["001-p1-hsct-time"].copy()
    bad["unit"] = "fortnights"
    with pytest.raises(ValueError, match="fortnights"):
        cr.interval_days(bad)


# --------------------------------------------------------------------- facts --

def test_every_001_register_row_is_a_fact_once(register_001, facts):
    assert len(register_001) == 90
    assert sorted(facts["register_id"]) == sorted(register_001.index)
    assert facts["register_id"].is_unique


def test_facts_keep_the_printed_value(register_001, facts):
    for _, fact in facts.iterrows():
        row = register_001.loc[fact["register_id"]]
        assert str(row["value_text"]) in fact["as_printed"]
        if not isinstance(fact["shown"], str):
            assert fact["shown"] == float(row["value"])


def test_month_only_dates_say_so_and_post_infusion_days_are_set(facts):
    f = facts.set_index("register_id")
    assert "month only" in f.loc["001-p1-date-blast-crisis", "when"]
    assert "month only" not in f.loc["001-p1-date-mrd", "when"]
    assert f.loc["001-p1-cart-peak-day", "day_after_infusion"] == 4
    assert f.loc["001-p2-cr-time", "day_after_infusion"] == 7
    assert f.loc["001-p1-hsct-time", "day_after_infusion"] == 49
    assert bool(f.loc["001-p2-death-time", "approximate"])
    assert bool(f.loc["001-p1-bcrabl-nilotinib-1mo", "approximate"])
    assert "about 15 December 2019" in f.loc["001-p1-bcrabl-nilotinib-1mo", "when"]


def test_ledger_records_all_90_as_exact_transcriptions(facts):
    ledger = Ledger("case-reports")
    kept = cr.record_facts(ledger, facts, elsewhere={})
    assert len(kept) == 90 and set(kept["basis"]) == {"transcribed"}
    assert (kept["status"] == "exact").all(), kept.loc[kept["status"] != "exact", ["register_id", "reproduced"]]
    assert len(ledger.table()) == 90
    dates = kept[kept["register_id"].isin(["001-p1-date-admission", "001-pub-received"])]
    assert set(dates["reproduced"]) == {"06 August 2022", "January 2019"}


def test_facts_owned_by_another_chapter_are_shown_but_not_recorded_twice(facts):
    ledger = Ledger("case-reports")
    kept = cr.record_facts(ledger, facts).set_index("register_id")
    assert len(kept) == 90
    assert kept.loc["001-crs-grade-p1", "status"] == "recorded in toxicity"
    assert set(ledger.table()["register_id"]) == set(facts["register_id"]) - set(cr.RECORDED_ELSEWHERE)
    assert (ledger.table()["status"] == "exact").all()


def test_a_misread_fact_is_caught_by_the_ledger(facts):
    wrong = facts.copy()
    index = wrong.index[wrong["register_id"] == "001-p1-date-blast-crisis"][0]
    wrong.at[index, "shown"] = "June 2019"
    index = wrong.index[wrong["register_id"] == "001-p1-bcrabl-2019-11-15"][0]
    wrong.at[index, "shown"] = 23.8
    kept = cr.record_facts(Ledger("case-reports"), wrong, elsewhere={}).set_index("register_id")
    assert kept.loc["001-p1-date-blast-crisis", "status"] == "differs"
    assert kept.loc["001-p1-bcrabl-2019-11-15", "status"] == "differs"


def test_a_new_register_row_must_be_placed_before_it_can_be_shown(tmp_path):
    frame = pd.read_csv(REGISTER_CSV, dtype=str, keep_default_na=False)
    extra = frame[frame["register_id"] == "001-p1-age"].copy()
    extra["register_id"] = "001-p1-new-fact"
    path = tmp_path / "register.csv"
    pd.concat([frame, extra]).to_csv(path, index=False)
    with pytest.raises(ValueError, match="001-p1-new-fact"):
        cr.facts(path)
    path2 = tmp_path / "register2.csv"
    frame[frame["register_id"] != "001-p1-age"].to_csv(path2, index=False)
    with pytest.raises(ValueError, match="do not exist.*001-p1-age"):
        cr.facts(path2)


def test_fact_tables_cover_each_subject(facts):
    shown = sum(len(cr.fact_table(facts, s)) for s in facts["subject"].unique())
    assert shown == 90
    p1 = cr.fact_table(facts, "Patient 1")
    assert "Source (register id)" in p1.columns and p1["Source (register id)"].str.contains("-p1").all()


def test_intervals_table_uses_hand_checked_ranges():
    table = cr.intervals().set_index("Interval")
    row = table.loc["CML diagnosis to myeloid blast crisis"]
    assert (row["Calendar months"], row["Days"]) == (6, "151–211")
    assert table.loc["Switch to nilotinib to MRD check (switch to ponatinib)", "Days"] == "45"
    assert table.loc["CAR-T infusion to allo-HSCT", "Days"] == "49"
    # 30 Dec 2019 -> 30 Jun 2022: 2 days + 366 (2020) + 365 (2021) + 181 (to 30 Jun 2022) = 914 - 1 = 913
    assert table.loc["CAR-T infusion to last follow-up", "Days"] == "fewer than 913"


# ------------------------------------------------------------------ timeline --

def test_every_timeline_row_names_real_register_rows(register_001):
    rows = cr.course_rows()
    for name, frame in rows.items():
        assert "sources" in frame.columns, name
        for sources in frame["sources"]:
            for rid in sources.split("; "):
                assert rid in register_001.index, (name, rid)


def test_month_dates_are_placed_inside_their_month():
    rows = cr.course_rows()
    ev = rows["calendar_events"]
    diagnosis = ev[(ev["lane"] == "Patient 1") & (ev["event"] == "CML chronic-phase diagnosis")]["time"].iloc[0]
    assert pd.Timestamp("2019-01-01") <= diagnosis <= pd.Timestamp("2019-01-31")
    bars = rows["calendar_bars"].set_index("label")
    nil = bars.loc[[l for l in bars.index if l.startswith("nilotinib")][0]]
    assert (nil["start"], nil["end"]) == (pd.Timestamp("2019-11-15"), pd.Timestamp("2019-12-30"))


def test_post_infusion_events_carry_the_published_days(register_001):
    ev = cr.course_rows()["day_events"]
    for rid in ("001-p1-cart-peak-day", "001-p2-cart-peak-day", "001-p1-anc-recovery-day",
                "001-p2-anc-recovery-day", "001-p1-plt-recovery-day", "001-p2-plt-recovery-day"):
        assert ev.loc[ev["sources"] == rid, "time"].tolist() == [float(register_001.loc[rid, "value"])]
    assert ev.loc[ev["sources"] == "001-p1-hsct-time", "time"].tolist() == [49.0]


def test_course_figure_has_both_patients_and_two_axes():
    fig = cr.course_figure(cr.course_rows())
    assert list(fig.layout.yaxis.ticktext) == ["Patient 1", "Patient 2"]
    assert fig.layout.xaxis.type == "date"


def test_regimen_days_are_the_published_days(register_001):
    regimen = cr.regimen_rows().set_index("lane")
    assert (regimen.loc["Decitabine", "first_day"], regimen.loc["Decitabine", "last_day"]) == (1, 5)
    assert (regimen.loc["Aclarubicin", "first_day"], regimen.loc["Aclarubicin", "last_day"]) == (3, 6)
    assert regimen.loc["G-CSF", "end"] - regimen.loc["G-CSF", "start"] == 8  # days 2..9 inclusive
    fig = cr.regimen_figure(cr.regimen_rows())
    assert len(fig.layout.yaxis.ticktext) == 5


# ------------------------------------------------------------------ BCR::ABL1 --

def test_bcr_abl_course_values_and_the_zero(register_001):
    course = cr.bcr_abl_course()
    for _, point in course.iterrows():
        if point["register_id"] != "001-p1-bcrabl-zero-time-fig1d":
            assert point["value_pct"] == float(register_001.loc[point["register_id"], "value"])
    zeros = course[course["value_pct"] == 0]
    assert len(zeros) == 2 and not zeros["detectable"].any()
    assert course.loc[course["value_pct"] > 0, "detectable"].all()
    assert sorted(zeros["x"]) == [7.0, 14.0]  # Fig. 1D legend (1 week) and case text (2 weeks)


def test_no_zero_or_negative_value_reaches_the_log_axis():
    fig = cr.bcr_abl_figure(cr.bcr_abl_course())
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis2.type == "log"
    strip = cr.UNDETECTABLE
    for trace in fig.data:
        if trace.yaxis in ("y", "y2"):
            values = [v for v in trace.y if v is not None]
            assert all(isinstance(v, (int, float)) and v > 0 for v in values), trace.name
        else:
            assert set(trace.y) <= {strip}
    undetectable = [t for t in fig.data if t.yaxis in ("y3", "y4") and t.marker.opacity != 0]
    assert sum(len(t.x) for t in undetectable if t.mode == "markers") == 2


def test_blast_fraction_printed_without_unit_is_converted():
    blasts = cr.blast_measurements().set_index("register_id")
    assert blasts.loc["001-fig1b-blasts-post", "value_pct"] == pytest.approx(0.073)
    assert blasts.loc["001-p2-blasts-fcm-2020-03", "value_pct"] == 85.9
    no_value = blasts[blasts["value_pct"].isna()]
    assert set(no_value["as_printed"]) == {"CR", "MRD-negative CR"}
    fig = cr.blasts_figure(cr.blast_measurements())
    for trace in fig.data:
        if trace.yaxis == "y":
            assert all(v > 0 for v in trace.y)


def test_early_course_table():
    table = cr.early_course().set_index("Event")
    assert table.loc["CAR-T copies peak in blood (Fig. 2A)", "Patient 1 (day)"] == "4"
    assert table.loc["CAR-T copies peak in blood (Fig. 2A)", "Patient 2 (day)"] == "6"
    assert table.loc["Death (relapse and infection)", "Patient 2 (day)"].startswith("about 61")
    assert table.loc["allo-HSCT", "Patient 2 (day)"] == "—"


# -------------------------------------------------------- study 000 (synthetic) --

def tiny_cohort():
    patients = pd.DataFrame({"patient_id": ["L1", "L2", "A1"], "cohort": ["CML-LBC", "CML-LBC", "Ph+ ALL"]})
    treatments = pd.DataFrame([
        ("L1", "TKI", "imatinib", -730.5, -100.0, 400, "mg/day"),
        ("L1", "chemotherapy", "VDCP", -99.0, -72.0, np.nan, None),
        ("L1", "TKI", "dasatinib", -99.0, -6.0, 100, "mg/day"),
        ("L1", "CAR-T", "CD19 CAR-T", 0.0, 0.0, 1e6, "cells/kg"),
        ("L1", "allo-HSCT", "allo-HSCT", 60.0, 60.0, np.nan, None),
        ("L1", "TKI", "dasatinib", 120.0, np.nan, 100, "mg/day"),
        ("L2", "TKI", "imatinib", -365.25, -6.0, 400, "mg/day"),  # no chemotherapy: no blast-crisis proxy
        ("L2", "CAR-T", "CD19 CAR-T", 0.0, 0.0, 1e6, "cells/kg"),
        ("A1", "TKI", "dasatinib", -100.0, -6.0, 100, "mg/day"),
    ], columns=["patient_id", "category", "agent", "start_day", "end_day", "dose", "dose_unit"])
    outcomes = pd.DataFrame({"patient_id": ["L1", "L2", "A1"], "followup_days": [400.0, 90.0, 50.0],
                             "relapsed": [False, True, False], "relapse_day": [np.nan, 28.0, np.nan],
                             "died": [False, True, False], "death_cause": [None, "relapse", None]})
    responses = pd.DataFrame({"patient_id": ["L1", "L2"], "day": [28, 28], "morphologic": ["CR", "NR"],
                              "mrd_flow": ["negative", "positive"], "molecular": ["CMR", "detectable"]})
    return {"patients": patients, "treatments": treatments, "outcomes": outcomes, "responses": responses}


def test_lbc_timeline_from_a_hand_made_cohort():
    t = cr.lbc_timeline(tiny_cohort())
    assert t["n"] == 2
    summary = t["summary"].set_index("patient_id")
    # L1: imatinib from day -730.5, VDCP from day -99: (730.5 - 99) / 30.4375 = 20.747 months
    assert summary.loc["L1", "CML diagnosis to blast crisis (months)"] == pytest.approx(631.5 / 30.4375)
    assert math.isnan(summary.loc["L2", "CML diagnosis to blast crisis (months)"])
    assert t["missing"].to_dict("records") == [{"patient_id": "L2", "what": "blast crisis proxy",
                                                "why": "no chemotherapy before CAR-T"}]
    ev = t["events"]
    assert set(ev.loc[ev["lane"] == "L1", "event"]) >= {cr.PROXY_DIAGNOSIS, cr.PROXY_BLAST_CRISIS, "allo-HSCT",
                                                        "Response (CR/CRi)", "CAR-T infusion"}
    assert set(ev.loc[ev["lane"] == "L2", "event"]) >= {"Death", "Relapse / progression", "No response"}
    bars = t["bars"]
    assert bars["end"].isna().sum() == 1  # dasatinib after HSCT, still ongoing
    assert not bars["category"].isin(["CAR-T", "allo-HSCT"]).any()  # single days are events
    fig = cr.lbc_figure(t)
    assert set(fig.layout.yaxis.ticktext) == {"L1", "L2"}
    assert any("Synthetic" in (a.text or "") for a in fig.layout.annotations)


def test_lbc_timeline_refuses_missing_tables_and_unknown_cohorts():
    cohort = tiny_cohort()
    with pytest.raises(ValueError, match="no outcomes table"):
        cr.lbc_timeline({k: v for k, v in cohort.items() if k != "outcomes"})
    with pytest.raises(ValueError, match="no patients in cohort"):
        cr.lbc_timeline(cohort, group="CML-MBC")


@pytest.mark.skipif(not (SYNTHETIC_DIR / "000" / "treatments.csv").exists(), reason="no synthetic cohort")
def test_lbc_timeline_on_the_synthetic_cohort():
    from helpers import contract

    cohort = contract.load_cohort(SYNTHETIC_DIR / "000")
    t = cr.lbc_timeline(cohort)
    assert t["n"] == int((cohort["patients"]["cohort"] == "CML-LBC").sum())
    assert set(t["followup"]["lane"]) == set(cohort["patients"].loc[cohort["patients"]["cohort"] == "CML-LBC",
                                                                     "patient_id"])


def test_ledger_summary_counts_every_fact_once(facts):
    recorded = cr.record_facts(Ledger("case-reports"), facts)
    summary = cr.ledger_summary(recorded, facts).set_index("Facts about")
    assert summary.loc["All", "All"] == 90
    assert summary.loc["All", "recorded in toxicity"] == 2
    assert summary.loc["All", "recorded in expansion"] == 6
    assert summary.loc["All", "exact"] == 90 - len(cr.RECORDED_ELSEWHERE)
    assert summary.loc["Patient 1", "All"] == int((facts["subject"] == "Patient 1").sum())


def test_every_drawn_trace_has_hover_text():
    figs = [cr.course_figure(cr.course_rows()), cr.regimen_figure(cr.regimen_rows()),
            cr.bcr_abl_figure(cr.bcr_abl_course()), cr.blasts_figure(cr.blast_measurements()),
            cr.lbc_figure(cr.lbc_timeline(tiny_cohort()))]
    for fig in figs:
        for trace in fig.data:
            if trace.hoverinfo == "skip" or (trace.marker is not None and trace.marker.opacity == 0):
                continue
            assert trace.hovertemplate and trace.text is not None, (fig.layout.title.text, trace.name)


def test_the_month_length_is_a_parameter_the_reader_can_change(monkeypatch, register_001):
    monkeypatch.setattr(cr, "MONTH_DAYS", 30.0)
    assert cr.interval_days(register_001.loc["001-p2-death-time"]) == (60.0, True)
    table = cr.early_course().set_index("Event")
    assert table.loc["Death (relapse and infection)", "Patient 2 (day)"].startswith("about 60")
