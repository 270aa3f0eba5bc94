"""What every page shares: the storage URL, the chosen study, cached reads, auto-refresh.

Reads are cached for a couple of seconds, so a page that refreshes itself
while a study runs costs a few cheap SQL queries, never a write.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from tuner import attrs
from tuner.errors import BadInput
from tuner.storage import DEFAULT_STORAGE, STORAGE_ENV, queries, ranking
from tuner.storage.engine import check_storage, mask_url

REFRESH_SECONDS = 5
CACHE_SECONDS = 2


@dataclass(frozen=True)
class Context:
    storage: str
    study: str
    direction: str
    metric: str  # what the study optimises, e.g. val_loss


def storage_url() -> str:
    return os.environ.get(STORAGE_ENV) or DEFAULT_STORAGE


def storage_problem(url: str) -> str | None:
    """Why this storage cannot be shown, in one line, or None."""
    try:
        check_storage(url, "storage", must_exist=True)
    except BadInput as error:
        return str(error)
    if not queries.has_optuna_tables(url):
        return f"storage {mask_url(url)} holds no Optuna study yet: start one with `tuner run STUDY_FILE`"
    return None


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_studies(url: str) -> pd.DataFrame:
    return queries.studies_frame(url)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_trials(url: str, study: str) -> pd.DataFrame:
    return queries.trials_frame(url, study)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_baseline(url: str, study: str) -> tuple[int, float] | None:
    return queries.baseline_result(url, study)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_trivial(url: str, study: str) -> dict | None:
    return queries.study_user_attr(url, study, attrs.TRIVIAL)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_test_result(url: str, study: str) -> dict | None:
    return queries.study_user_attr(url, study, attrs.TEST_RESULT)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_metric(url: str, study: str) -> str:
    return queries.study_metric(url, study)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def load_epochs(url: str, study: str, numbers: tuple[int, ...] | None) -> pd.DataFrame:
    return queries.epochs_frame(url, study, numbers)


def page_context() -> Context:
    """The storage and study this page shows; stops the page with a clear message when there is none."""
    url = st.session_state.get("storage") or storage_url()
    problem = storage_problem(url)
    if problem:
        st.error(problem)
        st.stop()
    studies = load_studies(url)
    if studies.empty:
        st.info(f"No studies in {mask_url(url)} yet: start one with `tuner run STUDY_FILE`.")
        st.stop()
    names = list(studies["study"])
    wanted = st.session_state.get("study") or st.query_params.get("study")
    study = wanted if wanted in names else names[-1]
    direction = studies.set_index("study").loc[study, "direction"]
    return Context(url, study, direction, load_metric(url, study))


def trials_or_notice(context: Context) -> pd.DataFrame | None:
    """The study's trials, or None after telling the user there are none yet."""
    trials = load_trials(context.storage, context.study)
    if trials.empty:
        st.info(f"Study {context.study} has no trials yet.")
        return None
    return trials


def auto_refresh(body: Callable[[], None]) -> Callable[[], None]:
    """Rerun ``body`` every few seconds while the sidebar's auto-refresh is on (a fragment: no full reload)."""
    every = REFRESH_SECONDS if st.session_state.get("auto_refresh", True) else None
    return st.fragment(run_every=every)(body)


def selected_trials(trials: pd.DataFrame, direction: str, default_count: int = 3) -> list[int]:
    """Trials chosen on the Trials page or in the URL (?trials=1,4), else the best few in the study's direction."""
    chosen = st.session_state.get("selected_trials")
    if chosen is None and st.query_params.get("trials"):
        chosen = [int(n) for n in st.query_params["trials"].split(",") if n.strip().isdigit()]
    numbers = set(trials["number"])
    if chosen:
        return [n for n in chosen if n in numbers]
    return list(ranking.ranked_rows(trials, direction)["number"].head(default_count))
