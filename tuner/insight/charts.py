"""Plotly figures built from query frames; no data access here."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from tuner.insight.analysis import CurveReading

COLORS = qualitative.Plotly


def _color(index: int) -> str:
    return COLORS[index % len(COLORS)]


def overfitting_figure(curves: dict[int, pd.DataFrame], readings: dict[int, CurveReading]) -> go.Figure:
    """Training (solid) and validation (dashed) loss per epoch, one colour per trial,
    with the best epoch (star) and the overfitting onset (x) marked. Plain lists, not
    arrays, so the figure's JSON reads as numbers (tests and exported reports use it)."""
    figure = go.Figure()
    for index, (number, epochs) in enumerate(curves.items()):
        color, group = _color(index), f"trial {number}"
        for split, column, dash in (("train", "train_loss", "solid"), ("validation", "val_loss", "dash")):
            figure.add_scatter(
                x=epochs["epoch"].tolist(),
                y=epochs[column].tolist(),
                name=f"trial {number} {split}",
                legendgroup=group,
                mode="lines+markers",
                line={"color": color, "dash": dash},
                meta="curve",
            )
        reading = readings[number]
        figure.add_scatter(
            x=[reading.best_epoch],
            y=[reading.best_val_loss],
            name=f"trial {number} best epoch",
            legendgroup=group,
            mode="markers",
            marker={"symbol": "star", "size": 14, "color": color},
            meta="marker",
        )
        if reading.onset_epoch is not None:
            onset = epochs[epochs["epoch"] == reading.onset_epoch]
            figure.add_scatter(
                x=onset["epoch"].tolist(),
                y=onset["val_loss"].tolist(),
                name=f"trial {number} overfitting onset",
                legendgroup=group,
                mode="markers",
                marker={"symbol": "x", "size": 13, "color": color},
                meta="marker",
            )
    figure.update_layout(
        title="Training vs validation loss",
        xaxis_title="epoch",
        yaxis_title="loss",
        legend={"groupclick": "togglegroup"},
        margin={"t": 50},
    )
    return figure


def per_epoch_figure(curves: dict[int, pd.DataFrame], column: str, title: str, log_y: bool = False) -> go.Figure:
    """One line per trial of ``column`` against epoch (the gap, the gradient norm)."""
    figure = go.Figure()
    for index, (number, epochs) in enumerate(curves.items()):
        figure.add_scatter(
            x=epochs["epoch"].tolist(),
            y=epochs[column].tolist(),
            name=f"trial {number}",
            mode="lines+markers",
            line={"color": _color(index)},
        )
    figure.update_layout(title=title, xaxis_title="epoch", yaxis_type="log" if log_y else "linear", margin={"t": 50})
    return figure


def best_so_far_figure(points: pd.DataFrame, metric: str, baseline: float | None = None) -> go.Figure:
    """Every trial's value and the best so far; the study's baseline value as a dashed line when it has one."""
    figure = go.Figure()
    figure.add_scatter(
        x=points["number"], y=points["value"], mode="markers", name="trial value", marker={"opacity": 0.5}
    )
    figure.add_scatter(x=points["number"], y=points["best"], mode="lines", name="best so far", line={"shape": "hv"})
    if baseline is not None:
        figure.add_hline(y=baseline, line={"dash": "dash", "color": "#555"}, annotation_text="baseline")
    figure.update_layout(title="Best value over trials", xaxis_title="trial", yaxis_title=metric, margin={"t": 50})
    return figure


def importance_figure(values: pd.DataFrame) -> go.Figure:
    """Importances as bars; with ``low`` and ``high`` columns (a bootstrap interval), as error bars too."""
    ordered = values.sort_values("importance")
    errors = None
    if {"low", "high"} <= set(ordered.columns):
        errors = {
            "type": "data",
            "symmetric": False,
            "array": ordered["high"] - ordered["importance"],
            "arrayminus": ordered["importance"] - ordered["low"],
        }
    figure = go.Figure(go.Bar(x=ordered["importance"], y=ordered["parameter"], orientation="h", error_x=errors))
    figure.update_layout(title="Hyperparameter importance", xaxis_title="share of objective variance", margin={"t": 50})
    return figure


def _numeric(series: pd.Series) -> tuple[pd.Series, dict]:
    """A column as numbers for plotting, with tick labels for a categorical one."""
    numeric = pd.to_numeric(series, errors="coerce")
    if numeric.notna().sum() == series.notna().sum():
        return numeric, {}
    labels = sorted(series.dropna().astype(str).unique())
    codes = series.astype(str).map({label: i for i, label in enumerate(labels)}).where(series.notna())
    return codes, {"tickvals": list(range(len(labels))), "ticktext": labels}


def parallel_coordinates_figure(trials: pd.DataFrame, params: list[str], metric: str) -> go.Figure:
    dimensions = []
    for param in params:
        values, ticks = _numeric(trials[f"param_{param}"])
        dimensions.append({"label": param, "values": values.fillna(-1), **ticks})
    dimensions.append({"label": metric, "values": trials["value"]})
    figure = go.Figure(
        go.Parcoords(
            line={"color": trials["value"], "colorscale": "Viridis_r", "showscale": True}, dimensions=dimensions
        )
    )
    figure.update_layout(title="Parallel coordinates (COMPLETE trials)", margin={"t": 80})
    return figure


def objective_vs_params_figure(trials: pd.DataFrame, params: list[str], metric: str) -> go.Figure:
    columns = 3
    rows = max(1, -(-len(params) // columns))
    figure = make_subplots(rows=rows, cols=columns, subplot_titles=params)
    for index, param in enumerate(params):
        values, ticks = _numeric(trials[f"param_{param}"])
        row, col = index // columns + 1, index % columns + 1
        figure.add_scatter(
            x=values,
            y=trials["value"],
            mode="markers",
            name=param,
            showlegend=False,
            row=row,
            col=col,
            text=trials["number"].map(lambda n: f"trial {n}"),
        )
        if ticks:
            figure.update_xaxes(row=row, col=col, **ticks)
    figure.update_layout(title=f"{metric} against each parameter", height=260 * rows, margin={"t": 80})
    return figure


def front_figure(trials: pd.DataFrame, metric: str, cost: str) -> go.Figure:
    """A multi-objective study's trials, ``metric`` (the validation objective) against one ``cost``
    objective: the front's members joined in cost order, the other feasible COMPLETE trials, and the
    infeasible ones apart (as optuna-dashboard's Pareto view). Each point's text is its trial number."""
    complete = trials[trials["state"] == "COMPLETE"]
    groups = (
        ("front", complete[complete["front"]].sort_values(cost), "lines+markers", "circle", _color(0)),
        ("feasible", complete[~complete["front"] & (complete["infeasible"] == "")], "markers", "circle", "#999"),
        ("infeasible", complete[complete["infeasible"] != ""], "markers", "x", "#d62728"),
    )
    figure = go.Figure()
    for name, rows, mode, symbol, color in groups:
        figure.add_scatter(
            x=rows[cost].tolist(),
            y=rows["value"].tolist(),
            text=[f"trial {n}" for n in rows["number"]],
            customdata=rows["number"].tolist(),
            name=name,
            mode=mode,
            marker={"symbol": symbol, "size": 10, "color": color},
            line={"color": color},
            hovertemplate="%{text}<br>" + cost + " %{x}<br>" + metric + " %{y}<extra></extra>",
        )
    figure.update_layout(title=f"Front: {metric} against {cost}", xaxis_title=cost, yaxis_title=metric)
    return figure
