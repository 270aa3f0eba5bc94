"""The script `tuner dashboard` hands to `streamlit run` (Streamlit re-executes it on every rerun;
the app itself is an imported module, so its state lives once per server process)."""

from tuner.dashboard.app import main

main()
