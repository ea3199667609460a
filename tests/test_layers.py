"""The helper package's layers: imports flow one way (helpers.site.layers states the directions)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from helpers.paths import HELPERS_DIR
from helpers.site import layers


def test_no_import_runs_against_the_layers():
    assert layers.violations() == []


def _copy_of_the_package(tmp_path: Path) -> Path:
    root = tmp_path / "helpers"
    shutil.copytree(HELPERS_DIR, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_a_numeric_module_importing_a_figure_module_is_caught(tmp_path):
    root = _copy_of_the_package(tmp_path)
    survival = root / "stats" / "survival.py"
    survival.write_text(survival.read_text() + "\n\ndef _drawn():\n    from helpers.plots import figures\n")
    problems = layers.violations(root)
    assert len(problems) == 1
    assert problems[0].startswith("stats/survival.py:") and "stats may not import plots" in problems[0]


def test_a_relative_import_into_site_is_caught(tmp_path):
    root = _copy_of_the_package(tmp_path)
    context = root / "chapters" / "context.py"
    context.write_text(context.read_text() + "\nfrom ..site import build  # noqa\n")
    assert [p.split(": ", 1)[1] for p in layers.violations(root)] == [
        "chapters may not import site (helpers.site.build)"]


def test_a_module_outside_every_layer_is_caught(tmp_path):
    root = _copy_of_the_package(tmp_path)
    (root / "loose.py").write_text("x = 1\n")
    assert layers.violations(root) == ["loose.py: module outside every layer (helpers.loose)"]


def test_stats_imports_nothing_of_the_book():
    for path in (HELPERS_DIR / "stats").glob("*.py"):
        targets = {t for t, _ in layers.imports_of(path)}
        assert all(t.startswith("helpers.stats") for t in targets), (path.name, targets)


def test_a_chapters_dependencies_leave_out_the_site_and_follow_imports():
    files = {p.relative_to(HELPERS_DIR).as_posix() for p in layers.dependencies(["helpers.chapters"])}
    assert not any(f.startswith("site/") for f in files)
    # reached only through imports: chapters -> chapters.context -> contract.validate -> contract.spec
    assert {"chapters/context.py", "contract/spec.py", "stats/survival.py", "paths.py"} <= files


def test_the_generator_fingerprint_covers_what_the_generators_import():
    files = {p.relative_to(HELPERS_DIR).as_posix() for p in layers.dependencies(["helpers.synthetic"])}
    assert {"synthetic/cohorts.py", "synthetic/calibration.py", "reproduction/register.py",
            "contract/spec.py"} <= files
    assert not any(f.startswith(("site/", "plots/", "chapters/")) for f in files)


def test_the_complexity_ceiling_is_tight_so_it_only_goes_down():
    """ruff enforces the ceiling in pyproject.toml; this fails once no function reaches it,
    so the ceiling must then be lowered to the new maximum (it can never creep up)."""
    import subprocess
    import sys
    import tomllib

    from helpers.paths import REPO_ROOT

    ceiling = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["lint"]["mccabe"][
        "max-complexity"]
    ruff = Path(sys.executable).with_name("ruff")
    lower = subprocess.run([str(ruff), "check", "--select", "C901", "--no-cache", "--output-format", "concise",
                            "--config", f"lint.mccabe.max-complexity = {ceiling - 1}", "src", "tests"],
                           cwd=REPO_ROOT, capture_output=True, text=True)
    assert f"({ceiling} > {ceiling - 1})" in lower.stdout, f"no function has complexity {ceiling}: lower the ceiling"


GENERIC_LAYERS = ("stats", "contract", "clinical", "plots")
REGISTER_ID = re.compile(r"[\"']00[0-9]-[a-z0-9-]+[\"']")


def test_generic_modules_hold_no_register_ids():
    """Register ids (and what is specific to one seed study) live in helpers/chapters/ and
    helpers/synthetic/; the generic layers work on any cohort."""
    found = [f"{path.relative_to(HELPERS_DIR)}: {m.group(0)}"
             for layer in GENERIC_LAYERS for path in sorted((HELPERS_DIR / layer).glob("*.py"))
             for m in REGISTER_ID.finditer(path.read_text())]
    assert found == []


def test_the_register_id_check_would_see_one():
    assert REGISTER_ID.search('rid = "000-response-lbc"') and not REGISTER_ID.search('"000"')


def test_the_sphinx_extension_imports_no_renderer_and_no_pandas():
    """It runs in every Sphinx build: importing helpers.plots (every renderer, plotly, pandas)
    for its caption markers cost each build 1.8 s."""
    import subprocess
    import sys

    from helpers.paths import REPO_ROOT

    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, helpers.site.sphinx_site; "
         "print(' '.join(m for m in ('helpers.plots', 'pandas', 'plotly', 'scipy') if m in sys.modules))"],
        capture_output=True, text=True, check=True, env={"PYTHONPATH": str(REPO_ROOT / "src"), "PATH": ""}).stdout
    assert loaded.strip() == "", f"the Sphinx extension imports {loaded.strip()}"


def test_the_import_graph_read_from_its_cache_is_the_graph_and_follows_an_edit(tmp_path):
    root = tmp_path / "helpers"
    shutil.copytree(layers.HELPERS_DIR, root, ignore=shutil.ignore_patterns("__pycache__"))
    cache = tmp_path / "imports.json"
    fresh = layers.dependencies(["helpers.reproduction"], root)
    assert layers.dependencies(["helpers.reproduction"], root, cache=cache) == fresh
    assert layers.dependencies(["helpers.reproduction"], root, cache=cache) == fresh  # now from the cache
    ledger = root / "reproduction" / "ledger.py"
    ledger.write_text(ledger.read_text() + "\nfrom helpers.plots import survival  # noqa\n")
    edited = layers.dependencies(["helpers.reproduction"], root, cache=cache)
    assert root / "plots" / "survival.py" in edited and root / "plots" / "survival.py" not in fresh


def test_staging_the_site_asks_which_studies_are_there_without_the_chapters_stack():
    """A rebuild with nothing to do stages the site, which asks whether the data hold a seed
    study: through helpers.chapters that imported the whole stack (1.4 s of a 2.5 s rebuild)."""
    import subprocess
    import sys

    from helpers.paths import REPO_ROOT

    loaded = subprocess.run(
        [sys.executable, "-c", "import sys; from helpers.paths import SYNTHETIC_DIR; "
         "from helpers.site import provenance; assert provenance.holds_a_seed_study(SYNTHETIC_DIR); "
         "print(' '.join(m for m in ('helpers.chapters', 'helpers.plots', 'scipy', 'plotly') if m in sys.modules))"],
        capture_output=True, text=True, check=True, env={"PYTHONPATH": str(REPO_ROOT / "src"), "PATH": ""}).stdout
    assert loaded.strip() == "", f"asking imports {loaded.strip()}"
