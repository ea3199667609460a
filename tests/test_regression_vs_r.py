"""helpers.stats.regression against R, against exact arithmetic, and against a published example.

(a) Always, from committed fixtures (tests/fixtures/r/logistic_*.csv, written by
    tests/r/logistic.R; R version in logistic_session.csv):
    * ordinary ML fits vs R's glm(family = binomial): coefficients, SEs, z, Wald P,
      Wald CIs (confint.default), likelihood-ratio P (drop1), deviances, AIC, to 1e-6;
    * Firth in saturated models vs R's glm on the counts with 1/2 added to every cell
      (an exact identity, see tests/r/logistic.R): estimate, profile penalized-likelihood
      CI and penalized likelihood-ratio P, to 1e-6;
    * exact CIs of the response chapter's rates vs binom.test / prop.test, to 1e-10.
(b) Without R: separation detection on data sets built to separate (the truth is known by
    construction); Firth against closed-form hand computation and against the worked example
    of Heinze & Schemper (2002); bad input raises.
(c) With a live Rscript (marker ``r_live``): the fixtures still equal R's output, and the
    chapter's current study-000 models agree with live R.

R package logistf (Firth's method in R) is not available from Debian's archive on this
machine (``apt-get install r-cran-logistf``: "Unable to locate package"), so Firth's
estimate is checked by (1) exact identities in saturated models, verified through R's glm,
(2) the closed form log((a+1/2)(d+1/2)/((b+1/2)(c+1/2))) for a 2x2 table, and (3) the
published endometrial-cancer example.

Regenerate the fixtures after changing the cases or the R script::

    .venv/bin/python tests/test_regression_vs_r.py --regenerate
"""

from __future__ import annotations

import functools
import math
import sys
from typing import Optional

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, special

import r_oracle
from helpers import stats


class LogisticOracle(r_oracle.Oracle):
    """tests/r/logistic.R: its data sets are the ones ``logistic_models.csv`` names."""

    def load_inputs(self) -> dict[str, pd.DataFrame]:
        fixtures = r_oracle.FIXTURES
        models = pd.read_csv(fixtures / "logistic_models.csv", dtype=str)
        inputs = {"logistic_models": models}
        for name in models["dataset"].unique():
            inputs[f"logistic_data_{name}"] = pd.read_csv(fixtures / f"logistic_data_{name}.csv")
        inputs["logistic_saturated_cases"] = pd.read_csv(fixtures / "logistic_saturated_cases.csv",
                                                         dtype={"case_id": str, "group": str})
        inputs["response_binomial_cases"] = pd.read_csv(fixtures / "response_binomial_cases.csv",
                                                        dtype={"case_id": str})
        return inputs


ORACLE = LogisticOracle(
    "logistic.R", inputs=("logistic_models", "logistic_saturated_cases", "response_binomial_cases"),
    outputs=("logistic_coef_expected", "logistic_fit_expected", "logistic_saturated_expected",
             "response_binomial_expected"),
    session="logistic_session", read_outputs=dict(dtype={"warning": str}))
OUTPUT_NAMES = ORACLE.outputs

TOL = 1e-6            # ML and Firth vs R (the requirement)
CI_TOL = 1e-10        # binomial CIs vs binom.test / prop.test
FIXTURE_TOL = 1e-12   # committed fixtures vs live R

requires_r = pytest.mark.skipif(not r_oracle.rscript_available(), reason="Rscript not available")


# --------------------------------------------------------------------------- #
# fixture inputs
# --------------------------------------------------------------------------- #
# Endometrial cancer data (Heinze & Schemper 2002), 79 patients, as distributed with
# Agresti (2015), Foundations of Linear and Generalized Linear Models (Endometrial.dat):
# NV neovasculization (0/1), PI pulsatility index, EH endometrium height, HG histology grade.
ENDOMETRIAL_FILE = r_oracle.FIXTURES / "logistic_data_endometrial.csv"

# Firth estimates published for the endometrial model HG ~ NV + PI + EH (Heinze & Schemper 2002,
# Statistics in Medicine 21:2409; the same example in Kosmidis & Firth 2021, Biometrika 108:71):
# coefficient (printed to 2 decimals) and the profile penalized-likelihood 95% CI of NV.
ENDOMETRIAL_FIRTH = {"(Intercept)": 3.77, "NV": 2.93, "PI": -0.03, "EH": -2.60}
ENDOMETRIAL_NV_PL_CI = (0.61, 7.85)


def separation_datasets() -> dict[str, pd.DataFrame]:
    """Three one-predictor data sets whose separation status is known by construction."""
    x = np.arange(-5, 6, dtype=float)                     # -5 .. 5
    complete = pd.DataFrame({"x": x[x != 0], "y": (x[x != 0] > 0).astype(int)})
    # quasi-complete: the two groups touch at x = 0, where both outcomes occur
    quasi = pd.DataFrame({"x": np.concatenate([x, [0.0]]),
                          "y": np.concatenate([(x > 0).astype(int), [1]])})
    quasi.loc[quasi["x"] == 0, "y"] = [0, 1]
    # overlap: one "wrong" outcome on each side -- the ML estimate exists
    overlap = complete.copy()
    overlap.loc[overlap["x"] == -4, "y"] = 1
    overlap.loc[overlap["x"] == 3, "y"] = 0
    # two predictors: every x2 = 1 patient has the outcome; x1 overlaps
    two = pd.DataFrame({"x1": [0, 0, 0, 0, 1, 1, 1, 1, 0, 1, 0, 1],
                        "x2": [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1],
                        "y": [0, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1]})
    return {"sep_complete": complete, "sep_quasi": quasi, "sep_none": overlap, "sep_two": two}


SEPARATION_TRUTH = {
    # model_id: (status, {term: direction})
    "sep_complete": ("complete", {"(Intercept)": "+/-inf", "x": "+inf"}),
    "sep_quasi": ("quasi-complete", {"x": "+inf"}),   # the tie at x = 0 pins the intercept
    "sep_none": ("none", {}),
    "sep_two": ("quasi-complete", {"x2": "+inf"}),
}


def simulated_dataset(seed: int = 20240101, n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(0, 1, n)
    x2 = rng.binomial(1, 0.4, n)
    group = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    eta = -0.4 + 0.8 * x1 - 0.6 * x2 + 0.5 * (group == "b") - 1.1 * (group == "c")
    y = rng.binomial(1, special.expit(eta))
    return pd.DataFrame({"y": y, "x1": np.round(x1, 6), "x2": x2, "grp_b": (group == "b").astype(int),
                         "grp_c": (group == "c").astype(int)})


def study000_dataset() -> pd.DataFrame:
    """The chapter's study-000 analysis frame, built from the current synthetic cohort."""
    from helpers import chapters, clinical, reproduction
    from helpers.chapters import response as chapters_response

    repo = r_oracle.TESTS_DIR.parent
    book = chapters.setup("response-fixture", repo / "data" / "synthetic", 20240101, None,
                         repo / "data" / "published_register.csv")
    cohort = book.cohort("000")
    classified = clinical.classify(cohort["patients"], cohort["responses"])
    frame = chapters_response.analysis_frame_000(cohort["patients"], classified, reproduction.value("000-threshold-bm-blasts"))
    return frame.drop(columns=["patient_id", "cohort"])


FACTORS_000 = ("overt", "blasts_ge_cutoff", "abl_kd", "cml_lbc")


def model_list() -> pd.DataFrame:
    rows = []
    for outcome, short in (("response", "resp"), ("mrd_negative_cr", "mrd")):
        for factor in FACTORS_000:
            rows.append((f"s000_{short}_{factor}", "s000", outcome, factor))
        rows.append((f"s000_{short}_multi", "s000", outcome, "+".join(FACTORS_000)))
    rows.append(("s000lbc_resp_abl_kd", "s000lbc", "response", "abl_kd"))
    rows += [("endo_pi_eh", "endometrial", "HG", "PI+EH"), ("endo_full", "endometrial", "HG", "NV+PI+EH"),
             ("endo_nv", "endometrial", "HG", "NV"),
             ("sim_main", "simulated", "y", "x1+x2+grp_b+grp_c"), ("sim_x1", "simulated", "y", "x1")]
    for name in separation_datasets():
        rows.append((name, name, "y", "x1+x2" if name == "sep_two" else "x"))
    return pd.DataFrame(rows, columns=["model_id", "dataset", "outcome", "predictors"])


SATURATED_CASES = pd.DataFrame([
    # case_id, group, k, n  (first group of a case is the reference)
    ("sat_quasi", "wt", 7, 7), ("sat_quasi", "mut", 1, 6),        # a zero cell: ML odds ratio infinite
    ("sat_complete", "a", 0, 5), ("sat_complete", "b", 5, 5),    # two zero cells: complete separation
    ("sat_rr", "ph", 24, 42), ("sat_rr", "lbc", 1, 7),           # study 000, MRD-negative CR in R/R
    ("sat_three", "a", 2, 10), ("sat_three", "b", 0, 8), ("sat_three", "c", 9, 9),
], columns=["case_id", "group", "k", "n"])


def binomial_cases() -> pd.DataFrame:
    """Every published k/n of the response chapter, plus edge cases."""
    pairs = [(8, 13), (108, 119), (3, 13), (89, 119), (1, 7), (24, 42), (2, 6), (65, 77),
             (30, 38), (13, 30), (7, 12), (38, 47), (2, 7), (0, 7), (7, 7), (116, 132), (92, 132)]
    return pd.DataFrame({"case_id": [f"r_{k}_{n}" for k, n in pairs], "k": [k for k, _ in pairs],
                         "n": [n for _, n in pairs], "level": 0.95})


def saturated_individual(case_id: str) -> tuple[pd.DataFrame, list[str]]:
    """Individual-level rows of a saturated case, with 0/1 indicators of non-reference groups."""
    part = SATURATED_CASES[SATURATED_CASES["case_id"] == case_id]
    groups = part["group"].tolist()
    rows = []
    for _, r in part.iterrows():
        for i in range(r["n"]):
            row = {"y": int(i < r["k"])}
            row.update({f"group{g}": int(r["group"] == g) for g in groups[1:]})
            rows.append(row)
    return pd.DataFrame(rows), [f"group{g}" for g in groups[1:]]


def build_inputs() -> dict[str, pd.DataFrame]:
    """All inputs of tests/r/logistic.R (what --regenerate commits)."""
    s000 = study000_dataset()
    data = {"s000": s000, "s000lbc": s000[s000["cml_lbc"] == 1].drop(columns="cml_lbc"),
            "endometrial": pd.read_csv(ENDOMETRIAL_FILE), "simulated": simulated_dataset(),
            **separation_datasets()}
    inputs = {f"logistic_data_{k}": v for k, v in data.items()}
    inputs["logistic_models"] = model_list()
    inputs["logistic_saturated_cases"] = SATURATED_CASES
    inputs["response_binomial_cases"] = binomial_cases()
    return inputs


expected = ORACLE.expected                           # the committed R output, read once
inputs_cached = functools.cache(ORACLE.load_inputs)  # the committed inputs, read once (lazily)


def model_ids() -> list[str]:
    return pd.read_csv(r_oracle.FIXTURES / "logistic_models.csv", dtype=str)["model_id"].tolist()


def model_row(model_id: str) -> pd.Series:
    models = inputs_cached()["logistic_models"]
    return models.loc[models["model_id"] == model_id].iloc[0]


def fit_for(model_id: str, method: str = "ml", inputs=None):
    inputs = inputs or inputs_cached()
    m = model_row(model_id) if inputs is inputs_cached() else \
        inputs["logistic_models"].set_index("model_id").loc[model_id]
    data = inputs[f"logistic_data_{m['dataset']}"]
    fitter = stats.fit_ml if method == "ml" else stats.fit_firth
    return fitter(data, m["outcome"], m["predictors"].split("+"))


def separated_in_r(model_id: str, fits: pd.DataFrame, coef: Optional[pd.DataFrame] = None) -> bool:
    """R's own signs of a run-away fit: glm's 0/1 warning, or a standard error above 1000
    (glm stops when the deviance no longer moves, so quasi-separation often passes without
    a warning -- which is why the book checks separation by linear programming instead)."""
    w = fits.set_index("model_id").loc[model_id, "warning"]
    warned = isinstance(w, str) and "fitted probabilities numerically 0 or 1" in w
    coef = expected()["logistic_coef_expected"] if coef is None else coef
    huge_se = bool((coef.loc[coef["model_id"] == model_id, "se"].astype(float) > 1000).any())
    return warned or huge_se


# --------------------------------------------------------------------------- #
# the checks, shared by fixture and live tests
# --------------------------------------------------------------------------- #
def max_abs_diff_ml(model_id: str, coef: pd.DataFrame, fits: pd.DataFrame, inputs=None) -> float:
    """Largest |ours - R| over every reported number of one ML fit (asserting as it goes)."""
    ours = fit_for(model_id, "ml", inputs)
    r = coef[coef["model_id"] == model_id].set_index("term")
    table = ours.table.set_index("term")
    assert list(table.index) == list(r.index), f"{model_id}: terms differ from R's"
    worst = 0.0
    for col in ("estimate", "se", "z", "p_wald", "ci_lower", "ci_upper", "p_lr"):
        for term in r.index:
            a, b = float(table.loc[term, col]), float(r.loc[term, col])
            if math.isnan(b):
                assert math.isnan(a), f"{model_id} {term} {col}: R gives NA, we give {a}"
                continue
            diff = abs(a - b)
            worst = max(worst, diff)
            assert diff <= TOL, f"{model_id} {term} {col}: ours {a!r} vs R {b!r} (diff {diff:.2e})"
    f = fits.set_index("model_id").loc[model_id]
    for ours_value, column in ((ours.deviance, "deviance"), (ours.null_deviance, "null_deviance"),
                               (ours.aic, "aic"), (ours.loglik, "loglik")):
        diff = abs(ours_value - float(f[column]))
        worst = max(worst, diff)
        assert diff <= TOL, f"{model_id} {column}: ours {ours_value!r} vs R {float(f[column])!r}"
    assert ours.n == int(f["n"]) and ours.events == int(f["events"]), f"{model_id}: n/events differ"
    return worst


def ml_model_ids_not_separated() -> list[str]:
    if not (r_oracle.FIXTURES / "logistic_fit_expected.csv").exists():  # only while regenerating
        return []
    fits = expected()["logistic_fit_expected"]
    return [m for m in model_ids() if not separated_in_r(m, fits)]


def ml_model_ids_separated() -> list[str]:
    if not (r_oracle.FIXTURES / "logistic_fit_expected.csv").exists():
        return []
    fits = expected()["logistic_fit_expected"]
    return [m for m in model_ids() if separated_in_r(m, fits)]


# --------------------------------------------------------------------------- #
# (a) committed fixtures
# --------------------------------------------------------------------------- #
def test_fixtures_cover_every_model_and_case():
    exp = expected()
    assert exp["logistic_fit_expected"]["model_id"].tolist() == model_ids()
    assert set(exp["logistic_coef_expected"]["model_id"]) == set(model_ids())
    assert list(dict.fromkeys(exp["logistic_saturated_expected"]["case_id"])) == \
        list(dict.fromkeys(inputs_cached()["logistic_saturated_cases"]["case_id"]))
    assert exp["response_binomial_expected"]["case_id"].tolist() == \
        inputs_cached()["response_binomial_cases"]["case_id"].tolist()
    assert ORACLE.committed_r_version().startswith("R version")
    # the committed inputs are the ones this file builds (except the synthetic snapshot)
    assert inputs_cached()["logistic_models"].equals(model_list().astype(str))
    assert inputs_cached()["response_binomial_cases"].equals(binomial_cases())


@pytest.mark.parametrize("model_id", ml_model_ids_not_separated())
def test_ml_fit_vs_r_glm(model_id):
    max_abs_diff_ml(model_id, expected()["logistic_coef_expected"], expected()["logistic_fit_expected"])


def test_r_agrees_where_ml_exists():
    """Every model R fits without a 0/1 warning is one our LP calls not separated, and vice versa."""
    fits = expected()["logistic_fit_expected"]
    for model_id in model_ids():
        ours = fit_for(model_id, "ml")
        assert ours.separation.separated == separated_in_r(model_id, fits), (
            f"{model_id}: our separation check says {ours.separation.status}, "
            f"R warned: {fits.set_index('model_id').loc[model_id, 'warning']!r}")


@pytest.mark.parametrize("model_id", ml_model_ids_separated())
def test_separated_models_in_r_run_away(model_id):
    """Where we report infinite estimates, R's glm stops at a large |estimate| with a huge SE."""
    ours = fit_for(model_id, "ml")
    coef = expected()["logistic_coef_expected"]
    r = coef[coef["model_id"] == model_id].set_index("term")
    assert ours.separation.infinite, model_id
    for term in ours.separation.infinite:
        if ours.separation.infinite[term] != "+/-inf":
            assert abs(float(r.loc[term, "estimate"])) > 8, f"{model_id} {term}: R estimate not large"
        assert float(r.loc[term, "se"]) > 100, f"{model_id} {term}: R SE not huge"
    # terms that stay finite converge to the same limit in both programs
    for term in r.index:
        if term not in ours.separation.infinite:
            a, b = float(ours.table.set_index("term").loc[term, "estimate"]), float(r.loc[term, "estimate"])
            assert abs(a - b) <= 1e-5, f"{model_id} {term}: finite term, ours {a!r} vs R {b!r}"


@pytest.mark.parametrize("case_id", list(dict.fromkeys(SATURATED_CASES["case_id"])))
def test_firth_saturated_vs_r_augmented(case_id):
    data, predictors = saturated_individual(case_id)
    fit = stats.fit_firth(data, "y", predictors).table.set_index("term")
    r = expected()["logistic_saturated_expected"]
    r = r[r["case_id"] == case_id].set_index("term")
    assert list(fit.index) == list(r.index)
    for ours_col, r_col in (("estimate", "estimate"), ("pl_lower", "pl_lower"), ("pl_upper", "pl_upper"),
                            ("p_lr", "p_lr")):
        for term in r.index:
            a, b = float(fit.loc[term, ours_col]), float(r.loc[term, r_col])
            assert abs(a - b) <= TOL, f"{case_id} {term} {ours_col}: ours {a!r} vs R {b!r}"


def test_binomial_cis_vs_r():
    r = expected()["response_binomial_expected"]
    for _, row in r.iterrows():
        k, n, level = int(row["k"]), int(row["n"]), float(row["level"])
        cp = stats.clopper_pearson(k, n, level)
        wi = stats.wilson(k, n, level)
        for ours, col in ((cp[0], "cp_lower"), (cp[1], "cp_upper"), (wi[0], "wilson_lower"),
                          (wi[1], "wilson_upper")):
            assert abs(ours - float(row[col])) <= CI_TOL, f"{row['case_id']} {col}: {ours!r} vs R {row[col]!r}"


# --------------------------------------------------------------------------- #
# (b) no R needed
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name", list(SEPARATION_TRUTH))
def test_separation_detection_on_constructed_data(name):
    data = separation_datasets()[name]
    predictors = ["x1", "x2"] if name == "sep_two" else ["x"]
    d = stats.design(data, "y", predictors)
    report = stats.detect_separation(d.X, d.y, d.terms)
    status, infinite = SEPARATION_TRUTH[name]
    assert report.status == status
    assert report.infinite == infinite
    firth = stats.fit_firth(data, "y", predictors)
    assert np.all(np.isfinite(firth.table["estimate"])), "Firth must stay finite"
    assert np.all(np.isfinite(firth.table[["pl_lower", "pl_upper"]].to_numpy()))


def test_separation_detection_is_invariant_to_scale():
    data = separation_datasets()["sep_quasi"].assign(x=lambda f: f["x"] * 1e4)
    d = stats.design(data, "y", ["x"])
    assert stats.detect_separation(d.X, d.y, d.terms).status == "quasi-complete"


def test_firth_two_by_two_closed_form():
    """Firth in a 2x2 table = ML with 1/2 added to each cell (exact hand computation)."""
    for a, b, c, d in ((7, 0, 1, 5), (24, 18, 1, 6), (0, 5, 5, 0), (3, 10, 89, 30), (1, 1, 1, 1)):
        rows = ([{"x": 1, "y": 1}] * a + [{"x": 1, "y": 0}] * b + [{"x": 0, "y": 1}] * c + [{"x": 0, "y": 0}] * d)
        fit = stats.fit_firth(pd.DataFrame(rows), "y", ["x"], profile=False).table.set_index("term")
        log_or = math.log((a + 0.5) * (d + 0.5) / ((b + 0.5) * (c + 0.5)))
        intercept = math.log((c + 0.5) / (d + 0.5))
        assert abs(fit.loc["x", "estimate"] - log_or) < 1e-9
        assert abs(fit.loc["(Intercept)", "estimate"] - intercept) < 1e-9
        # SE of a saturated Firth fit: sqrt of the inverse information at the augmented proportions
        p1, p0 = (a + 0.5) / (a + b + 1), (c + 0.5) / (c + d + 1)
        se = math.sqrt(1 / ((a + b) * p1 * (1 - p1)) + 1 / ((c + d) * p0 * (1 - p0)))
        assert abs(fit.loc["x", "se"] - se) < 1e-9


def test_firth_intercept_only_closed_form():
    """Intercept-only Firth: p = (k + 1/2) / (n + 1)."""
    for k, n in ((1, 7), (6, 7), (3, 13), (108, 119)):
        fit = stats.fit_firth(pd.DataFrame({"y": [1] * k + [0] * (n - k)}), "y", [], profile=False)
        assert fit.converged
        assert abs(special.expit(fit.coef["(Intercept)"]) - (k + 0.5) / (n + 1)) < 1e-12


def penalized_loglik(X: np.ndarray, y: np.ndarray, beta: np.ndarray) -> float:
    """Firth's penalized log-likelihood l(beta) + 1/2 log det(X'WX), written out from its definition
    (independent of firthmodels, which fit_firth calls)."""
    p = special.expit(X @ beta)
    sign, logdet = np.linalg.slogdet(X.T @ (X * (p * (1 - p))[:, None]))
    if sign <= 0:
        return -math.inf
    return float(np.sum(y * np.log(p) + (1 - y) * np.log1p(-p))) + 0.5 * logdet


def test_firth_endometrial_published_example():
    """Heinze & Schemper (2002): Firth fit of HG ~ NV + PI + EH, and NV's profile CI."""
    data = pd.read_csv(ENDOMETRIAL_FILE)
    ml = stats.fit_ml(data, "HG", ["NV", "PI", "EH"])
    assert ml.separation.status == "quasi-complete" and ml.separation.infinite == {"NV": "+inf"}
    fit = stats.fit_firth(data, "HG", ["NV", "PI", "EH"]).table.set_index("term")
    for term, published in ENDOMETRIAL_FIRTH.items():
        assert round(fit.loc[term, "estimate"], 2) == published, (term, fit.loc[term, "estimate"])
    assert round(fit.loc["NV", "pl_lower"], 2) == ENDOMETRIAL_NV_PL_CI[0]
    assert round(fit.loc["NV", "pl_upper"], 2) == ENDOMETRIAL_NV_PL_CI[1]


def test_firth_estimate_maximizes_penalized_likelihood():
    """The modified score is the gradient of l + 1/2 log det I: check it numerically at the estimate."""
    data = simulated_dataset()
    predictors = ["x1", "x2", "grp_b", "grp_c"]
    fit = stats.fit_firth(data, "y", predictors, profile=False)
    d = stats.design(data, "y", predictors)
    beta = fit.table["estimate"].to_numpy()
    grad = optimize.approx_fprime(beta, lambda b: penalized_loglik(d.X, d.y, b), 1e-6)
    assert np.max(np.abs(grad)) < 1e-4
    # and a generic optimizer from another start lands on the same point
    res = optimize.minimize(lambda b: -penalized_loglik(d.X, d.y, b), np.full(len(beta), 0.3),
                            method="BFGS", options={"gtol": 1e-9})
    assert np.max(np.abs(res.x - beta)) < 1e-4
    # the penalized log-likelihood reported is the one at the estimate
    assert abs(fit.penalized_loglik - penalized_loglik(d.X, d.y, beta)) < 1e-9


def test_firth_is_equivariant_to_the_units_of_a_predictor():
    """Firth's estimate follows a change of units (the penalty only shifts by a constant): a
    predictor in thousandths and one in thousands give the same model, scaled."""
    data = pd.read_csv(ENDOMETRIAL_FILE)
    base = stats.fit_firth(data, "HG", ["NV", "PI", "EH"])
    scaled = stats.fit_firth(data.assign(PI=data["PI"] * 1000, EH=data["EH"] / 1000), "HG", ["NV", "PI", "EH"])
    a, b = base.table.set_index("term"), scaled.table.set_index("term")
    for term, factor in (("(Intercept)", 1.0), ("NV", 1.0), ("PI", 1e-3), ("EH", 1e3)):
        for col in ("estimate", "pl_lower", "pl_upper"):
            assert abs(b.loc[term, col] - factor * a.loc[term, col]) <= 1e-6 * max(1.0, abs(factor * a.loc[term, col]))
        assert abs(b.loc[term, "p_lr"] - a.loc[term, "p_lr"]) <= 1e-9
    assert abs(scaled.loglik - base.loglik) <= 1e-9


def test_firth_shrinks_toward_zero_compared_with_ml():
    data = simulated_dataset()
    ml = stats.fit_ml(data, "y", ["x1", "x2"]).coef
    firth = stats.fit_firth(data, "y", ["x1", "x2"], profile=False).coef
    assert (firth.abs()[["x1", "x2"]] < ml.abs()[["x1", "x2"]]).all()


@pytest.mark.parametrize("frame, outcome, predictors, message", [
    (pd.DataFrame({"y": [0, 1, 2], "x": [1, 2, 3]}), "y", ["x"], "must be 0/1"),
    (pd.DataFrame({"y": [0, 1, 1], "x": ["a", "b", "c"]}), "y", ["x"], "numeric or boolean"),
    (pd.DataFrame({"y": [0, 1, 1], "x": [1, 1, 1]}), "y", ["x"], "constant"),
    (pd.DataFrame({"y": [0, 1, 1, 0], "x": [1, 2, 3, 4], "z": [2, 4, 6, 8]}), "y", ["x", "z"], "collinear"),
    (pd.DataFrame({"y": [1, 1, 1], "x": [1, 2, 3]}), "y", ["x"], "single value"),
    (pd.DataFrame({"y": [0, 1], "x": [1, 2]}), "y", ["w"], "not in data"),
    (pd.DataFrame({"y": [np.nan, np.nan], "x": [1, 2]}), "y", ["x"], "no rows left"),
    ([[0, 1]], "y", ["x"], "must be a pandas DataFrame"),
])
def test_bad_input_raises(frame, outcome, predictors, message):
    with pytest.raises(ValueError, match=message):
        stats.fit_ml(frame, outcome, predictors)


def test_missing_values_are_excluded_and_listed():
    data = simulated_dataset().head(60).copy()
    data.loc[[3, 7], "x1"] = np.nan
    data["patient_id"] = [f"P{i}" for i in range(len(data))]
    fit = stats.fit_ml(data, "y", ["x1", "x2"], id_column="patient_id")
    assert fit.n == 58 and fit.n_excluded == 2
    assert fit.excluded["patient_id"].tolist() == ["P3", "P7"]
    assert fit.excluded["reason"].tolist() == ["missing x1", "missing x1"]


# --------------------------------------------------------------------------- #
# (c) live R
# --------------------------------------------------------------------------- #
# live_r: tests/conftest.py runs ORACLE (skipped without Rscript)
@pytest.mark.r_live
@pytest.mark.parametrize("name", OUTPUT_NAMES)
def test_committed_fixtures_equal_live_r(live_r, name):
    assert ORACLE.live_mismatches(live_r, name, tol=FIXTURE_TOL, relative=True) == []


@pytest.mark.r_live
def test_current_chapter_models_vs_live_r():
    """The chapter's study-000 models on the *current* synthetic cohort, refitted by live R."""
    if not r_oracle.rscript_available():
        pytest.skip("Rscript not available")
    s000 = study000_dataset()
    models = model_list()
    models = models[models["dataset"] == "s000"].reset_index(drop=True)
    inputs = {"logistic_models": models, "logistic_data_s000": s000,
              "logistic_saturated_cases": SATURATED_CASES.head(2), "response_binomial_cases": binomial_cases().head(1)}
    out = r_oracle.run_rscript(ORACLE.script_path, inputs, timeout=r_oracle.LIVE_TIMEOUT)
    checked = 0
    for model_id in models["model_id"]:
        ours = stats.fit_ml(s000, model_row(model_id)["outcome"], model_row(model_id)["predictors"].split("+"))
        r_separated = separated_in_r(model_id, out["logistic_fit_expected"], out["logistic_coef_expected"])
        if r_separated or ours.separation.separated:
            assert ours.separation.separated == r_separated, model_id
            continue
        live_inputs = {"logistic_models": models, "logistic_data_s000": s000}
        max_abs_diff_ml(model_id, out["logistic_coef_expected"], out["logistic_fit_expected"], live_inputs)
        checked += 1
    assert checked >= 4


@pytest.mark.r_live
@requires_r
def test_r_glm_default_settings_miss_the_endometrial_separation(tmp_path):
    """The chapter says: with default settings R's glm fits the endometrial model without a warning and
    reports NV = 18.2 (SE 1716). Checked here so the sentence cannot go stale."""
    script = tmp_path / "default.R"
    script.write_text(
        "d <- commandArgs(trailingOnly = TRUE)[1]\n"
        "e <- read.csv(file.path(d, 'endo.csv'))\n"
        "warned <- FALSE\n"
        "fit <- withCallingHandlers(glm(HG ~ NV + PI + EH, binomial, e),\n"
        "  warning = function(w) { warned <<- TRUE; invokeRestart('muffleWarning') })\n"
        "s <- coef(summary(fit))\n"
        "write.csv(data.frame(warned = warned, nv = s['NV', 1], se = s['NV', 2]),\n"
        "          file.path(d, 'out.csv'), row.names = FALSE)\n")
    out = r_oracle.run_rscript(script, {"endo": pd.read_csv(ENDOMETRIAL_FILE)})["out"].iloc[0]
    assert not bool(out["warned"])
    assert round(float(out["nv"]), 1) == 18.2 and round(float(out["se"])) == 1716


def report_max_differences() -> dict[str, float]:
    """Max |ours - R| over the committed fixtures (for the chapter's report)."""
    exp = expected()
    worst_ml = max(max_abs_diff_ml(m, exp["logistic_coef_expected"], exp["logistic_fit_expected"])
                   for m in ml_model_ids_not_separated())
    worst_sat = 0.0
    for case_id in dict.fromkeys(SATURATED_CASES["case_id"]):
        data, predictors = saturated_individual(case_id)
        fit = stats.fit_firth(data, "y", predictors).table.set_index("term")
        r = exp["logistic_saturated_expected"]
        r = r[r["case_id"] == case_id].set_index("term")
        for col in ("estimate", "pl_lower", "pl_upper", "p_lr"):
            worst_sat = max(worst_sat, float(np.max(np.abs(fit.loc[r.index, col].to_numpy() - r[col].to_numpy()))))
    worst_ci = 0.0
    for _, row in exp["response_binomial_expected"].iterrows():
        cp = stats.clopper_pearson(int(row["k"]), int(row["n"]))
        wi = stats.wilson(int(row["k"]), int(row["n"]))
        worst_ci = max(worst_ci, abs(cp[0] - row["cp_lower"]), abs(cp[1] - row["cp_upper"]),
                       abs(wi[0] - row["wilson_lower"]), abs(wi[1] - row["wilson_upper"]))
    return {"ml_vs_glm": worst_ml, "firth_saturated_vs_glm_augmented": worst_sat, "binomial_ci": worst_ci}


# --------------------------------------------------------------------------- #
if __name__ == "__main__":   # --regenerate: rewrite the inputs and re-run tests/r/logistic.R; --report: max |ours - R|
    ORACLE.main(sys.argv[1:], make_inputs=build_inputs, commands={"--report": lambda: print(report_max_differences())})
