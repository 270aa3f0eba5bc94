"""Streamlit entry point: sidebar (storage, study, auto-refresh) and page navigation.

Run with ``tuner dashboard`` or ``streamlit run tuner/dashboard/entry.py`` (the one entry file); the storage
URL comes from $TUNER_STORAGE (default sqlite:///tuner.db).
"""

from __future__ import annotations

import importlib
import threading
from pathlib import Path

import streamlit as st

# Not "pages/": Streamlit would treat that folder as an old-style multipage app and skip this entry.
VIEWS = Path(__file__).parent / "views"


_warm_up_started = False


def _warm_up_imports() -> None:
    """Import the slow modules of later pages in the background, once per server process:
    ``optuna.importance`` pulls in scikit-learn (~1.7 s on 2 cores)."""
    global _warm_up_started
    if not _warm_up_started:
        _warm_up_started = True
        threading.Thread(target=importlib.import_module, args=("optuna.importance",), daemon=True).start()


def main() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    st.set_page_config(page_title="rnn-tuner", layout="wide")
    navigation = st.navigation(
        [
            st.Page(VIEWS / "studies.py", title="Studies", default=True, url_path="studies"),
            st.Page(VIEWS / "trials.py", title="Trials", url_path="trials"),
            st.Page(VIEWS / "overfitting.py", title="Overfitting", url_path="overfitting"),
            st.Page(VIEWS / "front.py", title="Front", url_path="front"),
            st.Page(VIEWS / "insight.py", title="Search insight", url_path="insight"),
            st.Page(VIEWS / "export.py", title="Export", url_path="export"),
        ]
    )
    _sidebar()
    navigation.run()
    _warm_up_imports()  # after the page is drawn, so it never slows the page being looked at


def _sidebar() -> None:
    from tuner.dashboard.common import load_studies, storage_problem, storage_url
    from tuner.storage.engine import mask_url

    url = storage_url()
    st.session_state["storage"] = url
    st.sidebar.caption(f"storage: {mask_url(url)}")
    if storage_problem(url) is None:
        names = list(load_studies(url)["study"])
        if names:
            wanted = st.session_state.get("study") or st.query_params.get("study")
            index = names.index(wanted) if wanted in names else len(names) - 1
            study = st.sidebar.selectbox("study", names, index=index)
            previous = st.session_state.get("study")
            if previous is not None and previous != study:  # another study's trial numbers mean nothing here
                st.session_state.pop("selected_trials", None)
            st.session_state["study"] = study  # not written back to the URL: that makes Streamlit reload the page
    st.session_state["auto_refresh"] = st.sidebar.toggle(
        "auto-refresh every 5 s", value=st.session_state.get("auto_refresh", True)
    )
