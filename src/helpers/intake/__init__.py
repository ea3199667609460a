"""CDISC ADaM input: an ADaM folder -> a folder of contract CSVs, through an editable mapping file.

Two commands::

    python -m helpers.intake propose <adam folder> > mapping.toml
    python -m helpers.intake convert <adam folder> --mapping mapping.toml --out <folder>

``propose`` lists what the folder holds (every PARAMCD with its label and counts, every AVALC
value, the ADAE terms that look like CRS or ICANS, the ADSL columns for arm, age and sex, the
day AVAL counts from) with the choice proposed for each; ``convert`` applies the edited file and
writes the contract tables (``origin = user``) and ``conversion-report.md``: rows read, rows
written, and every excluded record counted with its reason. The folder it writes is a study for
``python -m helpers.site.intake`` (name it after the study_id).

Data sets: ADSL, ADTTE, ADRS, ADAE, each as SAS transport (``.xpt``), SAS data set
(``.sas7bdat``), parquet or CSV (:mod:`helpers.intake.read`).
"""

from .convert import REPORT_FILE, ConversionReport, check_mapping, convert, load_mapping, write_tables
from .propose import propose
from .read import DATASETS, AdamError, find_datasets, read_dataset
