"""The synthetic cohorts: deterministic, fresh, valid, and faithful to the published register.

Every expected number below is read from the register (``data/published_register.csv``)
by its register_id; the generated tables are re-read from CSV and counted with plain
pandas, and survival is re-estimated with lifelines -- nothing is taken from the
generator's own bookkeeping.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test
from scipy.stats import mannwhitneyu

from helpers import reproduction
from helpers.contract import TABLES
from helpers.paths import SYNTHETIC_DIR
from helpers.synthetic import cohorts as synthetic
from helpers.synthetic.registry import ALL_TABLES

MONTH = 30.4375  # days: 365.25 / 12
TWO_YEARS = 24 * MONTH
ONE_YEAR = 12 * MONTH

# Tolerances of the survival calibration (the book's brief).
KM_PP = 2.0         # Kaplan-Meier estimates: percentage points
P_FACTOR = 1.5      # log-rank / rank-sum P: within this factor
HR_REL = 0.15       # Cox hazard ratios: relative difference
MEDIAN_MONTHS = 0.25  # 003 median times (calibrated exactly up to day rounding)
FOLLOWUP_MONTHS = 1.0

#: Published 000 survival figures that cannot all be met at once by a plausible population.
#: LFS: the mutation's log-rank and Cox P values need mutation and cohort positively correlated
#: among the patients at risk, the cohort's pair negatively (the survival chapter's argument);
#: with follow-up administrative only and no CML-LBC responder censored alive before 2 years,
#: the generator minimises the worst deviation (in units of tolerance) and these land outside.
#: OS: the published Ph+ ALL 2-year OS (74.5%) sits at the edge of what its 2-year LFS in
#: responders (82.6%) allows (at most one other patient alive at 2 years), so OS misses.
#: The bounds accepted instead: {register_id: (bound, unit)} -- pp for Kaplan-Meier, a factor
#: for P and HR. Each is a guard against the calibration getting worse, not a target.
RELAXED = {
    "000-lfs2y-lbc": (3.0, "pp"),
    "000-lfs2y-phall": (3.0, "pp"),
    "000-lfs2y-p": (3.5, "factor"),
    "000-cox-ablkd-hr": (1.5, "factor"),
    "000-cox-lbc-hr": (1.55, "factor"),
    "000-os2y-phall": (5.5, "pp"),
    "000-os2y-p": (1.8, "factor"),
}

CYTOKINES = ("IL-6", "IL-10", "TNF-alpha", "IFN-gamma")
CR = ("CR", "CRi")



def n(rid: str) -> int:
    return reproduction.count(rid)


def d(rid: str) -> int:
    return reproduction.denominator(rid)


def v(rid: str) -> float:
    return reproduction.value(rid)


# --------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synthetic_a")
    synthetic.write_all(out)
    return out


def read(folder: Path, study: str, table: str) -> pd.DataFrame:
    path = folder / study / f"{table}.csv"
    return pd.read_csv(path, dtype={"study_id": str, "patient_id": str}, keep_default_na=False,
                       na_values=[""])


def seed_tables(folder: Path, study: str) -> dict[str, pd.DataFrame]:
    """Every table a seed generator writes: all but a centre's own declarations (covariates, events)."""
    return {t: read(folder, study, t) for t in ALL_TABLES}


@pytest.fixture(scope="module")
def t000(fresh):
    return seed_tables(fresh, "000")


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.csv"))}


# --------------------------------------------------------------------------
# Determinism, freshness, contract, provenance
# --------------------------------------------------------------------------

def test_two_generations_are_byte_identical(fresh, tmp_path):
    synthetic.write_all(tmp_path)
    a, b = files(fresh), files(tmp_path)
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []
    assert all(b"\r" not in text for text in a.values())


def test_committed_data_equal_a_fresh_generation(fresh):
    committed = files(SYNTHETIC_DIR)
    assert committed, f"no committed synthetic data under {SYNTHETIC_DIR}; run python -m helpers.synthetic"
    new = files(fresh)
    assert committed.keys() == new.keys(), "committed file set differs; regenerate data/synthetic"
    stale = [k for k in new if committed[k] != new[k]]
    assert stale == [], f"stale committed files (regenerate with python -m helpers.synthetic): {stale}"


@pytest.mark.parametrize("study", synthetic.STUDIES)
def test_every_table_validates_against_the_contract(fresh, study):
    folder = fresh / study
    for path in folder.glob("*.csv"):
        if path.stem in TABLES:
            header = path.read_text(encoding="utf-8").split("\n", 1)[0].split(",")
            assert header == TABLES[path.stem].column_names, path.name
    contract = pytest.importorskip("helpers.contract")
    cohort = contract.load_cohort(folder)
    for name, frame in cohort.items():
        assert set(frame["study_id"]) == {study}
        origins = set(frame["origin"])
        assert origins <= {"synthetic", "published"}
        if study != "001":
            assert origins == {"synthetic"}, name


@pytest.mark.parametrize("study", synthetic.STUDIES)
def test_provenance_covers_every_column(fresh, study):
    prov = pd.read_csv(fresh / study / "provenance.csv", keep_default_na=False, dtype=str)
    assert list(prov.columns) == ["table", "column", "provenance", "register_ids", "note"]
    assert set(prov["provenance"]) <= {"calibrated", "published", "synthetic"}
    for path in (fresh / study).glob("*.csv"):
        if path.stem in TABLES:
            got = prov.loc[prov["table"] == path.stem, "column"].tolist()
            assert got == TABLES[path.stem].column_names
    # published numbers of the register, or qualitative claims of the claims register
    known = set(reproduction.load_register().index) | set(reproduction.load_claims().index)
    ids = {i for cell in prov["register_ids"] for i in cell.split(";") if i}
    assert ids <= known, ids - known
    if study != "001":
        assert "calibrated" in set(prov["provenance"])
    else:
        assert "published" in set(prov["provenance"])


# --------------------------------------------------------------------------
# Study 000: counts
# --------------------------------------------------------------------------

COHORTS = {"lbc": "CML-LBC", "phall": "Ph+ ALL"}


@pytest.fixture(scope="module")
def p000(t000):
    """One row per patient with the derived response flags (plain pandas)."""
    pts = t000["patients"].set_index("patient_id")
    resp = t000["responses"]
    pts["rr"] = pts["disease_status"] != "mrd_positive"
    cr = resp[resp["morphologic"].isin(CR)].groupby("patient_id").size()
    cmr = resp[resp["molecular"] == "CMR"].groupby("patient_id").size()
    negcr = resp[resp["morphologic"].isin(CR) & (resp["mrd_flow"] == "negative")].groupby("patient_id").size()
    evaluable = resp[resp["morphologic"] != "not_evaluable"].groupby("patient_id").size()
    pts["evaluable"] = pts.index.isin(evaluable.index)
    has_cr = pts.index.isin(cr.index)
    has_cmr = pts.index.isin(cmr.index)
    # R/R: response = CR/CRi; MRD-positive: persistent morphological CR or CMR
    pts["response"] = np.where(pts["rr"], has_cr, has_cr | has_cmr)
    pts["mrdnegcr"] = pts.index.isin(negcr.index)
    out = t000["outcomes"].set_index("patient_id")
    pts = pts.join(out[["followup_days", "relapsed", "relapse_day", "died", "death_cause"]])
    pts["lbc"] = (pts["cohort"] == COHORTS["lbc"]).astype(int)
    pts["kd"] = pts["abl_kd_mutation"].astype(bool).astype(int)
    return pts


@pytest.mark.parametrize("ck", COHORTS)
def test_000_cohort_status_and_kinase_domain_counts(p000, ck):
    grp = p000[p000["cohort"] == COHORTS[ck]]
    assert len(grp) == n(f"000-n-{ck}")
    for status in ("primary_refractory", "first_relapse", "second_or_later_relapse", "mrd_positive"):
        assert (grp["disease_status"] == status).sum() == n(f"000-status-{status}-{ck}")
    assert grp["abl_kd_mutation"].astype(bool).sum() == n(f"000-ablkd-{ck}")


@pytest.mark.parametrize("ck", COHORTS)
def test_000_response_and_mrd_negative_cr(p000, ck):
    grp = p000[p000["cohort"] == COHORTS[ck]]
    ev = grp[grp["evaluable"]]
    assert len(ev) == d(f"000-response-{ck}")
    assert ev["response"].sum() == n(f"000-response-{ck}")
    assert len(ev) == d(f"000-mrdnegcr-{ck}")
    assert ev["mrdnegcr"].sum() == n(f"000-mrdnegcr-{ck}")
    rr, mp = ev[ev["rr"]], ev[~ev["rr"]]
    assert len(rr) == d(f"000-mrdnegcr-rr-{ck}") and rr["mrdnegcr"].sum() == n(f"000-mrdnegcr-rr-{ck}")
    assert len(mp) == d(f"000-mrdnegcr-mrdpos-{ck}") and mp["mrdnegcr"].sum() == n(f"000-mrdnegcr-mrdpos-{ck}")
    # the not-evaluable patients are R/R
    ne = grp[~grp["evaluable"]]
    assert len(ne) == n(f"000-n-{ck}") - d(f"000-response-{ck}")
    assert ne["rr"].all()


def test_000_crs(t000, p000):
    crs = t000["adverse_events"].query("category == 'CRS'").set_index("patient_id")
    assert crs.index.is_unique and set(crs.index) == set(p000.index)
    assert (crs["grading_system"] == "ASTCT").all()
    assert (crs["grade"] >= 1).sum() == n("000-crs-any-all")
    assert len(crs) == d("000-crs-any-all")
    lo, hi = v("000-crs-severe-grade-min"), v("000-crs-severe-grade-max")
    for ck, label in COHORTS.items():
        g = crs.loc[p000.index[p000["cohort"] == label], "grade"]
        assert g.between(lo, hi).sum() == n(f"000-crs-severe-{ck}")


def test_000_cytokine_monitoring(t000):
    labs = t000["labs"]
    monitored = labs.loc[labs["analyte"].isin(CYTOKINES), "patient_id"].nunique()
    assert monitored == n("000-cytokines-monitored-all")
    without = set(t000["patients"]["patient_id"]) - set(labs.loc[labs["analyte"].isin(CYTOKINES), "patient_id"])
    assert len(without) == d("000-cytokines-monitored-all") - n("000-cytokines-monitored-all")


def test_000_expansion_in_active_disease(t000, p000):
    kin = t000["kinetics"]
    peak = kin.groupby("patient_id")["copies_per_ug_gdna"].max()
    p = p000.join(peak.rename("peak"))
    active = p[p["rr"] & p["peak"].notna()]
    for ck, label in COHORTS.items():
        assert (active["cohort"] == label).sum() == n(f"000-expansion-active-n-{ck}")
    pval = mannwhitneyu(active.loc[active["lbc"] == 1, "peak"], active.loc[active["lbc"] == 0, "peak"],
                        alternative="two-sided").pvalue
    target = v("000-expansion-active-peak-p")
    assert target / P_FACTOR <= pval <= target * P_FACTOR
    # no difference among MRD-positive patients
    mrd = p[~p["rr"]]
    assert mannwhitneyu(mrd.loc[mrd["lbc"] == 1, "peak"], mrd.loc[mrd["lbc"] == 0, "peak"]).pvalue > 0.05


@pytest.mark.parametrize("ck", COHORTS)
def test_000_hsct_bridging_and_relapse(t000, p000, ck):
    grp = p000[p000["cohort"] == COHORTS[ck]]
    bridged = grp[grp["bridged_to_hsct"].astype(bool)]
    assert len(bridged) == n(f"000-hsct-n-{ck}") == d(f"000-hsct-relapse-{ck}")
    assert bridged["relapsed"].astype(bool).sum() == n(f"000-hsct-relapse-{ck}")
    tx = t000["treatments"]
    hsct = tx[(tx["category"] == "allo-HSCT") & (tx["start_day"] > 0) & tx["patient_id"].isin(grp.index)]
    hsct = hsct.set_index("patient_id")
    assert set(hsct.index) == set(bridged.index)
    assert hsct["start_day"].between(30, 90).all()
    rel = bridged[bridged["relapsed"].astype(bool)]
    assert (rel["relapse_day"] > hsct.loc[rel.index, "start_day"]).all()


def test_000_treatment_timeline(t000):
    tx = t000["treatments"]
    ld = tx[tx["category"] == "lymphodepletion"]
    assert (ld["start_day"] == -5).all() and (ld["end_day"] == -3).all()
    assert (tx.loc[tx["category"] == "CAR-T", "start_day"] == 0).all()
    assert tx.loc[tx["category"] == "TKI", "start_day"].min() < 0


# --------------------------------------------------------------------------
# Study 000: survival calibration (lifelines)
# --------------------------------------------------------------------------

def km(time, event, t) -> float:
    return 100 * float(KaplanMeierFitter().fit(time, event).survival_function_at_times(t).iloc[0])


def close_pp(got, rid, tol=KM_PP):
    target = v(rid)
    tol = RELAXED[rid][0] if rid in RELAXED else tol
    assert abs(got - target) <= tol, f"{rid}: {got:.2f} vs published {target} (tolerance {tol} pp)"


def close_factor(got, rid, factor):
    target = v(rid)
    factor = RELAXED[rid][0] if rid in RELAXED else factor
    assert target / factor <= got <= target * factor, f"{rid}: {got:.4g} vs published {target}"


def lfs_frame(p000):
    r = p000[p000["response"]].copy()
    rel = r["relapsed"].astype(bool)
    r["time"] = np.where(rel, r["relapse_day"], r["followup_days"])
    r["event"] = (rel | r["died"].astype(bool)).astype(int)
    return r


def test_000_overall_survival(p000):
    t, e = p000["followup_days"], p000["died"].astype(bool)
    lbc = p000["lbc"] == 1
    close_pp(km(t[lbc], e[lbc], TWO_YEARS), "000-os2y-lbc")
    close_pp(km(t[~lbc], e[~lbc], TWO_YEARS), "000-os2y-phall")
    close_factor(logrank_test(t[lbc], t[~lbc], e[lbc], e[~lbc]).p_value, "000-os2y-p", P_FACTOR)


def test_000_followup(p000):
    t, alive = p000["followup_days"], ~p000["died"].astype(bool)
    median = KaplanMeierFitter().fit(t, alive).median_survival_time_ / MONTH
    assert abs(median - v("000-followup-median")) <= FOLLOWUP_MONTHS
    assert round(t.min() / MONTH, 1) == v("000-followup-min")
    assert round(t.max() / MONTH) == v("000-followup-max")


def test_000_leukaemia_free_survival(p000):
    r = lfs_frame(p000)
    t, e = r["time"], r["event"]
    lbc = r["lbc"] == 1
    close_pp(km(t[lbc], e[lbc], TWO_YEARS), "000-lfs2y-lbc")
    close_pp(km(t[~lbc], e[~lbc], TWO_YEARS), "000-lfs2y-phall")
    close_factor(logrank_test(t[lbc], t[~lbc], e[lbc], e[~lbc]).p_value, "000-lfs2y-p", P_FACTOR)
    kd = r["kd"] == 1
    close_pp(km(t[kd], e[kd], TWO_YEARS), "000-lfs2y-ablkd-mut")
    close_pp(km(t[~kd], e[~kd], TWO_YEARS), "000-lfs2y-ablkd-wt")
    close_factor(logrank_test(t[kd], t[~kd], e[kd], e[~kd]).p_value, "000-lfs2y-ablkd-p", P_FACTOR)


def test_000_cox_model_for_lfs(p000):
    r = lfs_frame(p000)[["time", "event", "kd", "lbc"]].astype(float)
    hr = CoxPHFitter().fit(r, "time", "event").hazard_ratios_
    for cov, rid in (("kd", "000-cox-ablkd-hr"), ("lbc", "000-cox-lbc-hr")):
        close_factor(hr[cov], rid, 1 + HR_REL)


def test_000_cir_is_not_calibrated_but_consistent(p000):
    """The published 2-year LFS and CIR exceed 100% together; CIR follows from the LFS events."""
    assert v("000-lfs2y-lbc") + v("000-cir2y-lbc") > 100 and v("000-lfs2y-phall") + v("000-cir2y-phall") > 100
    r = lfs_frame(p000)
    for ck, label in COHORTS.items():
        g = r[r["cohort"] == label]
        relapse_by_2y = ((g["relapsed"].astype(bool)) & (g["relapse_day"] <= TWO_YEARS)).sum()
        # crude bound: relapses by 2 years cannot exceed the LFS events by 2 years
        assert relapse_by_2y <= ((g["event"] == 1) & (g["time"] <= TWO_YEARS)).sum()


# --------------------------------------------------------------------------
# Study 004
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def t004(fresh):
    return {t: read(fresh, "004", t) for t in ("patients", "responses", "adverse_events", "outcomes")}


def test_004_counts(t004):
    pts = t004["patients"].set_index("patient_id")
    resp = t004["responses"]
    assert len(pts) == n("004-n-all")
    evaluable = set(resp.loc[resp["morphologic"] != "not_evaluable", "patient_id"])
    remission = set(resp.loc[resp["morphologic"].isin(CR), "patient_id"])
    assert len(evaluable) == d("004-orr-all") and len(remission) == n("004-orr-all")
    emd = set(pts.index[pts["extramedullary_disease"] == "non_cns"])
    assert len(emd & evaluable) == d("004-orr-emd-noncns") and len(emd & remission) == n("004-orr-emd-noncns")
    ae = t004["adverse_events"]
    assert ae["patient_id"].nunique() == d("004-grade4-ae-all")
    worst = ae.groupby("patient_id")["grade"].max()
    assert (worst == 4).sum() == n("004-grade4-ae-all") and (worst > 4).sum() == 0


def test_004_survival(t004):
    out = t004["outcomes"].set_index("patient_id")
    close_pp(km(out["followup_days"], out["died"].astype(bool), ONE_YEAR), "004-os1y-all")
    resp = t004["responses"]
    rem = out.loc[sorted(set(resp.loc[resp["morphologic"].isin(CR), "patient_id"]))]
    rel = rem["relapsed"].astype(bool)
    t = np.where(rel, rem["relapse_day"], rem["followup_days"])
    close_pp(km(t, rel | rem["died"].astype(bool), ONE_YEAR), "004-rfs1y-all")


# --------------------------------------------------------------------------
# Study 003
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def t003(fresh):
    return {t: read(fresh, "003", t) for t in ("patients", "responses", "treatments", "outcomes")}


def test_003_progression_and_survival(t003):
    out = t003["outcomes"].set_index("patient_id")
    assert len(out) == n("003-n-all") and out["relapsed"].astype(bool).all()
    ttp = KaplanMeierFitter().fit(out["relapse_day"], np.ones(len(out))).median_survival_time_ / MONTH
    assert abs(ttp - v("003-ttp-median")) <= MEDIAN_MONTHS
    post = KaplanMeierFitter().fit(out["followup_days"] - out["relapse_day"],
                                   out["died"].astype(bool)).median_survival_time_ / MONTH
    assert abs(post - v("003-os-postprog-median")) <= MEDIAN_MONTHS


def test_003_salvage_counts(t003):
    out = t003["outcomes"].set_index("patient_id")
    tx = t003["treatments"].join(out["relapse_day"], on="patient_id")
    salvage = tx[tx["start_day"] > tx["relapse_day"]]
    salvaged = set(salvage["patient_id"])
    assert len(salvaged) == n("003-salvage-all")
    resp = t003["responses"].join(out["relapse_day"], on="patient_id")
    cr_after = set(resp.loc[(resp["day"] > resp["relapse_day"]) & resp["morphologic"].isin(CR), "patient_id"])
    assert cr_after <= salvaged
    assert len(cr_after) == n("003-salvage-cr")
    bi = set(salvage.loc[salvage["category"].isin(["blinatumomab", "inotuzumab"]), "patient_id"])
    assert len(bi) == n("003-blina-ino-n") == d("003-blina-ino-cr")
    assert len(bi & cr_after) == n("003-blina-ino-cr")


# --------------------------------------------------------------------------
# Study 001: transcribed case reports
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def t001(fresh):
    return seed_tables(fresh, "001")


def first_day_above(labs, pid, analyte, limit):
    s = labs[(labs["patient_id"] == pid) & (labs["analyte"] == analyte)].sort_values("day")
    nadir_day = s.loc[s["value"].idxmin(), "day"]
    after = s[(s["day"] > nadir_day) & (s["value"] > limit)]
    return after["day"].min()


def test_001_case_facts(t001):
    pts = t001["patients"].set_index("patient_id")
    assert list(pts.index) == ["001-P1", "001-P2"] and len(pts) == n("001-n-all")
    assert (pts["origin"] == "published").all()
    assert pts.loc["001-P1", "age_years"] == v("001-p1-age") and pts.loc["001-P2", "age_years"] == v("001-p2-age")
    assert (pts["car_dose_cells_per_kg"] == v("001-car-dose")).all()
    assert (pts["car_target"] == "CD38").all()
    ae = t001["adverse_events"].set_index("patient_id")
    assert ae.loc["001-P1", "grade"] == v("001-crs-grade-p1") and ae.loc["001-P2", "grade"] == v("001-crs-grade-p2")
    resp = t001["responses"].set_index("patient_id")
    assert resp.loc["001-P1", "day"] == v("001-p1-cr-time") * 7 and resp.loc["001-P2", "day"] == v("001-p2-cr-time") * 7
    assert (resp["morphologic"] == "CR").all() and (resp["origin"] == "published").all()
    tx = t001["treatments"]
    hsct = tx[(tx["patient_id"] == "001-P1") & (tx["category"] == "allo-HSCT")]
    assert hsct["start_day"].tolist() == [v("001-p1-hsct-time") * 7]
    out = t001["outcomes"].set_index("patient_id")
    assert round(out.loc["001-P2", "followup_days"], 1) == round(v("001-p2-death-time") * MONTH, 1)
    assert out.loc["001-P2", "died"] and not out.loc["001-P1", "died"]


def test_001_figure_values_are_marked_synthetic_and_respect_published_days(t001):
    kin, labs = t001["kinetics"], t001["labs"]
    assert (kin["origin"] == "synthetic").all() and (labs["origin"] == "synthetic").all()
    for p, who in (("p1", "001-P1"), ("p2", "001-P2")):
        k = kin[kin["patient_id"] == who]
        assert k.loc[k["copies_per_ug_gdna"].idxmax(), "day"] == v(f"001-{p}-cart-peak-day")
        assert first_day_above(labs, who, "ANC", v("001-anc-threshold")) == v(f"001-{p}-anc-recovery-day")
        assert first_day_above(labs, who, "platelets", v("001-plt-threshold")) == v(f"001-{p}-plt-recovery-day")


def test_the_calibration_arithmetic_agrees_with_the_books_estimators():
    """The generators' fast KM / log-rank / Cox / rank-sum (helpers.synthetic.calibration) must
    give what helpers.stats gives, on data with ties and censoring."""
    from helpers import stats
    from helpers.synthetic import calibration

    rng = np.random.default_rng(7)
    n = 60
    time = np.round(rng.exponential(20.0, n), 0) + 1.0  # rounded: tied times
    event = rng.random(n) < 0.7
    group = (rng.random(n) < 0.5).astype(int)
    x2 = rng.normal(size=n)
    km = stats.kaplan_meier(time, event)
    for t in (5.0, 12.0, 30.0):
        assert calibration.km_at(time, event, t) == pytest.approx(float(km.at([t])["surv"].iloc[0]), abs=1e-12)
    assert calibration.km_median(time, event) == pytest.approx(km.median()["estimate"], abs=1e-12)
    assert calibration.logrank_p(time, event, group) == pytest.approx(
        stats.logrank_test(time, event, group).p_value, rel=1e-9)
    frame = pd.DataFrame({"t": time, "e": event.astype(int), "g": group, "x2": x2})
    fit = stats.cox_model(frame, "t", "e", ["g", "x2"])
    beta = calibration.cox_efron(time, event, np.c_[group, x2])
    assert beta == pytest.approx(fit.table["coef"].to_numpy(), abs=1e-6)
    a, b = time[group == 1], time[group == 0]
    assert calibration.mannwhitney_p(a, b) == pytest.approx(stats.mann_whitney(a, b).p_value, rel=1e-9)
