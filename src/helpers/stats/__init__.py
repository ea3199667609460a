"""Numerics on arrays and frames (numpy, scipy, pandas, lifelines, statsmodels, firthmodels; no plotly, ledger or study ids)."""

from .competing_risks import (  # noqa: F401
    CumulativeIncidence,
    FineGrayResult,
    cif_by_group,
    cuminc,
    cumulative_incidence,
    fine_gray,
    gray_test,
    one_minus_km,
)
from .format import (  # noqa: F401
    format_estimate,
    format_p,
)
from .kinetic_model import (  # noqa: F401
    BOOK_SCHEDULE,
    DENSE_SCHEDULE,
    LN2,
    RECOVERY_LLOQ,
    RECOVERY_NOISE,
    RECOVERY_TOLERANCE,
    SteinFit,
    SteinParameters,
    draw_parameters,
    fit_stein,
    fit_table,
    recovery_study,
    recovery_summary,
    simulate_stein,
    stein_curve,
    stein_log_curve,
)
from .mixed import (  # noqa: F401
    MixedModelResult,
    fit_log_mixed_model,
)
from .nca import (  # noqa: F401
    AUC_METHODS,
    BLQ_RULES,
    WINDOW_DAYS,
    auc,
    clean_profile,
    nca_profile,
    nca_sensitivity,
    nca_table,
    trapezoid_table,
)
from .proportions import (  # noqa: F401
    CHISQ_WARNING,
    FEXACT_LOG_TOL,
    FISHER_2X2_REL_ERR,
    chisq_test,
    clopper_pearson,
    fisher_exact,
    newcombe_difference,
    proportion_table,
    wilson,
)
from .rank import (  # noqa: F401
    MannWhitney,
    hodges_lehmann,
    mann_whitney,
    pwilcox,
    qwilcox,
    rank_sum_test,
    rank_sum_wdiff,
    welch_t_test,
)
from .regression import (  # noqa: F401
    CHI2_95,
    Z975,
    Design,
    LogisticFit,
    SeparationReport,
    covariate_patterns,
    design,
    detect_separation,
    fit_firth,
    fit_ml,
    sparse_cells,
)
from .standardized import (  # noqa: F401
    standardized_difference_binary,
    standardized_difference_continuous,
    standardized_difference_from_summary,
)
from .survival import (  # noqa: F401
    COX_TIES,
    Z95,
    CoxResult,
    ExactCoxFit,
    KaplanMeier,
    LogRankResult,
    ZphResult,
    cox_model,
    cox_zph,
    immortal_time_comparison,
    immortal_time_simulation,
    kaplan_meier,
    km_by_group,
    landmark,
    logrank_test,
    median_followup,
    split_at_exposure,
    zph_for,
)
from .units import (  # noqa: F401
    DAYS_PER_MONTH,
)
from .validation import (  # noqa: F401
    as_count,
    as_events,
    as_k_n,
    as_level,
    as_sample,
    as_table,
    as_times,
    check_frame,
    check_time_event,
    check_time_status,
    positions_text,
)
