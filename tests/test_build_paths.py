"""Executed notebooks carry no absolute path: papermill records its input and output paths and
the parameters it injected, and the site publishes the notebooks' sources."""

import nbformat

from helpers.site import build


def test_papermill_paths_and_absolute_parameters_are_replaced(tmp_path):
    nb = nbformat.v4.new_notebook()
    injected = nbformat.v4.new_code_cell('# Parameters\ndata_dir = "/home/jsmith/cohorts/centre-a"\nseed = 7\n')
    injected.metadata["tags"] = ["injected-parameters"]
    nb.cells = [injected]
    nb.metadata["papermill"] = {"input_path": "/home/jsmith/repo/notebooks/survival.ipynb",
                                "output_path": "/home/jsmith/repo/_build/executed/.survival.partial.ipynb",
                                "parameters": {"data_dir": "/home/jsmith/cohorts/centre-a", "seed": 7,
                                               "register_csv": "../data/published_register.csv"}}
    path = tmp_path / "survival.ipynb"
    nbformat.write(nb, path)
    build.without_absolute_paths(path, "survival")
    text = path.read_text()
    assert "/home/jsmith" not in text
    cleaned = nbformat.read(path, as_version=4)
    assert cleaned.metadata["papermill"]["input_path"] == "notebooks/survival.ipynb"
    assert cleaned.metadata["papermill"]["parameters"]["data_dir"] == "PATH/TO/centre-a"
    assert cleaned.metadata["papermill"]["parameters"]["register_csv"] == "../data/published_register.csv"
    assert 'data_dir = "PATH/TO/centre-a"' in cleaned.cells[0].source
