"""python -m helpers.synthetic: write the synthetic cohorts (see helpers.synthetic.cohorts)."""

from helpers.synthetic.cohorts import main

raise SystemExit(main())
