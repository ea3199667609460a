"""The chapter context and the code specific to one chapter (one module per chapter)."""

from .context import (  # noqa: F401
    INFUSION_DATES_FILE,
    ChapterContext,
    HTMLBlock,
    PatientFlow,
    absolute_dates_enabled,
    cohort_folders,
    display,
    no_data_note,
    read_infusion_months,
    register_studies,
    say,
    setup,
)
from .ledger import (  # noqa: F401
    SOURCE_TRACE_LAYOUT,
    status_figure,
)
from .outputs import (  # noqa: F401
    configure,
)
