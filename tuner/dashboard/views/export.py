"""Export: download a trial's config, byte for byte the file `tuner export` writes."""

import streamlit as st

from tuner.config.export_file import FileFormat
from tuner.dashboard.common import load_trials, page_context, selected_trials
from tuner.errors import BadInput
from tuner.insight.export import export_text, kept_model_of
from tuner.storage import ranking

context = page_context()
st.header(f"Export: {context.study}")
trials = load_trials(context.storage, context.study)
exportable = trials[trials["state"].isin(["COMPLETE", "PRUNED"])]
complete = exportable[exportable["state"] == "COMPLETE"]
if complete.empty:
    st.info(f"Study {context.study} has no COMPLETE trial yet: nothing to export.")
    st.stop()
best = int(ranking.ranked_rows(trials, context.direction).iloc[0]["number"])
# a multi-objective study has a front, not a best trial: every export names its trial (--trial N)
by_number = "front" in trials
choices = list(exportable["number"])
preferred = [n for n in selected_trials(trials, context.direction) if n in choices]
number = st.selectbox(
    "trial",
    choices,
    index=choices.index(preferred[0] if preferred else best),
    format_func=lambda n: f"{n} (best)" if n == best and not by_number else str(n),
)
file_format = FileFormat(st.radio("format", [f.value for f in FileFormat], horizontal=True))
try:
    named = None if number == best and not by_number else number
    text = export_text(context.storage, context.study, named, file_format)
except BadInput as error:  # a study Optuna made directly has nothing to retrain from
    st.info(f"Nothing to export: {error}")
    st.stop()
st.download_button(
    f"download trial {number} as {file_format.value.upper()}",
    data=text.encode("utf-8"),
    file_name=f"{context.study}-trial{number}.{file_format.value}",
    mime="text/plain",
)
model = kept_model_of(context.storage, context.study, number)  # from its models folder or bucket
if model is not None:
    st.download_button(
        f"download trial {number}'s kept model",
        data=model,
        file_name=f"{context.study}-trial{number}.pt",
        mime="application/octet-stream",
    )
    st.caption(f"the file tuner export {context.study} --trial {number} --model FILE writes: no retraining")
else:
    st.caption(f"trial {number} has no kept model (only the study's best keep_best are kept): retrain its config")
st.code(text, language=file_format.value)
st.caption(
    f"the same bytes as: tuner export {context.study}{'' if named is None else f' --trial {number}'} --format {file_format.value}"
)
