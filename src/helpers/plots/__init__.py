"""Every figure and table renderer; takes result objects from stats and clinical."""

from .cytokines import (  # noqa: F401
    grade_box_figure,
    model_figure,
    patient_course_figure,
    ratio_figure,
    trajectory_figure,
)
from .figures import (  # noqa: F401
    OKABE_ITO,
    PLOTLY_CONFIG,
    SYNTHETIC_LABEL,
    FigureHTML,
    composition_bars,
    configure_exports,
    label_synthetic,
    proportion_bars,
    show,
    style,
    trim_floats,
)
from .kinetics import (  # noqa: F401
    comparison_display,
    exposure_figure,
    fit_overlay_figure,
    median_band_figure,
    recovery_figure,
    spaghetti_figure,
    summarise,
)
from .regression import (  # noqa: F401
    compare_methods,
    forest_figure,
    odds_ratio_table,
    separation_table,
    side_by_side,
)
from .response import (  # noqa: F401
    rate_figure,
    sankey_figure,
    wrap_label,
)
from .survival import (  # noqa: F401
    forest_plot,
    format_bound,
    naive_vs_aalen_johansen,
    rate_table,
    survival_figure,
    zph_figure,
)
from .tables import (  # noqa: F401
    TableHTML,
    configure_downloads,
    show_table,
    slug,
    table_one,
)
from .text import (  # noqa: F401
    in_words,
)
from .timeline import (  # noqa: F401
    BAR_COLUMNS,
    EVENT_COLOURS,
    EVENT_COLUMNS,
    EVENT_SYMBOLS,
    FOLLOWUP_COLUMNS,
    LANE_FILL,
    ONGOING_SYMBOL,
    ORDERS,
    Panel,
    TimelineInputError,
    assign_tracks,
    check_bars,
    check_events,
    check_followup,
    event_offsets,
    lanes_in,
    order_lanes,
    resolve_open_ends,
    swimmer,
)
from .toxicity import (  # noqa: F401
    GRADE_COLOURS,
    GRADE_NAMES,
    difference_figure,
    episode_figure,
    format_event_table,
    grade_bars,
)
