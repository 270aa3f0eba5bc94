"""Front: a multi-objective study's trade-off, validation metric against a cost, and a member's curves."""

import streamlit as st

from tuner.config.objectives import COST_METRICS
from tuner.dashboard.common import auto_refresh, load_epochs, load_trivial, page_context, trials_or_notice
from tuner.insight import charts
from tuner.insight.analysis import read_curves, with_gap

context = page_context()


@auto_refresh
def body() -> None:
    st.header(f"Front: {context.study}")
    trials = trials_or_notice(context)
    if trials is None:
        return
    if "front" not in trials:
        st.info(f"Study {context.study} has one objective ({context.metric}): its best trials are on the Trials page.")
        return
    costs = [c for c in COST_METRICS if c in trials]
    cost = st.selectbox("against", costs)
    st.plotly_chart(charts.front_figure(trials, context.metric, cost), width="stretch", key="front_chart")
    front = trials[trials["front"]].sort_values(cost)
    st.dataframe(front[["number", "value", *costs]].rename(columns={"value": context.metric}), hide_index=True)
    if front.empty:
        st.info("No feasible COMPLETE trial yet.")
        return
    number = st.selectbox("a member's learning curves", list(front["number"]))
    epochs = load_epochs(context.storage, context.study, (int(number),))
    if epochs.empty:
        return
    curves = {int(number): with_gap(epochs)}
    readings = read_curves(curves, context.metric, context.direction, load_trivial(context.storage, context.study))
    st.plotly_chart(charts.overfitting_figure(curves, readings), width="stretch", key="front_member_curves")
    st.caption(f"export it: tuner export {context.study} --trial {number} --out member.yaml")


body()
