"""Study 001: two case reports of CD38 CAR-T in myeloid CML blast phase.

Calibration notes. Nothing is calibrated: the two patients are transcribed from the case
texts (origin ``published``): characteristics, CAR dose, responses, CRS grades, the CAR-T and
allo-HSCT rows and the agents and doses of the earlier treatments. The infusion dates are
not published; they are estimated from the narrative (month-precision dates), so the days
of the earlier treatments and the outcome rows are origin ``synthetic``. Blood counts,
cytokines and CAR-T kinetics exist only in the figures: invented series (origin
``synthetic``) that respect the published recovery and peak days.

Kinetics after the allo-HSCT (patient 1, day 49). The paper prints no copy number after the
transplant. That the copies fall steeply from the transplant day is a modelling assumption of
this generator, not a published result and not taken from a cited source: the conditioning
removes most of the recipient's lymphocytes, CAR-T cells among them, and the donor graft then
dilutes what is left in the genomic DNA sampled. The generator models it as a first-order loss
starting on the transplant day (``common.HSCT_CART_HALF_LIFE_DAYS``, 4 days, chosen; shared with study 000) applied on top of the
curve the copies would otherwise have followed, so that they fall below the lower limit of
quantification (50 copies/µg, written as the limit with ``below_lloq``) within about two
weeks of the transplant. The samples before the transplant, the peak and its day are
unchanged by it.

Samples and death (patient 2). The death is printed to the month only ("2 months after
CAR-T-38 cell infusion"): it may have fallen any time from one and a half months. No
kinetics, lab or response sample is placed after that earliest possible day
(:func:`_last_sample_day`), so none can lie after the death on any reading of the text;
the outcome row keeps the printed 2 months.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from helpers.stats.units import DAYS_PER_MONTH
from helpers.synthetic.common import (
    Reg,
    Study,
    after_allo_hsct,
    count_rows,
    cytokine_rows,
    kinetic_rows,
    kinetic_values,
    r1,
    tx,
)

#: Days from the start of the decitabine + HAAG tumour reduction to infusion: not
#: published (the text only orders: tumour reduction, FC, infusion). Chosen.
_001_TUMOUR_REDUCTION_START = -24.0
#: Days from the first marrow progression to infusion for patient 2 (not published).
_001_P2_PROGRESSION_TO_INFUSION = 35.0
#: Relapse day of patient 2 (not published: "died due to relapse and infection 2 months
#: after infusion", in CR at one week). Invented.
_001_P2_RELAPSE_DAY = 42.0
_001_SAMPLING_DAYS = (-6.0, 0.0, 2.0, 4.0, 6.0, 7.0, 10.0, 12.0, 14.0, 17.0, 21.0, 28.0)
_001_KINETIC_DAYS = (1.0, 2.0, 4.0, 6.0, 7.0, 10.0, 14.0, 21.0, 28.0, 60.0, 90.0, 180.0)


def _last_sample_day(followup: float, died: bool, death_months: float | None = None) -> float:
    """The last day a sample may be placed: the end of follow-up, or for a death printed to
    the month only, the earliest day that death may have fallen (half a month earlier)."""
    if not died:
        return followup
    return min(followup, (death_months - 0.5) * DAYS_PER_MONTH)


def generate(seed: int) -> Study:
    R = Reg("001")
    st = Study("001")
    rng = np.random.default_rng([seed, 1, 0])
    if R.n("001-n-all") != 2:
        raise ValueError("001: the generator transcribes exactly two case patients")
    week = 7.0
    # ---- the infusion dates are not published; estimate them from the narrative ----
    # patient 1: MRD on 30 Dec 2019, ponatinib, progression half a month later, then the
    # tumour reduction (from day -24 here), FC and infusion.
    p1_progression = R.date("001-p1-date-mrd") + pd.Timedelta(
        days=R.v("001-p1-time-ponatinib-to-progression") * DAYS_PER_MONTH)
    p1_infusion = p1_progression - pd.Timedelta(days=_001_TUMOUR_REDUCTION_START) + pd.Timedelta(days=7)
    p2_infusion = R.date("001-p2-date-progression") + pd.Timedelta(days=_001_P2_PROGRESSION_TO_INFUSION)

    def rel(ts, infusion) -> float:
        return float((ts - infusion).days)

    dose = R.v("001-car-dose")
    pts = {
        "001-P1": dict(age=R.v("001-p1-age"), blasts=R.v("001-p1-blasts-pre-cart"), mutations="E255K",
                       bridged=True, cr_day=R.v("001-p1-cr-time") * week,
                       peak=R.v("001-p1-cart-peak-day"), anc=R.v("001-p1-anc-recovery-day"),
                       plt=R.v("001-p1-plt-recovery-day"), crs=int(R.v("001-crs-grade-p1"))),
        "001-P2": dict(age=R.v("001-p2-age"), blasts=R.v("001-p2-blasts-morph-2020-03"),
                       mutations="T315I;RUNX1;WT1", bridged=False, cr_day=R.v("001-p2-cr-time") * week,
                       peak=R.v("001-p2-cart-peak-day"), anc=R.v("001-p2-anc-recovery-day"),
                       plt=R.v("001-p2-plt-recovery-day"), crs=int(R.v("001-crs-grade-p2"))),
    }
    p1_fu = rel(R.date("001-p1-date-last-followup"), p1_infusion)
    p2_death = R.v("001-p2-death-time") * DAYS_PER_MONTH
    hsct_day = R.v("001-p1-hsct-time") * week
    last_sample = {"001-P1": _last_sample_day(p1_fu, False),
                   "001-P2": _last_sample_day(p2_death, True, R.v("001-p2-death-time"))}

    for pid, d in pts.items():
        st.add("patients", patient_id=pid, cohort="CML-MBP", diagnosis="CML myeloid blast phase",
               age_years=d["age"], sex="male", disease_status="blast_phase_refractory",
               marrow_blasts_pct=d["blasts"], abl_kd_mutation=True, mutations=d["mutations"],
               prior_lines=None, extramedullary_disease=None, high_risk_genetics=None, tregs_high=None,
               car_target="CD38", car_dose_cells_per_kg=dose, bridged_to_hsct=d["bridged"],
               origin="published")
        if d["cr_day"] > last_sample[pid]:
            raise ValueError(f"001: the response of {pid} would lie after its last possible sample day")
        st.add("responses", patient_id=pid, day=int(d["cr_day"]), morphologic="CR", mrd_flow="negative",
               molecular="CMR", origin="published")
        st.add("adverse_events", patient_id=pid, category="CRS", term="CRS", grade=d["crs"],
               grading_system="unspecified", onset_day=None, duration_days=None, origin="published")
        # figures only: invented series that respect the published recovery and peak days
        count_rows(st, rng, pid, last_sample[pid], anc0=float(rng.uniform(2.0, 4.0)),
                    plt0=float(rng.uniform(40.0, 90.0)),
                    anc_recovery=d["anc"], plt_recovery=d["plt"], origin="synthetic",
                    days=_001_SAMPLING_DAYS, noise=0.0, anc_limit=R.v("001-anc-threshold"),
                    plt_limit=R.v("001-plt-threshold"))
        cytokine_rows(st, rng, pid, 1, float(rng.uniform(4.0, 6.0)), last_sample[pid], origin="synthetic",
                       days=tuple(x for x in _001_SAMPLING_DAYS if x >= -1))
        kdays = [x for x in _001_KINETIC_DAYS if x <= last_sample[pid]]
        values = kinetic_values(rng, 10 ** rng.uniform(4.0, 4.6), d["peak"], kdays)
        values = after_allo_hsct(kdays, values, hsct_day if d["bridged"] else math.nan)
        kinetic_rows(st, pid, kdays, values, origin="synthetic")
        # treatments
        st.add("treatments", patient_id=pid, category="CAR-T", agent="CAR-T-38", start_day=0.0,
               end_day=R.v("001-car-dose-escalation-days") - 1.0, dose=dose, dose_unit="cells/kg",
               origin="published")
        tx(st, pid, "lymphodepletion", "FC", -5.0, -3.0)
        t0 = _001_TUMOUR_REDUCTION_START - 1.0   # day 1 of the regimen
        for agent, cat, first, last, dose_id, unit in (
                ("decitabine", "hypomethylating_agent", "001-pre-decitabine-day-first",
                 "001-pre-decitabine-day-last", "001-pre-decitabine-dose", "mg/m2/day"),
                ("homoharringtonine", "chemotherapy", "001-pre-hht-day-first", "001-pre-hht-day-last",
                 "001-pre-hht-dose", "mg/day"),
                ("cytarabine", "chemotherapy", "001-pre-cytarabine-day-first", "001-pre-cytarabine-day-last",
                 "001-pre-cytarabine-dose", "mg/m2 every 12 hours"),
                ("aclarubicin", "chemotherapy", "001-pre-aclarubicin-day-first", "001-pre-aclarubicin-day-last",
                 "001-pre-aclarubicin-dose", "mg/day"),
                ("G-CSF", "other", "001-pre-gcsf-day-first", "001-pre-gcsf-day-last", None, None)):
            tx(st, pid, cat, agent, t0 + R.v(first), t0 + R.v(last),
                R.v(dose_id) if dose_id else None, unit)
    # ---- patient 1: TKI history (agents and doses published; days estimated) ----
    p1 = "001-P1"
    adm1 = R.date("001-p1-date-admission")
    bc1 = R.date("001-p1-date-blast-crisis")
    rise1 = R.date("001-p1-date-bcrabl-rise")
    mrd1 = R.date("001-p1-date-mrd")
    tx(st, p1, "TKI", "imatinib", rel(adm1, p1_infusion), rel(bc1, p1_infusion) - 1,
        R.v("001-p1-dose-imatinib"), "mg/day")
    tx(st, p1, "TKI", "dasatinib", rel(bc1, p1_infusion), rel(rise1, p1_infusion) - 1,
        R.v("001-p1-dose-dasatinib"), "mg/day")
    tx(st, p1, "chemotherapy", "IA", rel(bc1, p1_infusion), rel(bc1, p1_infusion) + R.v("001-ia-cytarabine-days") - 1)
    tx(st, p1, "TKI", "nilotinib", rel(rise1, p1_infusion), rel(mrd1, p1_infusion) - 1,
        R.v("001-p1-dose-nilotinib"), "mg twice daily")
    tx(st, p1, "interferon", "interferon-alpha",
        rel(rise1, p1_infusion) + R.v("001-p1-time-nilotinib-to-bcrabl-fall") * DAYS_PER_MONTH,
        rel(mrd1, p1_infusion) - 1)
    tx(st, p1, "TKI", "ponatinib", rel(mrd1, p1_infusion), rel(p1_progression, p1_infusion),
        R.v("001-p1-dose-ponatinib"), "mg/day")
    st.add("treatments", patient_id=p1, category="allo-HSCT", agent="allo-HSCT (sibling donor)",
           start_day=hsct_day, end_day=hsct_day, dose=None, dose_unit=None, origin="published")
    # ---- patient 2 ----
    p2 = "001-P2"
    adm2 = R.date("001-p2-date-admission")
    rise2 = adm2 + pd.Timedelta(days=R.v("001-p2-time-imatinib-to-bcrabl-rise") * DAYS_PER_MONTH)
    readm2 = R.date("001-p2-date-readmission")
    t315i = R.date("001-p2-date-t315i")
    tx(st, p2, "TKI", "imatinib", rel(adm2, p2_infusion), rel(rise2, p2_infusion) - 1,
        R.v("001-p2-dose-imatinib"), "mg/day")
    tx(st, p2, "TKI", "dasatinib", rel(rise2, p2_infusion), rel(t315i, p2_infusion) - 1,
        R.v("001-p2-dose-dasatinib"), "mg/day")
    tx(st, p2, "chemotherapy", "IA", rel(readm2, p2_infusion),
        rel(readm2, p2_infusion) + R.v("001-ia-cytarabine-days") - 1)
    tx(st, p2, "TKI", "ponatinib", rel(t315i, p2_infusion), rel(R.date("001-p2-date-progression"), p2_infusion),
        R.v("001-p2-dose-ponatinib"), "mg/day")
    # ---- outcomes: relapse/death facts published, days partly estimated -> synthetic rows ----
    st.add("outcomes", patient_id=p1, followup_days=r1(p1_fu), relapsed=False, relapse_day=None,
           died=False, death_cause=None, origin="synthetic")
    st.add("outcomes", patient_id=p2, followup_days=r1(p2_death), relapsed=True,
           relapse_day=_001_P2_RELAPSE_DAY, died=True, death_cause="relapse", origin="synthetic")
    st.report = dict(p1_infusion_estimate=str(p1_infusion.date()), p2_infusion_estimate=str(p2_infusion.date()))
    _001_provenance(st)
    return st


def _001_provenance(st: Study) -> None:
    p = st.provenance
    p("patients", ("cohort", "diagnosis", "sex", "disease_status", "abl_kd_mutation", "mutations",
                   "car_target", "bridged_to_hsct"), "published", ("001-n-all",),
      "case texts: two men with myeloid CML blast phase resistant to TKIs and chemotherapy; "
      "E255K (patient 1), T315I with RUNX1 and WT1 mutations (patient 2); CD38 CAR-T; "
      "patient 1 proceeded to allo-HSCT")
    p("patients", "age_years", "published", ("001-p1-age", "001-p2-age"),
      "age at first admission (published); age at infusion (about 1-2 years later) is not published")
    p("patients", "marrow_blasts_pct", "published", ("001-p1-blasts-pre-cart", "001-p2-blasts-morph-2020-03"),
      "last marrow blast count printed before CAR-T")
    p("patients", "car_dose_cells_per_kg", "published", ("001-car-dose",), "")
    p("patients", "prior_lines", "published", (), "not stated as a number; left empty (see treatments)")
    p("patients", ("extramedullary_disease", "high_risk_genetics", "tregs_high"), "published", (),
      "not reported; left empty")
    p("responses", ("day", "morphologic", "mrd_flow", "molecular"), "published",
      ("001-p1-cr-time", "001-p2-cr-time", "001-p1-bcrabl-post-cart"),
      "CR at 2 weeks (patient 1) and 1 week (patient 2), MRD-negative and BCR::ABL1-negative")
    p("adverse_events", ("category", "term", "grade", "grading_system"), "published",
      ("001-crs-grade-p1", "001-crs-grade-p2"), "grade II CRS (fever) in both; grading system not named")
    p("adverse_events", ("onset_day", "duration_days"), "published", (), "not published; left empty")
    p("labs", ("analyte", "day", "value", "below_lloq"), "synthetic",
      ("001-p1-anc-recovery-day", "001-p2-anc-recovery-day", "001-p1-plt-recovery-day",
       "001-p2-plt-recovery-day", "001-anc-threshold", "001-plt-threshold"),
      "values exist only in Figure 2B-D: every row is invented (origin synthetic) but respects the "
      "published recovery days (ANC > 0.5 on days 14 and 7, platelets > 100 on day 14) and the mild "
      "cytokine rise")
    p("kinetics", ("day", "copies_per_ug_gdna", "below_lloq"), "synthetic",
      ("001-p1-cart-peak-day", "001-p2-cart-peak-day", "001-p1-hsct-time", "001-p2-death-time"),
      "values exist only in Figure 2A: invented (origin synthetic) with the peak on the published "
      "days 4 and 6; after patient 1's allo-HSCT (day 49) the copies fall with a 4-day half-life "
      "to below the limit of quantification (a modelling assumption, not published); patient 2 has "
      "no sample after day 45.7, the earliest day the death printed as '2 months' may have fallen")
    p("treatments", ("category", "agent", "dose", "dose_unit"), "published",
      ("001-car-dose", "001-car-dose-escalation-days", "001-p1-hsct-time", "001-p1-dose-imatinib",
       "001-p1-dose-dasatinib", "001-p1-dose-nilotinib", "001-p1-dose-ponatinib", "001-p2-dose-imatinib",
       "001-p2-dose-dasatinib", "001-p2-dose-ponatinib", "001-pre-decitabine-dose", "001-pre-hht-dose",
       "001-pre-cytarabine-dose", "001-pre-aclarubicin-dose"),
      "agents, doses and order as published")
    p("treatments", ("start_day", "end_day"), "synthetic",
      ("001-p1-date-admission", "001-p1-date-blast-crisis", "001-p1-date-bcrabl-rise", "001-p1-date-mrd",
       "001-p2-date-admission", "001-p2-date-readmission", "001-p2-date-t315i", "001-p2-date-progression",
       "001-pre-decitabine-day-first", "001-pre-hht-day-first"),
      "CAR-T (day 0, escalation over 4 days) and allo-HSCT (7 weeks) rows are published; the other "
      "days are estimated from month-precision dates and an estimated infusion date (not published), "
      "so those rows are origin synthetic; FC on days -5 to -3 assumed")
    p("outcomes", ("followup_days", "relapsed", "relapse_day", "died", "death_cause"), "synthetic",
      ("001-p1-date-last-followup", "001-p2-death-time"),
      "published: patient 1 alive in continued CR in June 2022; patient 2 died of relapse and infection "
      "2 months after infusion (day 60.9). Invented: patient 1's follow-up in days (infusion date "
      "estimated) and patient 2's relapse day, hence origin synthetic for both rows")

