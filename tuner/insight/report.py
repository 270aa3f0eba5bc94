"""`tuner report`: one self-contained HTML file about a study, to attach to a pull request or send on.

Everything is inside the file (plotly's JavaScript inlined once, figures as
data): the study's settings, the best config (the `tuner export` text) and
how it compares with the baseline trial, the top trials, their overfitting
curves, importances, the best-so-far curve, and the failures with their
reasons. Read-only over the storage.
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd
import plotly.io as pio
import yaml

from tuner import attrs
from tuner.config.export_file import FileFormat
from tuner.config.objectives import COST_METRICS
from tuner.errors import BadInput
from tuner.insight import BOOTSTRAP, charts
from tuner.insight.analysis import best_so_far, read_curves, with_gap
from tuner.insight.confusion import best_trial_confusions
from tuner.insight.curves import baseline_summary, test_lines, trivial_summary
from tuner.insight.export import export_text
from tuner.insight.importance import RELIABLE_TRIALS, bootstrap_importances
from tuner.storage import queries, ranking

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.9rem; } td, th { border: 1px solid #ddd; padding: 0.25rem 0.5rem; }
pre { background: #f6f6f6; padding: 0.8rem; overflow-x: auto; } .note { color: #666; }
"""


def _best_config(url: str, study: str) -> str:
    """The `tuner export` text of the best trial, or why there is none (a study Optuna made directly)."""
    try:
        return f"<pre>{html.escape(export_text(url, study, None, FileFormat.YAML))}</pre>"
    except BadInput as error:
        return f"<p class='note'>No export: {html.escape(str(error))}</p>"


def _front_section(trials: pd.DataFrame, metric: str, figure: Figures) -> list[str]:
    """A multi-objective study's front: a chart per cost objective and the members' table."""
    costs = [c for c in COST_METRICS if c in trials]
    front = trials[trials["front"]].sort_values(costs[0])
    parts = [
        "<h2>Front</h2>",
        f"<p class='note'>{len(front)} feasible trials no other beats on every objective; "
        "export one with tuner export STUDY --trial N or --best-for METRIC</p>",
    ]
    parts += [figure(charts.front_figure(trials, metric, cost)) for cost in costs]
    table = front[["number", "value", *costs]].rename(columns={"value": metric})
    return [*parts, table.to_html(index=False, float_format=lambda v: f"{v:.4g}")]


def _settings_table(settings: dict) -> str:
    """One row per setting; a nested one (task, sampler, pruner, early stopping) in YAML's flow style."""
    rows = []
    for key, value in settings.items():
        shown = yaml.safe_dump(value, default_flow_style=True, sort_keys=False).strip().removesuffix("...").strip()
        rows.append(f"<tr><th>{html.escape(str(key))}</th><td><code>{html.escape(shown)}</code></td></tr>")
    return "<table class='settings'>" + "".join(rows) + "</table>"


class Figures:
    """Plotly figures as HTML fragments; plotly's JavaScript goes into the file once, with the first."""

    def __init__(self) -> None:
        self.inlined = False

    def __call__(self, fig: Any) -> str:  # (a plotly Figure)
        html_text = pio.to_html(fig, full_html=False, include_plotlyjs=False if self.inlined else "inline")
        self.inlined = True
        return html_text


def _curves_section(
    url: str, study: str, numbers: list[int], metric: str, direction: str, trivial: dict | None, figure: Figures
) -> list[str]:
    """The top trials' overfitting curves and the label each gets."""
    epochs = queries.epochs_frame(url, study, numbers)
    curves = {int(n): with_gap(group) for n, group in epochs.groupby("trial_number")}
    if not curves:
        return []
    readings = read_curves(curves, metric, direction, trivial)
    labels = pd.DataFrame(
        [
            {"trial": n, "fit": str(r.fit), "best epoch": r.best_epoch, "overfitting onset": r.onset_epoch}
            for n, r in readings.items()
        ]
    )
    return [
        "<h2>Overfitting curves of the top trials</h2>",
        figure(charts.overfitting_figure(curves, readings)),
        labels.to_html(index=False, na_rep="-"),
    ]


def _importance_section(url: str, study: str, trials: pd.DataFrame, direction: str, figure: Figures) -> list[str]:
    """fANOVA importances with their bootstrap intervals (as ``tuner importance`` and the dashboard)."""
    result = bootstrap_importances(trials, queries.distributions(url, study), direction, BOOTSTRAP)
    parts = ["<h2>Hyperparameter importance (fANOVA)</h2>"]
    if result.values.empty:
        return [*parts, f"<p>Not enough COMPLETE trials that differ ({result.trials}).</p>"]
    overlap = result.top_two_overlap()
    return [
        *parts,
        f"<p class='note'>from {result.trials} COMPLETE trials"
        + ("" if result.trials >= RELIABLE_TRIALS else f"; fewer than {RELIABLE_TRIALS}: a rough guide")
        + (
            f"; bars: 90% intervals over {result.resamples} bootstrap resamplings of the trials"
            if result.resamples
            else "; one knob searched: its importance is 1 by definition"
        )
        + ("; the top two overlap: their order is not settled" if overlap else "")
        + "</p>",
        figure(charts.importance_figure(result.values)),
    ]


def _failures(trials: pd.DataFrame) -> str:
    """Each failed trial's stop reason and the last line of its error."""
    failed = trials[trials["error"] != ""]
    if failed.empty:
        return "<p>None.</p>"
    reasons = failed.assign(error=failed["error"].map(lambda e: e.strip().splitlines()[-1]))
    return reasons[["number", "stop_reason", "error"]].to_html(index=False)


def build_report(url: str, study: str, top_k: int = 5) -> str:
    """The report's HTML text (the study must exist: see queries.check_study)."""
    direction = queries.study_direction(url, study)
    settings = queries.study_user_attr(url, study, attrs.SETTINGS) or {}
    settings |= queries.study_user_attr(url, study, attrs.SEARCH) or {}  # the sampler and pruner, where stored
    metric = queries.study_metric(url, study)
    trials = queries.trials_frame(url, study)
    complete = ranking.ranked_rows(trials, direction)
    figure = Figures()

    parts = [
        f"<h1>Study {html.escape(study)}</h1>",
        f"<p class='note'>{len(trials)} trials, objective {direction}d</p>",
    ]
    parts += ["<h2>Settings</h2>", _settings_table(settings)]
    counts = trials["state"].value_counts().to_dict() if len(trials) else {}
    parts.append("<p>" + ", ".join(f"{state}: {n}" for state, n in counts.items()) + "</p>")
    if complete.empty:
        parts.append("<p>No COMPLETE trial yet.</p>")
    else:
        if "front" in trials:  # a multi-objective study: its front in place of one best config
            parts += _front_section(trials, metric, figure)
        else:
            parts += ["<h2>Best config</h2>", _best_config(url, study)]
        baseline = queries.baseline_result(url, study)
        baseline_value = baseline[1] if baseline else None
        if line := baseline_summary(trials, baseline, direction == "minimize", metric):
            parts.append(f"<p>{html.escape(line)}</p>")
        trivial = queries.study_user_attr(url, study, attrs.TRIVIAL)
        if line := trivial_summary(trials, trivial, direction == "minimize", metric):
            parts.append(f"<p>{html.escape(line)}</p>")
        if lines := test_lines(queries.study_user_attr(url, study, attrs.TEST_RESULT), direction == "minimize"):
            parts.append("<p>" + "<br>".join(html.escape(line) for line in lines) + "</p>")
        top = complete.head(top_k)
        parts += [
            f"<h2>Top {len(top)} trials</h2>",
            queries.readable_trials(top).to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep=""),
        ]
        parts += _curves_section(url, study, list(top["number"]), metric, direction, trivial, figure)
        parts += [
            "<h2>Best value over trials</h2>",
            figure(charts.best_so_far_figure(best_so_far(trials, direction), metric, baseline_value)),
        ]
        parts += _importance_section(url, study, trials, direction, figure)
    if confusions := best_trial_confusions(trials, direction, queries.study_user_attr(url, study, attrs.TEST_RESULT)):
        parts.append(
            "<h2>Confusion matrices of the best trial</h2><p class='note'>rows: the true label, columns: the predicted one</p>"
        )
        for title, frame in confusions.items():
            parts += [f"<h3>{html.escape(title)}</h3>", frame.to_html()]
    parts += ["<h2>Failures</h2>", _failures(trials)]
    body = "\n".join(parts)
    return f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(study)}</title><style>{_STYLE}</style></head><body>{body}</body></html>"
