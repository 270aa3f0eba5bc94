"""Overfitting: training vs validation loss per epoch, best epoch, onset, gap, fit label, gradient norms."""

import pandas as pd
import streamlit as st

from tuner.dashboard.common import (
    auto_refresh,
    load_epochs,
    load_trivial,
    page_context,
    selected_trials,
    trials_or_notice,
)
from tuner.insight import charts
from tuner.insight.analysis import read_curves, with_gap

context = page_context()


@auto_refresh
def body() -> None:
    st.header(f"Overfitting curves: {context.study}")
    trials = trials_or_notice(context)
    if trials is None:
        return
    chosen = st.multiselect("trials", list(trials["number"]), default=selected_trials(trials, context.direction))
    if not chosen:
        st.info("Pick trials to compare (or select rows on the Trials page).")
        return
    epochs = load_epochs(context.storage, context.study, tuple(chosen))
    groups = dict(tuple(epochs.groupby("trial_number")))
    curves = {n: with_gap(groups[n]) for n in chosen if n in groups}  # in the order chosen: the best first
    missing = [n for n in chosen if n not in curves]
    if missing:
        st.info(f"No epochs recorded yet for trial(s) {', '.join(map(str, missing))}.")
    if not curves:
        return
    trivial = load_trivial(context.storage, context.study)
    readings = read_curves(curves, context.metric, context.direction, trivial)
    st.plotly_chart(charts.overfitting_figure(curves, readings), width="stretch", key="overfitting_chart")
    labels = pd.DataFrame(
        [
            {
                "trial": n,
                "fit": str(r.fit),
                f"best epoch (by {context.metric})": r.best_epoch,
                "validation loss there": r.best_val_loss,
                "overfitting onset": r.onset_epoch,
                "epochs": len(curves[n]),
            }
            for n, r in readings.items()
        ]
    )
    st.dataframe(labels, hide_index=True, width="stretch")
    st.caption(
        "Labels: no better than trivial = the best validation loss is not 2% below the trivial predictor's; "
        "overfit = validation loss rose more than 2% above its best after an onset; "
        "underfit = still improving by more than 1% at the last epoch (or one epoch only); good fit otherwise."
    )
    gap, grads = st.columns(2)
    gap.plotly_chart(
        charts.per_epoch_figure(curves, "gap", "Generalisation gap (validation - training)"), width="stretch"
    )
    grads.plotly_chart(
        charts.per_epoch_figure(curves, "grad_norm", "Gradient norm per epoch", log_y=True), width="stretch"
    )


body()
