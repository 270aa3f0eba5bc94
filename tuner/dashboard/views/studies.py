"""Studies: every study with its counts, best value, elapsed time and best-so-far curve."""

import streamlit as st

from tuner.analysis import best_so_far
from tuner.dashboard import charts
from tuner.dashboard.common import auto_refresh, load_studies, load_trials, page_context

context = page_context()


@auto_refresh
def body() -> None:
    st.header("Studies")
    studies = load_studies(context.storage)
    shown = studies.drop(columns=["started"]).rename(columns={"elapsed_s": "elapsed (s)", "best_value": "best value"})
    st.dataframe(shown, hide_index=True, width="stretch")
    st.subheader(f"{context.study}: best value over trials")
    points = best_so_far(load_trials(context.storage, context.study), context.direction)
    if points.empty:
        st.info(f"Study {context.study} has no finished trial yet: the curve appears when the first trial completes.")
        return
    st.plotly_chart(charts.best_so_far_figure(points, "objective"), width="stretch")


body()
