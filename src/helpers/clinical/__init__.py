"""Disease rules on contract tables: grading, response definitions, toxicity, cytokine and kinetic summaries, outcome frames, baselines."""

from .baseline import (  # noqa: F401
    STATUS_LABELS,
    cohort_profile,
    counts_by,
    distribution_tests,
    table_one_frame,
    yes_no,
)
from .cytokines import (  # noqa: F401
    CYTOKINES,
    LAB_COLUMNS,
    LABELS,
    compare_groups,
    cytokine_series,
    format_comparison,
    median_iqr,
    monitoring,
    peak_by_grade,
    peaks,
    trajectories,
)
from .grading import (  # noqa: F401
    CONSCIOUSNESS_LEVELS,
    CRS_COURSE_COLUMNS,
    EDEMA_FINDINGS,
    FEVER_THRESHOLD_C,
    LOW_FLOW_MAX_L_MIN,
    MOTOR_FINDINGS,
    OXYGEN_DEVICES,
    ROMAN,
    SEIZURE_PROLONGED_MIN,
    SEIZURE_TYPES,
    Grade,
    assessment_tool,
    grade_crs,
    grade_crs_course,
    grade_icans,
    grade_icans_course,
    ice_score,
    roman,
    summarise_course,
)
from .kinetics import (  # noqa: F401
    active_disease,
    compare_kinetics,
    first_recovery_day,
    persistence_table,
    representative_patients,
    response_class,
    sampling_overview,
    schedule_quantiles,
    tests_used,
)
from .outcomes import (  # noqa: F401
    RESPONSE_CODES,
    endpoint_definitions,
    outcome_frame,
)
from .response import (  # noqa: F401
    BEST_RESPONSE_ORDER,
    DEFINITIONS,
    REMISSION,
    SHORT_STATUS_LABELS,
    classify,
    flow_counts,
    not_evaluable,
    rates,
    salvage_response,
)
from .toxicity import (  # noqa: F401
    AE_COLUMNS,
    BANDS,
    adverse_event_table,
    crs_counts,
    grade_distribution,
    graded_population,
    onset_duration,
    onset_summary,
    patients_with_grade,
    worst_grades,
)
