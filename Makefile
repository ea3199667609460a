# The CAR-T outcomes book. Two commands matter:
#   make book   set up everything, execute every chapter, build the site into _build/html
#   make test   set up everything, run the whole test suite (unit, oracle, chapters, strict build)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha1sum | cut -c1-12)
R_PACKAGES := r-base-core r-cran-survival r-cran-cmprsk r-cran-kmsurv r-cran-nlme

# Bytecode is written as modules are first imported. Where PYTHONDONTWRITEBYTECODE is set (as on
# this machine) Python never writes it and compiled every module from source at every start: a
# no-change rebuild took 10.2 s, 3.8 s with bytecode. Compiling the whole environment at set-up
# took 29 s (25,798 files); a first build that writes the 4,334 it imports takes 5 s longer.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: setup r-oracle browser synthetic book test lint serve preview clean lock bench plotly-bundle

setup: $(STAMP) r-oracle

$(STAMP): requirements.lock pyproject.toml
	@echo ">> creating $(VENV) and installing the locked dependencies"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# uv (from PyPI) installs the lock in ~20 s against pip's ~175 s here (measured on this machine,
	@# cold caches); plain pip is the fallback when uv cannot be had.
	@{ $(PY) -m pip install -q --disable-pip-version-check uv 2>&1 | grep -v "^WARNING: Location"; \
	   $(VENV)/bin/uv pip install -q --python $(PY) -r requirements.lock; } \
	  || $(PY) -m pip install -q --disable-pip-version-check -r requirements.lock 2>&1 | grep -v "^WARNING: Location" || true
	@$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e . 2>&1 | grep -v "^WARNING: Location" || true
	@$(PY) -c "import helpers, jupyter_book, papermill, pandera" || { echo "dependency install failed"; exit 1; }
	@rm -f $(VENV)/.installed-*; touch $@

# R is the statistical oracle for the tests. Installed from Debian when missing.
r-oracle:
	@bash scripts/ensure-r.sh $(R_PACKAGES)

# Debian's Chromium for the browser tests (Playwright drives it; nothing is downloaded).
browser:
	@bash scripts/ensure-chromium.sh

synthetic: $(STAMP)
	$(PY) -m helpers.synthetic --out data/synthetic

# Chromium draws the SVG/PNG copies of the figures, so a fresh machine's site has them too.
book: setup browser
	$(PY) -m helpers.site.build

test: setup browser lint
	$(PY) -m pytest

# pyflakes, import order and the complexity ceiling (pyproject.toml [tool.ruff]).
lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks scripts

serve: book
	$(PY) -m http.server --directory _build/html 8000

# For authors: serve the site, rebuild what an edit touches, reload the page (helpers.site.preview).
preview: setup
	$(PY) -m helpers.site.preview

bench: setup
	$(PY) benchmarks/build_times.py

lock:
	rm -rf /tmp/cart-lock && $(PYTHON) -m venv /tmp/cart-lock && /tmp/cart-lock/bin/pip install -q . && \
	  { echo "# Fully pinned dependency set (pip freeze of a clean venv built from pyproject.toml ranges)."; \
	    echo "# Regenerate with: make lock"; /tmp/cart-lock/bin/pip freeze --exclude cart-outcomes-helpers | sort -f; } > requirements.lock

# The site's shared plotly.js (book/_static/plotly.min.js, committed): a partial bundle of the trace
# types the book draws, from plotly.js's npm package at plotly.py's version. Needs node and npm.
plotly-bundle: $(STAMP)
	$(PY) scripts/plotly_bundle.py

clean:
	rm -rf _build
