"""The models of a reader's cohort (helpers.chapters.own_models): logistic models of remission
(ML and Firth), the cytokine mixed model and the per-patient Stein kinetic fits, run by the
own-data sections on cohorts the book does not reproduce.

Checked against R on the data the sections fitted (tests/r/own_models.R, committed fixtures
tests/fixtures/r/own_models_*.csv): ML against glm(family = binomial) and drop1; Firth in a
saturated model against glm on the counts with 1/2 added to every cell (an exact identity, see
tests/r/logistic.R); the mixed model against nlme::lme (REML means and variances, ML
likelihood-ratio test). The kinetic fits have no R counterpart: the section's numbers must be
stats.fit_table's on the same patients, and a curve simulated from known parameters must come
back. Also: every section says so, instead of failing, without its table, with one cohort, too
few patients, or more patients than it fits.

    .venv/bin/python tests/test_own_models_vs_r.py --regenerate   # re-run R into the fixtures
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import r_oracle
from helpers import chapters
from helpers.chapters import own_data, own_models
from helpers.clinical import cytokines
from helpers.clinical import response as resp
from helpers.stats import kinetic_model
from helpers.synthetic import registry
from r_oracle import assert_same_frames, close

INPUTS = ("own_models_logistic_data", "own_models_firth_counts", "own_models_mixed_data", "own_models_mixed_levels")
ORACLE = r_oracle.Oracle("own_models.R", inputs=INPUTS,
                         outputs=("own_models_logistic_expected", "own_models_firth_expected",
                                  "own_models_mixed_means_expected", "own_models_mixed_fit_expected"),
                         session="own_models_session",
                         read_inputs=dict(float_precision="round_trip", dtype={"patient_id": str, "group": str}))
TABLES = ("patients", "outcomes", "responses", "treatments", "adverse_events", "labs", "kinetics")
TWO_COHORTS = {c: registry.REGISTRY_COHORTS[c] for c in ("B-ALL", "Ph+ ALL")}
TOL_LOGISTIC = 1e-9      # glm and statsmodels' IRLS both converge to 1e-12 or better (measured: 4e-15)
TOL_FIRTH = 1e-9         # measured: 4e-13
TOL_MIXED_MEAN = 1e-8    # log10 means (measured: 9e-15 on 240 patients, 2.1e-9 on the large sample)
TOL_MIXED = 1e-5         # their SEs and the variances: the REML surface is flat there (measured: 1.4e-6
                         # on the large sample, where the two log-likelihoods agree to 1.6e-11)
TOL_MIXED_LR = 1e-6      # LR statistic and REML log-likelihood (measured: 3e-10; statsmodels' default: 5.6)
MIXED_ANALYTES = ("IL-6", "CRP")
#: A larger cohort's IL-6, where statsmodels' default optimiser stopped far short of the REML
#: optimum (REML log-likelihood -395.54 against nlme's -389.89; see helpers.stats.mixed).
LARGE_MIXED = "IL-6, 1,500-patient registry (200 sampled)"


def _book(root: Path, study: str, n: int, **shape) -> chapters.ChapterContext:
    folder = root / study / "data"
    if not folder.exists():
        registry.write(registry.Shape(study, n, tables=shape.pop("tables", TABLES), **shape), folder)
    return chapters.setup("t", folder)


def _responses(book, study):
    cohort = book.cohort(study)
    return own_models.response_models(book, study, resp.classify(cohort["patients"], cohort["responses"]))


def run_sections(root: Path) -> dict:
    """The three sections on the cohorts the R comparisons use, and what they fitted."""
    three = _book(root, "three", 600)
    two = _book(root, "two", 60, cohorts=TWO_COHORTS)
    labs = _book(root, "labs", 240)
    patients = labs.cohort("labs")["patients"]
    series = cytokines.cytokine_series(labs.cohort("labs")["labs"], patients,
                                       analytes=[a for a in cytokines.CYTOKINES
                                                 if a in set(labs.cohort("labs")["labs"]["analyte"])])
    mixed = own_models.cytokine_models(labs, "labs", series[series["analyte"].isin(MIXED_ANALYTES)], patients)
    big = _book(root, "registry", 1500)
    big_patients = big.cohort("registry")["patients"]
    big_series = cytokines.cytokine_series(big.cohort("registry")["labs"], big_patients, analytes=["IL-6"])
    mixed[LARGE_MIXED] = own_models.cytokine_models(big, "registry", big_series, big_patients)["IL-6"]
    return {"logistic": _responses(three, "three"), "firth": _responses(two, "two"), "mixed": mixed}


def make_inputs(sections: dict) -> dict[str, pd.DataFrame]:
    firth = sections["firth"]
    assert list(firth["labels"]) == ["cohort_1"], "the Firth check needs a saturated model (cohort term only)"
    data = firth["data"]
    counts = pd.DataFrame([{"group": str(g), "k": int(part["responder"].sum()), "n": len(part)}
                           for g, part in data.groupby("cohort_1")])
    parts, levels = [], []
    for analyte, item in sections["mixed"].items():
        frame = item["data"]
        codes = {p: f"p{i}" for i, p in enumerate(sorted(frame["patient_id"].unique()), start=1)}  # no patient code leaves
        parts.append(pd.DataFrame({"dataset": analyte, "patient_id": frame["patient_id"].map(codes),
                                   "cohort": frame["cohort"], "day": frame["day"].astype(float),
                                   "value": frame["value"].astype(float), "below_lloq": frame["below_lloq"].astype(bool)}))
        levels += [{"dataset": analyte, "cohort": c} for c in item["groups"]]
    return {"own_models_logistic_data": sections["logistic"]["data"].reset_index(drop=True),
            "own_models_firth_counts": counts,
            "own_models_mixed_data": pd.concat(parts, ignore_index=True),
            "own_models_mixed_levels": pd.DataFrame(levels)}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("own_models")


@pytest.fixture(scope="module")
def sections(root):
    return run_sections(root)


# --------------------------------------------------------------------------- the R comparisons --

def test_the_committed_inputs_are_what_the_sections_fit_now(sections):
    assert_same_frames(make_inputs(sections), ORACLE.load_inputs(), INPUTS)
    assert ORACLE.committed_r_version().startswith("R version")


def test_logistic_ml_of_a_readers_cohort_equals_glm(sections):
    fit = sections["logistic"]["ml"]
    expected = ORACLE.expected()["own_models_logistic_expected"]
    ours = fit.table.set_index("term").loc[expected["term"]]
    assert len(fit.predictors) >= 4 and fit.n_excluded == 0  # cohort terms and covariates, nobody dropped
    close(ours["estimate"], expected["estimate"], "ML coefficients", tol=TOL_LOGISTIC)
    close(ours["se"], expected["se"], "ML standard errors", tol=TOL_LOGISTIC)
    close(ours["p_lr"], expected["p_lr"], "ML likelihood-ratio P", tol=TOL_LOGISTIC)


def test_firth_of_a_saturated_model_equals_glm_on_the_augmented_counts(sections):
    table = sections["firth"]["firth"].table
    expected = ORACLE.expected()["own_models_firth_expected"]
    close(table["estimate"], expected["estimate"], "Firth estimates", tol=TOL_FIRTH)
    close(table["pl_lower"], expected["pl_lower"], "Firth profile CI, lower", tol=TOL_FIRTH)
    close(table["pl_upper"], expected["pl_upper"], "Firth profile CI, upper", tol=TOL_FIRTH)
    close(table["p_lr"], expected["p_lr"], "Firth penalized LR P", tol=TOL_FIRTH)


@pytest.mark.parametrize("analyte", [*MIXED_ANALYTES, LARGE_MIXED])
def test_the_mixed_model_of_a_readers_cohort_equals_nlme(sections, analyte):
    from scipy.stats import norm

    result = sections["mixed"][analyte]["result"]
    means = ORACLE.expected()["own_models_mixed_means_expected"]
    expected = means[means["dataset"] == analyte].set_index(["cohort", "day"])
    ours = result.means.set_index(["cohort", "day"]).loc[expected.index]
    close(ours["log10_mean"], expected["log10_mean"], f"{analyte}: model means (log10)", tol=TOL_MIXED_MEAN)
    se = (np.log10(ours["upper"]) - ours["log10_mean"]) / norm.isf(0.025)
    close(se, expected["se"], f"{analyte}: SE of the model means", tol=TOL_MIXED)
    fit = ORACLE.expected()["own_models_mixed_fit_expected"].set_index("dataset").loc[analyte]
    close(result.variance["variance (log10 scale)"], [fit["between"], fit["residual"]],
          f"{analyte}: variance components", tol=TOL_MIXED)
    close(result.lr_test["LR statistic"], [fit["lr"]], f"{analyte}: LR statistic", tol=TOL_MIXED_LR)
    close([result.model.llf], [fit["reml_loglik"]], f"{analyte}: REML log-likelihood", tol=TOL_MIXED_LR)
    assert int(result.lr_test["df"].iloc[0]) == int(fit["df"])


# live_r: tests/conftest.py runs ORACLE (skipped without Rscript)
@pytest.mark.r_live
def test_committed_fixtures_equal_live_r(live_r):
    for name in ORACLE.outputs:
        assert ORACLE.live_mismatches(live_r, name, tol=1e-9, relative=True) == [], name


# --------------------------------------------------------------------------- the sections --

def test_the_logistic_section_counts_the_smaller_group_and_says_why_terms_are_out(sections, capsys):
    result = sections["logistic"]
    data, fate = result["data"], result["fate"]
    smaller = min(int(data["responder"].sum()), int((1 - data["responder"]).sum()))
    assert len(result["labels"]) <= smaller // own_data.EVENTS_PER_TERM
    assert set(fate.loc[fate["In the model"] == "yes", "Term"]) == set(result["labels"].values())
    assert not fate["Why"].str.contains("hazard ratio").any()
    out = fate.set_index("Term")["Why"]
    assert out["ABL1 KD mutation"].startswith("missing for")  # not tested without BCR::ABL1: left out, said
    assert result["ml"].n == result["firth"].n == len(data) and result["ml"].n_excluded == 0


@pytest.mark.parametrize("remission", [True, False])
def test_a_cohort_with_one_outcome_only_stays_in_the_model_with_firth_finite(root, remission):
    """A cohort in which everybody responds (or nobody does) separates the outcomes: the ML odds
    ratio is infinite and Firth's is finite (Heinze & Schemper 2002), so the term stays in the model
    as in the seed chapter, the ML fit names it and its coefficient is said, not printed."""
    book = _book(root, "three", 600)
    cohort = book.cohort("three")
    classified = resp.classify(cohort["patients"], cohort["responses"])
    order = own_data.cohort_order(cohort["patients"])
    smallest = order[-1]
    classified.loc[classified["cohort"] == smallest, ["evaluable", "remission"]] = [True, remission]
    result = own_models.response_models(book, "three", classified)
    term = f"cohort_{len(order) - 1}"
    assert result["fate"].set_index("Term").loc[f"{smallest} (vs {order[0]})", "In the model"] == "yes"
    assert result["ml"].separation.separated and term in result["ml"].separation.infinite
    assert result["ml"].separation.infinite[term] == ("+inf" if remission else "-inf")
    firth = result["firth"].table.set_index("term").loc[term]
    assert np.isfinite(firth["estimate"]) and np.sign(firth["estimate"]) == (1 if remission else -1)
    table = own_models.coefficient_table(result["ml"], result["firth"], result["labels"])
    row = table.set_index("Term").loc[f"{smallest} (vs {order[0]})"]
    assert row["ML: log-odds (SE)"].startswith("not finite") and row["ML: OR (95% Wald CI)"] == "—"


def test_declared_covariates_are_offered_to_the_logistic_model(root):
    """A study's own covariates (covariates.csv) reach the logistic model as they reach the Cox models."""
    folder = root / "declared" / "data"
    registry.write(registry.Shape("declared", 600, tables=("patients", "responses", "outcomes")), folder)
    path = folder / "declared" / "patients.csv"
    patients = pd.read_csv(path, dtype=str, keep_default_na=False)
    patients["cmv_positive"] = np.random.default_rng(3).choice(["true", "false"], size=len(patients))
    patients.to_csv(path, index=False)
    pd.DataFrame([dict(study_id="declared", column="cmv_positive", label="CMV seropositive", type="yes_no",
                       levels="", unit="", per="", origin="user")]).to_csv(folder / "declared" / "covariates.csv",
                                                                           index=False)
    result = _responses(chapters.setup("t", folder), "declared")
    assert "CMV seropositive" in set(result["fate"]["Term"])


def test_the_kinetic_section_gives_fit_tables_numbers(root):
    book = _book(root, "labs", 240)
    cohort = book.cohort("labs")
    fits = own_models.kinetic_fits(book, "labs", cohort["kinetics"], cohort["patients"])
    direct = kinetic_model.fit_table(cohort["kinetics"])
    ours = fits.drop(columns="cohort").set_index("patient_id").loc[direct["patient_id"]].reset_index()
    pd.testing.assert_frame_equal(ours, direct, check_exact=True)
    assert (fits["fit_status"] == "fitted").sum() >= 0.8 * len(fits)


def test_a_curve_simulated_from_known_parameters_is_recovered(root):
    book = _book(root, "labs", 240)
    truth = {"sim-1": kinetic_model.SteinParameters(2e4, 9.0, 0.8, 0.15, 0.01, 0.05),
             "sim-2": kinetic_model.SteinParameters(5e3, 12.0, 0.5, 0.25, 0.02, 0.10)}
    rng = np.random.default_rng(7)
    samples = pd.concat([kinetic_model.simulate_stein(p, kinetic_model.DENSE_SCHEDULE, sd_log=0.01, rng=rng,
                                                      patient_id=pid) for pid, p in truth.items()], ignore_index=True)
    patients = pd.DataFrame({"patient_id": list(truth), "cohort": ["A", "B"], "origin": "synthetic"})
    fits = own_models.kinetic_fits(book, "sim", samples, patients).set_index("patient_id")
    for pid, p in truth.items():
        row = fits.loc[pid]
        assert row["fit_status"] == "fitted" and row["at_bounds"] == ""
        for name in ("cmax", "rho", "alpha", "beta", "fb"):
            assert row[f"model_{name}"] == pytest.approx(getattr(p, name), rel=0.05), (pid, name)
        assert row["model_tmax"] == pytest.approx(p.tmax, abs=0.2)


def test_the_kinetic_fits_are_bounded_and_the_page_says_so(root, capsys, monkeypatch):
    book = _book(root, "labs", 240)
    cohort = book.cohort("labs")
    monkeypatch.setattr(own_models, "KINETIC_FIT_LIMIT", 5)
    fits = own_models.kinetic_fits(book, "labs", cohort["kinetics"], cohort["patients"])
    out = capsys.readouterr().out
    sampled = cohort["kinetics"]["patient_id"].nunique()
    assert len(fits) == 5 and f"not in the random sample of 5 fitted: {sampled - 5}" in out
    assert "a random sample of 5 (seeded, the same on every build) is fitted" in out
    again = own_models.kinetic_fits(book, "labs", cohort["kinetics"], cohort["patients"])
    assert list(again["patient_id"]) == list(fits["patient_id"])  # the same patients every time


def test_the_mixed_model_counts_every_sample(sections, root):
    book = _book(root, "labs", 240)
    labs = book.cohort("labs")["labs"]
    for analyte in MIXED_ANALYTES:
        item = sections["mixed"][analyte]
        assert item["result"].n_observations == len(item["data"]) <= int((labs["analyte"] == analyte).sum())
        assert item["result"].substituted_lloq == int(item["data"]["below_lloq"].sum())
    series = cytokines.cytokine_series(labs, book.cohort("labs")["patients"], analytes=["IL-6"])
    data, groups, dropped = own_models.mixed_model_data(series, "IL-6", own_data.cohort_order(book.cohort("labs")["patients"]))
    assert len(data) + sum(dropped.values()) == len(series)


def test_a_mixed_fit_that_stopped_short_shows_no_test(root, capsys, monkeypatch):
    """statsmodels can end a maximum-likelihood fit below the null model's likelihood (seen on the
    100,000-patient registry's ferritin: statistic -15.1): the page says so instead of a P of 1."""
    import dataclasses

    from helpers import stats

    real = stats.fit_log_mixed_model

    def stopped_short(*args, **kwargs):
        result = real(*args, **kwargs)
        return dataclasses.replace(result, lr_test=result.lr_test.assign(**{"LR statistic": -15.1}),
                                   warnings=("Gradient optimization failed, |grad| = 121.3",))

    monkeypatch.setattr(stats, "fit_log_mixed_model", stopped_short)
    book = _book(root, "labs", 240)
    cohort = book.cohort("labs")
    series = cytokines.cytokine_series(cohort["labs"], cohort["patients"], analytes=["IL-6"])
    own_models.cytokine_models(book, "labs", series, cohort["patients"])
    out = capsys.readouterr().out
    assert "not computed: a maximum-likelihood fit stopped short (negative statistic)" in out
    assert "no (see the warnings)" in out and "-15.1" not in out


def test_the_sections_follow_the_time_origin(root, monkeypatch):
    """A transplant cohort counts its days from the allo-HSCT: the axes say so, not "infusion"."""
    book = _book(root, "labs", 240)
    cohort = book.cohort("labs")
    patients = cohort["patients"].assign(time_origin="allo-HSCT")
    shown = []
    monkeypatch.setattr(own_data, "show", lambda *items: shown.extend(items))
    series = cytokines.cytokine_series(cohort["labs"], patients, analytes=["IL-6"])
    own_models.cytokine_models(book, "labs", series, patients)
    own_models.kinetic_fits(book, "labs", cohort["kinetics"], patients)
    axes = [f.figure.layout.xaxis.title.text for f in shown if hasattr(f, "figure") and f.figure.layout.xaxis.title.text]
    assert "Days since allo-HSCT" in axes and not any("infusion" in str(a) for a in axes)
    columns = [c for t in shown if isinstance(getattr(t, "frame", None), pd.DataFrame) for c in t.frame.columns]
    assert "Tmax, days since allo-HSCT" in columns


def test_the_sections_say_so_without_their_tables(capsys):
    """The worked example: one cohort, no labs, no kinetics."""
    from helpers.paths import DATA_DIR

    book = chapters.setup("t", DATA_DIR / "examples" / "single-centre")
    own_data.response(book, "single-centre")
    own_data.cytokine_section(book, "single-centre")
    own_data.expansion_section(book, "single-centre")
    out = capsys.readouterr().out
    assert "logistic model of remission (CR/CRi): terms offered to the model" in out
    assert "No data for this analysis: Cytokines and inflammatory markers" in out
    assert "No data for this analysis: CAR-T expansion" in out


def test_one_cohort_gets_notes_not_comparisons(root, capsys):
    book = _book(root, "one", 120, cohorts={"B-ALL": registry.REGISTRY_COHORTS["B-ALL"]})
    cohort = book.cohort("one")
    series = cytokines.cytokine_series(cohort["labs"], cohort["patients"], analytes=["IL-6"])
    assert own_models.cytokine_models(book, "one", series, cohort["patients"]) == {}
    fits = own_models.kinetic_fits(book, "one", cohort["kinetics"], cohort["patients"])
    result = _responses(book, "one")
    out = capsys.readouterr().out
    assert "The mixed-model comparison of cytokine courses not computable for study one: it has one cohort" in out
    assert set(fits["cohort"]) == {"B-ALL"} and "fitted parameters by cohort" in out
    assert result is None or not any(t.startswith("cohort_") for t in result["labels"])


def test_samples_in_one_cohort_only_or_none_give_a_note(root, capsys):
    book = _book(root, "labs", 240)
    cohort = book.cohort("labs")
    patients = cohort["patients"]
    series = cytokines.cytokine_series(cohort["labs"], patients, analytes=["IL-6"])
    largest = own_data.cohort_order(patients)[0]
    assert own_models.cytokine_models(book, "labs", series[series["cohort"] == largest], patients) == {}
    fits = own_models.kinetic_fits(book, "labs", cohort["kinetics"].iloc[:0], patients)
    out = capsys.readouterr().out
    assert f"not computable: only {largest} of the 3 cohorts has cytokine samples" in out
    assert fits.empty and "no kinetic sample, no curve to fit" in out


def test_too_few_patients_or_one_outcome_gives_no_model_and_a_note(root, capsys):
    book = _book(root, "three", 600)
    cohort = book.cohort("three")
    classified = resp.classify(cohort["patients"], cohort["responses"])
    few = classified.assign(evaluable=classified.index < 30)
    assert own_models.response_models(book, "three", few) is None
    everyone = classified.assign(remission=classified["evaluable"])
    assert own_models.response_models(book, "three", everyone) is None
    out = capsys.readouterr().out
    assert "no term can be estimated" in out
    assert "a model of remission needs patients with and without it" in out


def test_the_logistic_model_respects_its_limit(root, capsys, monkeypatch):
    book = _book(root, "three", 600)
    monkeypatch.setattr(own_models, "LOGISTIC_LIMIT", 100)
    assert _responses(book, "three") is None
    assert "The logistic models of remission, study three: not fitted for" in capsys.readouterr().out


def _regenerate_inputs() -> dict:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return make_inputs(run_sections(Path(tmp)))


def max_differences(sections: dict) -> pd.DataFrame:
    """Largest |ours - R| of each compared quantity (for --max-diff)."""
    from scipy.stats import norm

    expected = ORACLE.expected()
    rows = []
    ml = sections["logistic"]["ml"].table.set_index("term")
    logistic = expected["own_models_logistic_expected"].set_index("term")
    for column in ("estimate", "se", "p_lr"):
        rows.append(("ML logistic " + column, (ml.loc[logistic.index, column] - logistic[column]).abs().max()))
    firth = sections["firth"]["firth"].table.reset_index(drop=True)
    saturated = expected["own_models_firth_expected"]
    for column in ("estimate", "pl_lower", "pl_upper", "p_lr"):
        rows.append(("Firth (saturated) " + column, (firth[column] - saturated[column]).abs().max()))
    means = expected["own_models_mixed_means_expected"]
    fits = expected["own_models_mixed_fit_expected"].set_index("dataset")
    for analyte, item in sections["mixed"].items():
        result = item["result"]
        theirs = means[means["dataset"] == analyte].set_index(["cohort", "day"])
        ours = result.means.set_index(["cohort", "day"]).loc[theirs.index]
        se = (np.log10(ours["upper"]) - ours["log10_mean"]) / norm.isf(0.025)
        rows += [(f"mixed {analyte} log10 means", (ours["log10_mean"] - theirs["log10_mean"]).abs().max()),
                 (f"mixed {analyte} SE of means", (se - theirs["se"]).abs().max()),
                 (f"mixed {analyte} variances", np.abs(result.variance["variance (log10 scale)"].to_numpy()
                                                       - fits.loc[analyte, ["between", "residual"]].to_numpy(float)).max()),
                 (f"mixed {analyte} LR statistic", abs(result.lr_test["LR statistic"].iloc[0] - fits.loc[analyte, "lr"])),
                 (f"mixed {analyte} REML log-likelihood", abs(result.model.llf - fits.loc[analyte, "reml_loglik"]))]
    return pd.DataFrame(rows, columns=["quantity", "max |ours - R|"])


def _print_max_differences() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        print(max_differences(run_sections(Path(tmp))).to_string(index=False))


if __name__ == "__main__":
    ORACLE.main(sys.argv[1:], make_inputs=_regenerate_inputs, commands={"--max-diff": _print_max_differences})
