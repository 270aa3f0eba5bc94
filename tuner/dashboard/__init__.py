"""The Streamlit dashboard: thin pages over storage queries and insight. Read-only; no work at
import time. Its one entry file is ``entry.py`` (``tuner dashboard`` runs it).

Nothing imports the dashboard; its plotly figures are ``insight.charts`` (the report draws them too).
"""
