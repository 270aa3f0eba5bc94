"""The ``tuner`` command. Thin: parses flags, calls the package, prints.

Heavy imports (torch, ray, optuna) happen inside each command, so
``tuner --help`` is instant and ``tuner train`` never loads ray or optuna.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tuner.attrs import PRUNED_BECAUSE, capacity_warning
from tuner.cli.args import (
    check_can_listen,
    make_folder,
    one_line_warnings,
    output_file,
    storage_url,
    storage_with,
)
from tuner.cli.parser import build_parser
from tuner.errors import BadInput, TunerError, positive
from tuner.storage import DEFAULT_STORAGE, STORAGE_ENV
from tuner.streams import discard_writes

if TYPE_CHECKING:
    from tuner.config.studies import StudySpec
    from tuner.orchestration.runner import RunSummary


def cmd_run(args: argparse.Namespace) -> int:
    from tuner.config.studies import load_study
    from tuner.config.task import describe_refit

    spec = load_study(args.study_file)
    positive("--trials", args.trials)
    positive("--workers", args.workers)
    import optuna

    from tuner.api import run_spec
    from tuner.config.algorithms import independent_sampling_note, startup_only_note
    from tuner.storage.engine import mask_url

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own lines say what matters

    storage = storage_url(args, spec, must_exist=False)
    if note := independent_sampling_note(spec.sampler, spec.space):
        print(note)
    if not spec.warm_start and (note := startup_only_note(spec.sampler, args.trials or spec.trials)):
        print(note)  # a warm start's trials take the start-up draws' place
    if spec.task.selection:
        print(f"selection: {spec.task.selection}; final network: {describe_refit(spec.refit, spec.task.folds())}")
    if spec.space_note:
        print(f"search space: {spec.space_note}")
    if spec.budget:
        print(f"training budget: {spec.budget}")
    summary = run_spec(
        spec,
        trials=args.trials,
        workers=args.workers,
        storage=storage,
        address=args.address,
        force=args.force,
        progress=not args.quiet,
    ).summary
    counts = summary.outcomes.by_state
    if summary.warm_start:
        print(summary.warm_start)
    if summary.study_name != spec.name:
        print(f"study {spec.name} exists with another space or settings: this run is study {summary.study_name}")
    print(
        f"study {summary.study_name}: ran {summary.ran} trials (complete {counts['COMPLETE']}, pruned {counts['PRUNED']}, failed {counts['FAIL']})"
    )
    if summary.ran == 0:
        print(f"its budget of {args.trials or spec.trials} trials was already spent: ask for more with --trials N")
    if counts["FAIL"] and (error := _last_error(storage, summary.study_name)):
        print(f"the last failure: {error}")
    if summary.interrupted:
        print(
            f"{summary.interrupted} trials left running by an earlier run were marked FAIL (interrupted) and run again"
        )
    if summary.front is not None:
        _print_front(summary, spec)
    if summary.best is not None:
        _print_best(summary, spec, storage)
    flag = "" if storage == DEFAULT_STORAGE else f" --storage '{mask_url(storage)}'"
    print(f"results: {mask_url(storage)} (study {summary.study_name!r})")
    print("next:")
    print(f"  tuner status{flag}")
    if summary.best is None:  # nothing to export yet: why did the trials fail?
        print(f"  tuner trials {summary.study_name} --errors{flag}")
    else:
        print(f"  tuner trials {summary.study_name}{flag}")
        pick = f" --best-for {spec.metric}" if summary.front is not None else ""
        print(f"  tuner export {summary.study_name}{pick} --out best.yaml{flag}")
    print(f"  tuner dashboard{flag}")
    if counts["FAIL"] and not counts["COMPLETE"] and not counts["PRUNED"]:
        # a run whose every trial failed is no success (exit 1; bad input is 2): say the usual why last
        reason, times = _common_failure(storage, summary.study_name, counts["FAIL"])
        print(f"every trial of this run failed; the most common reason ({times} of {counts['FAIL']}): {reason}")
        return 1
    return 0


def _print_front(summary: RunSummary, spec: StudySpec) -> None:
    """A multi-objective study's front, a member per line."""
    from tuner.insight.front import describe_member

    front, metrics = summary.front or [], spec.all_objectives.metrics
    print(f"front: {len(front)} trials no other feasible trial beats on every objective ({', '.join(metrics)})")
    for trial in front:
        print(f"  trial {describe_member(trial, metrics)}")


def _print_best(summary: RunSummary, spec: StudySpec, storage: str) -> None:
    """The best trial of a run: its value and knobs, against the baseline and the trivial predictor, and
    its score on the test data when the study has some."""
    from tuner.insight.curves import against_baseline, against_trivial
    from tuner.insight.score_lines import score_lines

    best = summary.best
    params = ", ".join(f"{k}={_short(v)}" for k, v in best.params.items())
    value = best.values[spec.all_objectives.metrics.index(spec.metric)]
    print(f"best trial {best.number}: {spec.metric} {value:.4f}  {params}")
    if baseline := against_baseline(storage, summary.study_name):
        print(baseline)
    if trivial := against_trivial(storage, summary.study_name):
        print(trivial)
    if summary.test_result:
        how = summary.test_result.get("from", "trained again")
        print(f"best trial {summary.test_result['trial']} ({how}) scored on the test data, which no trial read:")
        for line in score_lines(summary.test_result, minimize=spec.direction == "minimize"):
            print(f"  {line}")
    if summary.test_problem:
        print(f"the test data could not be scored: {summary.test_problem}")


def _failure_lines(storage: str, study: str) -> list[str]:
    """For each failed trial, oldest first: the last line of its stored error, else its stop reason."""
    from tuner.storage.queries import trials_frame

    failed = trials_frame(storage, study).query("state == 'FAIL'").sort_values("number")
    return [
        error.rstrip().splitlines()[-1]
        if error.strip()
        else (stop if isinstance(stop, str) and stop else "none recorded")
        for error, stop in zip(failed["error"], failed["stop_reason"], strict=True)
    ]


def _last_error(storage: str, study: str) -> str:
    """The last line of the newest failed trial's error ('' if none), as ``tuner trials`` shows it."""
    lines = _failure_lines(storage, study)
    return lines[-1] if lines else ""


def _common_failure(storage: str, study: str, newest: int) -> tuple[str, int]:
    """The most common failure line among the ``newest`` failed trials (this run's), and how often."""
    import collections

    return collections.Counter(_failure_lines(storage, study)[-newest:]).most_common(1)[0]


def _short(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def cmd_status(args: argparse.Namespace) -> int:
    from tuner.api import status
    from tuner.storage.engine import mask_url

    storage = storage_url(args)
    frame = status(storage)
    print(f"studies in {mask_url(storage)}")
    if frame.empty:
        print("  none yet: start one with tuner run STUDY_FILE")
        return 0
    frame["elapsed_s"] = frame["elapsed_s"].round().astype(int)
    if frame["front"].isna().all():  # no multi-objective study here
        frame = frame.drop(columns=["front"])
    else:
        frame["front"] = ["-" if v is None or v != v else str(int(v)) for v in frame["front"]]
    print(frame.drop(columns=["started"]).to_string(index=False, float_format=lambda v: f"{v:.4f}", na_rep="-"))
    return 0


def cmd_trials(args: argparse.Namespace) -> int:
    from tuner.api import trials
    from tuner.insight.curves import against_baseline, against_trivial
    from tuner.storage.queries import readable_trials

    storage = storage_with(args, args.study)
    every = trials(args.study, storage)
    frame = every[every["state"] == args.state] if args.state else every
    if frame.empty:
        print(f"no trials{' in state ' + args.state if args.state else ''} in study {args.study}")
        return 0
    print(readable_trials(frame).to_string(index=False, float_format=_short, na_rep=""))
    for row in frame[frame["error"] != ""].to_dict("records"):
        error = row["error"].rstrip()
        print(f"trial {row['number']} {row['stop_reason']}: {error if args.errors else error.splitlines()[-1]}")
    for row in frame[frame["warning"] != ""].to_dict("records"):
        print(f"trial {row['number']} warning: {row['warning']}")
    if "front" in frame:  # a multi-objective study
        for row in frame[frame[PRUNED_BECAUSE] != ""].to_dict("records"):
            print(f"trial {row['number']} pruned {row[PRUNED_BECAUSE]}")
        print(f"front (*): {int(every['front'].sum())} trials; export one: tuner export {args.study} --trial N")
    if baseline := against_baseline(storage, args.study, every):
        print(baseline)
    if trivial := against_trivial(storage, args.study, every):
        print(trivial)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from tuner.api import export
    from tuner.config.export_file import FileFormat, render
    from tuner.insight.export import export_model

    storage = storage_url(args)
    out = output_file("--out", args.out) if args.out else None  # every path checked before anything is written
    model = output_file("--model", args.model) if args.model else None
    where = args.where or ()
    text = render(export(args.study, args.trial, storage, args.best_for, where), FileFormat(args.format))
    if model is not None:
        number = export_model(storage, args.study, args.trial, model, args.best_for, where)
        print(f"wrote {model}, trial {number}'s kept model; use it with: tuner evaluate {model} --data FILE")
    if out is not None:
        out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}; retrain it with: tuner train {args.out} --out model.pt")
    elif model is None:
        sys.stdout.write(text)
    return 0


def _as_the_trial(threads: int, trial_threads: int | None) -> str:
    if trial_threads is None:  # exported before trials recorded it
        return ""
    if threads == trial_threads:
        return ", as the trial did"
    return f"; the trial had {trial_threads}, so its value may differ a little"


def _train_device(asked: str | None, trained_on: str, precision: str) -> str:
    """Where ``tuner train`` trains: ``--device``, else where the trial did when this machine can, else the CPU.

    A retrain on another device (or in another precision) is the same network trained with different
    rounding (TF32 or bfloat16 on a GPU, float32 on a CPU), so its value drifts; on the same device,
    precision and thread count it repeats the trial's.
    """
    import torch

    from tuner.training.trial_run import no_cuda_reason

    wanted = asked or trained_on
    if wanted == "cuda" and not torch.cuda.is_available():
        if asked == "cuda":
            raise BadInput("--device", None, "a machine where torch sees a CUDA device", "cuda", no_cuda_reason())
        print(
            f"the trial trained on cuda in {precision}, but {no_cuda_reason()}: training on the CPU in float32; "
            "expect its value to drift from the trial's (different rounding at every step)"
        )
        return "cpu"
    if wanted == "cuda":
        print(f"training on cuda in {precision}" + (", as the trial did" if trained_on == "cuda" else ""))
    elif trained_on == "cuda":
        print("the trial trained on cuda: training on the CPU in float32 (--device cpu), so its value may drift")
    return wanted


def cmd_train(args: argparse.Namespace) -> int:
    from tuner.config.export_file import read_train_file

    train_file = read_train_file(args.config)
    positive("--threads", args.threads)
    out = output_file("--out", args.out)  # before training, not after it
    from tuner.api import retrain
    from tuner.insight.score_lines import score_lines
    from tuner.training.checkpoint import save_checkpoint

    def show(m) -> None:  # noqa: ANN001 (EpochMetrics)
        extra = "  ".join(f"{k.removeprefix('val_')} {v:.4f}" for k, v in m.metrics.items() if k != "val_loss")
        print(
            f"epoch {m.epoch:3d}  train {m.train_loss:.4f}  val {m.val_loss:.4f}  {extra}  "
            f"grad {m.grad_norm:.3f}  {m.seconds:.1f}s  {m.steps_per_sec:,.0f} steps/s",
            flush=True,
        )

    # as many threads as the trial had: float sums then add up in the same order, and the value repeats
    threads = args.threads or train_file.threads or os.cpu_count() or 1
    device = _train_device(args.device, train_file.device or "cpu", train_file.precision)
    if device == "cpu":
        print(f"training with {threads} thread{'s' if threads > 1 else ''}{_as_the_trial(threads, train_file.threads)}")
    result, scores, final = retrain(train_file, threads=threads, device=device, on_epoch=[show])
    print(f"best {result.monitor} {result.best_value:.4f} at epoch {result.best_epoch} ({result.stop_reason})")
    if result.folds and final is result:
        print(
            f"cross-validated: {len(result.folds)} fold networks trained in step (the figures are their means); "
            "the model file holds all of them, their outputs averaged (refit: ensemble)"
        )
    if final is not result:
        print(
            f"refit: a new network trained {final.best_epoch} epochs on training + validation data "
            "(its validation figures below are the selection run's; its test figures are its own)"
        )
    if (expected := train_file.expected_value) is not None:
        drift = f"{(result.best_value - expected) / abs(expected):+.2%}" if expected else f"{result.best_value:+.4f}"
        print(f"the study's trial reached {expected:.4f} ({drift})")
    warning = capacity_warning(result.parameter_count, result.data.training_examples())
    if warning:
        print(f"warning: {warning}")
    for line in score_lines(scores.as_dict(), minimize=train_file.settings["direction"] == "minimize"):
        print(line)
    save_checkpoint(out, final, train_file, scores.as_dict(), selection=result)
    use = f"tuner sample {out}" if result.data.vocab else f"tuner predict {out} --data FILE --out FILE.csv"
    print(f"saved {out}; use it with: tuner evaluate {out} --data FILE, {use}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    positive("--threads", args.threads)
    from tuner.training.inference import use_threads
    from tuner.training.model_file import load_model

    use_threads(args.threads)
    metrics = load_model(args.model).evaluate(args.data, strict=args.strict)
    if args.format == "json":
        print(json.dumps(metrics))
        return 0
    per_class, matrix = metrics.pop("per_class", None), metrics.pop("confusion", None)
    if unseen := metrics.pop("left_out_characters", ""):
        share, count = metrics.pop("left_out_share"), metrics.pop("left_out")
        print(
            f"left out {count:,} characters the model never saw ({share:.2%} of the text: {unseen[:20]!r}); scored the rest"
        )
    for name, value in metrics.items():
        print(f"{name:<10} {value:.4f}" if isinstance(value, float) else f"{name:<10} {value}")
    if per_class is not None:
        print(per_class_text(per_class, matrix))
    return 0


def per_class_text(per_class: dict, matrix: dict) -> str:
    """A classifier's per-class table and confusion matrix (rows: true label, columns: predicted)."""
    import pandas as pd

    from tuner.insight.confusion import confusion_frame

    table = pd.DataFrame(per_class).T.astype({"support": int})
    counts = confusion_frame(matrix["labels"], matrix["matrix"])
    return (
        "per class:\n"
        + table.to_string(float_format=lambda v: f"{v:.3f}")
        + "\nconfusion (rows: true label, columns: predicted):\n"
        + counts.to_string()
    )


def cmd_predict(args: argparse.Namespace) -> int:
    positive("--threads", args.threads)
    out = output_file("--out", args.out)
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise BadInput("--out", None, "a .csv or .parquet file", args.out)
    from tuner.training.inference import use_threads
    from tuner.training.model_file import load_model

    use_threads(args.threads)
    predictions = load_model(args.model).predict(args.data)
    if out.suffix.lower() == ".parquet":
        predictions.to_parquet(out, index=False)
    else:
        predictions.to_csv(out, index=False)
    print(f"wrote {len(predictions):,} predictions to {out}")
    return 0


def cmd_importance(args: argparse.Namespace) -> int:
    from tuner.insight.curves import importance_table
    from tuner.insight.importance import RELIABLE_TRIALS

    storage = storage_with(args, args.study)
    if args.bootstrap < 0:
        raise BadInput("--bootstrap", None, "an integer >= 0 (0: no interval)", args.bootstrap)
    table = importance_table(storage, args.study, bootstrap=args.bootstrap)
    if table.values.empty:
        print(f"study {args.study}: importances need at least 2 COMPLETE trials that differ (it has {table.trials})")
        return 0
    print(
        f"hyperparameter importance in study {args.study}, from {table.trials} COMPLETE trials (shares of the objective's variance)"
    )
    print(table.values.to_string(float_format=lambda v: f"{v:.3f}", na_rep="not ranked"))
    if table.resamples:
        print(f"low, high: fANOVA's 90% interval over {table.resamples} bootstrap resamplings of the trials")
    if table.top_two_overlap:
        top = list(table.values.index[:2])
        print(f"the intervals of {top[0]} and {top[1]} overlap: these trials do not settle which matters more")
    if table.trials < RELIABLE_TRIALS:
        print(f"warning: fewer than {RELIABLE_TRIALS} COMPLETE trials: treat these as a rough guide")
    return 0


def cmd_narrow(args: argparse.Namespace) -> int:
    from tuner.insight.narrow import narrow

    storage = storage_with(args, args.study)
    out = output_file("--out", args.out) if args.out else None
    text = narrow(storage, args.study, args.top)
    if out is None:
        sys.stdout.write(text)
        return 0
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}; use it in a study file: space: {{path: {out}}}, then tuner compare the two studies")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from tuner.insight.curves import compare_table

    storage = storage_with(args, args.study_a, args.study_b)
    print(compare_table(storage, args.study_a, args.study_b, args.target).to_string())
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from tuner.insight.report import build_report

    positive("--top", args.top)
    storage = storage_with(args, args.study)
    out = Path(args.out)
    make_folder("--out", out)  # before the report is built, as export and train check --out first
    text = build_report(storage, args.study, args.top)
    # a study name may hold "/" or spaces (Optuna allows any text): the file name keeps letters, digits,
    # . - _, and a name that had to change gets a short hash of itself, so "a/b" and "a b" do not collide
    stem = re.sub(r"[^\w.-]+", "_", args.study)
    if stem != args.study:
        stem += "-" + hashlib.sha1(args.study.encode(), usedforsecurity=False).hexdigest()[:6]
    path = out / f"{stem}-report.html"
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path} (one self-contained file)")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    if args.length < 1:
        raise BadInput("--length", None, "an integer >= 1", args.length)
    if not args.temperature > 0:
        raise BadInput("--temperature", None, "a number > 0", args.temperature)
    from tuner.training.checkpoint import load_checkpoint
    from tuner.training.sampling import sample_text

    model, checkpoint = load_checkpoint(args.model)
    vocab = checkpoint.get("vocab")
    if not vocab:
        raise BadInput(args.model, None, "a character model (task char_lm)", f"a {checkpoint.get('target')} model")
    unknown = sorted(set(args.prime) - set(vocab))
    if not args.prime or unknown:
        raise BadInput(
            "--prime", None, "a non-empty text made of the model's characters", "".join(unknown) or args.prime
        )
    print(sample_text(model, vocab, args.prime, args.length, args.temperature, args.seed))
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    from tuner.storage.engine import mask_url

    storage = storage_url(args)
    if not 1 <= args.port <= 65535:
        raise BadInput("--port", None, "a TCP port between 1 and 65535", args.port)
    check_can_listen(args.host, args.port)
    app = Path(__file__).parents[1] / "dashboard" / "entry.py"
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.address",
        args.host,
        "--server.port",
        str(args.port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",  # a read-only local tool: no "Deploy" button, no developer menu
        "viewer",
    ]
    print(f"dashboard for {mask_url(storage)} at http://{args.host}:{args.port} (Ctrl-C stops it)", flush=True)
    # become the Streamlit server (no child left behind when this process is stopped)
    os.execve(sys.executable, command, {**os.environ, STORAGE_ENV: storage})  # noqa: S606 - our own interpreter, our arguments


HANDLERS = {
    "run": cmd_run,
    "status": cmd_status,
    "trials": cmd_trials,
    "export": cmd_export,
    "train": cmd_train,
    "importance": cmd_importance,
    "narrow": cmd_narrow,
    "compare": cmd_compare,
    "report": cmd_report,
    "evaluate": cmd_evaluate,
    "predict": cmd_predict,
    "sample": cmd_sample,
    "dashboard": cmd_dashboard,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (2 for bad input, with one line on stderr)."""
    args = None
    one_line_warnings()
    try:
        args = build_parser(HANDLERS).parse_command(argv)
        return args.handler(args)
    except BadInput as error:
        print(f"tuner: error: {error}", file=sys.stderr)
        return 2
    except TunerError as error:
        print(f"tuner: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        resumes = args is not None and args.command == "run"  # only a study keeps what was done
        print(
            f"tuner: interrupted{'; run the same command again to resume the study' if resumes else ''}",
            file=sys.stderr,
        )
        return 130
    except BrokenPipeError:
        # the reader went away (`tuner trials X | head`): not an error of ours; keep the exit quiet
        discard_writes(sys.stdout)
        return 0


if __name__ == "__main__":
    sys.exit(main())
