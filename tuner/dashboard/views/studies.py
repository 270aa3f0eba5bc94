"""Studies: every study with its counts, best value, elapsed time and best-so-far curve (against the baseline)."""

import streamlit as st

from tuner.dashboard.common import (
    auto_refresh,
    load_baseline,
    load_studies,
    load_test_result,
    load_trials,
    load_trivial,
    page_context,
)
from tuner.insight import charts
from tuner.insight.analysis import best_so_far
from tuner.insight.confusion import best_trial_confusions
from tuner.insight.curves import baseline_summary, test_lines, trivial_summary

context = page_context()


@auto_refresh
def body() -> None:
    st.header("Studies")
    studies = load_studies(context.storage)
    shown = studies.drop(columns=["started"]).rename(columns={"elapsed_s": "elapsed (s)", "best_value": "best value"})
    st.dataframe(shown, hide_index=True, width="stretch")
    st.subheader(f"{context.study}: best value over trials")
    trials = load_trials(context.storage, context.study)
    points = best_so_far(trials, context.direction)
    if points.empty:
        st.info(f"Study {context.study} has no finished trial yet: the curve appears when the first trial completes.")
        return
    baseline = load_baseline(context.storage, context.study)
    st.plotly_chart(
        charts.best_so_far_figure(points, context.metric, baseline[1] if baseline else None), width="stretch"
    )
    if line := baseline_summary(trials, baseline, context.direction == "minimize", context.metric):
        st.caption(line)
    trivial = load_trivial(context.storage, context.study)
    if line := trivial_summary(trials, trivial, context.direction == "minimize", context.metric):
        st.caption(line)
    test_result = load_test_result(context.storage, context.study)
    for line in test_lines(test_result, context.direction == "minimize"):
        st.caption(line)
    for title, frame in best_trial_confusions(trials, context.direction, test_result).items():
        st.markdown(f"**Confusion matrix, {title}** (rows: the true label, columns: the predicted one)")
        st.dataframe(frame, width="content")


body()
