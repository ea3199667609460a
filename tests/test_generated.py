"""Generated files that are committed must equal a fresh generation."""

from helpers import contract
from helpers.paths import DATA_DIR


def test_data_dictionary_csv_is_current():
    fresh = contract.dictionary().to_csv(index=False, lineterminator="\n")
    committed = (DATA_DIR / "data_dictionary.csv").read_text(encoding="utf-8")
    assert committed == fresh, "data/data_dictionary.csv is stale: run `make book` (or make synthetic)"


def test_dictionary_covers_every_contract_column():
    from helpers.contract import TABLES

    dictionary = contract.dictionary()
    for name, table in TABLES.items():
        assert list(dictionary.loc[dictionary["table"] == name, "column"]) == table.column_names


def test_committed_generation_stamp_matches_the_generators_and_the_files():
    from helpers.site import build

    stamp = build.GENERATED_STAMP.read_text().strip()
    assert stamp == build.generated_digest(build.DEFAULT_SEED), (
        "data/generated.sha256 does not match the generators and the generated files: run "
        "`make book` and commit data/ (a fresh clone would otherwise regenerate on every build)")


def test_regeneration_is_skipped_only_while_generators_and_files_are_unchanged(tmp_path, monkeypatch):
    from helpers.site import build

    generated = tmp_path / "cohort.csv"
    generated.write_text("patient_id\nP1\n")
    runs = []
    monkeypatch.setattr(build, "GENERATED", (generated,))
    monkeypatch.setattr(build, "GENERATED_STAMP", tmp_path / "generated.sha256")
    monkeypatch.setattr(build, "_regenerate", lambda seed: runs.append(seed) or 0)
    build.regenerate(1)
    build.regenerate(1)
    assert runs == [1], "no stamp: regenerate; same generators and files: skip"
    generated.write_text("patient_id\nP1\nP2\n")  # a hand edit of a generated file
    build.regenerate(1)
    build.regenerate(2)  # another seed
    assert runs == [1, 1, 2]
