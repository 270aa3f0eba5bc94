"""examples/quickstart.ipynb runs top to bottom in a real Jupyter kernel (nbclient + ipykernel)."""

from __future__ import annotations

import shutil

import nbformat
import pytest
import yaml
from nbclient import NotebookClient

from tests.conftest import REPO


@pytest.mark.slow
def test_the_quickstart_notebook_runs_a_study_plots_exports_trains_and_evaluates(ray_session, tmp_path, monkeypatch):
    # the notebook as shipped, run beside a copy of the files it names; its storage and Ray's files in tmp
    folder = tmp_path / "examples"
    folder.mkdir()
    for name in ("studies", "search_spaces", "tuner/data"):
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    # the quickstart study itself runs in test_end_to_end; here a shorter one (the same file, fewer
    # characters and epochs) is enough to run every cell of the notebook
    study = tmp_path / "studies/quickstart.yaml"
    document = yaml.safe_load(study.read_text())
    document["task"]["options"]["max_chars"] = 5_000
    document["max_epochs"] = 2
    study.write_text(yaml.safe_dump(document, sort_keys=False))
    monkeypatch.setenv("TUNER_STORAGE", f"sqlite:///{tmp_path / 'notebook.db'}")
    # the kernel's study joins the session's Ray (ray.init reads RAY_ADDRESS), as tuner.run joins any running one
    monkeypatch.setenv("RAY_ADDRESS", ray_session.get_runtime_context().gcs_address)
    notebook = nbformat.read(REPO / "examples/quickstart.ipynb", as_version=4)
    # one trial at a time, as the rest of the suite runs them (the default of two is run by test_end_to_end)
    first = notebook.cells[[c.cell_type for c in notebook.cells].index("code")]
    assert "trials=4)" in first.source
    first.source = first.source.replace("trials=4)", "trials=4, workers=1)")
    client = NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}})
    client.execute()
    outputs = [cell.get("outputs", []) for cell in notebook.cells if cell.cell_type == "code"]
    assert not [o for cell in outputs for o in cell if o.get("output_type") == "error"]
    figure = outputs[2][0]["data"]
    assert "application/vnd.plotly.v1+json" in figure
    traces = figure["application/vnd.plotly.v1+json"]["data"]
    assert len(traces) == 2 * 4  # train and validation of each of the 4 trials
    assert (folder / "quickstart-model.pt").exists()
    assert "'bpc':" in "".join(o.get("text", "") for o in outputs[4])  # evaluate's metrics, printed
