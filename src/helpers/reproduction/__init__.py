"""The published register, the reproduction ledger, tolerances and recomputation from published counts."""

from .claims import (  # noqa: F401
    CLAIM_STATUSES,
    CLAIMS_CSV,
    load_claims,
)
from .ledger import (  # noqa: F401
    BASES,
    CHAPTER_COLUMNS,
    EVIDENCE,
    LEDGER_COLUMNS,
    STATUSES,
    Ledger,
    calibration_targets,
    claim_rows,
    decimals_of,
    download_link,
    evidence_of,
    evidence_text,
    format_like,
    load_merged,
    merge_ledger,
    merged_path,
    status_summary,
)
from .published import (  # noqa: F401
    PublishedNumber,
    parse_published,
    rounds_to,
)
from .recompute import (  # noqa: F401
    TESTS,
    compare_proportions,
    compared_counts,
    comparison_table,
    recompute_comparison,
)
from .register import (  # noqa: F401
    KINDS,
    REGISTER_COLUMNS,
    count,
    denominator,
    entry,
    load_register,
    value,
)
from .tolerances import (  # noqa: F401
    TOL_HR_RELATIVE,
    TOL_MEDIAN_MONTHS,
    TOL_P_FACTOR,
    TOL_RATE_PP,
    TOLERANCES,
    Tolerance,
    tolerance_for,
)
