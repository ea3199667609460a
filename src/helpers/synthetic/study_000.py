"""Study 000: CML lymphoid blast crisis (CML-LBC) vs Ph+ ALL after CD19 CAR-T.

Calibration notes. The published counts hold exactly: cohort sizes, disease status, response
and MRD-negative CR (R/R and MRD-positive patients), ABL kinase-domain mutations, CRS (any
grade pooled, grade 3-4 by cohort), allo-HSCT bridging and relapse after it, cytokine
monitoring. Searches over candidate sub-seeds (:data:`~helpers.synthetic.common.SEARCH_LIMIT`)
bring the survival and expansion figures close to the published ones:

* leukaemia-free survival among responders -- 2-year LFS by cohort and by ABL-KD status, the
  two log-rank P values and the two Cox HRs. With clinically plausible follow-up (accrual over
  the study period, administrative censoring only, no CML-LBC responder censored alive before
  two years) they cannot all hold together (the survival chapter argues why), so the worst
  deviation in units of the tolerances is minimised (see ``_000_LFS``); some land outside;
* overall survival and follow-up -- 2-year OS, log-rank P, reverse-KM median follow-up and range;
* CAR-T expansion -- the rank-sum P of the peaks in active disease (no difference among the
  MRD-positive patients nor within one month overall).

The published 2-year CIR cannot hold together with the published LFS and is not calibrated.
Unpublished splits and distributions are design choices, marked as such below. Random
streams: ``[seed, 0, 0]`` skeleton, ``[seed, 0, 2, j]`` LFS, ``[seed, 0, 3, j]`` OS,
``[seed, 0, 4]`` HSCT, ``[seed, 0, 5, j]`` kinetics, ``[seed, 0, 6]`` the other tables.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from helpers.reproduction.tolerances import (
    TOL_HR_RELATIVE,
    TOL_MEDIAN_MONTHS,
    TOL_P_FACTOR,
    TOL_RATE_PP,
)
from helpers.stats.units import DAYS_PER_MONTH
from helpers.synthetic.calibration import (
    cox_efron,
    km_at,
    km_median,
    logrank_p,
    mannwhitney_p,
)
from helpers.synthetic.common import (
    KINETIC_DAYS,
    KINETICS_LLOQ,
    SEARCH_LIMIT,
    YEAR_DAYS,
    Reg,
    Study,
    after_allo_hsct,
    count_rows,
    cytokine_rows,
    dev_pp,
    dev_ratio,
    kinetic_rows,
    kinetic_values,
    potential_followup,
    r1,
    sig,
    tx,
)

_000_COHORTS = (  # key, cohort label, diagnosis, patient-id code, id width
    ("lbc", "CML-LBC", "CML lymphoid blast crisis", "LBC", 2),
    ("phall", "Ph+ ALL", "Ph+ B-ALL", "PHALL", 3),
)
_000_RR = ("primary_refractory", "first_relapse", "second_or_later_relapse")

# ---- design choices (NOT published; chosen so the published aggregates hold) ----
#: Non-responders among the evaluable MRD-positive patients; the other
#: non-responders are R/R (the split is not published).
_000_NR_MRDPOS = {"lbc": 2, "phall": 2}
#: Share of CRS (any grade) per cohort: the paper gives only the pooled 59/134;
#: the pooled count is split in proportion to cohort size.
#: LFS design among responders (NOT published; calibration knobs). ``k``/``m``: responders
#: carrying an ABL kinase-domain mutation (CML-LBC / Ph+ ALL; the other mutated patients are
#: non-responders); ``kev``: of the ``k``, how many have an LFS event; ``le``: CML-LBC
#: responders with an LFS event, at ``l0``-``l1`` months (no CML-LBC responder is censored early:
#: follow-up is administrative only); ``ekd``: Ph+ ALL mutated
#: responders with an event, at ``a0``-``a1`` months; ``ew0`` early (``w0``-``w1`` months) and
#: ``ewt`` later (log-normal, median ``mwt`` months, log-sd ``swt``) events among Ph+ ALL
#: wild-type responders.
#: An event is observed only if it falls before the patient's potential follow-up.
#:
#: The published LFS figures (2-year LFS by cohort and by ABL-KD status, the two log-rank P
#: values, the two Cox HRs) pull against each other: adjustment weakens the mutation's P but
#: strengthens the cohort's, which in large samples needs correlations of opposite sign (the
#: survival chapter's argument). No plausible design puts all eight inside their tolerances at
#: once. These knobs come from an offline hill climb (``python -m helpers.synthetic.tune_000``,
#: with ``k + m = 20`` so that 7 of the 27 mutation carriers are non-responders) minimising, for the default
#: seed, the worst deviation in units of tolerance (2 pp, factor 1.5, 15%) over the first
#: ``SEARCH_LIMIT`` candidate sub-seeds; the run-time search (``_000_lfs``) repeats that
#: minimisation over the sub-seeds only. Other seeds run fine but calibrate less closely.
_000_LFS = dict(k=1, kev=1, m=19, le=5, ekd=12, ewt=14, ew0=11, w0=5.919,
                w1=14.634, l0=1.299, l1=20.93, a0=4.058, a1=34.125, mwt=87.511, swt=0.538)
#: Deaths in remission (NOT published: neither paper reports non-relapse mortality). An
#: assumption stated in round figures: of the transplanted responders who do not relapse
#: after the transplant, 15% die in remission (transplant-related deaths, 30 days or more after
#: it); of the responders never transplanted, 2% (late infections after CAR-T). For study 000
#: that is 6 of 38 and 0 of 1 after HSCT, and 1 of 61 and 0 of 5 without.
_000_NRM = dict(after_hsct=0.15, without_hsct=0.02)
#: Survival after progression or relapse (log-normal: median months, log-sd) and the
#: potential follow-up of the cohort (months: earliest-possible minimum, accrual shape
#: from the published median and maximum).
_000_OS = dict(nr_lbc=4.0, nr_phall=3.96, nr_sd=0.984, rel_lbc=6.0, rel_phall=7.99, rel_sd=1.0,
               fu_min=4.0)
#: Peak CAR-T copies (log10 copies/ug gDNA: mean, sd) by cohort and disease status.
_000_KIN = dict(active_lbc=(3.75, 0.45), active_phall=(4.55, 0.45), mrd_lbc=(4.35, 0.45),
                mrd_phall=(4.3, 0.45))

_KD_MUTATIONS = ("T315I", "T315I", "T315I", "E255K", "Y253H", "F317L", "E255V", "M244V", "G250E",
                 "F359V", "V299L")


def _000_skeleton(R: Reg, rng: np.random.Generator) -> pd.DataFrame:
    """One row per patient: cohort, status, response class, ABL KD mutation (all calibrated)."""
    parts = []
    for ck, label, diagnosis, code, width in _000_COHORTS:
        n = R.n(f"000-n-{ck}")
        status_n = {s: R.n(f"000-status-{s}-{ck}") for s in (*_000_RR, "mrd_positive")}
        if sum(status_n.values()) != n:
            raise ValueError(f"000 {ck}: statuses do not add up to {n}")
        n_mp = status_n["mrd_positive"]
        n_rr = n - n_mp
        resp, evaluable = R.n(f"000-response-{ck}"), R.d(f"000-response-{ck}")
        n_ne = n - evaluable
        neg_rr, ev_rr = R.n(f"000-mrdnegcr-rr-{ck}"), R.d(f"000-mrdnegcr-rr-{ck}")
        neg_mp, ev_mp = R.n(f"000-mrdnegcr-mrdpos-{ck}"), R.d(f"000-mrdnegcr-mrdpos-{ck}")
        neg_all = R.n(f"000-mrdnegcr-{ck}")
        if (ev_rr + ev_mp != evaluable or n_rr - ev_rr != n_ne or ev_mp != n_mp
                or neg_rr + neg_mp != neg_all):
            raise ValueError(f"000 {ck}: response denominators are inconsistent")
        nr = evaluable - resp
        nr_mp = _000_NR_MRDPOS[ck]
        nr_rr = nr - nr_mp
        r_rr, r_mp = ev_rr - nr_rr, ev_mp - nr_mp
        if min(nr_rr, r_rr - neg_rr, r_mp - neg_mp) < 0:
            raise ValueError(f"000 {ck}: response split infeasible")
        cls_rr = ["NE"] * n_ne + ["NR"] * nr_rr + ["RN"] * neg_rr + ["RP"] * (r_rr - neg_rr)
        cls_mp = ["NR"] * nr_mp + ["RN"] * neg_mp + ["RP"] * (r_mp - neg_mp)
        statuses = [s for s in _000_RR for _ in range(status_n[s])]
        statuses = list(rng.permutation(statuses)) + ["mrd_positive"] * n_mp
        classes = list(rng.permutation(cls_rr)) + list(rng.permutation(cls_mp))
        df = pd.DataFrame(dict(ck=ck, cohort=label, diagnosis=diagnosis, disease_status=statuses,
                               cls=classes))
        df["rr"] = df["disease_status"] != "mrd_positive"
        df["responder"] = df["cls"].isin(["RN", "RP"])
        # ABL kinase-domain mutations: the responders' share is a calibration knob (LFS model)
        kd_total = R.n(f"000-ablkd-{ck}")
        k_resp = _000_LFS["k"] if ck == "lbc" else _000_LFS["m"]
        resp_idx = np.flatnonzero(df["responder"].to_numpy())
        non_idx = np.flatnonzero(~df["responder"].to_numpy())
        if k_resp > resp_idx.size or kd_total - k_resp > non_idx.size or kd_total < k_resp:
            raise ValueError(f"000 {ck}: ABL KD split infeasible")
        kd = np.zeros(n, bool)
        kd[rng.choice(resp_idx, k_resp, replace=False)] = True
        kd[rng.choice(non_idx, kd_total - k_resp, replace=False)] = True
        df["kd"] = kd
        # patient codes in a random order (no information in the number)
        order = rng.permutation(n)
        df["patient_id"] = [f"000-{code}-{i + 1:0{width}d}" for i in order]
        parts.append(df)
    base = pd.concat(parts, ignore_index=True)
    return base


def _000_lfs_candidate(kn: dict, rng: np.random.Generator, lbc: np.ndarray, kd: np.ndarray,
                       cohort_all: np.ndarray, fu_design: tuple, cmax: float):
    """Potential follow-up of everyone; LFS event times (days; inf = none) of the responders.

    ``lbc``/``kd`` describe the responders, who come first in the follow-up vector;
    ``cohort_all`` flags the CML-LBC patients in that order (responders, then the others).
    Potential follow-up is the data cut-off minus the infusion date, drawn for each cohort
    apart from an accrual that grows over the study period (``potential_followup``).
    """
    n = lbc.size
    C_all = np.empty(cohort_all.size)
    for in_cohort in (cohort_all, ~cohort_all):  # each cohort accrued over the whole period
        C_all[in_cohort] = potential_followup(rng, int(in_cohort.sum()), *fu_design)
    C = C_all[:n]
    il_kd = np.flatnonzero(lbc & kd)
    il_wt = np.flatnonzero(lbc & ~kd)
    ip_kd = np.flatnonzero(~lbc & kd)
    ip_wt = np.flatnonzero(~lbc & ~kd)
    ev = np.zeros(n, bool)
    ev[rng.permutation(il_kd)[:kn["kev"]]] = True
    wt = rng.permutation(il_wt)
    n_wt_ev = kn["le"] - kn["kev"]
    ev[wt[:n_wt_ev]] = True
    ev[rng.choice(ip_kd, min(kn["ekd"], ip_kd.size), replace=False)] = True
    sel = rng.choice(ip_wt, kn["ew0"] + kn["ewt"], replace=False)
    ev[sel] = True
    T = np.empty(n)
    T[lbc] = rng.uniform(kn["l0"], kn["l1"], int(lbc.sum())) * DAYS_PER_MONTH
    T[ip_kd] = rng.uniform(kn["a0"], kn["a1"], ip_kd.size) * DAYS_PER_MONTH
    T[ip_wt] = np.exp(math.log(kn["mwt"] * DAYS_PER_MONTH) + kn["swt"] * rng.standard_normal(ip_wt.size))
    T[sel[:kn["ew0"]]] = rng.uniform(kn["w0"], kn["w1"], kn["ew0"]) * DAYS_PER_MONTH
    T = np.where(ev, np.maximum(T, 35.0 + 10.0 * rng.random(n)), np.inf)
    # the longest follow-up belongs to an event-free Ph+ ALL responder
    free = ip_wt[~ev[ip_wt]]
    C[rng.choice(free)] = cmax
    T = np.where(np.isfinite(T), np.round(T, 1), np.inf)
    C_all[:n] = C
    return T, np.round(C_all, 1)


def _000_lfs_metrics(t, e, kd, lbc, horizon) -> dict:
    return dict(lbc=100 * km_at(t[lbc], e[lbc], horizon), phall=100 * km_at(t[~lbc], e[~lbc], horizon),
                mut=100 * km_at(t[kd], e[kd], horizon), wt=100 * km_at(t[~kd], e[~kd], horizon),
                p=logrank_p(t, e, lbc), p_kd=logrank_p(t, e, kd))


def _000_lfs(R: Reg, seed: int, lbc, kd, cohort_all, fu_design, cmax, kn=None, limit=SEARCH_LIMIT):
    """Search candidate sub-seeds for the LFS design closest to the published LFS figures.

    A candidate is admitted only if it is clinically plausible: no CML-LBC responder is
    censored alive before 2 years (so the published 37.5% is 3 of 8 exactly, with 5 events
    behind it), and there are enough late events and event-free patients for the published
    allo-HSCT counts and the deaths in remission after it (``_000_NRM``)."""
    kn = dict(_000_LFS if kn is None else kn)
    horizon = 24 * DAYS_PER_MONTH
    tg = dict(lbc=R.v("000-lfs2y-lbc"), phall=R.v("000-lfs2y-phall"), mut=R.v("000-lfs2y-ablkd-mut"),
              wt=R.v("000-lfs2y-ablkd-wt"), p=R.v("000-lfs2y-p"), p_kd=R.v("000-lfs2y-ablkd-p"),
              hr_kd=R.v("000-cox-ablkd-hr"), hr_lbc=R.v("000-cox-lbc-hr"))
    need = dict(hsct_lbc=(R.n("000-hsct-relapse-lbc"), R.n("000-hsct-n-lbc")),
                hsct_phall=(R.n("000-hsct-relapse-phall"), R.n("000-hsct-n-phall")))
    best = None
    for j in range(limit):
        rng = np.random.default_rng([seed, 0, 2, j])
        T, C_all = _000_lfs_candidate(kn, rng, lbc, kd, cohort_all, fu_design, cmax)
        Cj = C_all[:lbc.size]
        e = T < Cj
        t = np.minimum(T, Cj)
        if (lbc & ~e & (t < horizon)).any():
            continue  # a CML-LBC responder censored alive before 2 years
        # bridging to allo-HSCT must be possible: enough late events and event-free patients
        ok = True
        for ck_lbc, (n_rel, n_tot) in ((True, need["hsct_lbc"]), (False, need["hsct_phall"])):
            grp = lbc == ck_lbc
            late = grp & e & (T >= 75)
            free = grp & ~e & (t >= 75)
            n_nrm = _nrm_after_hsct(n_tot - n_rel)
            ok &= late.sum() >= n_rel + n_nrm and free.sum() >= n_tot - n_rel - n_nrm
        if not ok:
            continue
        m = _000_lfs_metrics(t, e, kd, lbc, horizon)
        # Every figure as a multiple of its tolerance; the worst one is minimised. (The
        # published figures cannot all hold at once, see _000_LFS; this balances them.)
        hard = max(max(dev_pp(m[k], tg[k]) / TOL_RATE_PP for k in ("lbc", "phall", "mut", "wt")),
                   max(dev_ratio(m[k], tg[k]) / math.log(TOL_P_FACTOR) for k in ("p", "p_kd")))
        if best is not None and hard >= best[0]:
            continue
        hr = np.exp(cox_efron(t, e, np.c_[kd, lbc]))
        m["hr_kd"], m["hr_lbc"] = float(hr[0]), float(hr[1])
        worst = max(hard, max(dev_ratio(m["hr_kd"], tg["hr_kd"]), dev_ratio(m["hr_lbc"], tg["hr_lbc"]))
                    / math.log(1 + TOL_HR_RELATIVE))
        if best is None or worst < best[0]:
            best = (worst, j, T, C_all, m)
        if worst <= 1.0:
            break
    if best is None:
        raise RuntimeError("000: no feasible LFS candidate")
    worst, j, T, C_all, m = best
    return T, C_all, dict(m, candidate=j, worst_in_tolerance_units=worst, targets=tg)


def _000_os(R: Reg, seed: int, base: pd.DataFrame, limit=SEARCH_LIMIT, kn=None):
    """Deaths and follow-up for everyone; searched so OS and follow-up match the paper."""
    kn = dict(_000_OS if kn is None else kn)
    horizon = 24 * DAYS_PER_MONTH
    tg = dict(lbc=R.v("000-os2y-lbc"), phall=R.v("000-os2y-phall"), p=R.v("000-os2y-p"),
              fu=R.v("000-followup-median"))
    lbc = (base["ck"] == "lbc").to_numpy()
    cls = base["cls"].to_numpy()
    T = base["lfs_T"].to_numpy()
    nrm = base["lfs_nrm"].to_numpy()
    C = base["C"].to_numpy()
    assess = base["assess_day"].to_numpy().astype(float)
    ne_idx = np.flatnonzero(cls == "NE")
    nr = cls == "NR"
    rel = np.isfinite(T) & (T < C) & ~nrm
    died_nrm = np.isfinite(T) & (T < C) & nrm
    min_fu = R.v("000-followup-min") * DAYS_PER_MONTH
    best = None
    for j in range(limit):
        rng = np.random.default_rng([seed, 0, 3, j])
        death = np.full(len(base), np.inf)
        death[ne_idx[0]] = min_fu
        death[ne_idx[1:]] = rng.uniform(18.0, 45.0, ne_idx.size - 1)
        med_nr = np.where(lbc, kn["nr_lbc"], kn["nr_phall"]) * DAYS_PER_MONTH
        d_nr = assess + np.maximum(med_nr * np.exp(kn["nr_sd"] * rng.standard_normal(len(base))), 10.0)
        death[nr] = d_nr[nr]
        med_rel = np.where(lbc, kn["rel_lbc"], kn["rel_phall"]) * DAYS_PER_MONTH
        d_rel = T + np.maximum(med_rel * np.exp(kn["rel_sd"] * rng.standard_normal(len(base))), 14.0)
        death[rel] = d_rel[rel]
        death[died_nrm] = T[died_nrm]
        death = np.where(np.isfinite(death), np.round(death, 1), np.inf)
        died = death <= C
        fu = np.where(died, death, C)
        m = dict(lbc=100 * km_at(fu[lbc], died[lbc], horizon), phall=100 * km_at(fu[~lbc], died[~lbc], horizon),
                 p=logrank_p(fu, died, lbc), fu=km_median(fu, ~died) / DAYS_PER_MONTH,
                 fu_lbc=km_median(fu[lbc], ~died[lbc]) / DAYS_PER_MONTH,
                 fu_phall=km_median(fu[~lbc], ~died[~lbc]) / DAYS_PER_MONTH)
        # the published follow-up is for all patients; each cohort is held to it too (accrual
        # over the same period), at twice the tolerance for the 13 CML-LBC patients
        dev = max(dev_pp(m["lbc"], tg["lbc"]) / TOL_RATE_PP, dev_pp(m["phall"], tg["phall"]) / TOL_RATE_PP,
                  dev_ratio(m["p"], tg["p"]) / math.log(TOL_P_FACTOR),
                  abs(m["fu"] - tg["fu"]) / TOL_MEDIAN_MONTHS,
                  abs(m["fu_phall"] - tg["fu"]) / TOL_MEDIAN_MONTHS,
                  abs(m["fu_lbc"] - tg["fu"]) / (2 * TOL_MEDIAN_MONTHS))
        if best is None or dev < best[0]:
            best = (dev, j, fu, died, m)
        if dev <= 1.0:
            break
    dev, j, fu, died, m = best
    return fu, died, dict(m, candidate=j, targets=tg)


def _000_kinetics_peaks(R: Reg, seed: int, base: pd.DataFrame, limit=SEARCH_LIMIT):
    """Peak CAR-T copies and curves; searched so the active-disease comparison matches."""
    target = R.v("000-expansion-active-peak-p")
    lbc = (base["ck"] == "lbc").to_numpy()
    rr = base["rr"].to_numpy()
    fu = base["followup_days"].to_numpy()
    best = None
    for j in range(limit):
        rng = np.random.default_rng([seed, 0, 5, j])
        curves = []
        for i in range(len(base)):
            key = ("active_" if rr[i] else "mrd_") + ("lbc" if lbc[i] else "phall")
            mu, sd = _000_KIN[key]
            peak = 10 ** (mu + sd * rng.standard_normal())
            tpeak = float(rng.choice([7.0, 10.0, 14.0], p=[0.45, 0.35, 0.2]))
            days = [d for d in KINETIC_DAYS if d <= fu[i]]
            curves.append((days, kinetic_values(rng, peak, tpeak, days)))
        peak_obs = np.array([max(v) if v else np.nan for _, v in curves])
        month = np.array([max([x for d, x in zip(ds, v) if d <= 30] or [np.nan]) for ds, v in curves])
        p_active = mannwhitney_p(peak_obs[lbc & rr], peak_obs[~lbc & rr])
        p_mrd = mannwhitney_p(peak_obs[lbc & ~rr], peak_obs[~lbc & ~rr])
        p_all = mannwhitney_p(month[lbc], month[~lbc])
        dev = dev_ratio(p_active, target) / math.log(TOL_P_FACTOR)
        if p_mrd <= 0.05 or p_all <= 0.05:
            dev = max(dev, 2.0)
        if best is None or dev < best[0]:
            best = (dev, j, curves, dict(p_active=p_active, p_mrd=p_mrd, p_month_all=p_all))
        if dev <= 1.0:
            break
    dev, j, curves, m = best
    return curves, dict(m, candidate=j, target=target)


def _nrm_after_hsct(n_transplanted_without_relapse: int) -> int:
    return int(round(_000_NRM["after_hsct"] * n_transplanted_without_relapse))


def _000_hsct_and_nrm(R: Reg, rng: np.random.Generator, base: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """HSCT day (nan = none) and which LFS events are deaths in remission (``_000_NRM``).

    Responders only are bridged. Of the transplanted, the published number relapse after the
    transplant; of the others, ``after_hsct`` die in remission (transplant-related deaths, at
    least 30 days after the transplant) and the rest stay event-free. Among responders not
    transplanted, ``without_hsct`` of them die in remission instead of relapsing."""
    hsct = np.full(len(base), np.nan)
    nrm = np.zeros(len(base), bool)
    T, C = base["lfs_T"].to_numpy(), base["C"].to_numpy()
    event = base["responder"].to_numpy() & (T < C)
    for ck, _, _, _, _ in _000_COHORTS:
        n_tot, n_rel = R.n(f"000-hsct-n-{ck}"), R.n(f"000-hsct-relapse-{ck}")
        if R.d(f"000-hsct-relapse-{ck}") != n_tot:
            raise ValueError("000: HSCT relapse denominator differs from the HSCT count")
        grp = (base["ck"] == ck).to_numpy() & base["responder"].to_numpy()
        late = rng.permutation(np.flatnonzero(grp & event & (T >= 75)))
        n_nrm = _nrm_after_hsct(n_tot - n_rel)
        relapse_after, nrm_after = late[:n_rel], late[n_rel:n_rel + n_nrm]
        free = rng.choice(np.flatnonzero(grp & ~event & (C >= 75)), n_tot - n_rel - n_nrm, replace=False)
        nrm[nrm_after] = True
        for i in np.r_[relapse_after, nrm_after, free]:
            hi = min(90.0, (T[i] if event[i] else C[i]) - (30.0 if event[i] else 10.0))
            hsct[i] = round(float(rng.uniform(30.0, max(hi, 31.0))))
        others = np.flatnonzero(grp & event & np.isnan(hsct))
        n_without = int(round(_000_NRM["without_hsct"] * int((grp & np.isnan(hsct)).sum())))
        nrm[rng.choice(others, min(n_without, others.size), replace=False)] = True
    return hsct, nrm


def generate(seed: int) -> Study:
    R = Reg("000")
    st = Study("000")
    rng0 = np.random.default_rng([seed, 0, 0])
    base = _000_skeleton(R, rng0)
    n = len(base)
    lbc = (base["ck"] == "lbc").to_numpy()
    base["assess_day"] = np.where(base["cls"] == "NE", 14, rng0.integers(26, 32, n))
    fu_max = R.v("000-followup-max")
    fu_design = (_000_OS["fu_min"], R.v("000-followup-median"), fu_max)

    # ---- leukaemia-free survival among responders (calibrated) ----
    resp = base["responder"].to_numpy()
    order = np.r_[np.flatnonzero(resp), np.flatnonzero(~resp)]   # responders first
    T, C_sorted, lfs_report = _000_lfs(R, seed, lbc[resp], base["kd"].to_numpy()[resp], lbc[order],
                                       fu_design, fu_max * DAYS_PER_MONTH)
    base["lfs_T"] = np.inf
    base.loc[resp, "lfs_T"] = T
    C = np.empty(n)
    C[order] = C_sorted
    base["C"] = C

    # ---- allo-HSCT bridging (calibrated counts) and deaths in remission (assumed rates) ----
    base["hsct_day"], base["lfs_nrm"] = _000_hsct_and_nrm(R, np.random.default_rng([seed, 0, 4]), base)

    # ---- overall survival and follow-up (calibrated) ----
    fu, died, os_report = _000_os(R, seed, base)
    base["followup_days"] = fu
    base["died"] = died
    T_all = base["lfs_T"].to_numpy()
    nrm_all = base["lfs_nrm"].to_numpy()
    rel_resp = resp & (T_all < base["C"].to_numpy()) & ~nrm_all
    nr = (base["cls"] == "NR").to_numpy()
    base["relapsed"] = rel_resp | nr
    base["relapse_day"] = np.where(rel_resp, T_all, np.where(nr, base["assess_day"].astype(float), np.nan))
    cause = np.where(~died, None, np.where(base["relapsed"], "relapse", "non_relapse"))
    base["death_cause"] = cause

    # ---- CAR-T expansion (calibrated comparison) ----
    curves, kin_report = _000_kinetics_peaks(R, seed, base)

    st.report = dict(lfs=lfs_report, os=os_report, kinetics=kin_report)
    _000_tables(R, st, np.random.default_rng([seed, 0, 6]), base, curves)
    _000_provenance(R, st)
    return st


def _000_tables(R: Reg, st: Study, rng: np.random.Generator, base: pd.DataFrame, curves) -> None:
    n = len(base)
    # ---- adverse events: CRS any grade (pooled) and grade 3-4 (by cohort) calibrated ----
    crs_any = R.n("000-crs-any-all")
    if R.d("000-crs-any-all") != n:
        raise ValueError("000: CRS denominator is not the cohort size")
    lo, hi = int(R.v("000-crs-severe-grade-min")), int(R.v("000-crs-severe-grade-max"))
    grade = np.zeros(n, int)
    rr = base["rr"].to_numpy()
    sizes = {ck: int((base["ck"] == ck).sum()) for ck, *_ in _000_COHORTS}
    share = {"lbc": int(round(crs_any * sizes["lbc"] / n))}
    share["phall"] = crs_any - share["lbc"]
    for ck, *_ in _000_COHORTS:
        idx = np.flatnonzero((base["ck"] == ck).to_numpy())
        severe = R.n(f"000-crs-severe-{ck}")
        w = np.where(rr[idx], 2.0, 1.0)
        any_idx = rng.choice(idx, share[ck], replace=False, p=w / w.sum())
        w2 = np.where(rr[any_idx], 3.0, 1.0)
        sev_idx = rng.choice(any_idx, severe, replace=False, p=w2 / w2.sum())
        grade[any_idx] = rng.choice([1, 2], any_idx.size, p=[0.55, 0.45])
        grade[sev_idx] = rng.choice([lo, hi], sev_idx.size, p=[0.7, 0.3])
    base["crs_grade"] = grade
    fu = base["followup_days"].to_numpy()
    crs_onset = np.where(grade >= 3, rng.uniform(1.0, 4.0, n), rng.uniform(1.0, 7.0, n))
    durations = {1: (2.0, 5.0), 2: (3.0, 7.0), 3: (5.0, 10.0), 4: (7.0, 14.0)}
    for i, row in enumerate(base.itertuples()):
        pid = row.patient_id
        g = int(grade[i])
        st.add("adverse_events", patient_id=pid, category="CRS", term="CRS", grade=g,
               grading_system="ASTCT", onset_day=r1(crs_onset[i]) if g else None,
               duration_days=r1(rng.uniform(*durations[g])) if g else None, origin="synthetic")
        ic = 0
        if g >= 2 and rng.random() < 0.3:
            ic = int(rng.choice([1, 2, 3], p=[0.45, 0.4, 0.15] if g >= 3 else [0.6, 0.35, 0.05]))
        ic_onset = min(crs_onset[i] + rng.uniform(1.0, 4.0), fu[i])
        st.add("adverse_events", patient_id=pid, category="ICANS", term="ICANS", grade=ic,
               grading_system="ASTCT", onset_day=r1(ic_onset) if ic else None,
               duration_days=r1(rng.uniform(2.0, 8.0)) if ic else None, origin="synthetic")
        st.add("adverse_events", patient_id=pid, category="cytopenia", term="neutropenia",
               grade=int(rng.choice([2, 3, 4], p=[0.05, 0.2, 0.75])), grading_system="CTCAE",
               onset_day=r1(min(rng.uniform(1.0, 5.0), fu[i])), duration_days=r1(rng.uniform(5.0, 21.0)),
               origin="synthetic")
        if rng.random() < 0.45:
            st.add("adverse_events", patient_id=pid, category="cytopenia", term="thrombocytopenia",
                   grade=int(rng.choice([3, 4], p=[0.6, 0.4])), grading_system="CTCAE",
                   onset_day=r1(min(rng.uniform(3.0, 8.0), fu[i])),
                   duration_days=r1(rng.uniform(7.0, 28.0)), origin="synthetic")
        if row.cls == "NE":
            st.add("adverse_events", patient_id=pid, category="infection", term="sepsis", grade=5,
                   grading_system="CTCAE", onset_day=r1(fu[i] - rng.uniform(2.0, 5.0)),
                   duration_days=None, origin="synthetic")
        elif rng.random() < 0.25:
            st.add("adverse_events", patient_id=pid, category="infection", term="infection",
                   grade=int(rng.choice([2, 3], p=[0.6, 0.4])), grading_system="CTCAE",
                   onset_day=r1(min(rng.uniform(3.0, 30.0), fu[i])),
                   duration_days=r1(rng.uniform(5.0, 14.0)), origin="synthetic")
        if rng.random() < 0.15:
            st.add("adverse_events", patient_id=pid, category="organ_toxicity", term="hepatotoxicity",
                   grade=int(rng.choice([1, 2, 3], p=[0.5, 0.35, 0.15])), grading_system="CTCAE",
                   onset_day=r1(min(rng.uniform(2.0, 14.0), fu[i])),
                   duration_days=r1(rng.uniform(3.0, 14.0)), origin="synthetic")

    # ---- labs: cytokines for the monitored patients (count calibrated), counts for all ----
    monitored = R.n("000-cytokines-monitored-all")
    no_cyto = set(rng.choice(n, n - monitored, replace=False).tolist())
    for i, row in enumerate(base.itertuples()):
        g = int(grade[i])
        peak = crs_onset[i] + rng.uniform(1.0, 2.0) if g else rng.uniform(4.0, 8.0)
        if i not in no_cyto:
            cytokine_rows(st, rng, row.patient_id, g, float(min(max(peak, 3.0), 8.0)), fu[i])
        anc0 = float(np.exp(rng.normal(math.log(1.2 if row.rr else 2.5), 0.5)))
        plt0 = float(np.exp(rng.normal(math.log(60.0 if row.rr else 150.0), 0.5)))
        late = 4.0 if row.cls in ("NR", "NE") else 0.0
        count_rows(st, rng, row.patient_id, fu[i], anc0, plt0,
                    anc_recovery=float(min(rng.uniform(10.0, 20.0) + late, 27.0)),
                    plt_recovery=float(min(rng.uniform(12.0, 24.0) + late, 27.0)))

    # ---- kinetics (active-disease comparison calibrated) ----
    for row, (days, values) in zip(base.itertuples(), curves):
        kinetic_rows(st, row.patient_id, days, after_allo_hsct(days, values, row.hsct_day))

    # ---- patients ----
    for i, row in enumerate(base.itertuples()):
        is_lbc = row.ck == "lbc"
        age = float(np.clip(round(rng.normal(38.0 if is_lbc else 41.0, 12.0)), 18, 70))
        sex = "male" if rng.random() < (0.6 if is_lbc else 0.52) else "female"
        if not row.rr:
            blasts = float(rng.uniform(0.0, 4.5))
        else:
            med = 45.0 if row.cls in ("NR", "NE") else 18.0
            blasts = float(np.clip(med * math.exp(0.7 * rng.standard_normal()), 5.0, 95.0))
        mutations = None
        if row.kd:
            first = str(rng.choice(_KD_MUTATIONS))
            muts = [first]
            if rng.random() < 0.15:
                other = str(rng.choice([m for m in _KD_MUTATIONS if m[1:-1] != first[1:-1]]))
                muts.append(other)
            mutations = ";".join(muts)
        lines = (1 + int(rng.poisson(0.8))) if not row.rr else (2 + int(rng.poisson(1.2)))
        lines = min(lines + (1 if is_lbc else 0), 10)
        dose = float(10 ** rng.normal(math.log10(3e6), 0.25))
        st.add("patients", patient_id=row.patient_id, cohort=row.cohort, diagnosis=row.diagnosis,
               age_years=age, sex=sex, disease_status=row.disease_status, marrow_blasts_pct=r1(blasts),
               abl_kd_mutation=bool(row.kd), mutations=mutations, prior_lines=lines,
               extramedullary_disease=None, high_risk_genetics=None, tregs_high=None, car_target="CD19",
               car_dose_cells_per_kg=float(sig(dose, 2)), bridged_to_hsct=bool(not math.isnan(row.hsct_day)),
               origin="synthetic")
        # ---- responses: one best-response assessment per patient ----
        if row.cls == "NE":
            morph, mrd, mol = "not_evaluable", "not_done", "not_done"
        elif row.cls == "NR":
            morph, mrd, mol = "NR", "positive", "detectable"
        else:
            morph = "CR" if (not row.rr or rng.random() < 0.75) else "CRi"
            mrd = "negative" if row.cls == "RN" else "positive"
            mol = ("CMR" if rng.random() < 0.85 else "detectable") if row.cls == "RN" else "detectable"
        st.add("responses", patient_id=row.patient_id, day=int(row.assess_day), morphologic=morph,
               mrd_flow=mrd, molecular=mol, origin="synthetic")
        # ---- outcomes ----
        st.add("outcomes", patient_id=row.patient_id, followup_days=float(row.followup_days),
               relapsed=bool(row.relapsed), relapse_day=None if math.isnan(row.relapse_day) else float(row.relapse_day),
               died=bool(row.died), death_cause=row.death_cause, origin="synthetic")
        # ---- treatments ----
        _000_treatments(st, rng, row, mutations, dose)



def _pick_tki(rng: np.random.Generator, t315i: bool):
    if t315i:
        return [("ponatinib", 45.0, "mg/day"), ("olverembatinib", 40.0, "mg every other day")][int(rng.integers(2))]
    return [("dasatinib", 100.0, "mg/day"), ("flumatinib", 600.0, "mg/day"),
            ("nilotinib", 800.0, "mg/day")][int(rng.integers(3))]


def _000_treatments(st: Study, rng: np.random.Generator, row, mutations, dose: float) -> None:
    pid = row.patient_id
    t315i = bool(mutations) and "T315I" in mutations
    if row.ck == "lbc":
        cp = -rng.uniform(1.5, 9.0) * YEAR_DAYS
        bc = -rng.uniform(60.0, 420.0)
        if rng.random() < 0.35:
            mid = cp + (bc - cp) * rng.uniform(0.3, 0.7)
            tx(st, pid, "TKI", "imatinib", cp, mid - 1, 400.0, "mg/day")
            tx(st, pid, "TKI", "dasatinib", mid, bc - 1, 100.0, "mg/day")
        else:
            tx(st, pid, "TKI", "imatinib", cp, bc - 1, 400.0, "mg/day")
        tx(st, pid, "chemotherapy", "VDCP", bc, bc + 27)
        agent, d, u = _pick_tki(rng, t315i)
        tx(st, pid, "TKI", agent, bc, -6.0, d, u)
    else:
        dx = -rng.uniform(60.0, 180.0) if row.disease_status == "primary_refractory" \
            else -rng.uniform(0.4, 4.0) * YEAR_DAYS
        tx(st, pid, "chemotherapy", "VDCP", dx, dx + 27)
        first = [("imatinib", 400.0, "mg/day"), ("dasatinib", 100.0, "mg/day")][int(rng.integers(2))]
        if row.disease_status in ("first_relapse", "second_or_later_relapse"):
            rel = -rng.uniform(30.0, 150.0)
            tx(st, pid, "TKI", first[0], dx, rel - 1, first[1], first[2])
            tx(st, pid, "chemotherapy", "hyper-CVAD", rel, rel + 20)
            agent, d, u = _pick_tki(rng, t315i)
            tx(st, pid, "TKI", agent, rel, -6.0, d, u)
        else:
            if row.disease_status == "mrd_positive":
                tx(st, pid, "chemotherapy", "HD-MTX", dx + 60, dx + 62)
            agent, d, u = _pick_tki(rng, True) if t315i else first
            tx(st, pid, "TKI", agent, dx, -6.0, d, u)
    tx(st, pid, "lymphodepletion", "FC", -5.0, -3.0)
    tx(st, pid, "CAR-T", "CD19 CAR-T", 0.0, 0.0, float(sig(dose, 2)), "cells/kg")
    fu = float(row.followup_days)
    if not math.isnan(row.hsct_day):
        tx(st, pid, "allo-HSCT", "allo-HSCT", float(row.hsct_day), float(row.hsct_day))
    if row.responder and rng.random() < 0.5:
        start = (row.hsct_day + 60.0) if not math.isnan(row.hsct_day) else rng.uniform(30.0, 60.0)
        stop = row.relapse_day if row.relapsed else (fu if row.died else None)
        if start < fu and (stop is None or start < stop):
            agent, d, u = _pick_tki(rng, t315i)
            tx(st, pid, "TKI", agent, float(round(start)), stop, d, u)


def _000_provenance(R: Reg, st: Study) -> None:
    cohorts = ("000-n-lbc", "000-n-phall", "000-n-all")
    statuses = tuple(f"000-status-{s}-{c}" for s in (*_000_RR, "mrd_positive") for c in ("lbc", "phall"))
    resp = tuple(f"000-{k}-{c}" for k in ("response", "mrdnegcr", "mrdnegcr-rr", "mrdnegcr-mrdpos")
                 for c in ("lbc", "phall"))
    lfs = ("000-lfs2y-lbc", "000-lfs2y-phall", "000-lfs2y-p", "000-lfs2y-ablkd-mut", "000-lfs2y-ablkd-wt",
           "000-lfs2y-ablkd-p", "000-cox-ablkd-hr", "000-cox-lbc-hr")
    os_ = ("000-os2y-lbc", "000-os2y-phall", "000-os2y-p", "000-followup-median", "000-followup-min",
           "000-followup-max")
    hsct = ("000-hsct-n-lbc", "000-hsct-n-phall", "000-hsct-relapse-lbc", "000-hsct-relapse-phall")
    p = st.provenance
    p("patients", ("cohort", "diagnosis"), "calibrated", cohorts, "cohort sizes as published")
    p("patients", "disease_status", "calibrated", statuses, "status counts per cohort as published")
    p("patients", "abl_kd_mutation", "calibrated", ("000-ablkd-lbc", "000-ablkd-phall"),
      "mutation counts per cohort as published; which patients carry them (responders vs not) "
      "is a calibration choice for the LFS model")
    p("patients", "mutations", "synthetic", (), "kinase-domain mutation names invented (T315I most "
      "often), consistent with abl_kd_mutation")
    p("patients", "marrow_blasts_pct", "synthetic", ("000-threshold-bm-blasts",),
      "invented: MRD-positive patients < 5%, overt disease >= 5% (higher among non-responders)")
    p("patients", "car_target", "synthetic", (), "CD19 assumed (B-lineage disease); not stated in the letter")
    p("patients", ("extramedullary_disease", "high_risk_genetics", "tregs_high"), "synthetic", (),
      "not reported by the study; left empty")
    p("patients", "bridged_to_hsct", "calibrated", hsct, "allo-HSCT counts per cohort as published; "
      "only responders bridged")
    p("responses", ("morphologic", "mrd_flow", "molecular"), "calibrated", resp,
      "one best-response assessment per patient. Response = CR/CRi for R/R patients; persistent "
      "morphological CR or CMR for MRD-positive patients; MRD-negative CR = CR/CRi with mrd_flow "
      "negative. The 2 Ph+ ALL patients not evaluable are R/R (early deaths)")
    p("responses", "day", "synthetic", (), "assessment day invented (26-31; 14 for the not evaluable)")
    p("adverse_events", "grade", "calibrated", ("000-crs-any-all", "000-crs-severe-lbc",
                                                 "000-crs-severe-phall", "000-crs-severe-grade-min",
                                                 "000-crs-severe-grade-max"),
      "CRS rows (ASTCT): any grade 59/134 pooled (split between cohorts in proportion to size, "
      "not published) and grade 3-4 by cohort as published; every other grade is invented")
    p("adverse_events", ("category", "term", "grading_system"), "synthetic", (),
      "CRS and ICANS graded for every patient (grade 0 = absent); other events invented")
    p("labs", "patient_id", "calibrated", ("000-cytokines-monitored-all",),
      "cytokines (IL-6, IL-10, TNF-alpha, IFN-gamma, CRP, ferritin) for 126 patients, none for 8; "
      "ANC and platelets for all")
    p("labs", ("analyte", "day", "value", "below_lloq"), "synthetic", (),
      "invented: cytokines peak on days 3-10, higher with CRS grade")
    p("kinetics", ("patient_id", "copies_per_ug_gdna"), "calibrated",
      ("000-expansion-active-n-lbc", "000-expansion-active-n-phall", "000-expansion-active-peak-p"),
      "all patients sampled; among active (R/R) disease the CML-LBC peaks are lower (rank-sum P "
      "calibrated to the published P); no difference among MRD-positive patients nor within one "
      f"month overall; values invented (qPCR lower limit {KINETICS_LLOQ:g} copies/ug gDNA)")
    p("kinetics", ("day", "below_lloq"), "synthetic", (), "sampling days invented")
    p("treatments", "category", "calibrated", hsct, "allo-HSCT rows calibrated (days 30-90); TKI, "
      "chemotherapy, lymphodepletion (FC, days -5 to -3) and CAR-T rows invented")
    p("outcomes", ("followup_days", "died", "death_cause"), "calibrated", os_,
      "OS from infusion calibrated to the published 2-year OS and log-rank P; reverse-KM median "
      "follow-up and range as published")
    p("outcomes", ("relapsed", "relapse_day"), "calibrated", lfs + hsct + ("000-cir2y-lbc", "000-cir2y-phall"),
      "LFS among responders (relapse or death) calibrated to the published 2-year LFS, log-rank P, "
      "ABL-KD LFS and Cox HRs. In large samples the two pairs of log-rank and Cox P values need "
      "correlations of opposite sign between mutation and cohort (argued in the survival chapter); "
      "they can be met together only with heavy early censoring, which the generator refuses (no "
      "CML-LBC responder is censored alive before 2 years, so 37.5% is 3 of 8). The worst deviation "
      "(in units of the tolerances 2 pp / factor 1.5 / 15%) is minimised instead and some land "
      "outside (see tests/test_synthetic.py, RELAXED). Deaths in remission are not published: 15% of "
      "the transplanted responders who do not relapse after the transplant and 2% of those never "
      "transplanted are assumed to die in remission. The published 2-year CIR cannot hold together with the published LFS "
      "(LFS + CIR > 100% in both cohorts), so CIR is NOT calibrated: it follows from the LFS events "
      "(deaths in remission compete). Non-responders are recorded as relapsed (progression) on "
      "their assessment day")
