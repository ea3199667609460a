"""Checks on data/published_register.csv, the register of every published number.

Self-contained: the tests recompute what can be recomputed (rounding of
percentages, 2x2 P values, Cox P values from their confidence intervals,
implied denominators) and compare it with the register.
"""

from __future__ import annotations

import csv
import math
import re
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import pytest
from scipy.stats import chi2_contingency, fisher_exact, norm

from helpers.paths import REGISTER_CSV, SEEDS_DIR
from helpers.reproduction import KINDS, REGISTER_COLUMNS, load_register

STUDIES = {"000", "001", "003", "004"}

MANDATORY_IDS = """
000-n-lbc 000-n-phall 000-n-all
000-status-primary_refractory-lbc 000-status-primary_refractory-phall
000-status-first_relapse-lbc 000-status-first_relapse-phall
000-status-second_or_later_relapse-lbc 000-status-second_or_later_relapse-phall
000-status-mrd_positive-lbc 000-status-mrd_positive-phall
000-ablkd-lbc 000-ablkd-phall 000-ablkd-p
000-response-lbc 000-response-phall 000-response-p
000-mrdnegcr-lbc 000-mrdnegcr-phall 000-mrdnegcr-p
000-mrdnegcr-rr-lbc 000-mrdnegcr-rr-phall 000-mrdnegcr-rr-p
000-mrdnegcr-mrdpos-lbc 000-mrdnegcr-mrdpos-phall 000-mrdnegcr-mrdpos-p
000-crs-any-all 000-crs-severe-lbc 000-crs-severe-phall 000-crs-severe-p
000-cytokines-monitored-all
000-expansion-active-n-lbc 000-expansion-active-n-phall 000-expansion-active-peak-p
000-followup-median 000-followup-min 000-followup-max
000-os2y-lbc 000-os2y-phall 000-os2y-p 000-lfs2y-lbc 000-lfs2y-phall 000-lfs2y-p
000-cir2y-lbc 000-cir2y-phall 000-cir2y-p
000-hsct-n-lbc 000-hsct-n-phall 000-hsct-relapse-lbc 000-hsct-relapse-phall
000-lfs2y-ablkd-mut 000-lfs2y-ablkd-wt 000-lfs2y-ablkd-p
000-cox-ablkd-hr 000-cox-ablkd-p 000-cox-lbc-hr 000-cox-lbc-p
003-n-all 003-ttp-median 003-os-postprog-median 003-salvage-all 003-salvage-cr 003-blina-ino-cr
004-n-all 004-orr-all 004-os1y-all 004-rfs1y-all 004-grade4-ae-all 004-orr-emd-noncns
001-p1-age 001-p2-age 001-p1-cart-peak-day 001-p2-cart-peak-day
001-p1-anc-recovery-day 001-p2-anc-recovery-day 001-p1-plt-recovery-day 001-p2-plt-recovery-day
001-car-dose 001-crs-grade-p1 001-crs-grade-p2
""".split()

STATUSES = ("primary_refractory", "first_relapse", "second_or_later_relapse", "mrd_positive")
RR_STATUSES = STATUSES[:3]


# ------------------------------------------------------------------ fixtures and helpers
@pytest.fixture(scope="module")
def raw():
    """Header and rows exactly as stored (strings), independent of the loader."""
    with open(REGISTER_CSV, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = [dict(zip(header, r)) for r in reader]
    return header, rows


@pytest.fixture(scope="module")
def reg() -> pd.DataFrame:
    return load_register(REGISTER_CSV)


def half_up(x: Decimal, decimals: int) -> Decimal:
    return x.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def pct_text(k: int, n: int, decimals: int) -> str:
    return str(half_up(Decimal(100 * k) / Decimal(n), decimals))


def decimals_of(text: str) -> int:
    num = text.strip().lstrip("<>= ").rstrip("%")
    return len(num.split(".")[1]) if "." in num else 0


def numeric(text: str) -> float:
    return float(text.strip().lstrip("<>= ").rstrip("%").strip())


def rounds_to(p: float, published: str) -> bool:
    """Does p, at the published precision, agree with the printed P (ROUND_HALF_UP)?"""
    published = published.strip()
    if published.startswith("<"):
        return p < numeric(published)
    if published.startswith(">"):
        return p > numeric(published)
    return half_up(Decimal(repr(float(p))), decimals_of(published)) == Decimal(published)


def ival(reg, rid, col="numerator") -> int:
    return int(reg.loc[rid, col])


# ------------------------------------------------------------------ structure
def test_loads_with_exact_columns(raw, reg):
    header, rows = raw
    assert tuple(header) == REGISTER_COLUMNS
    assert tuple(reg.columns) == REGISTER_COLUMNS
    assert len(reg) == len(rows) > 100


def test_ids_unique_and_well_formed(raw):
    _, rows = raw
    ids = [r["register_id"] for r in rows]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    pattern = re.compile(r"^(000|001|003|004)(-[a-z0-9_]+)+$")
    bad = [i for i in ids if not pattern.match(i)]
    assert not bad
    assert all(r["register_id"].startswith(r["study"] + "-") for r in rows)


def test_study_and_kind_vocabulary(raw):
    _, rows = raw
    assert {r["study"] for r in rows} == STUDIES
    assert not [r["register_id"] for r in rows if r["kind"] not in KINDS]


def test_required_text_fields_present(raw):
    _, rows = raw
    for col in ("location", "quantity", "group", "value_text"):
        assert not [r["register_id"] for r in rows if not r[col].strip()], col


def test_counts_are_plain_integers(raw):
    _, rows = raw
    for r in rows:
        for col in ("numerator", "denominator"):
            assert r[col] == "" or re.fullmatch(r"\d+", r[col]), (r["register_id"], col, r[col])
        if r["numerator"] and r["denominator"]:
            assert int(r["numerator"]) <= int(r["denominator"]), r["register_id"]


def test_relation_and_dates(reg):
    dates = reg[reg["kind"] == "date"]
    assert dates["value"].isna().all()
    assert dates["value_text"].str.contains(r"\b(?:19|20)\d\d\b").all()
    others = reg[reg["kind"] != "date"]
    assert others["value"].notna().all(), others.index[others["value"].isna()].tolist()
    assert others["relation"].isin(["=", "<", ">"]).all()


def test_count_rows_carry_their_count(reg):
    counts = reg[reg["kind"] == "count"]
    assert counts["numerator"].notna().all()
    assert (counts["numerator"] == counts["value"]).all()


def test_value_matches_value_text(reg):
    kinds = ("proportion", "p_value", "survival_rate", "cumulative_incidence", "hazard_ratio", "median_time")
    rows = reg[reg["kind"].isin(kinds)]
    bad = [rid for rid, r in rows.iterrows() if not math.isclose(numeric(r["value_text"]), r["value"], rel_tol=1e-12)]
    assert not bad


# ------------------------------------------------------------------ proportions
def test_proportions_round_from_counts(reg):
    props = reg[(reg["kind"] == "proportion") & reg["numerator"].notna() & reg["denominator"].notna()]
    assert len(props) >= 29
    bad = []
    for rid, r in props.iterrows():
        text = r["value_text"].rstrip("%")
        expected = pct_text(int(r["numerator"]), int(r["denominator"]), decimals_of(text))
        if expected != text:
            bad.append((rid, r["value_text"], expected))
    assert not bad


def test_proportions_have_counts_outside_citations(reg):
    props = reg[(reg["kind"] == "proportion") & (reg["study"] != "001")]
    missing = props.index[props["numerator"].isna() | props["denominator"].isna()].tolist()
    assert not missing


def test_rounding_is_half_up_not_bankers():
    # 8.25 -> "8.3" under ROUND_HALF_UP; Python's round() gives 8.2.
    assert pct_text(33, 400, 1) == "8.3"
    assert pct_text(1, 8, 1) == "12.5" and pct_text(1, 8, 0) == "13"


# ------------------------------------------------------------------ P values
def test_p_values_in_range_and_relation_matches_text(reg):
    ps = reg[reg["kind"] == "p_value"]
    assert ((ps["value"] > 0) & (ps["value"] <= 1)).all()
    for rid, r in ps.iterrows():
        expected = "<" if r["value_text"].startswith("<") else ">" if r["value_text"].startswith(">") else "="
        assert r["relation"] == expected, rid
        assert isinstance(r["test_evident"], str) and r["test_evident"], rid


def test_p_value_compares_exist(reg):
    ps = reg[reg["kind"] == "p_value"]
    for rid, r in ps.iterrows():
        assert isinstance(r["compares"], str) and r["compares"], rid
        for other in r["compares"].split(";"):
            assert other in reg.index, (rid, other)


def test_two_by_two_p_values_name_the_matching_test(reg):
    """For every P comparing two count proportions, recompute Fisher and Yates."""
    checked = 0
    for rid, r in reg[reg["kind"] == "p_value"].iterrows():
        ids = r["compares"].split(";")
        if len(ids) != 2 or not all(reg.loc[i, "kind"] == "proportion" for i in ids):
            continue
        (a, n1), (b, n2) = [(ival(reg, i), ival(reg, i, "denominator")) for i in ids]
        table = [[a, n1 - a], [b, n2 - b]]
        fisher = fisher_exact(table)[1]
        yates = chi2_contingency(table, correction=True)[1]
        f_ok, y_ok = rounds_to(fisher, r["value_text"]), rounds_to(yates, r["value_text"])
        label = "both" if f_ok and y_ok else "Fisher exact" if f_ok else "Yates chi-square" if y_ok else "neither"
        assert r["test_evident"] == label, (rid, fisher, yates)
        assert f"{fisher:.5f}" in r["note"] and f"{yates:.5f}" in r["note"], rid
        checked += 1
    assert checked == 6


def test_known_test_choices_for_study_000(reg):
    expected = {"000-ablkd-p": "Yates chi-square", "000-response-p": "Yates chi-square",
                "000-mrdnegcr-p": "both", "000-mrdnegcr-rr-p": "Fisher exact",
                "000-mrdnegcr-mrdpos-p": "Fisher exact", "000-crs-severe-p": "both"}
    assert {k: reg.loc[k, "test_evident"] for k in expected} == expected


def test_survival_p_values_presume_log_rank(reg):
    for rid in ("000-os2y-p", "000-lfs2y-p", "000-cir2y-p", "000-lfs2y-ablkd-p"):
        assert reg.loc[rid, "test_evident"] == "not stated (log-rank presumed)"


def test_mandatory_ids_exist(reg):
    missing = [i for i in MANDATORY_IDS if i not in reg.index]
    assert not missing


# ------------------------------------------------------------------ study 000 arithmetic
def test_000_cohort_sizes(reg):
    assert (ival(reg, "000-n-lbc"), ival(reg, "000-n-phall"), ival(reg, "000-n-all")) == (13, 121, 134)
    assert ival(reg, "000-n-lbc") + ival(reg, "000-n-phall") == ival(reg, "000-n-all")
    assert ival(reg, "000-crs-any-all", "denominator") == ival(reg, "000-n-all")
    assert ival(reg, "000-cytokines-monitored-all") == 126 <= ival(reg, "000-n-all")


@pytest.mark.parametrize("arm, n", [("lbc", 13), ("phall", 121)])
def test_000_status_counts_sum_to_cohort(reg, arm, n):
    assert sum(ival(reg, f"000-status-{s}-{arm}") for s in STATUSES) == n
    assert all(ival(reg, f"000-status-{s}-{arm}", "denominator") == n for s in STATUSES)


def test_000_subgroup_denominators(reg):
    rr_lbc = sum(ival(reg, f"000-status-{s}-lbc") for s in RR_STATUSES)
    rr_ph = sum(ival(reg, f"000-status-{s}-phall") for s in RR_STATUSES)
    assert (rr_lbc, rr_ph) == (7, 44)
    not_evaluable = 121 - ival(reg, "000-response-phall", "denominator")
    assert not_evaluable == 2
    assert ival(reg, "000-mrdnegcr-rr-lbc", "denominator") == rr_lbc
    assert ival(reg, "000-mrdnegcr-rr-phall", "denominator") == rr_ph - not_evaluable == 42
    assert ival(reg, "000-mrdnegcr-mrdpos-lbc", "denominator") == ival(reg, "000-status-mrd_positive-lbc")
    assert ival(reg, "000-mrdnegcr-mrdpos-phall", "denominator") == ival(reg, "000-status-mrd_positive-phall")
    assert ival(reg, "000-expansion-active-n-lbc") == rr_lbc
    assert ival(reg, "000-expansion-active-n-phall") == rr_ph
    assert "42" in reg.loc["000-mrdnegcr-rr-phall", "note"] and "44" in reg.loc["000-mrdnegcr-rr-phall", "note"]


@pytest.mark.parametrize("arm, total", [("lbc", 3), ("phall", 89)])
def test_000_mrd_negative_cr_subgroups_add_up(reg, arm, total):
    parts = ival(reg, f"000-mrdnegcr-rr-{arm}") + ival(reg, f"000-mrdnegcr-mrdpos-{arm}")
    assert parts == ival(reg, f"000-mrdnegcr-{arm}") == total
    assert (ival(reg, f"000-mrdnegcr-rr-{arm}", "denominator") + ival(reg, f"000-mrdnegcr-mrdpos-{arm}", "denominator")
            == ival(reg, f"000-mrdnegcr-{arm}", "denominator"))


def test_000_followup_range_ordered(reg):
    assert reg.loc["000-followup-min", "value"] <= reg.loc["000-followup-median", "value"] <= reg.loc["000-followup-max", "value"]
    assert (reg.loc["000-followup-min", "value_text"], reg.loc["000-followup-max", "value_text"]) == ("0.5", "77")


@pytest.mark.parametrize("arm", ["lbc", "phall"])
def test_000_lfs_cir_conflict_recorded(reg, arm):
    lfs, cir = reg.loc[f"000-lfs2y-{arm}", "value"], reg.loc[f"000-cir2y-{arm}", "value"]
    assert lfs + cir > 100  # the published pair is impossible on one population ...
    for rid in (f"000-lfs2y-{arm}", f"000-cir2y-{arm}"):
        assert "exceeds 100%" in reg.loc[rid, "note"]  # ... and the register says so


def test_000_hsct_bridging(reg):
    assert (ival(reg, "000-hsct-n-lbc"), ival(reg, "000-hsct-n-phall")) == (3, 47)
    assert ival(reg, "000-hsct-relapse-lbc", "denominator") == ival(reg, "000-hsct-n-lbc")
    assert ival(reg, "000-hsct-relapse-phall", "denominator") == ival(reg, "000-hsct-n-phall")


@pytest.mark.parametrize("stem", ["000-cox-ablkd", "000-cox-lbc"])
def test_000_cox_p_consistent_with_ci(reg, stem):
    hr_row, p_row = reg.loc[f"{stem}-hr"], reg.loc[f"{stem}-p"]
    hr, lo, hi = hr_row["value"], hr_row["ci_lower"], hr_row["ci_upper"]
    assert lo < hr < hi
    assert abs(math.sqrt(lo * hi) - hr) < 0.002  # CI symmetric on the log scale around the HR
    se = (math.log(hi) - math.log(lo)) / (2 * norm.ppf(0.975))
    p = 2 * norm.sf(abs(math.log(hr) / se))
    assert rounds_to(p, p_row["value_text"]), (stem, p, p_row["value_text"])
    assert p_row["test_evident"] == "Wald (Cox model)"
    assert p_row["compares"] == f"{stem}-hr"


# ------------------------------------------------------------------ studies 003 and 004
def test_003_salvage_cr_denominator(reg):
    assert pct_text(13, 30, 0) == "43" and pct_text(13, 38, 0) != "43"
    assert (ival(reg, "003-salvage-cr"), ival(reg, "003-salvage-cr", "denominator")) == (13, 30)
    assert ival(reg, "003-salvage-cr", "denominator") == ival(reg, "003-salvage-all")
    assert ival(reg, "003-salvage-all", "denominator") == ival(reg, "003-n-all") == 38
    assert ival(reg, "003-blina-ino-cr", "denominator") == 12


def _denominators(text: str, n_max: int) -> list[int]:
    decimals = decimals_of(text)
    target = text.rstrip("%")
    return [n for n in range(1, n_max + 1) if any(pct_text(k, n, decimals) == target for k in range(n + 1))]


def test_004_evaluable_denominator_is_47(reg):
    n_all = ival(reg, "004-n-all")
    assert n_all == 51
    assert _denominators(reg.loc["004-orr-all", "value_text"], n_all) == [47]
    assert _denominators(reg.loc["004-grade4-ae-all", "value_text"], n_all) == [47]
    assert (ival(reg, "004-orr-all"), ival(reg, "004-orr-all", "denominator")) == (38, 47)
    assert (ival(reg, "004-grade4-ae-all"), ival(reg, "004-grade4-ae-all", "denominator")) == (3, 47)


def test_004_noncns_emd_smallest_denominator(reg):
    options = _denominators(reg.loc["004-orr-emd-noncns", "value_text"], 51)
    assert options[0] == 7
    assert ival(reg, "004-orr-emd-noncns", "denominator") == min(options)
    assert ival(reg, "004-orr-emd-noncns") == 2


# ------------------------------------------------------------------ study 001
def test_001_patient_facts(reg):
    assert (reg.loc["001-p1-age", "value"], reg.loc["001-p2-age", "value"]) == (34, 32)
    assert (reg.loc["001-p1-cart-peak-day", "value"], reg.loc["001-p2-cart-peak-day", "value"]) == (4, 6)
    assert (reg.loc["001-p1-anc-recovery-day", "value"], reg.loc["001-p2-anc-recovery-day", "value"]) == (14, 7)
    assert reg.loc["001-car-dose", "value"] == 1e7
    assert reg.loc["001-fig1b-blasts-pre", "value_text"] == "28.8%"
    assert math.isclose(reg.loc["001-fig1b-blasts-post", "value"], 7.3e-4)
    assert reg.loc["001-p1-bcrabl-nilotinib-1mo", "value_text"] == "11.30%"  # trailing zero kept
    assert "citation" in reg.loc["001-cite-aml-orr", "note"].lower()


def test_001_dates_are_dates(reg):
    dates = reg[(reg["study"] == "001") & reg.index.str.contains("-date-")]
    assert len(dates) >= 9
    assert (dates["kind"] == "date").all()


def test_001_disagreements_recorded(reg):
    assert (reg.loc["001-p1-bcrabl-pre-cart", "value"], reg.loc["001-p1-bcrabl-pre-cart-fig1d", "value"]) == (55.7, 24)
    for rid in ("001-p1-bcrabl-pre-cart", "001-p1-bcrabl-pre-cart-fig1d"):
        assert "disagrees" in reg.loc[rid, "note"]
    assert reg.loc["001-p1-bcrabl-zero-time-fig1d", "value"] != reg.loc["001-p1-cr-time", "value"]
    assert "disagrees" in reg.loc["001-p1-bcrabl-zero-time-fig1d", "note"]


# ------------------------------------------------------------------ own words only
def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def test_no_sentences_copied_from_the_papers(reg):
    seeds = sorted(SEEDS_DIR.glob("*.txt")) if SEEDS_DIR.is_dir() else []
    if not seeds:
        pytest.skip(f"seed papers not found under {SEEDS_DIR}")
    window = 8
    grams = set()
    for path in seeds:
        words = _words(path.read_text(encoding="utf-8"))
        grams.update(tuple(words[i:i + window]) for i in range(len(words) - window + 1))
    copied = []
    for rid, r in reg.iterrows():
        for col in ("quantity", "note"):
            if not isinstance(r[col], str):
                continue
            words = _words(r[col])
            if any(tuple(words[i:i + window]) in grams for i in range(len(words) - window + 1)):
                copied.append((rid, col))
    assert not copied
