"""Generated files that are committed must equal a fresh generation."""

from helpers import contract
from helpers.paths import DATA_DIR


def test_data_dictionary_csv_is_current():
    fresh = contract.dictionary().to_csv(index=False, lineterminator="\n")
    committed = (DATA_DIR / "data_dictionary.csv").read_text(encoding="utf-8")
    assert committed == fresh, "data/data_dictionary.csv is stale: run `make book` (or make synthetic)"


def test_dictionary_covers_every_contract_column():
    from helpers.contract_spec import TABLES

    dictionary = contract.dictionary()
    for name, table in TABLES.items():
        assert list(dictionary.loc[dictionary["table"] == name, "column"]) == table.column_names
