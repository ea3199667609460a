"""helpers.stats.competing_risks against R's cmprsk (cuminc, timepoints, Gray's test, crr).

(a) Always: our functions vs the committed R output in tests/fixtures/r/cmprsk_*_expected.csv
    (written by tests/r/cmprsk.R; versions in cmprsk_session.csv).
(b) With a live Rscript (marker ``r_live``): the committed fixtures must equal R's live output
    and our functions must agree with it.

The cases have relapses, competing deaths and censorings tied at the same times, a group
without any event of the cause, a last follow-up time that is a failure of the cause, Gray's
test with strata and with rho = 1, and Fine–Gray models for either cause and with
censoring groups.

Regenerate the inputs and fixtures::

    .venv/bin/python tests/test_competing_risks_vs_r.py --regenerate
"""

from __future__ import annotations

import functools
import sys

import numpy as np
import pandas as pd
import pytest

import r_oracle
from helpers import stats

ORACLE = r_oracle.Oracle(
    "cmprsk.R",
    inputs=("cmprsk_cases", "cmprsk_times", "cmprsk_models"),
    outputs=("cmprsk_cuminc_expected", "cmprsk_timepoints_expected", "cmprsk_gray_expected",
             "cmprsk_crr_expected", "cmprsk_crrfit_expected"),
    session="cmprsk_session",
    read_inputs=dict(dtype={"case_id": str, "id": str, "group": str, "strata": str, "cg": str, "terms": str,
                            "cengroup": str}, keep_default_na=False),
    read_outputs=dict(dtype={"case_id": str, "curve": str, "cause": str, "model_id": str}))
INPUT_NAMES, OUTPUT_NAMES = ORACLE.inputs, ORACLE.outputs
TOL = 1e-6
FIXTURE_TOL = 1e-12
close = functools.partial(r_oracle.close, tol=TOL)


def make_inputs() -> dict[str, pd.DataFrame]:
    rows = []

    def add(case_id, time, status, group, strata=None, x1=None, x2=None, cg=None):
        n = len(time)
        strata = ["s1"] * n if strata is None else strata
        x1 = np.zeros(n) if x1 is None else x1
        x2 = np.zeros(n) if x2 is None else x2
        cg = ["c1"] * n if cg is None else cg
        for i in range(n):
            rows.append(dict(case_id=case_id, id=f"{case_id}-{i + 1}", time=float(time[i]), status=int(status[i]),
                             group=str(group[i]), strata=str(strata[i]), x1=float(x1[i]), x2=float(x2[i]),
                             cg=str(cg[i])))

    # hand-made: cause 1, cause 2 and censoring tied at times 3 and 5
    add("textbook", [1, 2, 3, 3, 3, 4, 5, 5, 5, 6, 2, 3, 3, 4, 5, 5, 7, 8],
        [1, 0, 1, 2, 0, 1, 1, 2, 0, 0, 2, 1, 1, 0, 1, 2, 0, 1],
        ["A"] * 10 + ["B"] * 8, x1=np.r_[np.zeros(10), np.ones(8)],
        x2=np.array([0.5, -1, 0.2, 1.1, 0, -0.3, 0.8, 0.1, -0.6, 0.4, 1.5, -0.2, 0.3, 0.9, -1.1, 0.6, 0.0, -0.5]))
    rng = np.random.default_rng(20240612)
    # two groups, two strata, integer times with heavy ties
    n = 100
    grp = rng.choice(["a", "b"], n)
    strata = rng.choice(["s1", "s2"], n)
    x1 = (grp == "b").astype(float)
    x2 = np.round(rng.normal(0, 1, n), 2)
    t1 = np.ceil(rng.exponential(1 / (0.05 * np.exp(0.7 * x1 + 0.3 * x2))))
    t2 = np.ceil(rng.exponential(1 / (0.03 * np.exp(-0.4 * x1))))
    c = np.ceil(rng.uniform(3, 30, n))
    time = np.minimum.reduce([t1, t2, c])
    status = np.where(time == t1, 1, np.where(time == t2, 2, 0))
    add("ties_2groups", time, status, grp, strata, x1, x2, cg=np.where(rng.random(n) < 0.5, "c1", "c2"))
    # three groups (Gray's test with rho = 1 as well)
    n = 120
    grp = rng.choice(["g1", "g2", "g3"], n)
    x1 = (grp == "g3").astype(float)
    t1 = np.ceil(rng.exponential(1 / np.where(grp == "g1", 0.03, np.where(grp == "g2", 0.05, 0.08))))
    t2 = np.ceil(rng.exponential(1 / 0.04, n))
    c = np.ceil(rng.uniform(5, 40, n))
    time = np.minimum.reduce([t1, t2, c])
    status = np.where(time == t1, 1, np.where(time == t2, 2, 0))
    add("three_groups", time, status, grp, x1=x1, x2=np.round(rng.normal(0, 1, n), 2))
    # like the responders of study 000: 8 vs 108, half-month times
    n1, n2 = 8, 108
    g = np.r_[np.ones(n1), np.zeros(n2)]
    kd = np.r_[rng.random(n1) < 0.2, rng.random(n2) < 0.18].astype(float)
    t1 = np.round(rng.exponential(1 / (0.012 * np.exp(2.2 * g + 1.3 * kd))) * 2) / 2 + 1
    t2 = np.round(rng.exponential(1 / 0.004, n1 + n2) * 2) / 2 + 1
    c = np.round(rng.uniform(3, 77, n1 + n2) * 2) / 2
    time = np.minimum.reduce([t1, t2, c])
    status = np.where(time == t1, 1, np.where(time == t2, 2, 0))
    add("like_000", time, status, np.where(g == 1, "LBC", "PhALL"), x1=g, x2=kd)
    # the largest time is a failure of cause 1 (tied with a competing death)
    add("last_is_cause1", [1, 2, 2, 3, 4, 4, 6, 6, 2, 3, 5, 6], [2, 1, 0, 1, 2, 1, 1, 2, 1, 0, 2, 1],
        ["u"] * 8 + ["v"] * 4)
    # a group with no event of cause 1
    add("group_without_cause", [1, 2, 3, 4, 5, 6, 2, 3, 3, 5, 7], [1, 2, 1, 0, 1, 2, 2, 0, 2, 0, 0],
        ["p"] * 6 + ["q"] * 5)
    cases = pd.DataFrame(rows)
    times = pd.DataFrame([dict(case_id=c, t=t) for c, ts in {
        "textbook": [0, 2.5, 3, 5, 8, 9], "ties_2groups": [1, 5, 10, 20, 29], "three_groups": [6, 12, 24, 36],
        "like_000": [6, 12, 24, 36, 60], "last_is_cause1": [1, 3, 6], "group_without_cause": [2, 4, 7]}.items()
        for t in ts])
    models = pd.DataFrame([
        dict(case_id="textbook", terms="x1;x2", failcode=1, cengroup="no", rho=0.0),
        dict(case_id="ties_2groups", terms="x1;x2", failcode=1, cengroup="no", rho=0.0),
        dict(case_id="ties_2groups", terms="x1;x2", failcode=2, cengroup="no", rho=0.0),
        dict(case_id="ties_2groups", terms="x1;x2", failcode=1, cengroup="yes", rho=0.0),
        dict(case_id="three_groups", terms="x1;x2", failcode=1, cengroup="no", rho=1.0),
        dict(case_id="like_000", terms="x1;x2", failcode=1, cengroup="no", rho=0.0),
    ])
    return {"cmprsk_cases": cases, "cmprsk_times": times, "cmprsk_models": models}


load_expected = ORACLE.expected
CASES = ORACLE.inputs_or(make_inputs)   # make_inputs() before the first --regenerate
CASE_IDS = sorted(CASES["cmprsk_cases"]["case_id"].unique())
MODELS = CASES["cmprsk_models"]
MODEL_IDS = [f"{r.case_id}/{r.failcode}/{r.cengroup}" for r in MODELS.itertuples()]


def case_frame(case_id: str) -> pd.DataFrame:
    c = CASES["cmprsk_cases"]
    return c[c["case_id"] == case_id].reset_index(drop=True)


def rho_of(case_id: str) -> float:
    m = MODELS[MODELS["case_id"] == case_id]
    return float(m["rho"].iloc[0]) if len(m) else 0.0


# --------------------------------------------------------------------------- #
def check_cuminc(case_id: str, exp: dict) -> None:
    d = case_frame(case_id)
    ours = stats.cuminc(d["time"], d["status"], d["group"], rho=rho_of(case_id))
    r = exp["cmprsk_cuminc_expected"]
    r = r[r["case_id"] == case_id]
    assert sorted(k for k in ours if k != "Tests") == sorted(r["curve"].unique())
    for name in r["curve"].unique():
        rr = r[r["curve"] == name].sort_values("k")
        steps = ours[name].steps
        close(steps["time"], rr["time"], f"{case_id} {name} time")
        close(steps["est"], rr["est"], f"{case_id} {name} estimate")
        close(steps["var"], rr["var"], f"{case_id} {name} variance")
    tp = exp["cmprsk_timepoints_expected"]
    tp = tp[tp["case_id"] == case_id]
    times = CASES["cmprsk_times"]
    tt = times.loc[times["case_id"] == case_id, "t"].to_numpy(float)
    for name in tp["curve"].unique():
        rr = tp[tp["curve"] == name].sort_values("t")
        at = ours[name].at(tt)
        close(at["t"], rr["t"], f"{case_id} {name} timepoints t")
        for col in ("var", "lower", "upper"):
            close(at[col], rr[col], f"{case_id} {name} timepoints {col}")
        close(at["surv"], rr["est"], f"{case_id} {name} timepoints estimate")


def check_gray(case_id: str, exp: dict) -> None:
    d = case_frame(case_id)
    r = exp["cmprsk_gray_expected"]
    r = r[r["case_id"] == case_id]
    for row in r.itertuples():
        res = stats.gray_test(d["time"], d["status"], d["group"], cause=int(row.cause),
                           strata=d["strata"] if row.stratified else None, rho=float(row.rho))
        close([res["statistic"], res["p_value"]], [row.stat, row.pv],
              f"{case_id} Gray cause {row.cause} stratified={row.stratified} rho={row.rho}")
        assert res["df"] == int(row.df)


def fit_model(model_id: str) -> stats.FineGrayResult:
    case_id, failcode, cengroup = model_id.split("/")
    m = MODELS[(MODELS["case_id"] == case_id) & (MODELS["failcode"] == int(failcode))
               & (MODELS["cengroup"] == cengroup)].iloc[0]
    return stats.fine_gray(case_frame(case_id), "time", "status", m["terms"].split(";"), failcode=int(failcode),
                        cengroup="cg" if cengroup == "yes" else None)


def check_crr(model_id: str, exp: dict) -> None:
    res = fit_model(model_id)
    r = exp["cmprsk_crr_expected"]
    r = r[r["model_id"] == model_id].set_index("term")
    tab = res.table.set_index("term").loc[r.index]
    for col in ("coef", "se", "z", "p", "lower", "upper"):
        close(tab[col], r[col], f"{model_id} crr {col}")
    rv = np.array([[float(v) for v in row.split(";")] for row in r["var_row"]])
    close(res.var.ravel(), rv.ravel(), f"{model_id} crr variance matrix")
    f = exp["cmprsk_crrfit_expected"]
    f = f[f["model_id"] == model_id].iloc[0]
    close([res.loglik, res.loglik_null], [f["loglik"], f["loglik_null"]], f"{model_id} crr log-likelihoods")
    assert res.converged == bool(f["converged"]) and res.n == int(f["n"])


# --------------------------------------------------------------------------- #
# (a) committed fixtures
# --------------------------------------------------------------------------- #
def test_inputs_are_what_make_inputs_builds():
    r_oracle.assert_same_frames(make_inputs(), CASES, INPUT_NAMES)
    c = CASES["cmprsk_cases"]
    kinds = c.groupby(["case_id", "time"])["status"].nunique()
    assert (kinds == 3).sum() >= 3, "fixtures must tie a relapse, a competing death and a censoring"
    assert (c[c["status"] == 1].groupby(["case_id", "time"]).size() > 1).sum() >= 10
    assert ORACLE.committed_r_version().startswith("R version")


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_cuminc_and_timepoints_vs_r(case_id):
    check_cuminc(case_id, load_expected())


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_gray_vs_r(case_id):
    check_gray(case_id, load_expected())


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_fine_gray_vs_r(model_id):
    check_crr(model_id, load_expected())


# --------------------------------------------------------------------------- #
# exact arithmetic and behaviour without R
# --------------------------------------------------------------------------- #
def test_no_competing_events_equals_one_minus_km():
    """Without competing deaths the Aalen–Johansen estimate is exactly 1 − Kaplan–Meier."""
    t = [1, 2, 2, 3, 4, 4, 5, 6]
    s = [1, 1, 0, 1, 1, 0, 0, 1]
    ci = stats.cumulative_incidence(t, s, 1)
    km = stats.one_minus_km(t, s, 1)
    np.testing.assert_allclose(ci.at([1, 2, 3, 4, 5, 6])["surv"], 1 - km.at([1, 2, 3, 4, 5, 6])["surv"], atol=1e-15)


def test_hand_computed_aalen_johansen_with_a_tie():
    """5 patients: relapse at 1, relapse + death tied at 2, censored at 3, relapse at 4.
    F(1) = 1/5; S(1) = 4/5; F(2) = 1/5 + 4/5 * 1/4 = 2/5; S(2) = 4/5 * 2/4 = 2/5;
    F(4) = 2/5 + 2/5 * 1/1 = 4/5.  1 − KM (death censored) gives 1 at time 4."""
    ci = stats.cumulative_incidence([1, 2, 2, 3, 4], [1, 1, 2, 0, 1], 1)
    est = ci.at([1, 2, 3, 4])["surv"].to_numpy()
    np.testing.assert_allclose(est, [0.2, 0.4, 0.4, 0.8], atol=1e-15)
    naive = 1 - stats.one_minus_km([1, 2, 2, 3, 4], [1, 1, 2, 0, 1], 1).at([4])["surv"].iloc[0]
    assert naive == pytest.approx(1.0)


def test_cause_and_competing_sum_to_one_minus_overall_km():
    d = case_frame("ties_2groups")
    c1 = stats.cumulative_incidence(d["time"], d["status"], 1)
    c2 = stats.cumulative_incidence(d["time"], d["status"], 2)
    from helpers.stats import kaplan_meier
    km = kaplan_meier(d["time"], d["status"] > 0)
    tt = [2, 5, 9, 15, 25]
    np.testing.assert_allclose(c1.at(tt)["surv"] + c2.at(tt)["surv"] + km.at(tt)["surv"], 1.0, atol=1e-12)


def test_results_are_deterministic_with_ties():
    d = case_frame("like_000")
    a = stats.cumulative_incidence(d["time"], d["status"], 1).steps
    b = stats.cumulative_incidence(d["time"], d["status"], 1).steps
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("status, message", [
    ([1, 0, 1.5], "integer codes"),
    ([1, 0, -1], ">= 0"),
    ([1, 0], "one value per time"),
])
def test_bad_status_is_refused(status, message):
    with pytest.raises(ValueError, match=message):
        stats.cumulative_incidence([1, 2, 3], status, 1)


def test_bad_model_input_is_refused():
    frame = pd.DataFrame(dict(t=[1.0, 2, 3, 4], s=[1, 2, 0, 1], x=[0.0, 1, np.nan, 1], k=[1.0] * 4))
    with pytest.raises(ValueError, match="missing values"):
        stats.fine_gray(frame, "t", "s", ["x"])
    with pytest.raises(ValueError, match="single value"):
        stats.fine_gray(frame, "t", "s", ["k"])
    with pytest.raises(ValueError, match="no failures of type 3"):
        stats.fine_gray(frame.fillna(0), "t", "s", ["x"], failcode=3)
    with pytest.raises(ValueError, match="at least two groups"):
        stats.gray_test([1, 2, 3], [1, 2, 0], ["a", "a", "a"])


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
        check_cuminc(cid, live_r)
        check_gray(cid, live_r)
    for mid in MODEL_IDS:
        check_crr(mid, live_r)


if __name__ == "__main__":   # --regenerate: rewrite the case inputs and re-run tests/r/cmprsk.R
    ORACLE.main(sys.argv[1:], make_inputs=make_inputs)
