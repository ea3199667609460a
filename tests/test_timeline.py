"""The swimmer/timeline helper: ordering, overlaps, open-ended follow-up, single events, bad input.

Oracles are independent of the code under test: track counts are checked against a brute-force
count of how many bars run at once; positions and lengths against hand arithmetic.
"""

import itertools

import numpy as np
import pandas as pd
import pytest

from helpers import plots
from helpers.plots import Panel, TimelineInputError


def bars(rows):
    return pd.DataFrame(rows, columns=["lane", "start", "end", "category", "label"])


def events(rows):
    return pd.DataFrame(rows, columns=["lane", "time", "event"])


def followup(rows):
    return pd.DataFrame(rows, columns=["lane", "end", "ongoing"])


def bar_traces(figure):
    return [t for t in figure.data if t.type == "bar"]


def trace_named(figure, prefix):
    found = [t for t in figure.data if (t.name or "").startswith(prefix)]
    assert found, f"no trace named {prefix!r}: {[t.name for t in figure.data]}"
    return found


# ------------------------------------------------------------------ ordering --

def test_lanes_ordered_by_followup_longest_first():
    fig = plots.swimmer(events=events([("B", 0, "CAR-T"), ("A", 0, "CAR-T"), ("C", 0, "CAR-T")]),
                     followup=followup([("B", 10, False), ("A", 30, True), ("C", 20, False)]))
    assert plots.lanes_in(fig) == ["A", "C", "B"]


def test_lanes_ordered_by_earliest_start():
    b = bars([("late", -10, -5, "TKI", ""), ("early", -300, -5, "TKI", ""), ("middle", -50, -5, "TKI", "")])
    assert plots.lanes_in(plots.swimmer(b, order="start")) == ["early", "middle", "late"]


def test_given_order_is_order_of_first_appearance():
    b = bars([("z", 0, 1, "TKI", ""), ("a", 0, 1, "TKI", ""), ("z", 2, 3, "TKI", "")])
    assert plots.lanes_in(plots.swimmer(b, order="given")) == ["z", "a"]


def test_explicit_order_is_kept_and_lanes_without_followup_go_last():
    b = bars([("x", 0, 1, "TKI", ""), ("y", 0, 1, "TKI", ""), ("w", 0, 1, "TKI", "")])
    assert plots.lanes_in(plots.swimmer(b, order=["y", "w", "x"])) == ["y", "w", "x"]
    f = followup([("y", 5, False)])
    assert plots.lanes_in(plots.swimmer(b, followup=f)) == ["y", "x", "w"]


def test_ties_in_followup_keep_the_order_of_appearance():
    f = followup([("p2", 10, False), ("p1", 10, False), ("p3", 12, False)])
    assert plots.lanes_in(plots.swimmer(followup=f)) == ["p3", "p2", "p1"]


@pytest.mark.parametrize("order, message", [
    (["a", "a", "b"], "repeats"),
    (["a", "b", "ghost"], "no data"),
    (["a"], "leaves out"),
    ("alphabetical", "must be one of"),
])
def test_bad_lane_orders_are_refused(order, message):
    b = bars([("a", 0, 1, "TKI", ""), ("b", 0, 1, "TKI", "")])
    with pytest.raises(TimelineInputError, match=message):
        plots.swimmer(b, order=order)


# ----------------------------------------------------------------- overlaps --

def max_concurrent(intervals):
    """Brute force: the most intervals [s, e) covering one instant (checked at every start)."""
    return max(sum(1 for s, e in intervals if s <= t < e) for t, _ in intervals)


def test_tki_with_chemotherapy_alongside_takes_two_tracks():
    b = plots.check_bars(bars([
        ("P", 0, 100, "TKI", "imatinib"), ("P", 100, 200, "TKI", "dasatinib"),
        ("P", 100, 107, "Chemotherapy", "IA"), ("P", 200, 250, "TKI", "nilotinib"),
    ]))
    t = plots.assign_tracks(b).set_index("label")
    assert set(t["n_tracks"]) == {2}
    # the continuing TKI line stays on one track; the 7-day block moves beside it
    assert t.loc["imatinib", "track"] == t.loc["dasatinib", "track"] == t.loc["nilotinib", "track"] == 0
    assert t.loc["IA", "track"] == 1


def test_touching_bars_share_a_track():
    b = plots.check_bars(bars([("P", 0, 10, "TKI", "a"), ("P", 10, 20, "TKI", "b"), ("P", 20, 30, "TKI", "c")]))
    assert plots.assign_tracks(b)["n_tracks"].eq(1).all()


def test_three_simultaneous_lines_take_three_tracks_and_other_lanes_are_unaffected():
    b = plots.check_bars(bars([("P", 0, 10, "TKI", "a"), ("P", 2, 8, "Chemotherapy", "b"),
                            ("P", 3, 5, "Interferon", "c"), ("Q", 0, 10, "TKI", "d")]))
    t = plots.assign_tracks(b).set_index("label")
    assert t.loc[["a", "b", "c"], "n_tracks"].eq(3).all()
    assert sorted(t.loc[["a", "b", "c"], "track"]) == [0, 1, 2]
    assert t.loc["d", "n_tracks"] == 1


@pytest.mark.parametrize("seed", range(25))
def test_track_count_is_the_greatest_overlap_and_tracks_never_overlap(seed):
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, 50, size=12)
    lengths = rng.integers(1, 20, size=12)
    b = plots.check_bars(pd.DataFrame({"lane": "P", "start": starts, "end": starts + lengths,
                                    "category": "TKI", "label": [f"b{i}" for i in range(12)]}))
    t = plots.assign_tracks(b)
    intervals = list(zip(t["start"], t["end"]))
    assert t["n_tracks"].iloc[0] == max_concurrent(intervals)
    for _, part in t.groupby("track"):
        for (s1, e1), (s2, e2) in itertools.combinations(zip(part["start"], part["end"]), 2):
            assert e1 <= s2 or e2 <= s1, "two bars on one track overlap"


def test_overlapping_bars_are_drawn_thinner_and_side_by_side():
    b = bars([("P", 0, 10, "TKI", "a"), ("P", 5, 15, "Chemotherapy", "b")])
    fig = plots.swimmer(b)
    (tki,), (chemo,) = [t for t in bar_traces(fig) if t.name.startswith("TKI")], \
        [t for t in bar_traces(fig) if t.name.startswith("Chemotherapy")]
    assert tki.y[0] != chemo.y[0]
    assert abs(tki.y[0] - chemo.y[0]) == pytest.approx(plots.LANE_FILL / 2)
    assert tki.width[0] == pytest.approx(plots.LANE_FILL / 2 * 0.9)
    assert list(tki.base) == [0.0] and list(tki.x) == [10.0]
    assert list(chemo.base) == [5.0] and list(chemo.x) == [10.0]


def test_events_at_the_same_time_are_spread_apart():
    ev = plots.check_events(events([("P", 14, "CR"), ("P", 14, "ANC recovery"), ("P", 4, "peak")]))
    offsets = plots.event_offsets(ev)
    assert offsets.iloc[0] != offsets.iloc[1]
    assert offsets.iloc[2] == 0.0


# ------------------------------------------------------- open-ended follow-up --

def test_open_ended_bar_runs_to_followup_end_with_an_arrow():
    b = bars([("P", 30, np.nan, "TKI", "dasatinib"), ("Q", 0, 5, "TKI", "imatinib")])
    f = followup([("P", 120, True), ("Q", 40, False)])
    resolved = plots.resolve_open_ends(plots.check_bars(b), plots.check_followup(f))
    assert resolved.loc[0, "end"] == 120 and bool(resolved.loc[0, "open_ended"])
    assert not bool(resolved.loc[1, "open_ended"])
    fig = plots.swimmer(b, followup=f)
    (arrow,) = trace_named(fig, "Therapy ongoing")
    assert list(arrow.x) == [120]
    (alive,) = trace_named(fig, "Followed beyond")
    assert list(alive.x) == [120]  # only the lane still followed gets the follow-up arrow
    (tki,) = [t for t in bar_traces(fig)]
    assert "ongoing at last contact" in tki.text[list(tki.base).index(30.0)]


def test_followup_line_starts_at_first_bar_or_event():
    b = bars([("P", -100, -10, "TKI", "imatinib")])
    fig = plots.swimmer(b, events([("P", 0, "CAR-T")]), followup([("P", 60, True)]))
    (line,) = trace_named(fig, "Follow-up")
    assert list(line.x[:2]) == [-100, 60]


def test_open_ended_bar_without_followup_is_an_error():
    with pytest.raises(TimelineInputError, match="need a follow-up row"):
        plots.swimmer(bars([("P", 30, np.nan, "TKI", "dasatinib")]))


def test_open_ended_bar_starting_after_last_contact_is_an_error():
    with pytest.raises(TimelineInputError, match="start after the lane's follow-up end"):
        plots.swimmer(bars([("P", 300, np.nan, "TKI", "x")]), followup=followup([("P", 100, True)]))


# ------------------------------------------------------- single-event patients --

def test_a_patient_with_a_single_event_gets_a_lane():
    b = bars([("P1", -50, 0, "TKI", "imatinib")])
    ev = events([("P1", 0, "CAR-T"), ("P2", 0, "CAR-T")])
    fig = plots.swimmer(b, ev, order="given")
    assert plots.lanes_in(fig) == ["P1", "P2"]
    (car,) = trace_named(fig, "CAR-T")
    assert list(car.y) == [0, 1]
    assert car.name == "CAR-T (2/2 patients)"


def test_a_single_event_alone_is_drawable():
    fig = plots.swimmer(events=events([("only", 3, "death")]))
    assert plots.lanes_in(fig) == ["only"]
    assert len(fig.data) == 1


def test_a_lane_with_only_followup():
    fig = plots.swimmer(followup=followup([("P", 10, True)]))
    assert plots.lanes_in(fig) == ["P"]


# ---------------------------------------------------------------- many lanes --

def cohort(n):
    rng = np.random.default_rng(n)
    lanes = [f"pt{i:03d}" for i in range(n)]
    b = pd.DataFrame({"lane": lanes, "start": -rng.uniform(100, 900, n), "end": -5.0, "category": "TKI"})
    b2 = pd.DataFrame({"lane": lanes, "start": -5.0, "end": -3.0, "category": "FC"})
    ev = pd.DataFrame({"lane": lanes[: n // 2], "time": 30.0, "event": "relapse"})
    f = pd.DataFrame({"lane": lanes, "end": rng.uniform(10, 800, n), "ongoing": rng.random(n) < 0.5})
    return pd.concat([b, b2], ignore_index=True), ev, f


def test_trace_count_does_not_grow_with_patients_and_legend_counts_lanes():
    small, large = cohort(6), cohort(200)
    fig_small, fig_large = plots.swimmer(*small), plots.swimmer(*large)
    assert len(fig_small.data) == len(fig_large.data)
    (relapse,) = trace_named(fig_large, "relapse")
    assert relapse.name == "relapse (100/200 patients)"
    assert len(relapse.x) == 100


def test_lane_labels_give_way_when_there_are_many_lanes():
    fig = plots.swimmer(*cohort(200), max_lane_labels=40)
    assert plots.lanes_in(fig) == []
    assert "200 patients" in fig.layout.yaxis.title.text
    assert len(plots.lanes_in(plots.swimmer(*cohort(12)))) == 12


def test_hover_text_names_lane_drug_and_span():
    fig = plots.swimmer(bars([("P", -30, -6, "TKI", "dasatinib 100 mg/day")]))
    (bar,) = bar_traces(fig)
    assert "P" in bar.text[0] and "dasatinib 100 mg/day" in bar.text[0] and "24 days" in bar.text[0]


# --------------------------------------------------------------------- dates --

def test_dated_bars_use_a_date_axis_with_exact_lengths():
    b = bars([("P", pd.Timestamp("2019-11-15"), pd.Timestamp("2019-12-30"), "TKI", "nilotinib")])
    fig = plots.swimmer(b)
    (bar,) = bar_traces(fig)
    assert fig.layout.xaxis.type == "date"
    assert bar.base[0].startswith("2019-11-15")
    assert bar.x[0] == 45 * 86_400_000  # 15 Nov -> 30 Dec 2019 is 45 days, in milliseconds
    assert "45 days" in bar.text[0]


def test_panels_share_lanes_and_keep_their_own_axes():
    cal = Panel(bars=bars([("P1", pd.Timestamp("2019-01-15"), pd.Timestamp("2019-07-15"), "TKI", "imatinib")]),
                title="calendar")
    days = Panel(events=events([("P1", 4, "peak"), ("P2", 6, "peak")]), title="days")
    fig = plots.swimmer(panels=[cal, days], order="given")
    assert plots.lanes_in(fig) == ["P1", "P2"]
    assert fig.layout.xaxis.type == "date" and fig.layout.xaxis2.type != "date"
    (peak,) = trace_named(fig, "peak")
    assert peak.xaxis == "x2"


# ---------------------------------------------------------------- bad input --

@pytest.mark.parametrize("frame, message", [
    (pd.DataFrame({"lane": ["P"], "start": [0]}), "missing column"),
    (bars([("P", "day one", 5, "TKI", "")]), "numbers .* or dates"),
    (bars([("P", np.nan, 5, "TKI", "")]), "every row needs a time"),
    (bars([("P", 10, 5, "TKI", "x")]), "end before they start"),
    (bars([(None, 0, 5, "TKI", "")]), "lane is empty"),
    (bars([("P", 0, 5, None, "")]), "category is empty"),
])
def test_bad_bars_are_refused_with_a_clear_message(frame, message):
    with pytest.raises(TimelineInputError, match=message):
        plots.swimmer(frame)


def test_bad_events_and_followup_are_refused():
    with pytest.raises(TimelineInputError, match="events is missing"):
        plots.swimmer(events=pd.DataFrame({"lane": ["P"], "when": [3]}))
    with pytest.raises(TimelineInputError, match="every row needs a time"):
        plots.swimmer(events=events([("P", None, "CR")]))
    with pytest.raises(TimelineInputError, match="one row per lane"):
        plots.swimmer(followup=followup([("P", 5, True), ("P", 9, False)]))
    with pytest.raises(TimelineInputError, match="true or false"):
        plots.swimmer(followup=followup([("P", 5, None)]))
    with pytest.raises(TimelineInputError, match="ends before it starts"):
        plots.swimmer(followup=pd.DataFrame({"lane": ["P"], "start": [10], "end": [5]}))


def test_mixing_dates_and_numbers_in_one_panel_is_refused():
    b = bars([("P", pd.Timestamp("2019-01-01"), pd.Timestamp("2019-02-01"), "TKI", "")])
    with pytest.raises(TimelineInputError, match="mixes dates and numbers"):
        plots.swimmer(b, events([("P", 4, "peak")]))


def test_nothing_to_draw_and_wrong_types_are_refused():
    with pytest.raises(TimelineInputError, match="nothing to draw"):
        plots.swimmer()
    with pytest.raises(TimelineInputError, match="DataFrame"):
        plots.swimmer(bars=[("P", 0, 1, "TKI")])
    with pytest.raises(TimelineInputError, match="not both"):
        plots.swimmer(bars([("P", 0, 1, "TKI", "")]), panels=[Panel()])
    with pytest.raises(TimelineInputError, match="panels is empty"):
        plots.swimmer(panels=[])
