"""Recomputed P values of study 000 against the register's record of which test fits.

The register's ``test_evident`` column was filled when the papers were
transcribed (with SciPy); here the book's own statistics must reach the same
verdict, so the two independent computations check each other.
"""

import pytest

from helpers import reproduction

REGISTER = reproduction.load_register()
P_ROWS = REGISTER[(REGISTER["kind"] == "p_value")
                  & REGISTER["test_evident"].isin(["Fisher exact", "Yates chi-square", "both"])]
EXPECTED = {"Fisher exact": "Fisher exact", "Yates chi-square": "Yates chi-square",
            "both": "Fisher exact and Yates chi-square"}


def test_the_two_group_comparisons_are_all_covered():
    assert {"000-ablkd-p", "000-response-p", "000-mrdnegcr-p", "000-mrdnegcr-rr-p",
            "000-mrdnegcr-mrdpos-p", "000-crs-severe-p"} <= set(P_ROWS.index)


@pytest.mark.parametrize("register_id", list(P_ROWS.index))
def test_recomputation_agrees_with_the_register(register_id):
    result = reproduction.recompute_comparison(register_id)
    assert result["reproduced by"] == EXPECTED[REGISTER.loc[register_id, "test_evident"]]


def test_the_paper_mixes_tests():
    verdicts = {rid: reproduction.recompute_comparison(rid)["reproduced by"] for rid in P_ROWS.index}
    assert verdicts["000-ablkd-p"] == "Yates chi-square"
    assert verdicts["000-mrdnegcr-rr-p"] == "Fisher exact"


def test_comparison_table_records_the_matching_test(tmp_path):
    from helpers.reproduction import Ledger

    book = Ledger("t", tmp_path)
    table = reproduction.comparison_table(["000-ablkd-p", "000-mrdnegcr-rr-p"], ledger=book)
    rows = book.table().set_index("register_id")
    assert (rows["status"] == "exact").all()
    assert rows.loc["000-ablkd-p", "note"].startswith("Yates chi-square")
    assert rows.loc["000-mrdnegcr-rr-p", "note"].startswith("Fisher exact")
    assert list(table["published P"]) == ["0.036", "0.049"]
