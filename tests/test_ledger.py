"""The ledger's rules, checked on hand-worked cases (exact arithmetic, not the code's own output)."""

import pandas as pd
import pytest

from helpers import reproduction


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


def test_exact_means_rounds_to_the_printed_value(register_csv, tmp_path):
    book = make(register_csv, tmp_path)
    # 0.03608 prints as 0.036; 0.0365 prints as 0.037 with half-up rounding (not 0.036).
    assert book.record("T-p", 0.03608, basis="recomputed")["status"] == "exact"
    assert book.record("T-p", 0.0365, basis="recomputed")["status"] == "differs"
    assert book.record("T-p", 0.03549, basis="recomputed")["status"] == "differs"


def test_less_than_published_values(register_csv, tmp_path):
    book = make(register_csv, tmp_path)
    assert book.record("T-plt", 0.00036, basis="recomputed")["status"] == "exact"
    assert book.record("T-plt", 0.0011, basis="recomputed")["status"] == "differs"


def test_tolerances(register_csv, tmp_path):
    book = make(register_csv, tmp_path)
    two_points = reproduction.Tolerance(absolute=2.0)
    assert book.record("T-surv", 51.4, basis="synthetic", tolerance=two_points)["status"] == "within-tolerance"
    assert book.record("T-surv", 51.6, basis="synthetic", tolerance=two_points)["status"] == "differs"
    fifteen = reproduction.Tolerance(relative=0.15)
    assert book.record("T-hr", 3.411 * 1.149, basis="synthetic", tolerance=fifteen)["status"] == "within-tolerance"
    assert book.record("T-hr", 3.411 * 1.151, basis="synthetic", tolerance=fifteen)["status"] == "differs"
    factor = reproduction.Tolerance(factor=1.5)
    assert book.record("T-p", 0.036 / 1.49, basis="synthetic", tolerance=factor)["status"] == "within-tolerance"
    assert book.record("T-p", 0.036 * 1.51, basis="synthetic", tolerance=factor)["status"] == "differs"


def test_proportions_need_the_published_counts(register_csv, tmp_path):
    book = make(register_csv, tmp_path)
    assert book.record_proportion("T-prop", 6, 13, basis="synthetic")["status"] == "exact"
    # 12/26 is also 46.2 % but is not the published 6/13.
    assert book.record_proportion("T-prop", 12, 26, basis="synthetic")["status"] == "differs"
    row = book.record_proportion("T-prop", 6, 13, basis="synthetic")
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
    merged = reproduction.merge_ledger(tmp_path / "parts", tmp_path / "ledger.csv", chapters=["test-chapter"],
                            register_csv=register_csv)
    assert list(merged.columns) == list(reproduction.LEDGER_COLUMNS)
    assert sorted(merged["register_id"]) == sorted(["T-prop", "T-p", "T-plt", "T-one", "T-surv", "T-hr"])
    pending = merged[merged["chapter"] == ""]
    assert set(pending["status"]) == {"not-reproducible"} and len(pending) == 4
    assert set(merged["status"]) <= set(reproduction.STATUSES)
    # A part from a chapter no longer in the book is ignored.
    other = reproduction.Ledger("removed-chapter", tmp_path / "parts", register_csv)
    other.record("T-hr", 3.411, basis="synthetic")
    again = reproduction.merge_ledger(tmp_path / "parts", tmp_path / "ledger.csv", chapters=["test-chapter"],
                           register_csv=register_csv)
    assert (again["chapter"] == "removed-chapter").sum() == 0


def test_text_facts_compare_as_printed(register_csv, tmp_path):
    book = make(register_csv, tmp_path)
    assert book.record_text("T-p", " 0.036 ")["status"] == "exact"
    assert book.record_text("T-p", "0.0360")["status"] == "differs"


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
