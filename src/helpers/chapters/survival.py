"""Code specific to the survival chapter: study 000's consistency checks, ledger rates and published HRs."""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from helpers.stats.survival import Z95

# --------------------------------------------------------------------------
# can the published study-000 survival numbers hold on one population?
# --------------------------------------------------------------------------

def consistency_000(register_csv=None) -> pd.DataFrame:
    """Arithmetic checks on the published 2-year figures of study 000 (published numbers only).

    On one population, LFS(t) <= OS(t) (an LFS event includes death) and
    LFS(t) + CIR(t) = 1 - NRM(t) <= 1 (relapse, death in remission and being alive in
    remission partition the patients). Each row gives the rule, the numbers and whether
    they can hold; where they cannot, a second row tests the most favourable alternative
    population. Approximations ignore censoring (mixtures of Kaplan–Meier curves are only
    approximately mixtures of their values), which is stated.
    """
    from helpers.paths import REGISTER_CSV
    from helpers.reproduction import register as reg

    path = register_csv if register_csv is not None else REGISTER_CSV

    def row_of(rid):
        return reg.entry(rid, path)

    def v(rid):
        return float(row_of(rid)["value"])

    def n(rid):
        value = row_of(rid)["numerator"]
        return int(value) if not pd.isna(value) else int(float(row_of(rid)["value"]))

    def d(rid):
        return int(row_of(rid)["denominator"])

    os_l, os_p = v("000-os2y-lbc"), v("000-os2y-phall")
    lfs_l, lfs_p = v("000-lfs2y-lbc"), v("000-lfs2y-phall")
    cir_l, cir_p = v("000-cir2y-lbc"), v("000-cir2y-phall")
    n_l, n_p = n("000-n-lbc"), n("000-n-phall")
    r_l, r_p = n("000-response-lbc"), n("000-response-phall")
    mut, wt = v("000-lfs2y-ablkd-mut"), v("000-lfs2y-ablkd-wt")
    kd_total = n("000-ablkd-lbc") + n("000-ablkd-phall")
    rows = []

    def add(rule, group, numbers, holds, comment):
        verdict = holds if isinstance(holds, str) else ("yes" if holds else "NO")
        rows.append({"Rule": rule, "Cohort": group, "Published numbers": numbers,
                     "Can hold?": verdict, "Comment": comment})

    for label, os_, lfs, cir, nn, rr in (("CML-LBC", os_l, lfs_l, cir_l, n_l, r_l),
                                         ("Ph+ ALL", os_p, lfs_p, cir_p, n_p, r_p)):
        add("2-year LFS ≤ 2-year OS (same patients)", label, f"LFS {lfs:g}% vs OS {os_:g}%", lfs <= os_,
            "an LFS event includes death, so LFS can never exceed OS on one population"
            + ("" if lfs <= os_ else "; LFS must have been estimated in responders only"))
        bound = rr * lfs / nn
        add("OS of all patients ≥ responders alive in remission (LFS in responders)", label,
            f"OS {os_:g}% ≥ {rr}/{nn} × {lfs:g}% = {bound:.1f}%", os_ >= bound,
            ("possible, but only if almost no one else is alive at 2 years "
             f"(at most {nn * (os_ - bound) / 100:.1f} of the other patients)") if os_ - bound < 5 else
            "possible (ignoring censoring)")
        add("2-year LFS + 2-year CIR ≤ 100% (same patients)", label, f"{lfs:g}% + {cir:g}% = {lfs + cir:.1f}%",
            lfs + cir <= 100, "relapse, death in remission and alive in remission share 100%; "
            "this holds for any estimator (Aalen–Johansen or 1 − KM)")
        best = 100 * ((nn - rr) + rr * (1 - lfs / 100)) / nn
        add("CIR among ALL patients, non-responders counted as failing at day 0 (most generous reading)",
            label, f"CIR ≤ [({nn} − {rr}) + {rr} × {100 - lfs:.1f}%] / {nn} = {best:.1f}% vs {cir:g}%", cir <= best,
            "even counting every non-responder as an immediate relapse the published CIR is out of reach"
            if cir > best else "possible")
    pooled = (r_l * lfs_l + r_p * lfs_p) / (r_l + r_p)
    n_mut = (r_l + r_p) * (wt - pooled) / (wt - mut)
    add("LFS by ABL-KD mutation consistent with LFS by cohort (same responders)", "pooled responders",
        f"pooled LFS {pooled:.1f}% implies about {n_mut:.0f} mutated responders (of {kd_total} mutated patients)",
        0 <= n_mut <= min(kd_total, r_l + r_p),
        "feasible; the synthetic cohort must place roughly this many kinase-domain mutations among responders")
    # crude HR implied by the two 2-year LFS values under proportional hazards: S1 = S0 ** HR
    kd_l, kd_p = n("000-ablkd-lbc") / n_l, n("000-ablkd-phall") / n_p
    for label, s1, s0, rid_hr in (("CML-LBC", lfs_l, lfs_p, "000-cox-lbc-hr"),
                                  ("ABL-KD mutation", mut, wt, "000-cox-ablkd-hr")):
        implied = math.log(s1 / 100) / math.log(s0 / 100)
        adjusted = v(rid_hr)
        tension = adjusted > 1.5 * implied
        if tension:
            comment = (f"kinase-domain mutations are more common in CML-LBC ({100 * kd_l:.0f}% vs {100 * kd_p:.0f}%) "
                       "and worsen LFS, so adjusting for them should lower the CML-LBC HR, not double it; possible "
                       "only with strongly non-proportional hazards, the non-collapsibility of the HR, or a model "
                       "fitted to other patients" if label == "CML-LBC" else
                       "the adjusted HR is far above the crude one")
        else:
            comment = "the adjusted HR is close to the crude one, as expected"
        add("Adjusted Cox HR vs the crude HR implied by the 2-year LFS under proportional hazards", label,
            f"ln({s1:g}%)/ln({s0:g}%) = {implied:.2f} crude vs {adjusted:g} adjusted",
            "tension" if tension else True, comment)
    for rid_hr, label in (("000-cox-ablkd-hr", "ABL-KD mutation"), ("000-cox-lbc-hr", "CML-LBC")):
        row = row_of(rid_hr)
        hr, lo, hi = float(row["value"]), float(row["ci_lower"]), float(row["ci_upper"])
        mid = math.sqrt(lo * hi)
        se = (math.log(hi) - math.log(lo)) / (2 * Z95)
        pw = 2 * sps.norm.sf(abs(math.log(hr)) / se)
        prow = row_of(rid_hr.replace("-hr", "-p"))
        add("Cox HR is the geometric midpoint of its CI; Wald P from the CI", label,
            f"HR {hr:g}, CI {lo:g}–{hi:g}: midpoint {mid:.3f}, SE(log HR) {se:.3f}, Wald P {pw:.4f} "
            f"(published {prow['value_text']})", abs(mid - hr) / hr < 0.005,
            "internally consistent: a Wald CI on the log scale")
    return pd.DataFrame(rows)


def record_rates(ledger, curves: Sequence, at: float, ids: dict, *, note: str = "",
                 basis: str = "synthetic") -> pd.DataFrame:
    """Record the estimate at time ``at`` (percent) of each curve whose label is in ``ids``
    (label -> register_id), with the book's rate tolerance (±2 percentage points). The
    note carries the 95% CI. Returns the rows recorded."""

    rows = []
    by_label = {c.label: c for c in curves}
    for label, rid in ids.items():
        if label not in by_label:
            raise KeyError(f"no curve labelled {label!r}; have {sorted(by_label)}")
        r = by_label[label].at([at]).iloc[0]
        if r["beyond_followup"]:
            rows.append(ledger.not_reproducible(rid, note=f"{label}: no patient followed to {at:g} months"))
            continue
        ci = f"95% CI {100 * r['lower']:.1f}–{100 * r['upper']:.1f}"
        rows.append(ledger.record(rid, 100 * float(r["surv"]), basis=basis,
                                  note=f"{ci}; n = {by_label[label].n}. {note}".strip()))
    return pd.DataFrame(rows)


def published_value(register_id: str, register_csv=None) -> float:
    """A published number from the register (for arithmetic in notes, never for results)."""
    from helpers.paths import REGISTER_CSV
    from helpers.reproduction import register as reg

    return float(reg.entry(register_id, register_csv if register_csv is not None else REGISTER_CSV)["value"])


def published_hazard_ratios(terms: dict, register_csv=None) -> pd.DataFrame:
    """Published HRs with their CIs and P values (term -> register id of the HR; the P value
    id is the same with ``-p`` for ``-hr``), shaped like :attr:`CoxResult.table`."""
    from helpers.paths import REGISTER_CSV
    from helpers.reproduction import register as reg

    path = register_csv if register_csv is not None else REGISTER_CSV
    rows = []
    for term, rid in terms.items():
        e = reg.entry(rid, path)
        p_id = rid[:-3] + "-p" if rid.endswith("-hr") else None
        p = float(reg.entry(p_id, path)["value"]) if p_id else float("nan")
        rows.append(dict(term=term, hr=float(e["value"]), lower=float(e["ci_lower"]), upper=float(e["ci_upper"]), p=p))
    return pd.DataFrame(rows)


# Why some study-000 LFS rows of the ledger differ: shown in their notes.
LFS_TARGET_CONFLICT = (
    "differs because the eight published LFS targets (2-year LFS by cohort and its log-rank P, LFS by "
    "ABL-KD mutation and its P, both Cox HRs) pull against each other: in large samples the mutation's "
    "log-rank and Cox P values need mutation and cohort positively correlated among the patients at risk, "
    "the cohort's pair negatively (survival chapter, 'Can the four LFS P values hold together?'). Met "
    "together only by populations with heavy early censoring, which the generator refuses; it minimises "
    "the worst miss in units of the tolerances instead (data/synthetic/000/provenance.csv)"
)


# --------------------------------------------------------------------------
# the four LFS P values of study 000: an argument, not a search
# --------------------------------------------------------------------------

def z_of_p(p: float) -> float:
    """|z| of a two-sided normal P value."""
    return float(sps.norm.isf(p / 2))


def z_of_ci(hr: float, lower: float, upper: float) -> float:
    """Wald |z| of a hazard ratio from its 95% CI (a Wald CI on the log scale)."""
    return abs(math.log(hr)) / ((math.log(upper) - math.log(lower)) / (2 * Z95))


def unadjusted_z(z_own: float, z_other: float, rho: float) -> float:
    """Unadjusted (log-rank) z of one covariate implied by the adjusted Wald z's of both.

    Large-sample (quadratic) approximation of the Cox partial likelihood with two covariates
    and information matrix [[a, c], [c, b]], rho = c / sqrt(ab): the adjusted Wald z of
    covariate 1 is u * sqrt(1 - rho²) with u = beta1 * sqrt(a); its unadjusted score (log-rank)
    z is u + rho * v, with v the same for covariate 2."""
    return (z_own + rho * z_other) / math.sqrt(1 - rho ** 2)


def lfs_p_values_000(register_csv=None) -> dict:
    """The published z's behind study 000's four LFS P values, and the correlation each pair needs.

    ``needed_rho``: for each covariate, the rhos at which the adjusted Wald z's imply its
    published log-rank z (by :func:`unadjusted_z`). One population has one rho; the argument
    holds when the two lists lie on opposite sides of 0."""
    from helpers.paths import REGISTER_CSV
    from helpers.reproduction import register as reg

    path = register_csv if register_csv is not None else REGISTER_CSV

    def entry(rid):
        return reg.entry(rid, path)

    adjusted = {term: z_of_ci(float(entry(rid)["value"]), float(entry(rid)["ci_lower"]), float(entry(rid)["ci_upper"]))
                for term, rid in (("kd", "000-cox-ablkd-hr"), ("lbc", "000-cox-lbc-hr"))}
    logrank = {"kd": z_of_p(float(entry("000-lfs2y-ablkd-p")["value"])),
               "lbc": z_of_p(float(entry("000-lfs2y-p")["value"]))}
    needed = {term: rho_solutions(adjusted[term], adjusted[other], logrank[term])
              for term, other in (("kd", "lbc"), ("lbc", "kd"))}
    return {"adjusted_z": adjusted, "logrank_z": logrank, "needed_rho": needed,
            "ratio_of_adjusted": adjusted["kd"] / adjusted["lbc"]}


def rho_solutions(z_own: float, z_other: float, target: float) -> list[float]:
    """Every rho in (-1, 1) at which :func:`unadjusted_z` equals ``target``.

    The curve rises from -inf (or falls from +inf) at rho = -1 to +inf at rho = +1; when the
    covariate's own adjusted z exceeds the other's it is U-shaped, with its minimum
    sqrt(z_own² - z_other²) at rho = -z_other / z_own, so a target can be met twice or never."""
    import numpy as np
    from scipy.optimize import brentq

    grid = np.linspace(-0.999, 0.999, 4001)
    values = np.array([unadjusted_z(z_own, z_other, r) - target for r in grid])
    crossings = np.flatnonzero(np.sign(values[:-1]) != np.sign(values[1:]))
    return [float(brentq(lambda r: unadjusted_z(z_own, z_other, r) - target, grid[i], grid[i + 1]))
            for i in crossings]


def lfs_p_value_table(published: dict, synthetic: Optional[dict] = None) -> pd.DataFrame:
    """The four z's, published and (when given) on the synthetic cohort, with the rho each needs."""
    rows = []
    for term, label in (("kd", "ABL-KD mutation"), ("lbc", "CML-LBC")):
        row = {"Covariate": label,
               "Published log-rank z (P)": f"{published['logrank_z'][term]:.2f}",
               "Published adjusted Cox z (from the CI)": f"{published['adjusted_z'][term]:.2f}",
               "Adjustment makes it": "weaker" if published["adjusted_z"][term] < published["logrank_z"][term]
               else "stronger",
               "Correlation ρ it needs": " or ".join(f"{r:+.2f}" for r in published["needed_rho"][term]) or "none"}
        if synthetic is not None:
            row |= {"Synthetic log-rank z": f"{synthetic['logrank_z'][term]:.2f}",
                    "Synthetic adjusted z": f"{synthetic['adjusted_z'][term]:.2f}",
                    "Synthetic log-rank z predicted from its adjusted z's": f"{synthetic['predicted_logrank_z'][term]:.2f}"}
        rows.append(row)
    return pd.DataFrame(rows)


def null_information_rho(frame: pd.DataFrame, time: str, event: str, covariates: Sequence[str]) -> float:
    """rho of the Cox information matrix at beta = 0 (Breslow): the event-weighted covariance of
    the two covariates within the risk sets, as a correlation. The log-rank z's live here."""
    import numpy as np

    t = frame[time].to_numpy(float)
    e = frame[event].to_numpy(bool)
    x = frame[list(covariates)].to_numpy(float)
    info = np.zeros((2, 2))
    for tj in np.unique(t[e]):
        at_risk = x[t >= tj]
        info += int((e & (t == tj)).sum()) * np.cov(at_risk, rowvar=False, bias=True)
    return float(info[0, 1] / math.sqrt(info[0, 0] * info[1, 1]))


def lfs_p_values_synthetic(cox, logrank_kd, logrank_lbc) -> dict:
    """The same quantities on a fitted two-covariate Cox model (terms ``kd``, ``lbc``) and the
    two log-rank tests: the cohort's rho at beta = 0 (:func:`null_information_rho`) and the
    log-rank z's the approximation predicts from the cohort's own adjusted z's at that rho."""
    table = cox.table.set_index("term")
    adjusted = {t: abs(float(table.loc[t, "z"])) for t in ("kd", "lbc")}
    rho = null_information_rho(cox.data, cox.duration, cox.event, ["kd", "lbc"])
    predicted = {"kd": unadjusted_z(adjusted["kd"], adjusted["lbc"], rho),
                 "lbc": unadjusted_z(adjusted["lbc"], adjusted["kd"], rho)}
    return {"adjusted_z": adjusted, "logrank_z": {"kd": z_of_p(logrank_kd.p_value), "lbc": z_of_p(logrank_lbc.p_value)},
            "rho": rho, "predicted_logrank_z": predicted}


def approximation_error(synthetic: dict) -> str:
    """One sentence: how far the approximation misses the synthetic cohort's log-rank z's."""
    misses = [abs(synthetic["predicted_logrank_z"][t] - synthetic["logrank_z"][t]) for t in ("kd", "lbc")]
    return (f"On the synthetic cohort (ρ = {synthetic['rho']:+.2f}) the approximation predicts the two "
            f"log-rank z's from the two adjusted z's to within {max(misses):.2f}.")


def lfs_p_value_figure(published: dict, synthetic: Optional[dict] = None):
    """Unadjusted z implied by the published adjusted z's, against rho, for both covariates,
    with the published log-rank z's as lines: the two cross them at rho of opposite signs."""
    import numpy as np
    import plotly.graph_objects as go

    from helpers.plots.figures import style

    rhos = np.linspace(-0.8, 0.8, 161)
    fig = go.Figure()
    from helpers.plots.figures import OKABE_ITO

    names = {"kd": "ABL-KD mutation", "lbc": "CML-LBC"}
    # one colour per covariate for its curve and its published line; labels at opposite ends
    looks = {"kd": (OKABE_ITO[0], "top left"), "lbc": (OKABE_ITO[1], "bottom right")}
    for term, other in (("kd", "lbc"), ("lbc", "kd")):
        z_adj, z_other = published["adjusted_z"][term], published["adjusted_z"][other]
        colour, label_at = looks[term]
        fig.add_trace(go.Scatter(x=rhos, y=[unadjusted_z(z_adj, z_other, r) for r in rhos], mode="lines",
                                 line={"color": colour}, name=f"{names[term]}: implied log-rank z"))
        fig.add_hline(y=published["logrank_z"][term], line_dash="dash", line_color=colour, line_width=1.5,
                      annotation_text=f"published log-rank z, {names[term]}", annotation_position=label_at)
        needed = published["needed_rho"][term]
        fig.add_trace(go.Scatter(x=needed, y=[published["logrank_z"][term]] * len(needed),
                                 mode="markers", marker={"size": 10, "color": colour}, showlegend=False,
                                 hovertemplate=f"{names[term]}: needs ρ = %{{x:.2f}}<extra></extra>"))
    fig.add_vline(x=0, line_color="grey", line_width=1)
    if synthetic is not None:
        fig.add_vline(x=synthetic["rho"], line_dash="dot", line_color="black", line_width=1,
                      annotation_text=f"synthetic cohort ρ = {synthetic['rho']:+.2f}", annotation_position="bottom right")
    # two lines: in one the title ran past both edges of a phone's 390 px
    fig.update_xaxes(title="ρ: correlation of mutation and CML-LBC<br>within the risk sets (information at β = 0)")
    fig.update_yaxes(title="unadjusted |z|")
    return style(fig, title="One population, one ρ: the published LFS P values need two", height=460)


# --------------------------------------------------------------------------
# is the synthetic cohort plausible where a haematologist looks first?
# --------------------------------------------------------------------------

def followup_by_cohort(frame: pd.DataFrame, cohorts: Sequence[str]) -> pd.DataFrame:
    """Per cohort: reverse-KM median follow-up and range, patients censored alive early, and the
    deaths in remission among responders (after an allo-HSCT or without one)."""
    from helpers.stats.survival import median_followup

    rows = []
    for cohort in cohorts:
        part = frame[frame["cohort"] == cohort]
        fu = median_followup(part["os_time"], part["os_event"])
        alive = part[~part["os_event"]]
        responders = part[part["responder"]]
        in_remission = responders["cr_status"] == 2
        transplanted = responders["hsct_time"].notna()
        rows.append({
            "Cohort": cohort, "Patients": len(part),
            "Median follow-up, reverse KM (months)": f"{fu['median']:.1f}",
            "Range of observed times (months)": f"{fu['min']:.1f}–{fu['max']:.1f}",
            "Censored alive before 12 months": int((alive["os_time"] < 12).sum()),
            "Responders censored event-free before 24 months": int(
                ((responders["cr_status"] == 0) & (responders["lfs_time"] < 24)).sum()),
            "Deaths in remission after allo-HSCT": f"{int((in_remission & transplanted).sum())} of {int(transplanted.sum())}",
            "Deaths in remission without allo-HSCT": f"{int((in_remission & ~transplanted).sum())} of {int((~transplanted).sum())}",
        })
    return pd.DataFrame(rows)


def events_behind(frame: pd.DataFrame, time: str, event: str, group: str, at: float, what: str) -> pd.DataFrame:
    """What stands behind each group's Kaplan–Meier estimate at ``at`` months: patients, events
    before it, patients censored before it, patients still at risk, and the estimate."""
    from helpers.stats.survival import kaplan_meier

    rows = []
    for label, part in frame.groupby(group, sort=False):
        before = part[time] <= at
        estimate = kaplan_meier(part[time], part[event]).at([at]).iloc[0]["surv"]
        rows.append({"Estimate": what, "Group": label, "Patients": len(part),
                     f"Events by {at:g} months": int((before & part[event]).sum()),
                     f"Censored before {at:g} months": int((before & ~part[event].astype(bool)).sum()),
                     f"At risk beyond {at:g} months": int((~before).sum()),
                     "Kaplan–Meier estimate": f"{100 * estimate:.1f}%"})
    return pd.DataFrame(rows)


#: Codes of :func:`relapse_before_transplant`'s ``first_event``.
FIRST_EVENTS = {0: "censored in remission, untransplanted", 1: "relapse before any transplant",
                2: "allo-HSCT in remission", 3: "death in remission, untransplanted"}


def relapse_before_transplant(responders: pd.DataFrame) -> pd.DataFrame:
    """``responders`` with the first of relapse, allo-HSCT in remission and death in remission:
    ``first_time`` (months from infusion) and ``first_event`` (codes of :data:`FIRST_EVENTS`).
    A transplant comes first when it is dated before the end of remission (``lfs_time``);
    ``cr_status`` says how a remission without a transplant ended (1 relapse, 2 death, 0 censored)."""
    transplanted_first = responders["hsct_time"].notna() & (responders["hsct_time"] < responders["lfs_time"])
    untransplanted_end = responders["cr_status"].map({0: 0, 1: 1, 2: 3})
    if untransplanted_end.isna().any():
        raise ValueError("cr_status must be 0, 1 or 2 for every responder")
    return responders.assign(first_time=np.where(transplanted_first, responders["hsct_time"], responders["lfs_time"]),
                             first_event=np.where(transplanted_first, 2, untransplanted_end).astype(int))
