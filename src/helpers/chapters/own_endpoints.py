"""More endpoints of a reader's cohort for the survival chapter: EFS, duration of response, GRFS,
count recovery and the centre's own event types (called by ``own_data.survival_section``).

The derivations are :mod:`helpers.clinical.endpoints`; the curves, tests and figures are the
ones overall survival uses (:func:`km_endpoint` draws OS and LFS too), so every endpoint of the
page is estimated, tested and drawn the same way.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pandas as pd

from helpers.chapters import own_data
from helpers.chapters.context import ChapterContext, PatientFlow, no_data_note
from helpers.clinical import endpoints as ep
from helpers.plots import figures, tables

#: Months at which cumulative incidences of count recovery are tabulated (about day 30, 90, 365).
RECOVERY_MONTHS = (1, 3, 12)
EVENT_MONTHS = (6, 12, 24)


def figure_name(study: str, what: str) -> str:
    """``fig-survival-<study>-<what>``: the name Sphinx numbers the figure by."""
    return f"fig-survival-{tables.slug(str(study), 30)}-{what}"


def _risk_times(horizon: float) -> list:
    step = 1 if horizon <= 6 else 3 if horizon <= 18 else 6 if horizon <= 36 else 12
    return list(np.arange(0, float(np.ceil(horizon / step) * step) + 1e-9, step))


def km_endpoint(book: ChapterContext, study: str, used: pd.DataFrame, time: str, event: str, *, endpoint: str,
                label: str, order: Sequence[str], patients: pd.DataFrame, time_title: str,
                name: Optional[str] = None, note: str = "", what: Optional[str] = None) -> dict:
    """Kaplan–Meier curves by cohort, the log-rank test when there are two cohorts and an event,
    the table at 12 and 24 months with medians (``what`` heads its columns: "Survival" for an
    endpoint named "... survival"), and the figure. Says so when every patient is
    censored or there is one cohort. Returns dict(curves, test)."""
    from helpers.plots import survival as sv
    from helpers.stats import survival as stats_survival

    named = endpoint if endpoint[:2].isupper() else endpoint[0].lower() + endpoint[1:]  # GVHD stays GVHD
    groups = [c for c in order if c in set(used["cohort"])]
    flags = used[event].astype(bool)
    curves = stats_survival.km_by_group(used.assign(**{event: flags}), time, event, "cohort", order=groups)
    test, test_text = None, None
    if int(flags.sum()) == 0:
        own_data.show(book.notice(f"{endpoint}, study {study}: every patient is censored (no {label}). The curves "
                             "stay at 100 %, medians are not reached and no test is computable.", title="No event"))
    elif len(groups) < 2:
        own_data.show(own_data._one_cohort_note(book, study, patients, f"The log-rank test of {named}"))
    else:
        try:
            test = stats_survival.logrank_test(used[time], flags, used["cohort"])
            test_text = test.describe()
        except np.linalg.LinAlgError:  # e.g. every patient failed on day 0: the variance is 0
            own_data.show(book.notice(f"The log-rank test of {named}, study {study}: not computable. The events carry "
                                 "no information to compare the cohorts (every patient at risk had the event on "
                                 "the same day).", title="Not computable"))
    own_data.show(tables.show_table(sv.rate_table(curves, [12, 24], what=what or endpoint.split()[-1].capitalize()),
                               caption=f"Study {study}: {named} by cohort (Kaplan–Meier)",
                               note=(test_text + ". " if test_text else "") + "Log-log 95% confidence intervals."
                               + (" " + note if note else "")))
    horizon = float(np.ceil(used[time].max() / 6) * 6) if len(used) else 6.0
    # Any size: survival_figure thins a large cohort's steps to what one pixel can show.
    figure = sv.survival_figure(curves, title=f"Study {study}: {named}", y_title=endpoint,
                                time_title=time_title, test_text=test_text,
                                risk_times=list(np.arange(0, horizon + 1, 6 if horizon <= 36 else 12)))
    own_data.show(figures.show(own_data.stamp(figure, patients), name=name))
    return dict(curves=curves, test=test)


def cif_endpoint(book: ChapterContext, study: str, data: pd.DataFrame, *, what: str, order: Sequence[str],
                 patients: pd.DataFrame, months: Sequence[float], name: Optional[str], note: str) -> dict:
    """Aalen–Johansen cumulative incidence of status 1 (status 2 competing) by cohort, Gray's
    test between cohorts when there are two and an event, a table at ``months`` and the figure.
    Returns dict(curves, gray)."""
    from helpers import stats
    from helpers.plots import survival as sv

    groups = [c for c in order if c in set(data["cohort"])]
    events = int((data["status"] == 1).sum())
    curves = stats.cif_by_group(data, "time", "status", "cohort", cause=1, order=groups)
    gray, test_text = None, None
    if events == 0:
        own_data.show(book.notice(f"Cumulative incidence of {what}, study {study}: no patient has it; the curves stay "
                             "at 0 and no test is computable.", title="No event"))
    elif len(groups) < 2:
        own_data.show(own_data._one_cohort_note(book, study, patients, f"Gray's test of {what}"))
    else:
        gray = stats.gray_test(data["time"], data["status"], data["cohort"], cause=1)
        test_text = (f"Gray's test: chi-square {gray['statistic']:.2f} on {gray['df']} df, "
                     f"P = {stats.format_p(gray['p_value'])}")
    deaths = int((data["status"] == 2).sum())
    own_data.show(tables.show_table(sv.rate_table(curves, list(months), what="CI"),
                               caption=f"Study {study}: cumulative incidence of {what} by cohort",
                               note=f"{events} patients with {what}, {deaths} deaths without it (competing). "
                                    + (test_text + ". " if test_text else "") + "Aalen–Johansen estimates; 95% "
                                    "CI on the log(−log) scale from cmprsk's variance. " + note))
    horizon = float(data["time"].max()) if len(data) else 1.0
    figure = sv.survival_figure(curves, title=f"Study {study}: cumulative incidence of {what}",
                                y_title=f"Cumulative incidence of {what}", test_text=test_text,
                                time_title=f"Months since {own_data.time_origin(patients)}",
                                risk_times=_risk_times(horizon))
    own_data.show(figures.show(own_data.stamp(figure, patients), name=name))
    return dict(curves=curves, gray=gray)


def _checks_table(checks: pd.DataFrame, caption: str):
    return tables.show_table(checks.rename(columns={"rule": "What the data hold", "patients": "Patients"}),
                             caption=caption)


def efs_dor(book: ChapterContext, study: str, order: Sequence[str], patients: pd.DataFrame) -> dict:
    """Event-free survival of everyone and duration of response of the responders."""
    computed = efs(book, study, order, patients)
    if "frame" in computed:
        computed.update(dor(book, study, order, patients, frame=computed["frame"]))
    return computed


def _efs_dor_frame(book: ChapterContext, study: str, what: str) -> Optional[tuple[pd.DataFrame, pd.DataFrame]]:
    """ep.efs_dor_frame of the study, or None with the page's note when response cannot be told."""
    cohort = book.cohort(study)
    if not ep.has_response_information(cohort):
        own_data.show(no_data_note(f"{what}, study {study}",
                                 ["a responses table (or patients in complete remission at time zero): treatment "
                                  "failure cannot be told from response"]))
        return None
    return ep.efs_dor_frame(cohort)


@own_data.study_section
def efs(book: ChapterContext, study: str, order: Sequence[str], patients: pd.DataFrame) -> dict:
    """Event-free survival of everyone: how response is counted, the flow, the curves and tests."""
    made = _efs_dor_frame(book, study, "Event-free survival and duration of response")
    if made is None:
        return {}
    frame, checks = made
    source = book.cohort(study).files.get("patients", "patients.csv")
    own_data.show(_checks_table(checks, f"Study {study}: how event-free survival and duration of response count "
                                   "response"))
    flow = PatientFlow(f"Patients in {source}", len(frame), title=f"Study {study}: event-free survival")
    flow.check(len(frame))
    own_data.show(flow)
    failures = int((~frame["responded"]).sum())
    curves = km_endpoint(
        book, study, frame, "efs_time", "efs_event", endpoint="Event-free survival",
        label="treatment failure, relapse or death", order=order, patients=patients,
        time_title=f"Months since {own_data.time_origin(patients)}", name=figure_name(study, "efs"),
        note=f"Treatment failure (no CR/CRi — or PR under lymphoma, myeloma or CLL criteria — by the end of the "
             f"response assessments; {failures} patients) is counted as an event on day 0, the convention of the "
             "ALL trials, so each curve starts at the share of patients who responded.")
    return {"frame": frame, "efs": curves}


@own_data.study_section
def dor(book: ChapterContext, study: str, order: Sequence[str], patients: pd.DataFrame, *,
        frame: Optional[pd.DataFrame] = None) -> dict:
    """Duration of response of the responders (``frame``: efs's, when it was drawn first)."""
    if frame is None:
        made = _efs_dor_frame(book, study, "Duration of response")
        if made is None:
            return {}
        frame = made[0]
    source = book.cohort(study).files.get("patients", "patients.csv")
    responders = frame[frame["responded"]]
    flow = PatientFlow(f"Patients in {source}", len(frame), title=f"Study {study}: duration of response")
    assessed = int(frame["assessed"].sum())
    flow.exclude({"no readable response assessment": len(frame) - assessed,
                  "no response before any relapse": assessed - len(responders)}, "Responders")
    flow.check(len(responders))
    own_data.show(flow)
    if responders.empty:
        own_data.show(no_data_note(f"Duration of response, study {study}", ["a patient who responded"]))
        return {}
    return {"dor": km_endpoint(
        book, study, responders, "dor_time", "dor_event", endpoint="Duration of response",
        label="relapse, progression or death", order=order, patients=patients,
        time_title="Months since the first response", name=figure_name(study, "dor"), what="In response",
        note="From the first CR/CRi (PR under lymphoma, myeloma or CLL criteria) to relapse, progression or "
             "death; a patient in complete remission at time zero counts from day 0.")}


def grfs(book: ChapterContext, study: str, order: Sequence[str], patients: pd.DataFrame) -> Optional[dict]:
    """GVHD-free, relapse-free survival, or a note that the study records no GVHD."""
    cohort = book.cohort(study)
    if not ep.gvhd_recorded(cohort["events"]):
        own_data.show(book.notice(f"GVHD-free, relapse-free survival (GRFS), study {study}: not computable. The events "
                             "table has no acute_gvhd or chronic_gvhd row, so a patient without GVHD cannot be told "
                             "from a study that did not record it.", title="No GVHD recorded"))
        return None
    frame, checks = ep.grfs_frame(cohort)
    own_data.show(_checks_table(checks, f"Study {study}: GVHD as GRFS counts it"))
    first = frame.loc[frame["grfs_event"], "grfs_first"].value_counts().reindex(list(ep.GRFS_COMPONENTS),
                                                                                  fill_value=0)
    note = ("Event: the first of acute GVHD grade III–IV, chronic GVHD (every chronic_gvhd row counts, whatever "
            "its grade), relapse or death. First events: "
            + ", ".join(f"{k} {v}" for k, v in first.items()) + ".")
    return km_endpoint(book, study, frame, "grfs_time", "grfs_event", endpoint="GVHD-free relapse-free survival",
                       label="GVHD, relapse or death", order=order, patients=patients,
                       time_title=f"Months since {own_data.time_origin(patients)}", name=figure_name(study, "grfs"),
                       note=note)


def recovery(book: ChapterContext, study: str, order: Sequence[str], patients: pd.DataFrame,
             reserved: Sequence[str]) -> dict:
    """Cumulative incidence of neutrophil and platelet recovery, death before recovery competing.
    Without anc_recovery rows, neutrophil recovery is derived from an ANC series when labs hold one."""
    cohort = book.cohort(study)
    computed = {}
    for code, what in ep.RECOVERY_CODES.items():
        note = "A patient without a row is taken as not recovered by the last follow-up."
        if code in reserved:
            days = ep.first_event_day(cohort["events"], code)
        elif code == "anc_recovery" and "labs" in cohort and (cohort["labs"]["analyte"] == "ANC").any():
            days, checks = ep.anc_recovery_from_labs(cohort["labs"])
            own_data.show(_checks_table(checks, f"Study {study}: neutrophil recovery derived from the ANC series"))
            note = (f"No anc_recovery rows: recovery is the first of {ep.ANC_RECOVERY_RUN} consecutive ANC values "
                    f"≥ {ep.ANC_RECOVERY_THRESHOLD:g} × 10^9/L after a value below it (samples from day 0); a "
                    "patient without such a run, or without ANC samples, is taken as not recovered.")
        else:
            own_data.show(book.notice(f"Cumulative incidence of {what}, study {study}: the events table has no {code} "
                                 "row" + (" and the labs table no ANC series" if code == "anc_recovery" else "")
                                 + ".", title="Not recorded"))
            continue
        data = ep.incidence_frame(cohort, days)
        computed[code] = cif_endpoint(book, study, data, what=what, order=order, patients=patients,
                                      months=RECOVERY_MONTHS, name=figure_name(study, code.replace("_", "-")),
                                      note=note)
        computed[code]["data"] = data
    return computed


def endpoints_section(book: ChapterContext, study: str, order: Sequence[str], patients: pd.DataFrame) -> dict:
    """EFS, DoR, then (with an events table) GRFS, count recovery and each centre-coded event."""
    own_data.show(tables.show_table(ep.endpoint_definitions(own_data.time_origin(patients)),
                               caption=f"Study {study}: endpoints beyond overall and leukaemia-free survival",
                               note="A response is CR or CRi; under the lymphoma, myeloma and CLL criteria (Lugano, "
                                    "IMWG, iwCLL) a PR counts too. Only a response before any relapse counts: a "
                                    "remission after a relapse answers the salvage treatment."))
    computed = {"efs_dor": efs_dor(book, study, order, patients)}
    if not book.require(study, ["events"], analysis=f"GRFS, count recovery and the centre's own events, study {study}"):
        return computed
    events = book.cohort(study)["events"]
    reserved, centre = ep.event_codes(events)
    computed["grfs"] = grfs(book, study, order, patients)
    computed["recovery"] = recovery(book, study, order, patients, reserved)
    computed["centre"] = {}
    for code in centre:
        what = code  # the centre's own code, as written
        data = ep.incidence_frame(book.cohort(study), ep.first_event_day(events, code))
        computed["centre"][code] = cif_endpoint(
            book, study, data, what=what, order=order, patients=patients, months=EVENT_MONTHS,
            name=figure_name(study, "event-" + tables.slug(code, 30)),
            note=f"'{code}' is the centre's own code: its first day per patient; death without it competes.")
        computed["centre"][code]["data"] = data
    if not centre:
        own_data.show(book.notice(f"Study {study}: the events table has no event type of the centre's own (every code is "
                             "one the book reserves).", title="No centre-coded events"))
    return computed
