"""Response to CAR-T: the papers' definitions, applied once, and the rates built on them.

Definitions (stated once here, used by every table and figure of the chapter)
-----------------------------------------------------------------------------
``remission``         morphological complete remission, with or without full
                      count recovery: CR or CRi (study 004 counts both in its
                      overall remission rate).
``MRD-negative CR``   remission (CR/CRi) **and** flow-cytometry MRD negative in
                      the marrow.
``CMR``               complete molecular response: BCR::ABL1 not detected by PCR.
``response``          study 000's endpoint, which depends on the disease status
                      before CAR-T:
                      * overt disease (primary refractory, first or later relapse):
                        reaching remission (CR/CRi);
                      * flow-MRD-positive in morphological remission: keeping the
                        morphological remission (CR/CRi at assessment) **or**
                        reaching CMR.
``not evaluable``     no assessment that can be read (e.g. death before the
                      first marrow); such patients are kept, shown, and left out
                      of the denominators -- never silently dropped.

When a patient has several assessments in the window, the *best* one is the
one used for the category shown; each flag above is true when *any*
assessment in the window meets it (the best assessment is chosen so that the
two agree).

Functions
---------
``classify(patients, responses)``          one row per patient with every flag
``salvage_response(...)``                  study 003: salvage after progression and its CR
``rates(frame, flag, by)``                 k/n, %, Clopper-Pearson and Wilson CIs
``group_comparison(...)``                  Fisher and Yates on cohort counts, matched to a published P
``flow_counts`` / ``sankey_figure``        disease status before CAR-T -> best response
``rate_figure``                            rates with CI bars (hover: k/n)
``forest_figure``                          odds ratios of several models (hover: OR, CI, P)
"""

from __future__ import annotations

import html
import math
from typing import Optional, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from . import register as reg
from .contract_spec import RELAPSED_REFRACTORY
from .figures import OKABE_ITO, style
from .ledger import Ledger
from .paths import REGISTER_CSV
from .stats import compare_proportions, proportion_table

REMISSION = ("CR", "CRi")
STATUS_LABELS = {
    "primary_refractory": "Primary refractory",
    "first_relapse": "First relapse",
    "second_or_later_relapse": "Second or later relapse",
    "relapsed_refractory_unspecified": "Relapsed/refractory",
    "blast_phase_refractory": "Refractory blast phase",
    "mrd_positive": "MRD-positive (flow)",
}
BEST_RESPONSE_ORDER = (
    "MRD-negative CR/CRi", "MRD-positive CR/CRi", "CMR without CR", "PR", "No response", "Not evaluable",
)
COHORT_KEYS_000 = {"CML-LBC": "lbc", "Ph+ ALL": "phall"}

DEFINITIONS = pd.DataFrame([
    ("Remission (CR/CRi)", "Morphological complete remission, with (CR) or without (CRi) full blood-count "
     "recovery.", "004 overall remission; 003 CR after salvage; 000 response of R/R patients"),
    ("MRD-negative CR", "Remission (CR/CRi) with flow-cytometry MRD negative in the marrow.",
     "000 MRD-negative CR rate, overall and within subgroups"),
    ("Complete molecular response (CMR)", "BCR::ABL1 transcript not detected by PCR.",
     "000 response of MRD-positive patients"),
    ("Response, overt disease before CAR-T", "Reaching remission (CR/CRi).", "000 response rate"),
    ("Response, MRD-positive before CAR-T", "Keeping morphological remission or reaching CMR.",
     "000 response rate"),
    ("Not evaluable", "No readable assessment (e.g. early death). Shown and counted, left out of "
     "denominators.", "000 (2 Ph+ ALL patients), 004 (4 patients)"),
], columns=["Term", "Definition used by the book", "Used for"])


# --------------------------------------------------------------------------- #
# classification
# --------------------------------------------------------------------------- #
def _check_columns(frame: pd.DataFrame, name: str, columns: Sequence[str]) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks column(s) {missing}")


def _rank(rows: pd.DataFrame) -> pd.Series:
    """Ordering key of assessments: remission, then MRD-negative, then CMR, then CR over CRi."""
    remission = rows["morphologic"].isin(REMISSION).astype(int)
    return (remission * 1000
            + (remission & (rows["mrd_flow"] == "negative")).astype(int) * 100
            + (rows["molecular"] == "CMR").astype(int) * 10
            + rows["morphologic"].map({"CR": 4, "CRi": 3, "PR": 2, "NR": 1, "not_evaluable": 0}).fillna(0))


def classify(patients: pd.DataFrame, responses: pd.DataFrame, *,
             after_day: Optional[pd.Series] = None, before_day: Optional[pd.Series] = None) -> pd.DataFrame:
    """One row per patient with the response flags defined in this module.

    Parameters
    ----------
    patients : the contract's patients table (needs patient_id, cohort, disease_status).
    responses : the contract's responses table (patient_id, day, morphologic, mrd_flow, molecular).
    after_day, before_day : optional per-patient windows (Series indexed by patient_id):
        only assessments with ``after_day < day <= before_day`` count.

    Returns
    -------
    DataFrame with patient_id, cohort, disease_status, overt (bool), assessments
    (number in the window), evaluable, remission, mrd_negative_cr, cmr, response,
    best_response (one of :data:`BEST_RESPONSE_ORDER`), best_day and
    not_evaluable_reason. Every patient of ``patients`` appears, also those
    without any assessment.
    """
    _check_columns(patients, "patients", ["patient_id", "cohort", "disease_status"])
    _check_columns(responses, "responses", ["patient_id", "day", "morphologic", "mrd_flow", "molecular"])
    if patients["patient_id"].duplicated().any():
        raise ValueError(f"patients has repeated patient_id: "
                         f"{patients.loc[patients['patient_id'].duplicated(), 'patient_id'].tolist()}")
    if patients["disease_status"].isna().any():
        raise ValueError("disease_status is missing for patients "
                         f"{patients.loc[patients['disease_status'].isna(), 'patient_id'].tolist()}: "
                         "the response definition depends on it")
    unknown = sorted(set(responses["patient_id"]) - set(patients["patient_id"]))
    if unknown:
        raise ValueError(f"responses name patients that are not in patients: {unknown[:5]}")
    rows = responses.copy()
    if after_day is not None:
        rows = rows[rows["day"] > rows["patient_id"].map(after_day).fillna(-np.inf)]
    if before_day is not None:
        rows = rows[rows["day"] <= rows["patient_id"].map(before_day).fillna(np.inf)]
    rows = rows.assign(_rank=_rank(rows), _readable=rows["morphologic"] != "not_evaluable")
    # Vectorised over patients (a registry has thousands): per patient, the assessments in the
    # window, the readable ones, the best readable one (highest rank, then earliest day) and
    # whether any readable one meets each flag.
    assessments = rows.groupby("patient_id", sort=False).size()
    last_day = rows.groupby("patient_id", sort=False)["day"].max()
    days_listed = rows.groupby("patient_id", sort=False)["day"].agg(
        lambda d: ", ".join(f"day {x}" for x in d))
    readable = rows[rows["_readable"]]
    best = (readable.sort_values(["patient_id", "_rank", "day"], ascending=[True, False, True], kind="mergesort")
            .drop_duplicates("patient_id").set_index("patient_id"))
    in_remission = readable["morphologic"].isin(REMISSION)
    flags = pd.DataFrame({"patient_id": readable["patient_id"], "remission": in_remission,
                          "mrd_negative_cr": in_remission & (readable["mrd_flow"] == "negative"),
                          "cmr": readable["molecular"] == "CMR"}).groupby("patient_id").any()
    ids = patients["patient_id"]
    overt = patients["disease_status"].isin(RELAPSED_REFRACTORY).to_numpy()
    evaluable = ids.isin(best.index).to_numpy()
    n_rows = ids.map(assessments).fillna(0).astype(int).to_numpy()
    remission = ids.map(flags["remission"]).eq(True).to_numpy()
    mrd_neg = ids.map(flags["mrd_negative_cr"]).eq(True).to_numpy()
    cmr = ids.map(flags["cmr"]).eq(True).to_numpy()
    best_morph = ids.map(best["morphologic"]).to_numpy(dtype=object)
    best_mrd = ids.map(best["mrd_flow"]).to_numpy(dtype=object)
    best_mol = ids.map(best["molecular"]).to_numpy(dtype=object)
    best_is_remission = pd.Series(best_morph).isin(REMISSION).to_numpy()
    category = np.select(
        [~evaluable, best_is_remission & (best_mrd == "negative"), best_is_remission, best_mol == "CMR",
         best_morph == "PR"],
        ["Not evaluable", "MRD-negative CR/CRi", "MRD-positive CR/CRi", "CMR without CR", "PR"],
        default="No response")
    best_day = np.where(evaluable, ids.map(best["day"]).astype(float).to_numpy(),
                        ids.map(last_day).astype(float).to_numpy())
    reason = np.where(evaluable, "", np.where(n_rows == 0, "no response assessment recorded",
                                              "assessment not evaluable ("
                                              + ids.map(days_listed).fillna("").astype(str).to_numpy() + ")"))
    response = np.where(overt, remission, remission | cmr)
    return pd.DataFrame({
        "patient_id": ids.to_numpy(dtype=object), "cohort": patients["cohort"].to_numpy(dtype=object),
        "disease_status": patients["disease_status"].to_numpy(dtype=object), "overt": overt,
        "assessments": n_rows.astype("int64"), "evaluable": evaluable, "remission": remission & evaluable,
        "mrd_negative_cr": mrd_neg & evaluable, "cmr": cmr & evaluable, "response": response & evaluable,
        "best_response": category.astype(object), "best_day": best_day,
        "not_evaluable_reason": reason.astype(object)})


def not_evaluable(classified: pd.DataFrame, extra: Optional[pd.DataFrame] = None) -> pd.DataFrame:
    """The patients left out of the denominators, with the reason (and any extra columns)."""
    shown = classified.loc[~classified["evaluable"], ["patient_id", "cohort", "disease_status",
                                                      "not_evaluable_reason"]]
    shown = shown.assign(disease_status=shown["disease_status"].map(STATUS_LABELS).fillna(shown["disease_status"]))
    if extra is not None:
        shown = shown.merge(extra, on="patient_id", how="left")
    return shown.reset_index(drop=True)


# --------------------------------------------------------------------------- #
# rates
# --------------------------------------------------------------------------- #
def rates(frame: pd.DataFrame, flag: str, by: Sequence[str] = (), *, evaluable: str = "evaluable",
          label: Optional[str] = None) -> pd.DataFrame:
    """k/n of ``flag`` among evaluable patients, per group, with exact and Wilson 95% CIs.

    Columns: the ``by`` columns, outcome, k, n, not_evaluable (left out of n),
    pct, cp_lower, cp_upper (Clopper-Pearson, as R's binom.test), wilson_lower,
    wilson_upper (as R's prop.test(correct = FALSE)); CI bounds are fractions.
    """
    by = list(by)
    _check_columns(frame, "frame", [flag, evaluable, *by])
    groups = frame.groupby(by, sort=False, dropna=False) if by else [((), frame)]
    rows = []
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        used = part[part[evaluable].astype(bool)]
        n = len(used)
        k = int(used[flag].astype(bool).sum())
        row = dict(zip(by, key))
        row.update(outcome=label or flag, k=k, n=n, not_evaluable=int(len(part) - n))
        if n:
            ci = proportion_table(k, n).iloc[0]
            row.update(pct=100 * k / n, cp_lower=ci["cp_lower"], cp_upper=ci["cp_upper"],
                       wilson_lower=ci["wilson_lower"], wilson_upper=ci["wilson_upper"])
        else:
            row.update(pct=math.nan, cp_lower=math.nan, cp_upper=math.nan,
                       wilson_lower=math.nan, wilson_upper=math.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def published_text(register_id: str, register_csv=REGISTER_CSV) -> str:
    """'k/n (x%)' as the register prints it."""
    row = reg.entry(register_id, register_csv)
    if pd.isna(row["numerator"]) or pd.isna(row["denominator"]):
        return str(row["value_text"])
    return f"{int(row['numerator'])}/{int(row['denominator'])} ({row['value_text']})"


def rate_display(table: pd.DataFrame, by: Sequence[str], published: Optional[dict] = None,
                 register_csv=REGISTER_CSV) -> pd.DataFrame:
    """A rates table for reading: k/n (%), both CIs in percent, and the published value.

    ``published`` maps a tuple of the ``by`` values (and the outcome label as
    last element) to a register_id.
    """
    published = published or {}
    rows = []
    for _, r in table.iterrows():
        key = tuple(r[b] for b in by) + (r["outcome"],)
        rid = published.get(key)
        rows.append({
            **{b: r[b] for b in by}, "Outcome": r["outcome"],
            "Book (synthetic)": f"{r['k']}/{r['n']} ({r['pct']:.1f}%)" if r["n"] else "no evaluable patient",
            "95% CI exact (Clopper–Pearson)": _ci(r, "cp"),
            "95% CI Wilson": _ci(r, "wilson"),
            "Not evaluable": int(r["not_evaluable"]),
            "Published": published_text(rid, register_csv) if rid else "not published",
        })
    return pd.DataFrame(rows)


def _ci(row, prefix: str) -> str:
    lo, hi = row[f"{prefix}_lower"], row[f"{prefix}_upper"]
    if pd.isna(lo):
        return ""
    return f"{100 * lo:.1f}–{100 * hi:.1f}%"


def record_rates(ledger: Ledger, table: pd.DataFrame, ids: dict, by: Sequence[str], note: str) -> None:
    """Record each rate whose (by values..., outcome) key has a register_id (basis: synthetic)."""
    for _, r in table.iterrows():
        key = tuple(r[b] for b in by) + (r["outcome"],)
        if key in ids:
            ledger.record_proportion(ids[key], int(r["k"]), int(r["n"]), basis="synthetic", note=note)


# --------------------------------------------------------------------------- #
# two-group comparisons
# --------------------------------------------------------------------------- #
def group_comparison(frame: pd.DataFrame, flag: str, group: str, order: Sequence[str],
                     published_p: Optional[str] = None, label: str = "",
                     evaluable: str = "evaluable", generic_columns: bool = False) -> pd.DataFrame:
    """Fisher's exact and Yates' chi-square P on the cohort's own counts, and which
    one prints as the published P (when given, e.g. "0.009" or "< 0.001").

    The two count columns are named after the groups, or "Group 1" / "Group 2"
    (holding "name: k/n") with ``generic_columns=True`` so that comparisons of
    different groupings stack into one table."""
    if len(order) != 2:
        raise ValueError(f"group_comparison compares two groups, got {list(order)}")
    used = frame[frame[evaluable].astype(bool)]
    counts = []
    for g in order:
        part = used[used[group] == g]
        if part.empty:
            raise ValueError(f"group {g!r} has no evaluable patient in column {group!r}")
        counts.append((int(part[flag].astype(bool).sum()), len(part)))
    (k1, n1), (k2, n2) = counts
    result = compare_proportions(k1, n1, k2, n2, published_p=published_p).iloc[0]
    mark = {"Fisher exact": ("✓", ""), "Yates chi-square": ("", "✓"), "both": ("✓", "✓"),
            "neither": ("", ""), None: ("", "")}[result["matches"]]
    return pd.DataFrame([{
        "Comparison": label or flag,
        **({"Group 1": f"{order[0]}: {k1}/{n1}", "Group 2": f"{order[1]}: {k2}/{n2}"} if generic_columns
           else {order[0]: f"{k1}/{n1}", order[1]: f"{k2}/{n2}"}),
        "Fisher exact P": _p4(result["fisher_p"]), "matches (Fisher)": mark[0],
        "Yates chi-square P": _p4(result["yates_p"]), "matches (Yates)": mark[1],
        "Published P": published_p or "not published",
        "Smallest expected count": f"{result['min_expected']:.1f}",
    }])


def _p4(p: float) -> str:
    return f"{p:.4f}" if p >= 1e-4 else f"{p:.1e}"


# --------------------------------------------------------------------------- #
# study 003: salvage after progression
# --------------------------------------------------------------------------- #
def salvage_response(patients: pd.DataFrame, responses: pd.DataFrame, treatments: pd.DataFrame,
                     outcomes: pd.DataFrame, targeted: Sequence[str] = ("blinatumomab", "inotuzumab")) -> pd.DataFrame:
    """Per patient: progression, salvage after it, antibody salvage, and the response to salvage.

    Salvage = any treatment that starts after the day of progression
    (``relapse_day``). Antibody salvage = a treatment of a ``targeted`` category
    (blinatumomab, inotuzumab) started after progression. The response to
    salvage is the best assessment after progression (:func:`classify` with the
    window ``day > relapse_day``); "CR" counts CR and CRi (remission).
    """
    _check_columns(treatments, "treatments", ["patient_id", "category", "start_day"])
    _check_columns(outcomes, "outcomes", ["patient_id", "relapsed", "relapse_day"])
    progression = outcomes.set_index("patient_id")["relapse_day"]
    after = treatments.assign(_prog=treatments["patient_id"].map(progression))
    after = after[after["_prog"].notna() & (after["start_day"] > after["_prog"])]
    salvage_ids = set(after["patient_id"])
    targeted_ids = set(after.loc[after["category"].isin(targeted), "patient_id"])
    post = classify(patients, responses, after_day=progression)
    post = post.rename(columns={"evaluable": "evaluable_after_progression"})
    frame = post[["patient_id", "cohort", "disease_status", "assessments", "evaluable_after_progression",
                  "remission", "mrd_negative_cr", "best_response", "not_evaluable_reason"]].copy()
    frame["progressed"] = frame["patient_id"].map(outcomes.set_index("patient_id")["relapsed"]).astype(bool)
    frame["salvage"] = frame["patient_id"].isin(salvage_ids)
    frame["antibody_salvage"] = frame["patient_id"].isin(targeted_ids)
    frame["all"] = True
    frame["salvage_cr"] = frame["remission"] & frame["salvage"]
    # salvage patients without any readable post-progression assessment stay in view
    frame["evaluable_salvage"] = frame["salvage"] & frame["evaluable_after_progression"]
    return frame


# --------------------------------------------------------------------------- #
# figures
# --------------------------------------------------------------------------- #
def wrap_label(text: str, width: int = 16) -> str:
    """Break a tick label into lines of about ``width`` characters (plotly's <br>)."""
    if "<br>" in str(text):
        return str(text)
    lines, line = [], ""
    for word in str(text).split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return "<br>".join(lines)


def rate_figure(table: pd.DataFrame, x: str, color: Optional[str] = None, title: str = "",
                y_title: str = "Patients (%)", height: int = 440) -> go.Figure:
    """Bars of rates with exact 95% CI error bars; hover: k/n, %, both CIs.
    Long category names are wrapped, never rotated."""
    figure = go.Figure()
    table = table.assign(**{x: table[x].map(wrap_label)})
    series = table.groupby(color, sort=False) if color else [(None, table)]
    for index, (name, part) in enumerate(series):
        pct = part["pct"].to_numpy()
        figure.add_trace(go.Bar(
            x=part[x], y=pct, name=str(name) if name is not None else "",
            marker_color=OKABE_ITO[index % len(OKABE_ITO)],
            error_y={"type": "data", "symmetric": False, "array": 100 * part["cp_upper"].to_numpy() - pct,
                     "arrayminus": pct - 100 * part["cp_lower"].to_numpy(), "color": "#333"},
            customdata=np.column_stack([part["k"], part["n"], 100 * part["cp_lower"], 100 * part["cp_upper"],
                                        100 * part["wilson_lower"], 100 * part["wilson_upper"]]),
            hovertemplate=(f"{html.escape(str(name)) + '<br>' if name is not None else ''}%{{x}}: "
                           "%{customdata[0]}/%{customdata[1]} (%{y:.1f}%)<br>"
                           "exact 95% CI %{customdata[2]:.1f}–%{customdata[3]:.1f}%<br>"
                           "Wilson 95% CI %{customdata[4]:.1f}–%{customdata[5]:.1f}%<extra></extra>"),
        ))
    figure.update_layout(barmode="group", yaxis={"title": y_title, "range": [0, 105]},
                         xaxis={"tickangle": 0}, showlegend=color is not None)
    return style(figure, title, height=height)


def flow_counts(classified: pd.DataFrame, cohort_order: Sequence[str],
                status_order: Sequence[str]) -> pd.DataFrame:
    """Tidy counts for the flow from cohort to disease status to best response."""
    rows = []
    for cohort in cohort_order:
        part = classified[classified["cohort"] == cohort]
        for status in status_order:
            sub = part[part["disease_status"] == status]
            for best in BEST_RESPONSE_ORDER:
                n = int((sub["best_response"] == best).sum())
                if n:
                    rows.append({"cohort": cohort, "disease_status": status, "best_response": best, "n": n,
                                 "status_total": len(sub), "cohort_total": len(part)})
    return pd.DataFrame(rows)


def sankey_figure(counts: pd.DataFrame, title: str = "", labels: Optional[dict] = None,
                  height: int = 520) -> go.Figure:
    """Sankey diagram cohort -> disease status before CAR-T -> best response.

    Links are coloured by best response (Okabe-Ito); hover gives n/N of the
    source node and the percentage.
    """
    labels = labels or STATUS_LABELS
    cohorts = list(dict.fromkeys(counts["cohort"]))
    statuses = [(c, s) for c in cohorts for s in dict.fromkeys(counts.loc[counts["cohort"] == c, "disease_status"])]
    outcomes = [b for b in BEST_RESPONSE_ORDER if b in set(counts["best_response"])]
    nodes = ([f"{c} (n={int(counts.loc[counts['cohort'] == c, 'cohort_total'].iloc[0])})" for c in cohorts]
             + [f"{c}: {labels.get(s, s)}" for c, s in statuses] + list(outcomes))
    index = {("cohort", c): i for i, c in enumerate(cohorts)}
    index.update({("status", c, s): len(cohorts) + i for i, (c, s) in enumerate(statuses)})
    index.update({("best", b): len(cohorts) + len(statuses) + i for i, b in enumerate(outcomes)})
    colour = {b: OKABE_ITO[i] for i, b in enumerate(
        ["MRD-negative CR/CRi", "MRD-positive CR/CRi", "CMR without CR", "PR", "No response", "Not evaluable"])}
    colour["Not evaluable"] = "#999999"
    source, target, value, link_colour, custom = [], [], [], [], []
    status_totals = counts.groupby(["cohort", "disease_status"])["n"].sum()
    for (c, s), total in status_totals.items():
        source.append(index[("cohort", c)])
        target.append(index[("status", c, s)])
        value.append(int(total))
        link_colour.append("rgba(120,120,120,0.25)")
        cohort_total = int(counts.loc[counts["cohort"] == c, "cohort_total"].iloc[0])
        custom.append([f"{c} → {labels.get(s, s)}", int(total), cohort_total, 100 * total / cohort_total])
    for _, r in counts.iterrows():
        source.append(index[("status", r["cohort"], r["disease_status"])])
        target.append(index[("best", r["best_response"])])
        value.append(int(r["n"]))
        rgb = colour[r["best_response"]].lstrip("#")
        link_colour.append("rgba({},{},{},0.55)".format(*(int(rgb[i:i + 2], 16) for i in (0, 2, 4))))
        custom.append([f"{r['cohort']}, {labels.get(r['disease_status'], r['disease_status'])} → "
                       f"{r['best_response']}", int(r["n"]), int(r["status_total"]),
                       100 * r["n"] / r["status_total"]])
    node_colour = (["#555555"] * len(cohorts) + ["#B0B0B0"] * len(statuses) + [colour[b] for b in outcomes])
    # fixed positions, so the order of cohorts, statuses and responses is the reading order
    sizes = ([int(counts.loc[counts["cohort"] == c, "n"].sum()) for c in cohorts]
             + [int(status_totals[(c, s)]) for c, s in statuses]
             + [int(counts.loc[counts["best_response"] == b, "n"].sum()) for b in outcomes])
    columns = [0] * len(cohorts) + [1] * len(statuses) + [2] * len(outcomes)
    xs, ys = [], []
    for col, x_pos in ((0, 0.001), (1, 0.45), (2, 0.999)):
        members = [i for i, c in enumerate(columns) if c == col]
        total = sum(sizes[i] for i in members)
        gap = 0.04 if len(members) > 1 else 0.0
        scale = (1.0 - gap * (len(members) - 1)) / total
        top = 0.0
        for i in members:
            extent = sizes[i] * scale
            xs.append((i, x_pos))
            ys.append((i, min(max(top + extent / 2, 0.001), 0.999)))
            top += extent + gap
    node_x = [x for _, x in sorted(xs)]
    node_y = [y for _, y in sorted(ys)]
    figure = go.Figure(go.Sankey(
        arrangement="fixed",
        node={"label": nodes, "color": node_colour, "pad": 14, "thickness": 16, "x": node_x, "y": node_y,
              "hovertemplate": "%{label}: %{value} patients<extra></extra>"},
        link={"source": source, "target": target, "value": value, "color": link_colour,
              "customdata": custom,
              "hovertemplate": "%{customdata[0]}<br>%{customdata[1]}/%{customdata[2]} "
                               "(%{customdata[3]:.1f}%)<extra></extra>"},
    ))
    return style(figure, title, height=height)


def forest_figure(table: pd.DataFrame, title: str = "", group: str = "method",
                  row: str = "factor", panel: Optional[str] = None, height: Optional[int] = None) -> go.Figure:
    """Forest plot of odds ratios (log scale) with CIs, one marker series per ``group``.

    ``table`` is :func:`helpers.regression.odds_ratio_table` output. Estimates
    that are not finite (ML under separation) are drawn as a hollow marker at
    the edge of the axis with an arrow-like label, never as a number.
    """
    table = table.copy()
    rows = list(dict.fromkeys(table[row] if panel is None else
                              [f"{m} · {f}" for m, f in zip(table[panel], table[row])]))
    if panel is not None:
        table["_row"] = [f"{m} · {f}" for m, f in zip(table[panel], table[row])]
    else:
        table["_row"] = table[row]
    finite = table["or_value"].replace([np.inf, -np.inf], np.nan).dropna()
    bounds = pd.concat([finite, table["or_lower_value"], table["or_upper_value"]]).replace(
        [np.inf, -np.inf], np.nan).dropna()
    bounds = bounds[bounds > 0]
    lo = max(min(bounds.min(), 0.5) / 2, 1e-3) if len(bounds) else 0.01
    hi = min(max(bounds.max(), 2.0) * 2, 1e4) if len(bounds) else 100
    figure = go.Figure()
    markers = {"ML": "circle", "Firth": "diamond"}
    legend = {"ML": "ML (Wald CI)", "Firth": "Firth (profile CI)"}
    groups = list(dict.fromkeys(table[group]))
    offsets = np.linspace(-0.18, 0.18, len(groups)) if len(groups) > 1 else [0.0]
    ypos = {r: i for i, r in enumerate(rows)}
    for gi, name in enumerate(groups):
        part = table[table[group] == name]
        ok = part[~part["separated"]]
        y = [ypos[r] + offsets[gi] for r in ok["_row"]]
        upper = np.minimum(ok["or_upper_value"].to_numpy(dtype=float), hi)
        lower = np.maximum(ok["or_lower_value"].to_numpy(dtype=float), lo)
        est = ok["or_value"].to_numpy(dtype=float)
        figure.add_trace(go.Scatter(
            x=est, y=y, mode="markers", name=legend.get(str(name), str(name)),
            marker={"symbol": markers.get(str(name), "circle"), "size": 10, "color": OKABE_ITO[gi]},
            error_x={"type": "data", "symmetric": False, "array": upper - est, "arrayminus": est - lower,
                     "color": OKABE_ITO[gi], "thickness": 2},
            customdata=np.column_stack([ok["_row"], ok["OR"], ok["95% CI"], ok["CI type"], ok["P (LR)"],
                                        ok["events"], ok["n"]]),
            hovertemplate=("%{customdata[0]}<br>" + html.escape(str(name)) +
                           ": OR %{customdata[1]} (95% CI %{customdata[2]}, %{customdata[3]})<br>"
                           "P (likelihood ratio) %{customdata[4]}<br>events %{customdata[5]}/%{customdata[6]}"
                           "<extra></extra>"),
        ))
        bad = part[part["separated"]]
        if len(bad):
            xs = [hi if v == np.inf else lo for v in bad["or_value"].fillna(np.inf)]
            figure.add_trace(go.Scatter(
                x=xs, y=[ypos[r] + offsets[gi] for r in bad["_row"]], mode="markers+text",
                name=f"{name}: no finite estimate",
                marker={"symbol": ["triangle-right" if x == hi else "triangle-left" for x in xs], "size": 12,
                        "color": "white", "line": {"color": OKABE_ITO[gi], "width": 2}},
                text=["→ ∞" if x == hi else "← 0" for x in xs], cliponaxis=False,
                textposition=["middle left" if x == hi else "middle right" for x in xs],
                customdata=np.column_stack([bad["_row"], bad["OR"]]),
                hovertemplate=("%{customdata[0]}<br>" + html.escape(str(name)) +
                               ": %{customdata[1]} — no finite maximum-likelihood estimate<extra></extra>"),
            ))
    figure.add_vline(x=1, line={"color": "#777", "dash": "dash"})
    decades = [10.0 ** e for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)]
    figure.update_xaxes(type="log", range=[math.log10(lo), math.log10(hi)], tickvals=decades,
                        ticktext=[f"{d:g}" for d in decades],
                        title="Odds ratio (log scale)")
    figure.update_yaxes(tickvals=list(range(len(rows))), ticktext=rows, autorange="reversed")
    style(figure, title, height=height or 180 + 42 * len(rows))
    figure.update_layout(margin={"t": 120}, legend={"y": 1.0, "yanchor": "bottom"})
    return figure


# --------------------------------------------------------------------------- #
# study 000: the data the regression models see
# --------------------------------------------------------------------------- #
FACTOR_LABELS_000 = {
    "overt": "Overt disease (vs MRD-positive)",
    "blasts_ge_cutoff": "Marrow blasts ≥ cut-off",
    "abl_kd": "ABL1 kinase-domain mutation",
    "cml_lbc": "CML-LBC (vs Ph+ ALL)",
}


def analysis_frame_000(patients: pd.DataFrame, classified: pd.DataFrame, blast_cutoff: float) -> pd.DataFrame:
    """One row per evaluable patient of study 000 with 0/1 factors and outcomes.

    Factors, as the paper names them: overt disease (R/R) vs MRD-positive;
    marrow blasts >= ``blast_cutoff`` (%; the paper's 10%, from the register);
    ABL1 kinase-domain mutation; CML-LBC vs Ph+ ALL. A missing blast count or
    mutation status stays missing (NaN) so the model fit can list the patient
    as excluded instead of dropping them unseen. Not-evaluable patients are
    left out here; :func:`not_evaluable` lists them.
    """
    _check_columns(patients, "patients", ["patient_id", "cohort", "marrow_blasts_pct", "abl_kd_mutation"])
    merged = classified[classified["evaluable"]].merge(
        patients[["patient_id", "marrow_blasts_pct", "abl_kd_mutation"]], on="patient_id", how="left",
        validate="one_to_one")
    blasts = merged["marrow_blasts_pct"].astype(float)
    mutation = merged["abl_kd_mutation"].astype("float")
    return pd.DataFrame({
        "patient_id": merged["patient_id"],
        "cohort": merged["cohort"],
        "overt": merged["overt"].astype(int),
        "blasts_ge_cutoff": np.where(blasts.isna(), np.nan, (blasts >= blast_cutoff).astype(float)),
        "abl_kd": mutation,
        "cml_lbc": (merged["cohort"] == "CML-LBC").astype(int),
        "response": merged["response"].astype(int),
        "mrd_negative_cr": merged["mrd_negative_cr"].astype(int),
    })


def say(text: str):
    """A computed sentence for the chapter text (numbers come from the data, not typed)."""
    from .chapter import HTMLBlock

    return HTMLBlock(f"<p class='computed-text'>{html.escape(text)}</p>", text)


def rates_000(classified: pd.DataFrame) -> pd.DataFrame:
    """Response and MRD-negative CR by cohort, overall and within the R/R and MRD+ subgroups."""
    frame = classified.assign(subgroup=np.where(classified["overt"], "Overt disease (R/R)", "MRD-positive"))
    parts = []
    for flag, label in (("response", "Response"), ("mrd_negative_cr", "MRD-negative CR")):
        overall = rates(frame, flag, ["cohort"], label=label).assign(subgroup="All patients")
        within = rates(frame, flag, ["subgroup", "cohort"], label=label)
        parts += [overall, within]
    table = pd.concat(parts, ignore_index=True)
    order = {"All patients": 0, "Overt disease (R/R)": 1, "MRD-positive": 2}
    table = table.assign(_o=table["subgroup"].map(order)).sort_values(["outcome", "_o", "cohort"],
                                                                       ascending=[False, True, True])
    return table.drop(columns="_o").reset_index(drop=True)[
        ["outcome", "subgroup", "cohort", "k", "n", "not_evaluable", "pct", "cp_lower", "cp_upper",
         "wilson_lower", "wilson_upper"]]


# register ids of the published study-000 rates, keyed by (subgroup, cohort, outcome)
PUBLISHED_000 = {
    ("All patients", "CML-LBC", "Response"): "000-response-lbc",
    ("All patients", "Ph+ ALL", "Response"): "000-response-phall",
    ("All patients", "CML-LBC", "MRD-negative CR"): "000-mrdnegcr-lbc",
    ("All patients", "Ph+ ALL", "MRD-negative CR"): "000-mrdnegcr-phall",
    ("Overt disease (R/R)", "CML-LBC", "MRD-negative CR"): "000-mrdnegcr-rr-lbc",
    ("Overt disease (R/R)", "Ph+ ALL", "MRD-negative CR"): "000-mrdnegcr-rr-phall",
    ("MRD-positive", "CML-LBC", "MRD-negative CR"): "000-mrdnegcr-mrdpos-lbc",
    ("MRD-positive", "Ph+ ALL", "MRD-negative CR"): "000-mrdnegcr-mrdpos-phall",
}
# published P values of study 000 and the comparison each belongs to: (subgroup, outcome)
PUBLISHED_P_000 = {
    ("All patients", "Response"): "000-response-p",
    ("All patients", "MRD-negative CR"): "000-mrdnegcr-p",
    ("Overt disease (R/R)", "MRD-negative CR"): "000-mrdnegcr-rr-p",
    ("MRD-positive", "MRD-negative CR"): "000-mrdnegcr-mrdpos-p",
}


def comparisons_000(classified: pd.DataFrame, register_csv=REGISTER_CSV) -> pd.DataFrame:
    """Fisher and Yates for every (subgroup, outcome) of study 000, marked against the published P."""
    frame = classified.assign(subgroup=np.where(classified["overt"], "Overt disease (R/R)", "MRD-positive"))
    rows = []
    for subgroup in ("All patients", "Overt disease (R/R)", "MRD-positive"):
        part = frame if subgroup == "All patients" else frame[frame["subgroup"] == subgroup]
        for flag, label in (("response", "Response"), ("mrd_negative_cr", "MRD-negative CR")):
            rid = PUBLISHED_P_000.get((subgroup, label))
            published = str(reg.entry(rid, register_csv)["value_text"]) if rid else None
            rows.append(group_comparison(part, flag, "cohort", ("CML-LBC", "Ph+ ALL"), published_p=published,
                                         label=f"{label}, {subgroup.lower()}"))
    return pd.concat(rows, ignore_index=True)


# --------------------------------------------------------------------------- #
# chapter building blocks for studies 004 and 003, and the published-CI table
# --------------------------------------------------------------------------- #
CHARACTERISTICS_004 = {
    # column of patients -> (label of the characteristic, {value: group label})
    "extramedullary_disease": ("Extramedullary disease", {"none": "No EMD", "cns": "CNS", "non_cns": "Non-CNS EMD"}),
    "tregs_high": ("Regulatory T cells", {True: "High Tregs", False: "Low Tregs"}),
    "high_risk_genetics": ("Genetics", {True: "High-risk genetics", False: "Standard-risk genetics"}),
}


def classify_004(cohort: dict) -> pd.DataFrame:
    """Study 004 classified, with one readable column per characteristic of
    :data:`CHARACTERISTICS_004` ("not recorded" where the value is missing)."""
    classified = classify(cohort["patients"], cohort["responses"])
    patients = cohort["patients"].set_index("patient_id")
    for column, (_, mapping) in CHARACTERISTICS_004.items():
        values = classified["patient_id"].map(patients[column]) if column in patients else pd.Series(np.nan, index=classified.index)
        classified[column] = values.map(mapping).fillna("not recorded")
    return classified


def subgroup_rates_004(classified: pd.DataFrame, flag: str = "remission", label: str = "Remission") -> pd.DataFrame:
    """Remission by each characteristic of study 004 (columns: characteristic, group, k, n, ...)."""
    parts = []
    for column, (name, _) in CHARACTERISTICS_004.items():
        parts.append(rates(classified, flag, [column], label=label).rename(columns={column: "group"})
                     .assign(characteristic=name))
    return pd.concat(parts, ignore_index=True)


def salvage_rates_003(salvage: pd.DataFrame) -> pd.DataFrame:
    """The study-003 salvage rates, each with its own denominator:
    salvage given (all patients), CR among the treated, CR among all patients, CR after antibody salvage."""
    treated = salvage[salvage["salvage"]]
    antibody = salvage[salvage["antibody_salvage"]]
    return pd.concat([
        rates(salvage.assign(evaluable=True), "salvage", label="Salvage after progression"),
        rates(treated.assign(evaluable=treated["evaluable_after_progression"]), "remission",
              label="CR after salvage (of the treated)"),
        rates(salvage.assign(evaluable=True), "salvage_cr", label="CR after salvage (of all patients)"),
        rates(antibody.assign(evaluable=antibody["evaluable_after_progression"]), "remission",
              label="CR after blinatumomab and/or inotuzumab"),
    ], ignore_index=True)


PUBLISHED_003 = {
    ("Salvage after progression",): "003-salvage-all",
    ("CR after salvage (of the treated)",): "003-salvage-cr",
    ("CR after blinatumomab and/or inotuzumab",): "003-blina-ino-cr",
}


def published_ci_table(register_ids: Sequence[str], register_csv=REGISTER_CSV) -> pd.DataFrame:
    """Exact and Wilson 95% CIs computed from the published counts alone (recomputed numbers)."""
    rows = []
    for rid in register_ids:
        entry = reg.entry(rid, register_csv)
        if pd.isna(entry["numerator"]) or pd.isna(entry["denominator"]):
            raise ValueError(f"{rid}: the register gives no numerator/denominator to compute a CI from")
        ci = proportion_table(int(entry["numerator"]), int(entry["denominator"])).iloc[0]
        rows.append({"register_id": rid, "quantity": entry["quantity"], "group": entry["group"],
                     "published": published_text(rid, register_csv),
                     "exact 95% CI": f"{100 * ci['cp_lower']:.1f}–{100 * ci['cp_upper']:.1f}%",
                     "Wilson 95% CI": f"{100 * ci['wilson_lower']:.1f}–{100 * ci['wilson_upper']:.1f}%",
                     "where": entry["location"]})
    return pd.DataFrame(rows)
