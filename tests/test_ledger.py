"""The ledger's rules, checked on hand-worked cases (exact arithmetic, not the code's own output)."""

import pandas as pd
import pytest

from helpers import reproduction
from helpers.reproduction.claims import CLAIM_COLUMNS, decide


@pytest.fixture()
def register_csv(tmp_path):
    rows = [
        # register_id, kind, numerator, denominator, value, value_text
        ("T-prop", "proportion", 6, 13, 46.2, "46.2%"),
        ("T-p", "p_value", None, None, 0.036, "0.036"),
        ("T-plt", "p_value", None, None, 0.001, "< 0.001"),
        ("T-one", "p_value", None, None, 1.0, "1.000"),
        ("T-surv", "survival_rate", None, None, 49.5, "49.5%"),
        ("T-hr", "hazard_ratio", None, None, 3.411, "3.411"),
    ]
    frame = pd.DataFrame([{c: "" for c in reproduction.REGISTER_COLUMNS} | {
        "register_id": r, "study": "999", "kind": k, "numerator": num, "denominator": den,
        "value": v, "value_text": t, "quantity": f"q {r}", "group": "g", "location": "here",
        "relation": "<" if t.startswith("<") else "="} for r, k, num, den, v, t in rows])
    path = tmp_path / "register.csv"
    frame.to_csv(path, index=False)
    return path


def make(register_csv, tmp_path):
    return reproduction.Ledger("test-chapter", tmp_path / "parts", register_csv)


def record(register_csv, tmp_path, *args, **kwargs) -> dict:
    """One row on a fresh ledger (a ledger refuses a second row for the same number)."""
    return make(register_csv, tmp_path).record(*args, **kwargs)


def test_exact_means_rounds_to_the_printed_value(register_csv, tmp_path):
    # 0.03608 prints as 0.036; 0.0365 prints as 0.037 with half-up rounding (not 0.036).
    assert record(register_csv, tmp_path, "T-p", 0.03608, basis="recomputed")["status"] == "exact"
    assert record(register_csv, tmp_path, "T-p", 0.0365, basis="recomputed")["status"] == "differs"
    assert record(register_csv, tmp_path, "T-p", 0.03549, basis="recomputed")["status"] == "differs"


def test_less_than_published_values(register_csv, tmp_path):
    assert record(register_csv, tmp_path, "T-plt", 0.00036, basis="recomputed")["status"] == "exact"
    assert record(register_csv, tmp_path, "T-plt", 0.0011, basis="recomputed")["status"] == "differs"


def test_tolerances_come_from_the_one_table_by_kind(register_csv, tmp_path):
    # survival rates ±2 points, hazard ratios ±15 %, P values ×/÷ 1.5: for synthetic values only
    assert record(register_csv, tmp_path, "T-surv", 51.4, basis="synthetic")["status"] == "within-tolerance"
    assert record(register_csv, tmp_path, "T-surv", 51.6, basis="synthetic")["status"] == "differs"
    assert record(register_csv, tmp_path, "T-hr", 3.411 * 1.149, basis="synthetic")["status"] == "within-tolerance"
    assert record(register_csv, tmp_path, "T-hr", 3.411 * 1.151, basis="synthetic")["status"] == "differs"
    assert record(register_csv, tmp_path, "T-p", 0.036 / 1.49, basis="synthetic")["status"] == "within-tolerance"
    assert record(register_csv, tmp_path, "T-p", 0.036 * 1.51, basis="synthetic")["status"] == "differs"
    # recomputed from published counts: exact or it differs
    assert record(register_csv, tmp_path, "T-p", 0.036 / 1.49, basis="recomputed")["status"] == "differs"
    assert record(register_csv, tmp_path, "T-surv", 51.4, basis="synthetic")["tolerance"] == "±2"


def test_a_number_is_recorded_once_per_chapter(register_csv, tmp_path):
    book = make(register_csv, tmp_path)
    book.record("T-p", 0.036, basis="recomputed")
    with pytest.raises(ValueError, match="T-p is recorded twice"):
        book.record("T-p", 0.036, basis="recomputed")
    with pytest.raises(TypeError):
        book.record("T-hr", 3.0, basis="synthetic", tolerance=reproduction.Tolerance(relative=1.0))


def test_the_merge_decides_every_status_again_from_the_recorded_value(register_csv, tmp_path):
    book = make(register_csv, tmp_path)
    book.record("T-surv", 60.0, basis="synthetic")       # differs: 10.5 points off
    book.record_proportion("T-prop", 12, 26, basis="synthetic")  # differs: not the published counts
    book.record_text("T-one", "0.5")                      # differs
    part = tmp_path / "parts" / "test-chapter.csv"
    faked = pd.read_csv(part, dtype=str, keep_default_na=False).assign(status="exact", tolerance="±99")
    faked.to_csv(part, index=False)
    no_claims = tmp_path / "claims.csv"
    no_claims.write_text(",".join(CLAIM_COLUMNS) + "\n")
    merged = reproduction.merge_ledger(tmp_path / "parts", tmp_path / "ledger.csv", chapters=["test-chapter"],
                                       register_csv=register_csv, claims_csv=no_claims).set_index("register_id")
    assert merged.loc[["T-surv", "T-prop", "T-one"], "status"].tolist() == ["differs"] * 3
    assert merged.loc["T-surv", "tolerance"] == "±2"


def test_proportions_need_the_published_counts(register_csv, tmp_path):
    assert make(register_csv, tmp_path).record_proportion("T-prop", 6, 13, basis="synthetic")["status"] == "exact"
    # 12/26 is also 46.2 % but is not the published 6/13.
    assert make(register_csv, tmp_path).record_proportion("T-prop", 12, 26, basis="synthetic")["status"] == "differs"
    row = make(register_csv, tmp_path).record_proportion("T-prop", 6, 13, basis="synthetic")
    assert row["published"] == "6/13 (46.2%)" and row["reproduced"] == "6/13 (46.2%)"


def test_reproduced_values_print_with_the_papers_precision(register_csv, tmp_path):
    book = make(register_csv, tmp_path)
    assert book.record("T-surv", 49.45, basis="synthetic")["reproduced"] == "49.5%"  # half-up
    assert book.record("T-hr", 3.4114, basis="synthetic")["reproduced"] == "3.411"
    assert book.record("T-one", 1.0, basis="recomputed")["status"] == "exact"


def test_unknown_ids_and_bad_basis_are_refused(register_csv, tmp_path):
    book = make(register_csv, tmp_path)
    with pytest.raises(KeyError, match="no register row with register_id 'nope'"):
        book.record("nope", 1.0, basis="synthetic")
    with pytest.raises(ValueError, match="basis must be one of"):
        book.record("T-p", 0.036, basis="made-up")
    with pytest.raises(ValueError, match="needs a note"):
        book.not_reproducible("T-p", note="  ")


def test_merge_lists_every_register_row_once(register_csv, tmp_path):
    book = make(register_csv, tmp_path)
    book.record("T-p", 0.03608, basis="recomputed")
    book.record_proportion("T-prop", 6, 13, basis="synthetic")
    no_claims = tmp_path / "claims.csv"
    no_claims.write_text(",".join(CLAIM_COLUMNS) + "\n")
    merged = reproduction.merge_ledger(tmp_path / "parts", tmp_path / "ledger.csv", chapters=["test-chapter"],
                            register_csv=register_csv, claims_csv=no_claims)
    assert list(merged.columns) == list(reproduction.LEDGER_COLUMNS)
    assert sorted(merged["register_id"]) == sorted(["T-prop", "T-p", "T-plt", "T-one", "T-surv", "T-hr"])
    pending = merged[merged["chapter"] == ""]
    assert set(pending["status"]) == {"not-reproducible"} and len(pending) == 4
    assert set(merged["status"]) <= set(reproduction.STATUSES)
    # A part from a chapter no longer in the book is ignored.
    other = reproduction.Ledger("removed-chapter", tmp_path / "parts", register_csv)
    other.record("T-hr", 3.411, basis="synthetic")
    again = reproduction.merge_ledger(tmp_path / "parts", tmp_path / "ledger.csv", chapters=["test-chapter"],
                           register_csv=register_csv, claims_csv=no_claims)
    assert (again["chapter"] == "removed-chapter").sum() == 0


def test_text_facts_compare_as_printed(register_csv, tmp_path):
    assert make(register_csv, tmp_path).record_text("T-p", " 0.036 ")["status"] == "exact"
    assert make(register_csv, tmp_path).record_text("T-p", "0.0360")["status"] == "differs"


def _provenance(folder, study, rows):
    (folder / study).mkdir(parents=True)
    pd.DataFrame(rows, columns=["table", "column", "provenance", "register_ids", "note"]).to_csv(
        folder / study / "provenance.csv", index=False)


def test_evidence_is_decided_by_the_generators_provenance_not_by_the_chapter(register_csv, tmp_path):
    data = tmp_path / "data"
    _provenance(data, "999", [("outcomes", "followup_days", "calibrated", "T-surv;T-hr", "calibrated"),
                              ("patients", "age_years", "synthetic", "", "invented")])
    book = make(register_csv, tmp_path)
    book.record("T-p", 0.036, basis="recomputed")
    book.record_text("T-one", "1.000")
    book.record("T-surv", 49.5, basis="synthetic")
    book.record("T-plt", 0.0004, basis="synthetic")
    # A chapter part that tries to set its own evidence (here: "emergent" for a calibration target).
    part = tmp_path / "parts" / "test-chapter.csv"
    pd.read_csv(part, dtype=str, keep_default_na=False).assign(evidence="emergent").to_csv(part, index=False)
    merged = reproduction.merge_ledger(tmp_path / "parts", tmp_path / "ledger.csv", chapters=["test-chapter"],
                                       register_csv=register_csv, data_dir=data).set_index("register_id")
    assert merged.loc["T-p", "evidence"] == "recomputed"
    assert merged.loc["T-one", "evidence"] == "transcribed"
    assert merged.loc["T-surv", "evidence"] == "constructed"   # the generator was calibrated to it
    assert merged.loc["T-plt", "evidence"] == "emergent"       # computed, not a target
    assert merged.loc["T-hr", "evidence"] == ""                # named as a target, but not computed
    without = reproduction.merge_ledger(tmp_path / "parts", tmp_path / "ledger2.csv", chapters=["test-chapter"],
                                        register_csv=register_csv).set_index("register_id")
    assert without.loc["T-surv", "evidence"] == "emergent"      # no provenance: nothing is by design


def test_a_number_recorded_by_two_chapters_is_refused(register_csv, tmp_path):
    make(register_csv, tmp_path).record("T-p", 0.036, basis="recomputed")
    reproduction.Ledger("other-chapter", tmp_path / "parts", register_csv).record("T-p", 0.036, basis="recomputed")
    with pytest.raises(ValueError, match=r"T-p \(other-chapter, test-chapter\)"):
        reproduction.merge_ledger(tmp_path / "parts", tmp_path / "ledger.csv",
                                  chapters=["test-chapter", "other-chapter"], register_csv=register_csv)


def test_the_evidence_summary_lists_every_class_in_order_of_worth():
    frame = pd.DataFrame({"evidence": ["emergent", "transcribed", "", "transcribed"],
                          "status": ["differs", "exact", "not-reproducible", "exact"]})
    table = reproduction.status_summary(frame, by="evidence").set_index("evidence")
    assert list(table.index) == ["transcribed", "recomputed", "constructed", "emergent", "(none: not computed)"]
    assert table.loc["transcribed", "exact"] == 2 and table.loc["emergent", "differs"] == 1
    assert table.loc["(none: not computed)", "not-reproducible"] == 1 and table["total"].sum() == 4


def _claims_csv(tmp_path):
    base = {c: "" for c in CLAIM_COLUMNS} | {"study": "999", "location": "here", "model": "m", "testable": "yes",
                                              "chapter": "test-chapter"}
    rows = [
        base | {"claim_id": "C-worse", "statement": "A does worse", "kind": "difference", "direction": "worse",
                "measure": "hazard ratio", "expected": "above", "rule": "significant"},
        base | {"claim_id": "C-same", "statement": "no difference", "kind": "no-difference", "direction": "none",
                "measure": "risk difference", "expected": "none", "rule": "no-difference"},
        base | {"claim_id": "C-fewer", "statement": "A responds less (no P printed)", "kind": "difference",
                "direction": "lower", "measure": "risk difference", "expected": "below", "rule": "direction"},
        base | {"claim_id": "C-later", "statement": "testable, not yet computed", "kind": "association",
                "direction": "worse", "measure": "odds ratio", "expected": "below", "rule": "significant"},
        base | {"claim_id": "C-never", "statement": "n = 2", "kind": "difference", "direction": "better",
                "testable": "no", "chapter": "", "note": "two patients"},
    ]
    path = tmp_path / "claims.csv"
    pd.DataFrame(rows, columns=list(CLAIM_COLUMNS)).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("claim_id, estimate, p, status", [
    ("C-worse", 2.0, 0.01, "holds"),          # the expected side and significant
    ("C-worse", 2.0, 0.2, "contradicted"),    # the right side, but not significant
    ("C-worse", 0.5, 0.01, "contradicted"),   # significant, the wrong side
    ("C-worse", 1.0, 0.01, "contradicted"),   # on the null is on neither side
    ("C-same", 0.3, 0.05, "holds"),           # P = 0.05 is "no significant difference"
    ("C-same", -0.3, 0.049, "contradicted"),
    ("C-fewer", -0.1, 0.9, "holds"),          # descriptive: the side is all that is claimed
    ("C-fewer", 0.1, 0.001, "contradicted"),
])
def test_the_claim_rule(tmp_path, claim_id, estimate, p, status):
    claims = reproduction.load_claims(_claims_csv(tmp_path))
    assert decide(claims.loc[claim_id], estimate, p)[0] == status
    assert decide(claims.loc["C-never"], estimate, p)[0] == "not-testable"


def test_claims_are_merged_with_a_status_no_chapter_sets(register_csv, tmp_path):
    claims_csv = _claims_csv(tmp_path)
    book = make(register_csv, tmp_path)
    book.claim("C-worse", estimate=2.5, lower=1.2, upper=5.1, p_value=0.004, method="log-rank; Cox HR",
               claims_csv=claims_csv)
    book.claim("C-same", estimate=0.02, p_value=0.01, method="Fisher", claims_csv=claims_csv)
    book.claim("C-fewer", estimate=-0.2, p_value=0.5, method="difference of proportions", claims_csv=claims_csv)
    with pytest.raises(ValueError, match="recorded twice"):
        book.claim("C-same", estimate=0.0, p_value=0.9, method="Fisher", claims_csv=claims_csv)
    other = reproduction.Ledger("other-chapter", tmp_path / "parts", register_csv)
    with pytest.raises(ValueError, match="belongs to the test-chapter chapter"):
        other.claim("C-worse", estimate=9.0, p_value=0.0, method="x", claims_csv=claims_csv)
    # A part that carries its own "status" is not believed.
    part = tmp_path / "parts" / "claims" / "test-chapter.csv"
    pd.read_csv(part).assign(status="holds").to_csv(part, index=False)
    merged = reproduction.merge_ledger(tmp_path / "parts", tmp_path / "ledger.csv", chapters=["test-chapter"],
                                       register_csv=register_csv, claims_csv=claims_csv).set_index("register_id")
    assert merged.loc["C-worse", "status"] == "holds"
    assert merged.loc["C-worse", "reproduced"] == "hazard ratio 2.5 (95% CI 1.2–5.1), P = 0.004"
    assert merged.loc["C-same", "status"] == "contradicted"
    assert merged.loc["C-fewer", "status"] == "holds"
    assert merged.loc["C-later", "status"] == "not-evaluated" and merged.loc["C-later", "reproduced"] == ""
    assert merged.loc["C-never", "status"] == "not-testable" and merged.loc["C-never", "note"] == "two patients"
    assert merged.loc["C-worse", "evidence"] == "emergent"
    assert book.claims_table(claims_csv)["Status"].tolist() == ["holds", "contradicted", "holds"]


def test_the_claims_register_is_checked(tmp_path):
    path = _claims_csv(tmp_path)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[1, "expected"] = "above"  # a no-difference claim cannot predict a side
    frame.to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"row 3 \(C-same\): only a no-difference rule predicts no side"):
        reproduction.load_claims(path)


def test_the_books_claims_register_is_well_formed():
    claims = reproduction.load_claims()
    assert len(claims) == 40 and (claims["testable"] == "yes").sum() == 36


def test_a_recomputed_p_shows_the_same_test_on_the_cohorts_counts(tmp_path):
    """The recomputed P stays exact whatever the data hold; beside it, the merge runs the same
    test on the counts the chapter recorded from the cohort, so a change in the data shows."""
    import math

    rows = [("A", "proportion", 6, 13, 46.2, "46.2%", ""), ("B", "proportion", 21, 121, 17.4, "17.4%", ""),
            ("AB-p", "p_value", None, None, 0.036, "0.036", "A;B")]
    register = pd.DataFrame([{c: "" for c in reproduction.REGISTER_COLUMNS} | {
        "register_id": r, "study": "999", "kind": k, "numerator": num, "denominator": den, "value": v,
        "value_text": t, "quantity": f"q {r}", "group": "g", "location": "here", "relation": "=",
        "compares": cmp} for r, k, num, den, v, t, cmp in rows])
    register_csv = tmp_path / "register.csv"
    register.to_csv(register_csv, index=False)
    ledger = reproduction.Ledger("test-chapter", tmp_path / "parts", register_csv)
    ledger.record_proportion("A", 8, 13, basis="synthetic")      # the cohort moved: 8/13, not 6/13
    ledger.record_proportion("B", 21, 121, basis="synthetic")
    ledger.record("AB-p", 0.03608, basis="recomputed")           # Yates on 6/13 vs 21/121
    merged = reproduction.merge_ledger(tmp_path / "parts", tmp_path / "ledger.csv", register_csv=register_csv)
    row = merged.set_index("register_id").loc["AB-p"]
    assert row["status"] == "exact"                              # from the published counts, unchanged
    # Yates' corrected chi-square by its textbook formula on 8/13 vs 21/121 (1 df: P = erfc(sqrt(X²/2)))
    a, b, c, d = 8, 5, 21, 100
    n = a + b + c + d
    x2 = n * (abs(a * d - b * c) - n / 2) ** 2 / ((a + b) * (c + d) * (a + c) * (b + d))
    expected = math.erfc(math.sqrt(x2 / 2))
    assert row["from_data"].startswith(f"{expected:.4f} (Yates chi-square on the cohort's 8/13 vs 21/121")
    assert merged.set_index("register_id").loc["A", "from_data"] == ""   # only recomputed P values
