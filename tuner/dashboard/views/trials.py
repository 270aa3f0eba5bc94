"""Trials: a sortable, filterable table; select rows to compare their curves."""

import streamlit as st

from tuner.dashboard.common import auto_refresh, page_context, trials_or_notice

context = page_context()


@auto_refresh
def body() -> None:
    st.header(f"Trials of {context.study}")
    trials = trials_or_notice(context)
    if trials is None:
        return
    states = sorted(trials["state"].unique())
    left, right = st.columns(2)
    keep = left.multiselect("state", states, default=states)
    reasons = sorted(r for r in trials["stop_reason"].unique() if r)
    keep_reasons = right.multiselect("why it stopped", reasons, default=reasons)
    shown = trials[
        trials["state"].isin(keep) & (trials["stop_reason"].isin(keep_reasons) | (trials["stop_reason"] == ""))
    ]
    hidden = ["trial_id", "confusion"]  # a classifier's confusion matrix: the Studies page shows the best one's
    if not (trials["warm_start_from"] != "").any():
        hidden.append("warm_start_from")
    table = shown.drop(columns=hidden).rename(columns=lambda c: c.removeprefix("param_"))
    event = st.dataframe(
        table, hide_index=True, width="stretch", on_select="rerun", selection_mode="multi-row", key="trials_table"
    )
    rows = event.selection.rows if event is not None else []
    if rows:
        st.session_state["selected_trials"] = [int(table.iloc[i]["number"]) for i in rows]
    chosen = st.session_state.get("selected_trials")
    if chosen:
        st.caption(f"selected for comparison: trials {', '.join(map(str, chosen))} (see the Overfitting page)")


body()
