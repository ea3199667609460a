"""Generators of the synthetic cohorts of the seed studies and of registries of any size."""

from .cohorts import (  # noqa: F401
    DEFAULT_SEED,
    KINETICS_LLOQ,
    PROVENANCE_COLUMNS,
    PROVENANCE_KINDS,
    REGISTER_PATH,
    STUDIES,
    YEAR_DAYS,
    generate,
    main,
    study_texts,
    to_csv_text,
    write_all,
    write_study,
)
