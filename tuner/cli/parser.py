"""What the `tuner` command line accepts: commands, flags, help texts and examples.

What each command does is in ``cli.py``; this module only describes the arguments.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping

from tuner import __version__
from tuner.cli.args import Parser
from tuner.insight import BOOTSTRAP
from tuner.storage import DEFAULT_STORAGE, STORAGE_ENV

Handler = Callable[[argparse.Namespace], int]

_EXAMPLES = {
    "run": "example:\n  tuner run studies/quickstart.yaml --workers 2\n  tuner run studies/shakespeare.yaml --trials 8 --workers 2 --storage sqlite:///shakespeare.db",
    "status": "example:\n  tuner status\n  tuner status --storage postgresql+psycopg://user:pw@db/tuner",
    "trials": "example:\n  tuner trials quickstart\n  tuner trials quickstart --state FAIL --errors",
    "export": "example:\n  tuner export quickstart --out best.yaml\n  tuner export quickstart --model best.pt\n  tuner export quickstart --trial 3 --format json --out trial3.json\n  tuner export small-and-good --best-for val_loss --where 'params<=100000' --out best.yaml",
    "train": "example:\n  tuner train best.yaml --out model.pt",
    "importance": "example:\n  tuner importance shakespeare-char",
    "narrow": "example:\n  tuner narrow quickstart --top 0.2 --out search_spaces/narrow.yaml",
    "compare": "example:\n  tuner compare shakespeare-char shakespeare-char-2\n  tuner compare old new --target 1.5",
    "report": "example:\n  tuner report shakespeare-char --out reports/",
    "evaluate": "example:\n  tuner evaluate model.pt --data test.csv\n  tuner evaluate model.pt --data test.csv --format json",
    "predict": "example:\n  tuner predict model.pt --data new.csv --out predictions.csv",
    "sample": 'example:\n  tuner sample model.pt --prime "ROMEO:" --length 500 --temperature 0.8',
    "dashboard": "example:\n  tuner dashboard\n  tuner dashboard --storage sqlite:///shakespeare.db --port 8502",
}


def build_parser(handlers: Mapping[str, Handler]) -> Parser:
    """The `tuner` parser; ``handlers`` maps each command's name to the function that runs it."""
    parser = Parser(
        prog="tuner", description="Tune recurrent networks: Optuna decides, Ray Tune runs, torch trains, SQL remembers."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    parser.commands = commands.choices  # name -> its parser, for errors that name the command

    def command(name: str, help_text: str, reads_storage: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=_EXAMPLES[name],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.set_defaults(handler=handlers[name])
        if reads_storage:  # train and sample work from files alone
            sub.add_argument(
                "--storage",
                help=f"SQLAlchemy URL of the study database (default: ${STORAGE_ENV}, the study file's, or {DEFAULT_STORAGE})",
            )
        return sub

    _study_commands(command)
    _model_commands(command)
    _insight_commands(command)
    return parser


Command = Callable[..., argparse.ArgumentParser]  # makes a subcommand: (name, help, reads_storage=True)


def _study_commands(command: Command) -> None:
    """run, status, trials, export: a study and its trials."""
    run = command("run", "Run a study file: new, or continue an existing study up to its budget.")
    run.add_argument("study_file", help="a study YAML, e.g. studies/quickstart.yaml")
    run.add_argument("--trials", type=int, help="total trials the study should hold (default: the study file's)")
    run.add_argument("--workers", type=int, default=2, help="most trials running at once (default 2)")
    run.add_argument("--address", help="join an existing Ray cluster at HOST:PORT instead of starting Ray here")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument(
        "--force", action="store_true", help="the study exists with another space or settings: start NAME-2 instead"
    )

    command("status", "List the studies in the storage with trial counts and best values.")

    trials = command("trials", "Table of a study's trials: state, value, epochs, why it stopped, parameters.")
    trials.add_argument("study", help="study name")
    trials.add_argument(
        "--state",
        choices=["COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING"],
        type=str.upper,
        help="only trials in this state",
    )
    trials.add_argument("--errors", action="store_true", help="print failed trials' full tracebacks")

    export = command("export", "Write a trial's complete training config (best by default) as YAML or JSON.")
    export.add_argument("study", help="study name")
    export.add_argument("--trial", type=int, help="trial number (default: the best COMPLETE trial)")
    export.add_argument(
        "--best-for",
        metavar="METRIC",
        help="a multi-objective study: the front member best for METRIC (one of its objectives)",
    )
    export.add_argument(
        "--where",
        action="append",
        metavar="CONDITION",
        help='with --best-for, only front members meeting it, e.g. "params<=100000" (repeatable)',
    )
    export.add_argument("--format", choices=["yaml", "json"], default="yaml")
    export.add_argument("--out", help="file to write (default: standard output)")
    export.add_argument(
        "--model", help="also write the trial's kept model file (as tuner train writes; the best K trials keep one)"
    )


def _model_commands(command: Command) -> None:
    """train, evaluate, predict, sample: a network from an export, and using it."""
    train = command("train", "Retrain an exported config alone: no Ray, no Optuna.", reads_storage=False)
    train.add_argument("config", help="a file written by tuner export")
    train.add_argument("--out", default="model.pt", help="checkpoint to write (default model.pt)")
    train.add_argument(
        "--threads", type=int, help="torch threads (default: as many as the trial had, which repeats its value)"
    )
    train.add_argument(
        "--device",
        choices=["cpu", "cuda"],
        help="where to train (default: where the trial trained, if this machine has it, else the CPU)",
    )

    evaluate = command(
        "evaluate", "Score a model file on a labelled data file: the task's metrics.", reads_storage=False
    )
    evaluate.add_argument("model", help="a model file written by tuner train --out")
    evaluate.add_argument("--data", required=True, help="a labelled file in the task's format (CSV, Parquet, or text)")
    evaluate.add_argument(
        "--format", choices=["table", "json"], default="table", help="table (default) or one JSON object"
    )
    evaluate.add_argument(
        "--strict",
        action="store_true",
        help="refuse text with characters the model never saw (default: score the others, report those left out)",
    )

    predict = command("predict", "Apply a model file to a data file and write its predictions.", reads_storage=False)
    predict.add_argument("model", help="a model file written by tuner train --out")
    predict.add_argument("--data", required=True, help="a file in the task's format (no label column needed)")
    predict.add_argument("--out", required=True, help="predictions to write: FILE.csv or FILE.parquet")
    for scorer in (evaluate, predict):
        scorer.add_argument(
            "--threads", type=int, help="torch threads (default: the cores not already busy, at least 1)"
        )

    sample = command("sample", "Generate text from a character model trained by tuner train.", reads_storage=False)
    sample.add_argument("model", help="a checkpoint written by tuner train --out")
    sample.add_argument("--prime", default="\n", help="text to start from (default: a newline)")
    sample.add_argument("--length", type=int, default=500, help="characters to generate (default 500)")
    sample.add_argument("--temperature", type=float, default=0.8, help="below 1: safer, above 1: wilder (default 0.8)")
    sample.add_argument("--seed", type=int, default=0, help="random seed of the sampling")


def _insight_commands(command: Command) -> None:
    """importance, narrow, compare, report, dashboard: reading what studies found."""
    importance = command("importance", "Hyperparameter importances of a study (fANOVA and PED-ANOVA).")
    importance.add_argument("study", help="study name")
    importance.add_argument(
        "--bootstrap",
        type=int,
        default=BOOTSTRAP,
        help=f"resamplings of the trials behind fANOVA's interval (default {BOOTSTRAP}, as the report and dashboard; 0: no interval)",
    )

    narrow = command("narrow", "A search-space file narrowed to the region of a finished study's best trials.")
    narrow.add_argument("study", help="study name")
    narrow.add_argument(
        "--top",
        type=float,
        help="share of the COMPLETE trials to keep (default 0.2; a multi-objective study keeps its front)",
    )
    narrow.add_argument("--out", help="the space file to write (default: print it)")

    compare = command("compare", "Two studies side by side: best values, trials to reach a target, importances.")
    compare.add_argument("study_a", help="study name")
    compare.add_argument("study_b", help="study name")
    compare.add_argument("--target", type=float, help="objective value to reach (default: the worse of the two bests)")

    report = command("report", "Write one self-contained HTML report of a study.")
    report.add_argument("study", help="study name")
    report.add_argument("--out", default=".", help="folder to write STUDY-report.html into (default: here)")
    report.add_argument("--top", type=int, default=5, help="top trials to show (default 5)")

    dashboard = command("dashboard", "Open the Streamlit dashboard on the storage (read-only).")
    dashboard.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    dashboard.add_argument("--port", type=int, default=8501, help="port (default 8501)")
