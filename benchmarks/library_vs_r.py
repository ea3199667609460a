"""Where maintained Python libraries differ from R, measured on the committed R fixtures.

Four statistics modules of the book stay hand-written (``helpers.stats.survival``,
``competing_risks``, ``rank``, ``nca``) because the maintained Python libraries give other
numbers than R. This script measures by how much, on the inputs and R output committed
under ``tests/fixtures/r/`` (written by the oracle scripts in ``tests/r/``), and prints one
table; the module headers quote its numbers. Each row also shows the book's own function
against the same R output.

(a) Kaplan–Meier median and its 95 % CI: lifelines ``KaplanMeierFitter`` (log(-log) CI,
    ``median_survival_time_`` and ``median_survival_times(confidence_interval_)``) vs R's
    ``quantile.survfit`` (``survfit(..., conf.type = "log-log")``), survival_median_expected.csv.
(b) Proportional-hazards test: lifelines ``proportional_hazard_test`` vs R's ``cox.zph``
    (survival >= 3.0) for the km, rank and identity transforms, survival_zph_expected.csv.
(c) Cumulative incidence with tied times: lifelines ``AalenJohansenFitter`` (which jitters
    tied times at random) vs ``cmprsk::timepoints(cuminc(...))``, cmprsk_timepoints_expected.csv,
    over 20 seeds. Gray's test and the Fine–Gray model have no counterpart in lifelines,
    statsmodels or scipy, so there is nothing to measure.
(d) Rank-sum test: ``scipy.stats.mannwhitneyu(method="auto")`` vs R's ``wilcox.test``,
    wilcox_expected.csv and kinetics_rank_expected.csv; also with scipy forced onto R's choice
    of exact / normal P, and the median of pairwise differences (the textbook Hodges–Lehmann
    estimate, the most a user of scipy can get) vs R's estimate (scipy gives no estimate or CI).
(e) AUC0-28 of worked example B (BLQ samples on days 1, 14, 28 and 60):
    ``scipy.integrate.trapezoid`` on the samples as recorded (BLQ at the limit) or with every
    BLQ sample set to 0, vs the AUC R computes (tests/r/kinetics.R) after the PKNCA rules
    (kinetics_nca_expected.csv, case worked_b_pknca); and scipy's linear trapezoid on the
    cleaned samples vs R's linear-up/log-down AUC (scipy has no log-down rule).

Run: ``.venv/bin/python benchmarks/library_vs_r.py``. The tests never run this script.
"""

from __future__ import annotations

import math
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import integrate
from scipy import stats as sps

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
FIXTURES = ROOT / "tests" / "fixtures" / "r"

from helpers import stats  # noqa: E402


def fixture(name: str, **options) -> pd.DataFrame:
    return pd.read_csv(FIXTURES / f"{name}.csv", float_precision="round_trip", **options)


def row(what: str, library: str, reference: str, quantity: str, diffs: pd.Series, ours: float, note: str = "") -> dict:
    """One line of the table: the largest |library - R| (and where), and ours - R."""
    finite = diffs.dropna()
    worst = finite.idxmax() if len(finite) and finite.max() > 0 else ""
    return {"method": what, "library": library, "R (fixture *_expected.csv)": reference, "quantity": quantity,
            "max |lib - R|": float(finite.max()) if len(finite) else math.nan,
            "differ": f"{int((finite > 1e-6).sum())}/{len(diffs)}",
            "largest at": worst, "max |ours - R|": ours, "note": note}


def absdiff(a, b) -> float:
    """|a - b| with NaN/inf meaning "not reached": equal when both are, inf when only one is."""
    a_out, b_out = not math.isfinite(a), not math.isfinite(b)
    if a_out or b_out:
        return 0.0 if a_out and b_out else math.inf
    return abs(a - b)


# --------------------------------------------------------------------------- #
# (a) Kaplan–Meier median CI
# --------------------------------------------------------------------------- #
def km_median() -> list[dict]:
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    cases = pd.read_csv(FIXTURES / "survival_cases.csv", dtype={"case_id": str, "group": str})
    r = fixture("survival_median_expected", dtype={"case_id": str, "group": str})
    lib, ours, lib_val, r_of = {}, {}, {}, {}
    for rec in r.itertuples():
        d = cases[cases["case_id"] == rec.case_id]
        event = d["status"]
        if rec.group == "(reverse)":
            event = 1 - d["status"]
        elif rec.group != "(all)":
            d = d[d["group"] == rec.group]
            event = d["status"]
        kmf = KaplanMeierFitter(alpha=0.05).fit(d["time"], event)
        ci = median_survival_times(kmf.confidence_interval_).iloc[0]
        key = f"{rec.case_id}/{rec.group}"
        lib[key] = (float(kmf.median_survival_time_), float(ci.iloc[0]), float(ci.iloc[1]))
        med = stats.kaplan_meier(d["time"], event).median()
        ours[key] = (med["estimate"], med["lower"], med["upper"])
        r_vals = r_of[key] = (rec.median, rec.lower, rec.upper)
        lib_val[key] = lib[key]
        lib[key] = [absdiff(x, y) for x, y in zip(lib[key], r_vals)]
        ours[key] = [absdiff(x, y) for x, y in zip(ours[key], r_vals)]
    out = []
    for j, q in enumerate(("median", "CI lower", "CI upper")):
        lib_d = pd.Series({k: v[j] for k, v in lib.items()})
        our_d = pd.Series({k: v[j] for k, v in ours.items()})
        one_sided = lib_d[np.isinf(lib_d)].index.tolist()
        note = ""
        if one_sided:
            r_na = [k for k in one_sided if math.isnan(r_of[k][j])]
            note = (f"{len(one_sided)}/{len(lib_d)} finite on one side only: R NA (not reached), lifelines "
                    f"up to {max(lib_val[k][j] for k in r_na):g} in {len(r_na)} ({', '.join(r_na)})")
        out.append(row("Kaplan–Meier median, 95% CI", "lifelines KaplanMeierFitter", "quantile.survfit (survival_median)", q, lib_d.where(np.isfinite(lib_d)), float(our_d.max()), note))
    return out


# --------------------------------------------------------------------------- #
# (b) cox.zph
# --------------------------------------------------------------------------- #
def cox_zph() -> list[dict]:
    from lifelines import CoxPHFitter
    from lifelines.statistics import proportional_hazard_test

    cases = pd.read_csv(FIXTURES / "survival_cases.csv", dtype={"case_id": str, "group": str})
    models = pd.read_csv(FIXTURES / "survival_models.csv", dtype=str)
    r = fixture("survival_zph_expected", dtype={"case_id": str})
    out = []
    for transform in ("km", "rank", "identity"):
        chi, p, chi_ours, p_ours = {}, {}, [0.0], [0.0]
        for m in models.itertuples():
            terms = m.terms.split(";")
            d = cases[cases["case_id"] == m.case_id][["time", "status", *terms]].reset_index(drop=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cph = CoxPHFitter().fit(d, "time", "status")
                test = proportional_hazard_test(cph, d, time_transform=transform).summary
            ours = stats.zph_for(stats.cox_model(d, "time", "status", terms), transform=transform).table
            ours = ours.set_index("term")
            rr = r[(r["case_id"] == m.case_id) & (r["transform"] == transform)].set_index("term")
            for term in terms:
                key = f"{m.case_id}/{term}"
                chi[key] = abs(float(test.loc[term, "test_statistic"]) - rr.loc[term, "chisq"])
                p[key] = abs(float(test.loc[term, "p"]) - rr.loc[term, "p"])
            chi_ours += list(np.abs(ours["chisq"] - rr.loc[ours.index, "chisq"]))
            p_ours += list(np.abs(ours["p"] - rr.loc[ours.index, "p"]))
        note = "no GLOBAL test in lifelines" if transform == "km" else ""
        out.append(row(f"PH test, transform {transform}", "lifelines proportional_hazard_test",
                       "cox.zph (survival_zph)", "chi-square", pd.Series(chi), max(chi_ours), note))
        out.append(row(f"PH test, transform {transform}", "lifelines proportional_hazard_test",
                       "cox.zph (survival_zph)", "P", pd.Series(p), max(p_ours)))
    return out


# --------------------------------------------------------------------------- #
# (c) Aalen–Johansen with ties
# --------------------------------------------------------------------------- #
def aalen_johansen(seeds=range(20)) -> list[dict]:
    from lifelines import AalenJohansenFitter

    cases = pd.read_csv(FIXTURES / "cmprsk_cases.csv", dtype={"case_id": str, "group": str})
    r = fixture("cmprsk_timepoints_expected", dtype={"case_id": str, "curve": str})
    worst, spread, ours_worst, failed, beyond = {}, [], 0.0, 0, 0
    for (case_id, curve), rr in r.groupby(["case_id", "curve"]):
        group, cause = curve.rsplit(" ", 1)
        d = cases[(cases["case_id"] == case_id) & (cases["group"] == group)]
        if not (d["status"] == int(cause)).any():
            continue   # no event of the cause: lifelines refuses to fit
        tt = rr["t"].to_numpy(float)
        est = rr["est"].to_numpy(float)
        known = np.isfinite(est)        # R: NA beyond the largest follow-up time
        per_seed = []
        for seed in seeds:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    ajf = AalenJohansenFitter(seed=seed, calculate_variance=False).fit(
                        d["time"], d["status"], event_of_interest=int(cause))
                except Exception:  # noqa: BLE001 - counted and reported
                    failed += 1
                    continue
            pred = ajf.predict(tt).to_numpy(float)
            per_seed.append(np.abs(pred[known] - est[known]))
            beyond += int(seed == 0) * int(np.isfinite(pred[~known]).sum())
        if per_seed:
            arr = np.array(per_seed)
            worst[f"{case_id}/{curve}"] = float(arr.max())
            spread.append(float(np.ptp(arr.max(axis=1))))
        ci = stats.cumulative_incidence(d["time"], d["status"], int(cause))
        ours_worst = max(ours_worst, float(np.max(np.abs(ci.at(tt)["surv"].to_numpy()[known] - est[known]))))
        assert np.isnan(ci.at(tt)["surv"].to_numpy()[~known]).all()
    note = (f"{len(list(seeds))} seeds (worst case moves by {max(spread):.3f} between seeds); {beyond} times "
            "beyond follow-up: a number where R gives NA")
    if failed:
        note += f"; {failed} fits failed"
    return [row("Cumulative incidence, tied times", "lifelines AalenJohansenFitter",
                "cmprsk timepoints (cmprsk_timepoints)", "CIF at the fixture times", pd.Series(worst),
                ours_worst, note)]


# --------------------------------------------------------------------------- #
# (d) rank-sum test
# --------------------------------------------------------------------------- #
def _rank_cases() -> pd.DataFrame:
    w = pd.read_csv(FIXTURES / "wilcox_cases.csv", dtype=str, keep_default_na=False)
    we = fixture("wilcox_expected", keep_default_na=False, na_values=["NA"])
    k = pd.read_csv(FIXTURES / "kinetics_rank_cases.csv", dtype=str, keep_default_na=False)
    ke = fixture("kinetics_rank_expected")
    k = k.assign(alternative="two.sided", exact="NA", correct="TRUE", conf_level="0.95")
    rows = []
    for cases, expected, source in ((w, we, "wilcox"), (k, ke, "kinetics_rank")):
        exp = expected.set_index("case_id")
        for c in cases.itertuples():
            x = np.array(c.x.split(";"), float)
            y = np.array(c.y.split(";"), float)
            if getattr(c, "scale", "") == "log10":
                x, y = np.log10(x), np.log10(y)
            rows.append(dict(case=f"{source}/{c.case_id}", x=x, y=y, alternative=c.alternative,
                             exact={"NA": None, "TRUE": True, "FALSE": False}[c.exact], correct=c.correct == "TRUE",
                             conf_level=float(c.conf_level), r=exp.loc[c.case_id]))
    return pd.DataFrame(rows).set_index("case")


def rank_sum() -> list[dict]:
    cases = _rank_cases()
    auto, matched, hl, ours_p, ours_est, rule = {}, {}, {}, [0.0], [0.0], 0
    for key, c in cases.iterrows():
        alt = {"two.sided": "two-sided"}.get(c.alternative, c.alternative)
        r_exact = "exact" in c.r["method"]
        res = sps.mannwhitneyu(c.x, c.y, alternative=alt, use_continuity=c.correct, method="auto")
        auto[key] = abs(float(res.pvalue) - c.r["p_value"])
        scipy_exact = min(len(c.x), len(c.y)) <= 8 and len(np.unique(np.r_[c.x, c.y])) == len(c.x) + len(c.y)
        rule += scipy_exact != r_exact
        forced = sps.mannwhitneyu(c.x, c.y, alternative=alt, use_continuity=c.correct,
                                  method="exact" if r_exact else "asymptotic")
        matched[key] = abs(float(forced.pvalue) - c.r["p_value"])
        hl[key] = abs(float(np.median(np.subtract.outer(c.x, c.y))) - c.r["estimate"])
        mine = stats.mann_whitney(c.x, c.y, alternative=c.alternative, exact=c.exact, correct=c.correct,
                                  conf_level=c.conf_level)
        ours_p.append(abs(mine.p_value - c.r["p_value"]))
        ours_est.append(abs(mine.estimate - c.r["estimate"]))
    n = len(cases)
    return [
        row("Rank-sum test", "scipy.stats.mannwhitneyu (auto)", "wilcox.test (wilcox, kinetics_rank)", "P", pd.Series(auto), max(ours_p),
            f"exact/normal choice differs from R's in {rule}/{n}"),
        row("Rank-sum test", "mannwhitneyu, R's exact/normal choice", "wilcox.test", "P", pd.Series(matched),
            max(ours_p), "so the P difference is the choice rule"),
        row("Hodges–Lehmann estimate", "median of pairwise differences (scipy has none)", "wilcox.test",
            "estimate", pd.Series(hl), max(ours_est), "R: a uniroot root on the normal path; no CI in scipy"),
    ]


# --------------------------------------------------------------------------- #
# (e) NCA BLQ rules
# --------------------------------------------------------------------------- #
#: Worked example B of tests/test_kinetics.py (LLOQ 50): BLQ on days 1, 14, 28 and 60.
EX_B = dict(day=[1.0, 4, 7, 14, 21, 28, 60], copies=[50.0, 200, 5000, 50, 400, 50, 50],
            blq=[True, False, False, True, False, True, True])


def nca_blq() -> list[dict]:
    cases = pd.read_csv(FIXTURES / "kinetics_nca_cases.csv", dtype=str).set_index("case_id")
    r = fixture("kinetics_nca_expected").set_index("case_id")
    # the committed R case is example B after the PKNCA rules: check, so the numbers belong together
    clean = stats.clean_profile(EX_B["day"], EX_B["copies"], EX_B["blq"]).dropna(subset=["level"])
    case = cases.loc["worked_b_pknca"]
    assert clean["day"].tolist() == [float(v) for v in case["day"].split(";")]
    assert clean["level"].tolist() == [float(v) for v in case["level"].split(";")]
    r_lin, r_log = float(r.loc["worked_b_pknca", "auc_linear"]), float(r.loc["worked_b_pknca", "auc_logdown"])
    day = np.r_[0.0, EX_B["day"]]
    to28 = day <= 28
    recorded = np.r_[0.0, EX_B["copies"]]
    zero = np.where(np.r_[False, EX_B["blq"]], 0.0, recorded)
    lib = {"BLQ kept at the limit": float(integrate.trapezoid(recorded[to28], day[to28])),
           "every BLQ set to 0": float(integrate.trapezoid(zero[to28], day[to28]))}
    ours_lin = stats.nca_profile(EX_B["day"], EX_B["copies"], EX_B["blq"], method="linear")["auc_0_28"]
    ours_log = stats.nca_profile(EX_B["day"], EX_B["copies"], EX_B["blq"])["auc_0_28"]
    out = []
    for label, value in lib.items():
        out.append(row(f"AUC0-28, {label}", "scipy.integrate.trapezoid", "PKNCA rules, linear (kinetics_nca)", "AUC0-28", pd.Series({"worked_b": abs(value - r_lin)}),
                       abs(ours_lin - r_lin), f"{100 * (value - r_lin) / r_lin:+.1f}% of R's {r_lin:g}"))
    cleaned = float(integrate.trapezoid(clean["level"][clean["day"] <= 28], clean["day"][clean["day"] <= 28]))
    out.append(row("AUC0-28 after the PKNCA rules", "scipy.integrate.trapezoid (linear only)", "PKNCA rules, "
                   "log-down (kinetics_nca)", "AUC0-28", pd.Series({"worked_b": abs(cleaned - r_log)}),
                   abs(ours_log - r_log), f"{100 * (cleaned - r_log) / r_log:+.1f}% of R's {r_log:.1f}"))
    return out


def main() -> None:
    import lifelines
    import scipy

    table = pd.DataFrame(km_median() + cox_zph() + aalen_johansen() + rank_sum() + nca_blq())
    pd.set_option("display.width", 250, "display.max_colwidth", 70, "display.max_columns", 20)
    print(f"lifelines {lifelines.__version__}, scipy {scipy.__version__}; R output as committed under "
          f"{FIXTURES.relative_to(ROOT)}\n")
    fmt = {"max |lib - R|": "{:.3g}".format, "max |ours - R|": "{:.1e}".format}
    print(table.to_string(index=False, formatters=fmt))
    print("\ndiffer: cases (curves, terms, comparisons) where |lib - R| > 1e-6; time units are those of the "
          "fixture case (weeks for gehan, months elsewhere)")


if __name__ == "__main__":
    main()
