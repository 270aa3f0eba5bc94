"""The Streamlit dashboard: thin pages over storage queries. Read-only; no work at import time."""
