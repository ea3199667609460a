"""helpers.stats.survival against R's survival package (survfit, survdiff, coxph Efron, cox.zph).

(a) Always: our functions vs the committed R output in tests/fixtures/r/survival_*_expected.csv
    (written by tests/r/survival.R; R and package versions in survival_session.csv).
(b) With a live Rscript (marker ``r_live``): the R script is re-run; the committed fixtures
    must equal R's live output (stale fixtures fail) and our functions must agree with it too.

The cases include tied event times, events and censorings tied at the same time, a curve that
falls exactly to 0.5 on a step (median midpoint rule), a curve that falls to 0, a group without
events, a 8-vs-108 comparison shaped like study 000, and counting-process data.

Regenerate the inputs and fixtures after changing the cases or the R script::

    .venv/bin/python tests/test_survival_vs_r.py --regenerate
"""

from __future__ import annotations

import functools
import math
import sys

import numpy as np
import pandas as pd
import pytest

import r_oracle
from helpers import plots, stats
from helpers.chapters import survival as chapters_survival

ORACLE = r_oracle.Oracle(
    "survival.R",
    inputs=("survival_cases", "survival_times", "survival_models", "survival_tv_cases"),
    outputs=("survival_km_expected", "survival_at_expected", "survival_median_expected",
             "survival_logrank_expected", "survival_logrank_groups_expected", "survival_cox_expected",
             "survival_coxfit_expected", "survival_zph_expected", "survival_zph_resid_expected",
             "survival_coxtv_expected"),
    session="survival_session",
    read_inputs=dict(dtype={"case_id": str, "id": str, "group": str, "terms": str}, keep_default_na=False),
    read_outputs=dict(dtype={"case_id": str, "group": str}))
INPUT_NAMES, OUTPUT_NAMES = ORACLE.inputs, ORACLE.outputs
TOL = 1e-6            # agreement required by the book (absolute)
FIXTURE_TOL = 1e-12   # committed fixtures vs live R
close = functools.partial(r_oracle.close, tol=TOL)


# --------------------------------------------------------------------------- #
# the cases (generated once, committed; R reads the same CSVs)
# --------------------------------------------------------------------------- #
def make_inputs() -> dict[str, pd.DataFrame]:
    rows = []

    def add(case_id, time, status, group, x1=None, x2=None):
        n = len(time)
        x1 = np.zeros(n) if x1 is None else x1
        x2 = np.zeros(n) if x2 is None else x2
        for i in range(n):
            rows.append(dict(case_id=case_id, id=f"{case_id}-{i + 1}", time=float(time[i]), status=int(status[i]),
                             group=str(group[i]), x1=float(x1[i]), x2=float(x2[i])))

    # Freireich et al. (1963) 6-MP vs placebo remission times, weeks (the Gehan data; many ties)
    mp_t = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
    mp_e = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
    pl_t = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]
    add("gehan", mp_t + pl_t, mp_e + [1] * 21, ["6-MP"] * 21 + ["placebo"] * 21,
        x1=np.r_[np.zeros(21), np.ones(21)])
    # a curve that sits exactly at 0.5 (median = midpoint) and one that falls to 0
    add("median_half", [1, 2, 3, 4, 1.5, 2.5, 3.5, 5, 5], [1, 1, 1, 1, 1, 0, 1, 1, 0],
        ["A"] * 4 + ["B"] * 5, x1=np.r_[np.zeros(4), np.ones(5)])
    rng = np.random.default_rng(20240611)
    # three groups, integer times: heavy ties among events and between events and censorings
    n = 90
    grp = rng.choice(["a", "b", "c"], n)
    x1 = rng.integers(0, 2, n).astype(float)
    x2 = np.round(rng.normal(0, 1, n), 2)
    rate = 0.06 * np.exp(0.5 * x1 - 0.3 * x2) * np.where(grp == "c", 1.6, 1.0)
    ev_t = np.ceil(rng.exponential(1 / rate))
    ce_t = np.ceil(rng.uniform(4, 30, n))
    add("ties_3groups", np.minimum(ev_t, ce_t), (ev_t <= ce_t).astype(int), grp, x1, x2)
    # 8 vs 108, like the CML-LBC vs Ph+ ALL responders of study 000; half-month times
    n1, n2 = 8, 108
    g = np.r_[np.ones(n1), np.zeros(n2)]
    kd = np.r_[rng.random(n1) < 0.2, rng.random(n2) < 0.18].astype(float)
    rate = 0.01 * np.exp(2.0 * g + 1.2 * kd)
    ev_t = np.round(rng.exponential(1 / rate) * 2) / 2 + 0.5
    ce_t = np.round(rng.uniform(2, 77, n1 + n2) * 2) / 2
    add("small_vs_large", np.minimum(ev_t, ce_t), (ev_t <= ce_t).astype(int),
        np.where(g == 1, "LBC", "PhALL"), g, kd)
    # a group without any event, and a last time shared by an event and a censoring
    add("zero_events_group", [2, 3, 3, 5, 8, 8, 4, 6, 9, 12, 12],
        [1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0], ["x"] * 6 + ["y"] * 5)
    add("last_is_event", [1, 2, 2, 4, 6, 6, 6, 3, 5, 7, 7, 7], [0, 1, 1, 1, 1, 1, 0, 1, 0, 1, 1, 1],
        ["p"] * 7 + ["q"] * 5, x1=np.array([0, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0], float),
        x2=np.array([1.2, -0.4, 0.3, 2.1, -1.0, 0.5, 0.0, -0.7, 1.1, 0.2, -0.3, 0.9]))
    cases = pd.DataFrame(rows)
    times = pd.DataFrame([dict(case_id=c, t=t) for c, ts in {
        "gehan": [0, 0.5, 6, 10, 12, 23, 35], "median_half": [0.5, 2, 3.2, 5],
        "ties_3groups": [1, 6, 12, 18, 24], "small_vs_large": [6, 12, 24, 36, 60],
        "zero_events_group": [3, 8, 12], "last_is_event": [2, 6, 7]}.items() for t in ts])
    models = pd.DataFrame([dict(case_id="gehan", terms="x1"), dict(case_id="ties_3groups", terms="x1;x2"),
                           dict(case_id="small_vs_large", terms="x1;x2"),
                           dict(case_id="last_is_event", terms="x1;x2")])
    # counting process: exposure switching on during follow-up, tied stop times
    tv_rows = []
    m = 70
    base = rng.integers(0, 2, m).astype(float)
    expo = np.where(rng.random(m) < 0.5, np.ceil(rng.uniform(1, 8, m)), np.nan)
    end = np.ceil(rng.exponential(12, m)) + 1
    cens = np.ceil(rng.uniform(5, 30, m))
    stop = np.minimum(end, cens)
    status = (end <= cens).astype(int)
    for i in range(m):
        if np.isnan(expo[i]) or expo[i] >= stop[i]:
            tv_rows.append(dict(case_id="tv_exposure", id=f"tv-{i + 1}", tstart=0.0, tstop=stop[i],
                                status=status[i], z=0.0, x1=base[i]))
        else:
            tv_rows.append(dict(case_id="tv_exposure", id=f"tv-{i + 1}", tstart=0.0, tstop=expo[i], status=0,
                                z=0.0, x1=base[i]))
            tv_rows.append(dict(case_id="tv_exposure", id=f"tv-{i + 1}", tstart=expo[i], tstop=stop[i],
                                status=status[i], z=1.0, x1=base[i]))
    return {"survival_cases": cases, "survival_times": times, "survival_models": models,
            "survival_tv_cases": pd.DataFrame(tv_rows)}


load_expected = ORACLE.expected
CASES = ORACLE.inputs_or(make_inputs)   # make_inputs() before the first --regenerate
CASE_IDS = sorted(CASES["survival_cases"]["case_id"].unique())
MODEL_IDS = sorted(CASES["survival_models"]["case_id"])


def case_frame(case_id: str) -> pd.DataFrame:
    c = CASES["survival_cases"]
    return c[c["case_id"] == case_id].reset_index(drop=True)


def curves_for(case_id: str) -> dict[str, stats.KaplanMeier]:
    d = case_frame(case_id)
    out = {"(all)": stats.kaplan_meier(d["time"], d["status"])}
    for g in sorted(d["group"].unique()):
        s = d[d["group"] == g]
        out[g] = stats.kaplan_meier(s["time"], s["status"], label=g)
    return out


# --------------------------------------------------------------------------- #
# checks (shared by fixture and live tests)
# --------------------------------------------------------------------------- #
def check_km(case_id: str, exp: dict) -> None:
    r = exp["survival_km_expected"]
    for label, km in curves_for(case_id).items():
        rr = r[(r["case_id"] == case_id) & (r["group"] == label)]
        tab = km.table
        close(tab["time"], rr["time"], f"{case_id}/{label} time")
        for ours, theirs in (("n_risk", "n_risk"), ("n_event", "n_event"), ("n_censor", "n_censor"),
                             ("surv", "surv"), ("std_err", "std_err"), ("lower", "lower"), ("upper", "upper")):
            close(tab[ours], rr[theirs], f"{case_id}/{label} {ours}")


def check_at_and_median(case_id: str, exp: dict) -> None:
    ra, rm = exp["survival_at_expected"], exp["survival_median_expected"]
    times = CASES["survival_times"]
    tt = times.loc[times["case_id"] == case_id, "t"].to_numpy(float)
    for label, km in curves_for(case_id).items():
        at = km.at(tt)
        at = at[~at["beyond_followup"]]
        rr = ra[(ra["case_id"] == case_id) & (ra["group"] == label)]
        close(at["t"], rr["t"], f"{case_id}/{label} at: times kept")
        for ours, theirs in (("surv", "surv"), ("se_surv", "std_err"), ("lower", "lower"), ("upper", "upper"),
                             ("n_risk", "n_risk")):
            close(at[ours], rr[theirs], f"{case_id}/{label} at {ours}")
        med = km.median()
        m = rm[(rm["case_id"] == case_id) & (rm["group"] == label)].iloc[0]
        close([med["estimate"], med["lower"], med["upper"]], [m["median"], m["lower"], m["upper"]],
              f"{case_id}/{label} median and CI")
    d = case_frame(case_id)
    fu = stats.median_followup(d["time"], d["status"])
    m = rm[(rm["case_id"] == case_id) & (rm["group"] == "(reverse)")].iloc[0]
    close([fu["median"], fu["lower"], fu["upper"]], [m["median"], m["lower"], m["upper"]],
          f"{case_id} reverse-KM median follow-up")


def check_logrank(case_id: str, exp: dict) -> None:
    d = case_frame(case_id)
    if d["group"].nunique() < 2:
        return
    res = stats.logrank_test(d["time"], d["status"], d["group"])
    r = exp["survival_logrank_expected"]
    r = r[r["case_id"] == case_id].iloc[0]
    close([res.statistic, res.p_value], [r["chisq"], r["p"]], f"{case_id} log-rank chi-square, P")
    assert res.df == int(r["df"]), f"{case_id} log-rank df"
    rg = exp["survival_logrank_groups_expected"]
    rg = rg[rg["case_id"] == case_id].set_index("group")
    tab = res.table.set_index("group").loc[rg.index]
    close(tab["observed"], rg["observed"], f"{case_id} observed")
    close(tab["expected"], rg["expected"], f"{case_id} expected")
    close(tab["n"], rg["n"], f"{case_id} n")


def fit_case_cox(case_id: str) -> stats.CoxResult:
    terms = CASES["survival_models"].set_index("case_id").loc[case_id, "terms"].split(";")
    return stats.cox_model(case_frame(case_id), "time", "status", terms)


def check_cox(case_id: str, exp: dict) -> None:
    res = fit_case_cox(case_id)
    r = exp["survival_cox_expected"]
    r = r[r["case_id"] == case_id].set_index("term")
    tab = res.table.set_index("term").loc[r.index]
    for col in ("coef", "se", "z", "p", "lower", "upper"):
        close(tab[col], r[col], f"{case_id} Cox {col}")
    f = exp["survival_coxfit_expected"]
    f = f[f["case_id"] == case_id].iloc[0]
    close([res.loglik, res.loglik_null, res.lr_statistic, res.lr_p],
          [f["loglik"], f["loglik_null"], f["lr"], f["lr_p"]], f"{case_id} Cox likelihoods")
    assert (res.n, res.events) == (int(f["n"]), int(f["events"]))


def check_zph(case_id: str, exp: dict) -> None:
    res = fit_case_cox(case_id)
    r = exp["survival_zph_expected"]
    for tr in ("km", "rank", "identity"):
        z = stats.zph_for(res, transform=tr)
        rr = r[(r["case_id"] == case_id) & (r["transform"] == tr)].set_index("term")
        tab = z.table.set_index("term").loc[rr.index]
        close(tab["chisq"], rr["chisq"], f"{case_id} zph[{tr}] chisq")
        close(tab["p"], rr["p"], f"{case_id} zph[{tr}] P")
        assert tab["df"].tolist() == rr["df"].astype(int).tolist()
    z = stats.zph_for(res, transform="km")
    rs = exp["survival_zph_resid_expected"]
    for term in z.residuals.columns:
        rr = rs[(rs["case_id"] == case_id) & (rs["term"] == term)].sort_values("k")
        close(z.x, rr["x"], f"{case_id} zph x")
        close(z.time, rr["time"], f"{case_id} zph time")
        close(z.residuals[term], rr["y"], f"{case_id} scaled Schoenfeld residuals {term}")


def check_coxtv(exp: dict) -> None:
    tv = CASES["survival_tv_cases"]
    r = exp["survival_coxtv_expected"]
    for cid in sorted(tv["case_id"].unique()):
        d = tv[tv["case_id"] == cid]
        res = stats.cox_model(d, "tstop", "status", ["z", "x1"], start="tstart", id_col="id")
        rr = r[r["case_id"] == cid].set_index("term")
        tab = res.table.set_index("term").loc[rr.index]
        for col in ("coef", "se", "p"):
            close(tab[col], rr[col], f"{cid} time-varying Cox {col}")
        close(res.loglik, rr["loglik"].iloc[0], f"{cid} time-varying Cox loglik")


# --------------------------------------------------------------------------- #
# (a) committed fixtures
# --------------------------------------------------------------------------- #
def test_inputs_are_what_make_inputs_builds():
    """The committed inputs are the documented cases (and still contain tied times)."""
    r_oracle.assert_same_frames(make_inputs(), CASES, INPUT_NAMES)
    c = CASES["survival_cases"]
    ties = c[c["status"] == 1].groupby(["case_id", "time"]).size()
    assert (ties > 1).sum() >= 10, "fixtures must include tied event times"
    mixed = c.groupby(["case_id", "time"])["status"].nunique()
    assert (mixed > 1).sum() >= 5, "fixtures must include events and censorings at the same time"
    assert ORACLE.committed_r_version().startswith("R version")


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_km_vs_r(case_id):
    check_km(case_id, load_expected())


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_rates_medians_followup_vs_r(case_id):
    check_at_and_median(case_id, load_expected())


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_logrank_vs_r(case_id):
    check_logrank(case_id, load_expected())


@pytest.mark.parametrize("case_id", MODEL_IDS)
def test_cox_vs_r(case_id):
    check_cox(case_id, load_expected())


@pytest.mark.parametrize("case_id", MODEL_IDS)
def test_cox_zph_vs_r(case_id):
    check_zph(case_id, load_expected())


def test_time_varying_cox_vs_r():
    check_coxtv(load_expected())


# --------------------------------------------------------------------------- #
# textbook values and behaviour that need no R
# --------------------------------------------------------------------------- #
def test_gehan_textbook_logrank():
    """Freireich 6-MP data: the log-rank chi-square is 16.79 (e.g. Collett, Modelling Survival Data)."""
    d = case_frame("gehan")
    res = stats.logrank_test(d["time"], d["status"], d["group"])
    assert round(res.statistic, 2) == 16.79
    tab = res.table.set_index("group")
    assert tab.loc["6-MP", "observed"] == 9 and tab.loc["placebo", "observed"] == 21
    assert round(tab.loc["placebo", "expected"], 2) == 10.75


def test_gehan_textbook_km_and_hand_arithmetic():
    d = case_frame("gehan")
    s = d[d["group"] == "6-MP"]
    km = stats.kaplan_meier(s["time"], s["status"])
    # S(6) = 18/21, S(7) = 18/21 * 16/17, S(10) = ... * 14/15 (textbook product-limit steps)
    at = km.at([6, 7, 10]).set_index("t")["surv"]
    assert math.isclose(at[6], 18 / 21, abs_tol=1e-15)
    assert math.isclose(at[7], 18 / 21 * 16 / 17, abs_tol=1e-15)
    assert math.isclose(at[10], 18 / 21 * 16 / 17 * 14 / 15, abs_tol=1e-15)
    # Greenwood at 6: var(S) = S^2 * 3 / (21 * 18)
    se = km.at([6])["se_surv"].iloc[0]
    assert math.isclose(se, (18 / 21) * math.sqrt(3 / (21 * 18)), rel_tol=1e-12)
    assert km.median()["estimate"] == 23


def test_median_midpoint_rule():
    km = stats.kaplan_meier([1, 2, 3, 4], [1, 1, 1, 1])
    assert km.median()["estimate"] == 2.5


def test_split_at_exposure_rules():
    frame = pd.DataFrame(dict(pid=["a", "b", "c", "d"], t=[10.0, 10.0, 10.0, 5.0], e=[1, 0, 1, 1],
                              x=[4.0, np.nan, 0.0, 5.0]))
    out = stats.split_at_exposure(frame, id_col="pid", time="t", event="e", exposure_time="x")
    a = out[out["pid"] == "a"]
    assert a[["start", "stop", "event", "exposed"]].values.tolist() == [[0, 4, 0, 0], [4, 10, 1, 1]]
    assert out[out["pid"] == "b"]["exposed"].tolist() == [0]
    assert out[out["pid"] == "c"][["start", "exposed"]].values.tolist() == [[0, 1]]
    # exposure at the event time: the event came first (unexposed), as tmerge
    assert out[out["pid"] == "d"][["stop", "event", "exposed"]].values.tolist() == [[5, 1, 0]]
    # person-time is preserved
    assert math.isclose((out["stop"] - out["start"]).sum(), frame["t"].sum())


def test_landmark_counts_everyone():
    frame = pd.DataFrame(dict(t=[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], e=[1, 0, 1, 1, 0, 1],
                              x=[np.nan, 1.0, 2.5, 3.5, np.nan, 1.0]))
    data, excl = stats.landmark(frame, at=3.0, time="t", event="e", exposure_time="x")
    assert len(data) == 3 and data["time_from_landmark"].tolist() == [1.0, 2.0, 3.0]
    assert data["exposed_at_landmark"].tolist() == [0, 0, 1]
    counts = excl.set_index("reason")["patients"]
    assert counts.iloc[0] + counts.iloc[1] + counts.iloc[2] == len(frame)
    assert counts.iloc[3] == 1  # exposed at 3.5, after the landmark


def test_survival_figure_shows_risk_table_censoring_and_test():
    d = case_frame("gehan")
    curves = [stats.kaplan_meier(d.loc[d["group"] == g, "time"], d.loc[d["group"] == g, "status"], label=g)
              for g in ("6-MP", "placebo")]
    fig = plots.survival_figure(curves, title="t", y_title="S", test_text="log-rank P = 0.0000417",
                                   risk_times=[0, 10, 20, 30])
    risk = [tr for tr in fig.data if tr.mode == "text"]
    # counted by hand: patients with time >= t
    assert [list(tr.text) for tr in risk] == [["21", "15", "8", "4"], ["21", "8", "2", "0"]]
    marks = [tr for tr in fig.data if tr.name and tr.name.endswith("censored")]
    assert sorted(marks[0].x) == sorted(d.loc[(d["group"] == "6-MP") & (d["status"] == 0), "time"].tolist())
    assert len(marks) == 1  # no placebo patient was censored
    assert any("0.0000417" in (t.name or "") for t in fig.data if t.showlegend is not False)  # a legend line
    assert fig.layout.xaxis.matches == "x2"  # curves and risk table share one time axis
    legend = [tr.name for tr in fig.data if tr.showlegend is not False]
    assert legend[0].startswith("6-MP (n = 21)<br>median 23.0 months")  # two lines: fits a phone


@pytest.mark.parametrize("time, event, message", [
    ([1, 2, np.nan], [1, 0, 1], "missing or infinite"),
    ([1, -2, 3], [1, 0, 1], "negative"),
    ([1, 2, 3], [1, 2, 1], "0/1 or True/False"),
    ([1, 2, 3], [1, 0], "one value per time"),
    ([], [], "empty"),
    (["a", "b"], [1, 0], "numeric"),
])
def test_bad_input_is_refused(time, event, message):
    with pytest.raises(ValueError, match=message):
        stats.kaplan_meier(time, event)


def test_bad_group_and_covariates():
    with pytest.raises(ValueError, match="at least two groups"):
        stats.logrank_test([1, 2, 3], [1, 1, 0], ["a", "a", "a"])
    frame = pd.DataFrame(dict(t=[1.0, 2, 3, 4], e=[1, 0, 1, 1], x=[1.0, np.nan, 0, 1], c=[1, 1, 1, 1]))
    with pytest.raises(ValueError, match="missing values"):
        stats.cox_model(frame, "t", "e", ["x"])
    with pytest.raises(ValueError, match="single value"):
        stats.cox_model(frame, "t", "e", ["c"])
    with pytest.raises(KeyError, match="not in the data"):
        stats.cox_model(frame, "t", "e", ["nope"])


def test_consistency_000_flags_the_impossible_pairs():
    table = chapters_survival.consistency_000()
    bad = table[table["Can hold?"] == "NO"]
    rules = set(zip(bad["Rule"], bad["Cohort"]))
    assert ("2-year LFS + 2-year CIR ≤ 100% (same patients)", "CML-LBC") in rules
    assert ("2-year LFS + 2-year CIR ≤ 100% (same patients)", "Ph+ ALL") in rules
    assert ("2-year LFS ≤ 2-year OS (same patients)", "Ph+ ALL") in rules
    assert ("2-year LFS ≤ 2-year OS (same patients)", "CML-LBC") not in rules


# --------------------------------------------------------------------------- #
# (b) live R
# --------------------------------------------------------------------------- #
# live_r: tests/conftest.py runs ORACLE (skipped without Rscript)
@pytest.mark.r_live
@pytest.mark.parametrize("name", OUTPUT_NAMES)
def test_committed_fixtures_equal_live_r(live_r, name):
    assert ORACLE.live_mismatches(live_r, name, tol=FIXTURE_TOL) == []


@pytest.mark.r_live
def test_everything_vs_live_r(live_r):
    for cid in CASE_IDS:
        check_km(cid, live_r)
        check_at_and_median(cid, live_r)
        check_logrank(cid, live_r)
    for cid in MODEL_IDS:
        check_cox(cid, live_r)
        check_zph(cid, live_r)
    check_coxtv(live_r)


# --------------------------------------------------------------------------- #
if __name__ == "__main__":   # --regenerate: rewrite the case inputs and re-run tests/r/survival.R
    ORACLE.main(sys.argv[1:], make_inputs=make_inputs)


def test_survival_figure_steps_hover_and_band_follow_the_textbook_curve():
    """Gehan's 6-MP arm (Freireich et al. 1963; the worked example of Kleinbaum & Klein, ch. 2): the steps,
    their hover numbers at risk and the CI band are the Kaplan–Meier curve, one point per step."""
    d = case_frame("gehan")
    arm = d[d["group"] == "6-MP"]
    fig = plots.survival_figure([stats.kaplan_meier(arm["time"], arm["status"], label="6-MP")],
                                   title="t", y_title="S", max_time=35)
    line = next(tr for tr in fig.data if tr.name.startswith("6-MP (n = 21)"))
    assert line.line.shape == "hv"
    steps = {float(x): (round(y, 1), int(r), int(e)) for x, y, r, e in
             zip(line.x, line.y, line.customdata[:, 2], line.customdata[:, 3])}
    assert set(steps) == {0.0, *map(float, arm["time"])}, "a point at every event and censoring time"
    # (estimate %, at risk, events so far) at the event times, counted by hand
    assert [steps[t] for t in (6, 7, 10, 13, 16, 22, 23)] == [
        (85.7, 21, 3), (80.7, 17, 4), (75.3, 15, 5), (69.0, 12, 6), (62.7, 11, 7), (53.8, 7, 8), (44.8, 6, 9)]
    assert steps[35.0] == (44.8, 1, 9)
    lower, upper = [tr for tr in fig.data if tr.name == "6-MP 95% CI"]
    assert lower.fill in (None, "none") and upper.fill == "tonexty"
    assert all(lo <= y <= hi for lo, y, hi in zip(lower.y, line.y, upper.y))
    assert list(lower.x) == list(line.x) and lower.line.shape == upper.line.shape == "hv"


def test_a_log_rank_test_without_variance_is_refused_as_r_refuses_it():
    """Two patients, one per group, both dying on day 1: at the only event time everyone at risk
    dies, so d (n - d) / (n - 1) = 0 and the variance is zero. R's survdiff stops with "system is
    exactly singular"; the helper says why instead of returning a statistic."""
    with pytest.raises(np.linalg.LinAlgError, match="not computable: the variance"):
        stats.logrank_test([1, 1], [1, 1], ["a", "b"])
    # one more patient at risk after day 1 gives a variance: survdiff prints Chisq = 0.5 on 1 df
    assert stats.logrank_test([1, 1, 2], [1, 1, 0], ["a", "b", "b"]).statistic == pytest.approx(0.5, rel=1e-12)
