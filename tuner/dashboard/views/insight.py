"""Search insight: importance (Optuna's evaluators), parallel coordinates, objective against each parameter."""

import streamlit as st

from tuner.dashboard.common import CACHE_SECONDS, auto_refresh, load_trials, page_context
from tuner.insight import charts
from tuner.insight.importance import (
    BOOTSTRAP,
    LIGHT_FOREST,
    RELIABLE_TRIALS,
    Evaluator,
    bootstrap_importances,
    param_importances,
)
from tuner.storage import queries

context = page_context()


@st.cache_data(ttl=CACHE_SECONDS * 10, show_spinner="computing importances")
def importances(url: str, study: str, direction: str, evaluator: str, complete: int, resamples: int):  # noqa: ANN201
    # `complete` is part of the cache key: recompute only when another trial has completed.
    trials, dists = load_trials(url, study), queries.distributions(url, study)
    if resamples:  # off by default: resampling multiplies the page's time
        return bootstrap_importances(trials, dists, direction, resamples, Evaluator(evaluator), forest=LIGHT_FOREST)
    return param_importances(trials, dists, direction, Evaluator(evaluator), forest=LIGHT_FOREST)


@auto_refresh
def body() -> None:
    st.header(f"Search insight: {context.study}")
    trials = load_trials(context.storage, context.study)
    complete = trials[trials["state"] == "COMPLETE"]
    if len(complete) < 2:
        st.info(f"Study {context.study} needs at least 2 COMPLETE trials for this page (it has {len(complete)}).")
        return
    params = [c.removeprefix("param_") for c in trials.columns if c.startswith("param_")]
    names = {
        Evaluator.PED_ANOVA.value: "PED-ANOVA",
        Evaluator.FANOVA.value: f"fANOVA ({LIGHT_FOREST.trees} trees, depth {LIGHT_FOREST.depth})",
    }
    evaluator = st.radio("importance evaluator", list(names), horizontal=True, format_func=names.get)
    intervals = st.toggle(f"90% intervals ({BOOTSTRAP} bootstrap resamplings of the trials)", value=False)
    result = importances(
        context.storage, context.study, context.direction, evaluator, len(complete), BOOTSTRAP if intervals else 0
    )
    st.caption(f"based on {result.trials} COMPLETE trials")
    if intervals and result.top_two_overlap():
        st.warning("The two most important knobs' intervals overlap: these trials do not settle which matters more.")
    if result.trials < RELIABLE_TRIALS:
        st.warning(f"Fewer than {RELIABLE_TRIALS} COMPLETE trials: treat these importances as a rough guide.")
    if not result.values.empty:
        st.plotly_chart(charts.importance_figure(result.values), width="stretch")
    st.plotly_chart(charts.parallel_coordinates_figure(complete, params, context.metric), width="stretch")
    st.plotly_chart(charts.objective_vs_params_figure(complete, params, context.metric), width="stretch")


body()
