"""After the search: the chosen network scored on the study's test data, which no trial read.

The best trial's kept model file (``kept_models``) is scored in a Ray worker; a study that keeps
no models trains the best configuration once more there, exactly as ``tuner train`` would train
its export (the same seed and thread count, so on a CPU the same weights). The test data is
scored beside the trivial predictor. The result is stored on the study
(user attr ``test_result``), so ``tuner export``, ``tuner report`` and the dashboard show
validation against test for that trial. Nothing here chooses anything: the best trial was
chosen on validation before the test data was read.
"""

from __future__ import annotations

from typing import Any

import optuna
import ray

from tuner import attrs
from tuner.config.studies import StudySpec
from tuner.errors import BadInput, Diverged


def _score(
    settings: dict[str, Any],
    hyperparameters: dict[str, Any],
    seed: int,
    cpus: float,
    gpus: float,
    precision: str,
    model: bytes | None,
    data_actor: str | None,
    refit_epochs: int | None = None,
) -> dict:
    """In a Ray worker: the trial's kept network (the model file's bytes: the worker may be on another
    node), or the network trained again, scored on validation, test and by the trivial predictor. With
    ``refit_epochs`` (``refit: train_val``) the network scored on test is the configuration trained again
    on training + validation data for that many epochs; validation stays the selection's."""
    import tempfile

    from tuner.orchestration.trainable import receive_data
    from tuner.training.final import final_scores, model_file_scores
    from tuner.training.trial_run import local_task, refit_training, run_training, task_splits

    receive_data({"settings": settings, "data_actor": data_actor})
    task = local_task(settings["task"])  # a test_fraction is cut from this node's copy of the data
    where = {"cpus": cpus, "gpus": gpus, "precision": precision}
    refitted = None
    if refit_epochs is not None:
        refitted = refit_training(settings, hyperparameters, seed, refit_epochs, **where)
    if model is None:
        result = run_training(settings, hyperparameters, seed, **where)
        return {"from": "trained again", **final_scores(result, task, refitted).as_dict()}
    with tempfile.NamedTemporaryFile(suffix=".pt") as file:
        file.write(model)
        file.flush()
        scores = model_file_scores(file.name, task_splits(task), task, refitted.model if refitted else None)
    kept = (
        f"kept model: {settings['task']['options']['folds']} fold networks"
        if scores.fit_on == "folds"
        else "kept model"
    )
    return {"from": "refit on training + validation" if refitted else kept, **scores.as_dict()}


def score_on_test(
    spec: StudySpec,
    study: optuna.Study,
    best: optuna.trial.FrozenTrial,
    model: bytes | None = None,
    data_actor: str | None = None,
) -> dict[str, Any] | None:
    """The stored test result of ``best`` (computed now if the best trial changed); None without test data.

    A test file that cannot be read now (moved, or with bad rows) is BadInput for the caller to report:
    the study itself is finished and kept.
    """
    if not spec.task.has_test_data() or attrs.HYPERPARAMETERS not in best.user_attrs:
        return None
    stored = study.user_attrs.get(attrs.TEST_RESULT)
    if stored and stored.get("trial") == best.number:
        return stored
    if not ray.is_initialized():  # this run trained nothing (its budget was spent): no worker to score with
        return None
    task = ray.remote(num_cpus=spec.resources.cpu, num_gpus=spec.resources.gpu)(_score)
    settings = study.user_attrs[attrs.SETTINGS]
    try:
        scores = ray.get(
            task.remote(
                settings,
                best.user_attrs[attrs.HYPERPARAMETERS],
                best.user_attrs[attrs.SEED],
                spec.resources.cpu,
                spec.resources.gpu,
                str(spec.resources.precision),
                model,
                data_actor,
                best.user_attrs.get(attrs.BEST_EPOCH) if settings.get("refit") == "train_val" else None,
            )
        )
    except ray.exceptions.RayTaskError as error:
        if isinstance(error.cause, BadInput):
            raise error.cause from None
        if isinstance(error.cause, Diverged):  # the refit (or the configuration trained again) diverged
            raise Diverged(f"the final network diverged: {error.cause}") from None
        raise
    result = {"trial": best.number, **scores}  # "from" says which network the worker scored
    study.set_user_attr(attrs.TEST_RESULT, result)
    return result
