"""A trained network you can use: ``tuner.load_model(path)`` -> ``Model`` with ``predict`` and ``evaluate``.

Like scikit-learn's and Keras' ``predict`` / ``evaluate``: ``data`` is a path, or a pandas frame in
the task's format (the long format for sequence classification, a table with the series column for
regression; a text file for char_lm). It is prepared exactly as the training data was, with what the
model file keeps (feature columns, the training split's standardisation, class labels, window).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from tuner.errors import BadInput
from tuner.training.checkpoint import load_checkpoint
from tuner.training.inference import confusion_on, evaluate_split, last_step_outputs
from tuner.training.models import RecurrentNet
from tuner.training.per_class import class_report
from tuner.training.tasks import Prepared, Target, Task, task_for

Data = str | Path | pd.DataFrame


class Model:
    """A network and everything that prepares raw data for it and reads its outputs back."""

    def __init__(self, net: RecurrentNet, checkpoint: dict[str, Any], source: str = "model") -> None:
        self.net = net.eval()
        self.source = source
        self.task_name: str = checkpoint["task"]["name"]
        self.task_options: dict[str, Any] = dict(checkpoint["task"].get("options", {}))
        self.preparation: dict[str, Any] = checkpoint["preparation"]
        self.target = Target(checkpoint["target"])
        self.input_size: int = checkpoint["input_size"]
        self.target_scale: float = checkpoint["target_scale"]
        self.metric: str = checkpoint["metric"]
        # validation, test and trivial scores as trained, keyed by metric as ``evaluate`` keys them
        self.scores: dict[str, Any] | None = by_metric(checkpoint.get("scores"))
        # what the weights learned from: "train" (as its trial trained it) or "train+val" (refit: train_val)
        self.fit_on: str = checkpoint.get("fit_on", "train")

    @property
    def classes(self) -> list | None:
        """Class labels as they appear in the training file (classification models)."""
        return self.preparation.get("classes")

    def _task(self) -> Task:
        try:
            return task_for(self.task_name)
        except (ImportError, AttributeError) as error:
            raise BadInput(self.source, "task", "an importable task", f"{self.task_name} ({error})") from None

    def _prepare(self, data: Data, labelled: bool) -> Prepared:
        if not isinstance(data, pd.DataFrame) and not Path(data).is_file():
            raise BadInput(str(data), None, "an existing data file", "no such file")
        prepared = self._task().prepare(data, self.preparation, labelled)
        if prepared.data.sequences == 0:
            raise BadInput(
                str(data) if not isinstance(data, pd.DataFrame) else "data frame", None, "at least one sequence", 0
            )
        return prepared

    def evaluate(self, data: Data, strict: bool = False) -> dict[str, Any]:
        """The task's metrics on labelled ``data`` (``loss``, ``accuracy``, ``mae`` ...) and ``sequences``;
        a classifier's also per class: ``balanced_accuracy``, ``macro_f1``, ``per_class`` (precision,
        recall, f1 and support of each label) and ``confusion`` (labels, and counts: row = true label).

        Text with characters the model never saw is scored on the others (``left_out``: how many were
        left out, ``left_out_share`` of all, ``left_out_characters``); ``strict`` refuses it instead.
        """
        prepared = self._prepare(data, labelled=True)
        if prepared.left_out and strict:
            where = str(data) if not isinstance(data, pd.DataFrame) else "data frame"
            raise BadInput(where, None, "only characters the model was trained on (--strict)", prepared.left_out[:20])
        with torch.inference_mode():
            metrics = evaluate_split(self.net, self.target, prepared.data, self.input_size, self.target_scale)
        scores: dict[str, Any] = {name.removeprefix("val_"): value for name, value in metrics.items()}
        if self.target is Target.VALUES:  # a forecast per point that has a whole window before it
            scores["forecasts"] = prepared.data.sequences * prepared.data.targets.shape[-1]
        else:
            scores["sequences"] = prepared.data.sequences
        if prepared.left_out:
            scores |= {
                "left_out": prepared.left_out_count,
                "left_out_share": prepared.left_out_share,
                "left_out_characters": prepared.left_out,
            }
        if self.target is Target.CLASS:
            matrix = confusion_on(self.net, prepared.data, self.input_size, len(self.classes))
            scores |= class_report(np.asarray(matrix), self.classes)
        return scores

    def predict(self, data: Data) -> pd.DataFrame:
        """Predictions for ``data``: per sequence (classification) or per forecast point (regression)."""
        if self.target is Target.NEXT_TOKEN:
            raise BadInput(
                self.source,
                "task",
                "a classification or regression model (char_lm generates text: tuner sample)",
                self.task_name,
            )
        task = self._task()
        prepared = self._prepare(data, labelled=False)
        outputs = last_step_outputs(self.net, prepared.data, self.input_size)
        return task.predictions(outputs, prepared, self.preparation)


def by_metric(scores: dict[str, Any] | None) -> dict[str, Any] | None:
    """A model file's scores with each split's figures named by metric (``accuracy``, ``loss``), not by
    the validation split they were first measured on (``val_accuracy``): ``scores["test"]["accuracy"]``."""
    if scores is None:
        return None

    def named(figures: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if figures is None else {k.removeprefix("val_"): v for k, v in figures.items()}

    trivial = {
        split: None if found is None else {**found, "metrics": named(found.get("metrics"))}
        for split, found in scores.get("trivial", {}).items()
    }
    return {
        **scores,
        "metric": scores["metric"].removeprefix("val_"),
        "validation": named(scores["validation"]),
        "test": named(scores.get("test")),
        "trivial": trivial,
    }


def load_model(path: str | Path) -> Model:
    """Load a model file written by ``tuner train``; one-line ``BadInput`` for anything else."""
    net, checkpoint = load_checkpoint(path)
    return Model(net, checkpoint, str(path))
