"""Models of a reader's cohort: the three methods the seed chapters fit, run on any study.

:mod:`helpers.chapters.own_data` draws each chapter's "your own cohorts" section; the
functions here are the model parts of three of them, called at the end of
``own_data.response``, ``own_data.cytokine_section`` and ``own_data.expansion_section``:

* :func:`response_models` -- logistic models of remission (CR/CRi), by maximum likelihood
  and by Firth's penalized likelihood (:func:`helpers.stats.fit_ml`, :func:`fit_firth`), on
  the terms :func:`own_data.model_design` offers (cohort indicators, then the patients-table
  covariates, one term per 10 patients of the *smaller* outcome group), with a forest plot
  and the coefficients of both methods side by side;
* :func:`cytokine_models` -- the seed chapter's linear mixed model of log10 values
  (:func:`helpers.stats.fit_log_mixed_model`), for every analyte the labs hold, between the
  cohorts, with the substituted and excluded samples counted;
* :func:`kinetic_fits` -- the Stein et al. (2019) model fitted to each patient
  (:func:`helpers.stats.kinetic_model.fit_table`), how many were fitted and why the others
  were not, and the fitted parameters by cohort.

They follow own_data's rules: every exclusion counted and shown, absent data a note, one
cohort a note, figures aggregated, and the time axis named after the study's time origin
(:func:`own_data.time_origin`). Work is bounded at registry scale: the logistic models are
fitted up to :data:`LOGISTIC_LIMIT` patients (said above it); the mixed model and the kinetic
fits, whose cost grows with every patient (statsmodels' MixedLM: 10-20 s for 200 patients'
IL-6; a Stein fit: 0.05-0.2 s a patient), are fitted to a seeded random sample of at most
:data:`MIXED_LIMIT` and :data:`KINETIC_FIT_LIMIT` patients, and the page says so.
"""

from __future__ import annotations

import re
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from helpers.chapters import own_data
from helpers.chapters.context import ChapterContext, PatientFlow
from helpers.plots import figures, tables

#: Most evaluable patients the logistic models are fitted to. Unlike the survival models of
#: own_data (:data:`own_data.MODEL_LIMIT`), ML and Firth grow about linearly with the cohort
#: (measured here with 9 terms: 5-18 s at 20,000 patients, 46 s at 100,000, on a shared machine).
LOGISTIC_LIMIT = 20_000
#: Patients of one analyte the mixed model is fitted to (a seeded random sample above it).
MIXED_LIMIT = 200
#: Fewest patients a cohort, and each cohort on a sampling day, needs for the mixed model:
#: a day x cohort cell with fewer makes its coefficient rest on one or two samples.
MIXED_MIN_PATIENTS = 3
#: Patients whose kinetics are fitted one by one (a seeded random sample above it).
KINETIC_FIT_LIMIT = 200
#: Seed of the random samples above the limits: the same patients on every build.
SAMPLE_SEED = 20240101


def _sample_patients(ids: Sequence[str], limit: int) -> list[str]:
    """All of ``ids`` (sorted) when there are at most ``limit``, else a seeded random ``limit`` of them."""
    ids = sorted(pd.unique(pd.Series(list(ids), dtype=object)))
    if len(ids) <= limit:
        return ids
    chosen = np.random.default_rng(SAMPLE_SEED).choice(len(ids), size=limit, replace=False)
    return sorted(ids[i] for i in chosen)


# --------------------------------------------------------------------------
# Logistic models of response
# --------------------------------------------------------------------------

def coefficient_table(ml, firth, labels: dict) -> pd.DataFrame:
    """ML and Firth side by side, one row per coefficient (intercept first): log-odds (SE), odds
    ratio with the method's own 95% CI (Wald for ML, profile penalized likelihood for Firth) and
    the likelihood-ratio P. An ML estimate that separation makes infinite is said, not printed."""
    from helpers.plots.regression import _fmt_or, _fmt_p

    ml_t, firth_t = ml.table.set_index("term"), firth.table.set_index("term")
    rows = []
    for term in ml_t.index:
        a, b = ml_t.loc[term], firth_t.loc[term]
        infinite = a["infinite"] != ""
        rows.append({
            "Term": "Intercept (reference: odds of CR/CRi)" if term == "(Intercept)" else labels.get(term, term),
            "ML: log-odds (SE)": f"not finite ({a['infinite']}, separation)" if infinite
            else f"{a['estimate']:.3f} ({a['se']:.3f})",
            "ML: OR (95% Wald CI)": "—" if infinite or term == "(Intercept)"
            else f"{_fmt_or(a['odds_ratio'])} ({_fmt_or(a['or_lower'])}–{_fmt_or(a['or_upper'])})",
            "ML: P (LR)": "" if infinite else _fmt_p(a["p_lr"]),
            "Firth: log-odds (SE)": f"{b['estimate']:.3f} ({b['se']:.3f})",
            "Firth: OR (95% profile CI)": "—" if term == "(Intercept)"
            else f"{_fmt_or(b['odds_ratio'])} ({_fmt_or(b['or_lower'])}–{_fmt_or(b['or_upper'])})",
            "Firth: P (penalized LR)": _fmt_p(b["p_lr"])})
    return pd.DataFrame(rows)


def response_frame(classified: pd.DataFrame, patients: pd.DataFrame) -> pd.DataFrame:
    """The evaluable patients with their remission flag, the patients-table covariates and the
    study's declared ones (``covariates.csv``, whose declaration the frame carries as the
    survival models' frames do)."""
    from helpers.contract import validate

    declared = [c.name for c in validate.declared_covariates(patients)]
    covariates = [c for c in [*own_data.MODEL_COVARIATES, *declared] if c in patients.columns]
    evaluable = classified[classified["evaluable"].astype(bool)][["patient_id", "cohort", "remission"]]
    frame = evaluable.merge(patients[["patient_id", *dict.fromkeys(covariates)]], on="patient_id", how="left",
                            validate="one_to_one").reset_index(drop=True)
    return validate.carry_covariates(frame, patients)


def response_models(book: ChapterContext, study: str, classified: pd.DataFrame) -> Optional[dict]:
    """Logistic models of remission (CR/CRi, ``own_data.response``'s responders) among the
    evaluable patients: the terms offered and their fate, ML and Firth coefficients side by side,
    and a forest plot of both. Returns ``{"ml", "firth", "labels", "fate", "data"}`` (None when
    no model is fitted, said on the page)."""
    from helpers import stats
    from helpers.plots import regression as plots_regression

    patients = book.cohort(study)["patients"]
    order = own_data.cohort_order(patients)
    title = f"Study {study}: logistic model of remission (CR/CRi)"
    used = response_frame(classified, patients)
    responders = int(used["remission"].astype(bool).sum())
    others = len(used) - responders
    if responders == 0 or others == 0:
        own_data.show(book.notice(f"{title}: {responders} of {len(used)} evaluable patients reached CR/CRi; a "
                                  "model of remission needs patients with and without it.", title="Not computable"))
        return None
    if len(used) > LOGISTIC_LIMIT:
        own_data.show(book.notice(f"The logistic models of remission, study {study}: not fitted for {len(used):,} "
                                  f"evaluable patients. This section fits them up to {LOGISTIC_LIMIT:,} patients "
                                  "(a fit of ML and Firth takes about a minute at 100,000); the rates and tests "
                                  "above cover the whole cohort.", title="Not fitted at this size"))
        return None
    smaller = "responders" if responders <= others else "non-responders"
    flags = used["remission"].astype(bool)
    design, labels, fate = own_data.model_design(used, flags if responders <= others else ~flags, order,
                                                 model="logistic", events_word=smaller)
    note = (f"{responders} responders and {others} non-responders among {len(used)} evaluable patients: the "
            f"smaller group ({smaller}) sets the budget of one term per {own_data.EVENTS_PER_TERM} of them. "
            "A covariate missing for any patient is left out rather than the patients.")
    own_data.show(tables.show_table(fate, caption=f"{title}: terms offered to the model", note=note))
    if not labels:
        own_data.show(book.notice(f"{title}: no term can be estimated (see the table above).", title="Not computable"))
        return None
    data = pd.concat([used["remission"].astype(int).rename("responder"), design], axis=1)
    try:
        ml = stats.fit_ml(data, "responder", list(labels))
        firth = stats.fit_firth(data, "responder", list(labels))
    except (ValueError, RuntimeError) as error:  # e.g. two terms that coincide in this cohort
        own_data.show(book.notice(f"{title}: not fitted: {error}", title="Not computable"))
        return None
    separation = (f" ML: {ml.separation.describe()}; Firth's estimates stay finite." if ml.separation.separated
                  else "")
    own_data.show(tables.show_table(
        coefficient_table(ml, firth, labels), caption=f"{title}: coefficients, ML and Firth",
        note=f"{ml.n} patients, {ml.events} with CR/CRi; nobody left out for missing data ({ml.n_excluded}). ML: "
             "Wald CI (R's confint.default), likelihood-ratio P (R's drop1). Firth: profile penalized-likelihood CI "
             f"and penalized likelihood-ratio P (R's logistf defaults). OR > 1: more likely to reach CR/CRi.{separation}"))
    odds = plots_regression.odds_ratio_table([ml, firth], labels, ["multivariable", "multivariable"])
    figure = plots_regression.forest_figure(odds, title=f"{title}: odds ratios (ML and Firth)")
    own_data.show(figures.show(own_data.stamp(figure, patients)))
    return {"ml": ml, "firth": firth, "labels": labels, "fate": fate, "data": data}


# --------------------------------------------------------------------------
# Cytokine mixed model
# --------------------------------------------------------------------------

def mixed_model_data(series: pd.DataFrame, analyte: str, order: Sequence[str]) -> tuple[pd.DataFrame, list, dict]:
    """The samples of ``analyte`` the mixed model can use, the cohorts it compares, and the
    samples left out by reason (cohort with too few patients, beyond the random sample of
    :data:`MIXED_LIMIT` patients, on a day too few patients of some cohort were sampled)."""
    part = series[series["analyte"] == analyte]
    counts = part.groupby("cohort")["patient_id"].nunique()
    groups = [c for c in order if counts.get(c, 0) >= MIXED_MIN_PATIENTS]
    dropped = {f"cohort with fewer than {MIXED_MIN_PATIENTS} monitored patients":
               int((~part["cohort"].isin(groups)).sum())}
    part = part[part["cohort"].isin(groups)]
    chosen = set(_sample_patients(part["patient_id"], MIXED_LIMIT))
    # "samples of patients": the column counts samples, and says so, so the site's identifier
    # scan reads its six-digit counts at 100,000 patients as counts (it stopped that build)
    dropped[f"samples of patients outside the random sample of {MIXED_LIMIT} fitted"] = int((~part["patient_id"].isin(chosen)).sum())
    part = part[part["patient_id"].isin(chosen)]
    per_day = part.groupby(["day", "cohort"])["patient_id"].nunique().unstack(fill_value=0).reindex(columns=groups,
                                                                                                      fill_value=0)
    days = per_day.index[(per_day >= MIXED_MIN_PATIENTS).all(axis=1)]
    dropped[f"day with fewer than {MIXED_MIN_PATIENTS} patients of a cohort sampled"] = int((~part["day"].isin(days)).sum())
    return part[part["day"].isin(days)], groups, dropped


def cytokine_models(book: ChapterContext, study: str, series: pd.DataFrame, patients: pd.DataFrame) -> dict:
    """The seed chapter's mixed model, ``log10(value) ~ day (categorical) x cohort + (1 | patient)``,
    for each analyte of the labs, between the cohorts: the samples left out by reason, the
    below-LLOQ values set to half the limit, the likelihood-ratio test of the cohort terms, the
    variance components, and the model's geometric means beside the observed medians.
    Returns ``{analyte: {"result", "data", "groups"}}`` for the analytes fitted."""
    from helpers import stats
    from helpers.clinical import cytokines
    from helpers.plots import cytokines as plots_cytokines

    order = own_data.cohort_order(patients)
    title = f"Study {study}: mixed model of cytokine courses"
    monitored = [c for c in order if c in set(series["cohort"])]
    if len(order) < 2:
        own_data.show(own_data._one_cohort_note(book, study, patients, "The mixed-model comparison of cytokine courses"))
        return {}
    if len(monitored) < 2:
        own_data.show(book.notice(f"{title}: not computable: only {', '.join(monitored) or 'no cohort'} of the "
                                  f"{len(order)} cohorts has cytokine samples.", title="Not computable"))
        return {}
    origin = own_data.time_origin(patients)
    analytes = [a for a in cytokines.CYTOKINES if a in set(series["analyte"])]
    exclusions, results, fitted = [], [], {}
    for analyte in analytes:
        data, groups, dropped = mixed_model_data(series, analyte, order)
        total = int((series["analyte"] == analyte).sum())
        exclusions.append({"Analyte": cytokines.LABELS[analyte], "Samples": total, **dropped, "Used": len(data)})
        row = {"Analyte": cytokines.LABELS[analyte], "Cohorts": ", ".join(groups)}
        if len(groups) < 2 or data["day"].nunique() < 2:
            results.append({**row, "Result": f"not fitted: {len(groups)} cohort(s) with {MIXED_MIN_PATIENTS}+ "
                                              f"patients and {data['day'].nunique()} sampling day(s) shared"})
            continue
        try:
            fit = stats.fit_log_mixed_model(data, analyte, groups=groups)
        except (ValueError, np.linalg.LinAlgError) as error:
            results.append({**row, "Result": f"not fitted: {error}"})
            continue
        lr = fit.lr_test.iloc[0]
        # statsmodels can report convergence after a failed first optimiser; its warnings say so
        converged = fit.converged and not any("fail" in w for w in fit.warnings)
        # a full model fitting worse than the null one: an ML fit stopped short, the test means nothing
        stopped = lr["LR statistic"] < 0
        results.append({**row, "Patients": fit.n_patients, "Samples": fit.n_observations,
                        "Below LLOQ (set to LLOQ/2)": fit.substituted_lloq, "Days": data["day"].nunique(),
                        "LR chi-square (df)": "not computed: a maximum-likelihood fit stopped short (negative "
                                              "statistic)" if stopped else f"{lr['LR statistic']:.2f} ({int(lr['df'])})",
                        "P": "" if stopped else stats.format_p(lr["P"]),
                        "Between-patient share of variance": f"{fit.variance['share'].iloc[0]:.2f}",
                        "Converged": "yes" if converged else "no (see the warnings)",
                        "Fitting warnings": "; ".join(fit.warnings) or "none", "Result": "fitted"})
        fitted[analyte] = {"result": fit, "data": data, "groups": groups}
    own_data.show(tables.show_table(pd.DataFrame(exclusions), caption=f"{title}: samples in each model",
                                    note="Every sample of the analyte is either used or counted in one column of "
                                         "why not. A random sample of patients (seeded, the same on every build) "
                                         f"is fitted above {MIXED_LIMIT} patients: statsmodels' MixedLM grows with "
                                         "every patient."))
    own_data.show(tables.show_table(pd.DataFrame(results), caption=f"{title}: do the cohorts' courses differ?",
                                    note="Linear mixed model of log10 values, day (categorical) × cohort with a "
                                         "random intercept per patient, REML (statsmodels MixedLM). Likelihood-ratio "
                                         "test of every cohort and cohort × day term, on maximum-likelihood fits. "
                                         "Between-patient share: random-intercept variance over the total. A fit "
                                         "that did not converge is shown with statsmodels' warnings: read its P "
                                         "with caution."))
    for analyte, item in fitted.items():
        data, fit = item["data"], item["result"]
        observed = cytokines.trajectories(data)
        figure = plots_cytokines.model_figure(fit, observed, order=item["groups"],
                                              title=f"Study {study}: {cytokines.LABELS[analyte]}, mixed model and "
                                                    "observed medians")
        figure.update_layout(xaxis={"title": f"Days since {origin}"},
                             yaxis={"title": f"{cytokines.LABELS[analyte]} ({data['unit'].iloc[0]}, log scale)"})
        own_data.show(figures.show(own_data.stamp(figure, patients)))
    return fitted


# --------------------------------------------------------------------------
# Stein kinetic fits
# --------------------------------------------------------------------------

#: Fitted Stein parameters and how the parameter table names them.
MODEL_COLUMNS = {"model_cmax": "Cmax, copies/µg", "model_tmax": "Tmax, days", "model_doubling_time": "doubling time, days",
                 "model_fold_expansion": "fold expansion", "model_half_life_alpha": "fast half-life, days",
                 "model_half_life_beta": "slow half-life, days", "model_fb": "FB (persisting share)",
                 "residual_sd_log": "residual SD (log)"}


def fit_outcome(status: str, at_bounds: str) -> str:
    """A fit's status as a reason shared by patients (the day or count of one patient removed)."""
    if status == "fitted":
        return "fitted, a parameter at a bound (not identified)" if at_bounds else "fitted"
    reason = status.removeprefix("not fitted: ")
    reason = re.sub(r" \(day [^)]*\)", "", reason)
    reason = re.sub(r"^only \d+ quantifiable sample\(s\) after the peak \(need (\d+)\)",
                    r"fewer than \1 quantifiable samples after the peak", reason)
    reason = re.sub(r"^\d+ samples for 6 parameters", "6 samples or fewer for 6 parameters", reason)
    return f"not fitted: {reason}"


def kinetic_fits(book: ChapterContext, study: str, samples: pd.DataFrame, patients: pd.DataFrame) -> pd.DataFrame:
    """The Stein et al. (2019) model fitted to each patient with kinetics (at most
    :data:`KINETIC_FIT_LIMIT`, a seeded random sample above it): how many were fitted and why
    the others were not, by cohort, and the fitted parameters by cohort (median [Q1, Q3]).
    Returns one row per patient fitted or tried (:func:`helpers.stats.kinetic_model.fit_table`)."""
    from helpers.plots import kinetics as kin
    from helpers.stats import kinetic_model

    order = own_data.cohort_order(patients)
    origin = own_data.time_origin(patients)
    title = f"Study {study}: kinetic model (Stein et al. 2019) per patient"
    with_samples = sorted(pd.unique(samples["patient_id"]))
    if not with_samples:
        own_data.show(book.notice(f"{title}: no kinetic sample, no curve to fit.", title="Not computable"))
        return pd.DataFrame(columns=["patient_id", "fit_status", "cohort"])
    chosen = _sample_patients(with_samples, KINETIC_FIT_LIMIT)
    flow = PatientFlow("Patients with at least one kinetic sample", len(with_samples), title=title)
    flow.exclude({f"not in the random sample of {KINETIC_FIT_LIMIT} fitted": len(with_samples) - len(chosen)},
                 "Patients whose curve the model is fitted to")
    fits = kinetic_model.fit_table(samples[samples["patient_id"].isin(set(chosen))])
    flow.check(len(fits))
    own_data.show(flow)
    if len(chosen) < len(with_samples):
        own_data.show(book.notice(f"{title}: {len(with_samples):,} patients have kinetic samples; each patient's "
                                  "fit is a separate optimisation (0.05–0.2 s here), so a random sample of "
                                  f"{KINETIC_FIT_LIMIT} (seeded, the same on every build) is fitted. The medians and "
                                  "bands above use every patient.", title="Fitted on a sample"))
    fits = fits.merge(patients[["patient_id", "cohort"]], on="patient_id", how="left")
    rank = {c: i for i, c in enumerate(order)}
    fits = fits.sort_values("cohort", key=lambda c: c.map(rank), kind="mergesort").reset_index(drop=True)
    outcome = [fit_outcome(s, b) for s, b in zip(fits["fit_status"], fits["at_bounds"])]
    counts = (fits.assign(Outcome=outcome).groupby(["cohort", "Outcome"], sort=False).size()
              .unstack(fill_value=0).rename_axis(columns=None).reset_index().rename(columns={"cohort": "Cohort"}))
    counts["Patients"] = counts.drop(columns="Cohort").sum(axis=1)
    own_data.show(tables.show_table(counts, caption=f"{title}: fitted and not fitted, by cohort",
                                    note="A patient is fitted with at least 2 quantifiable samples up to the peak, 3 "
                                         "after it and more samples than the model's 6 parameters. 'At a bound': a "
                                         "parameter ended on the edge of its range, so the data do not pin it down "
                                         "(it is left out of the parameter summary)."))
    fitted = fits[fits["fit_status"] == "fitted"]
    if fitted.empty:
        own_data.show(book.notice(f"{title}: no patient's curve could be fitted (see the table above).",
                                  title="Not computable"))
        return fits
    columns = dict(MODEL_COLUMNS, model_tmax=f"Tmax, days since {origin}")
    own_data.show(tables.show_table(kin.summarise(fitted, "cohort", columns).rename(columns={"cohort": "Cohort"}),
                                    caption=f"{title}: fitted parameters by cohort",
                                    note="Median [Q1, Q3] of the fitted patients; (n=…) where a parameter is not "
                                         "identified for every one of them."))
    figure = own_data.distribution_figure(
        fitted, ["model_doubling_time", "model_half_life_alpha", "model_half_life_beta"],
        ["Doubling time, days", "Fast half-life, days", "Slow half-life, days"],
        order=[c for c in order if c in set(fitted["cohort"])],
        title=f"Study {study}: fitted doubling time and half-lives by cohort")
    own_data.show(figures.show(own_data.stamp(figure, patients)))
    return fits
