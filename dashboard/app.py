"""`streamlit run dashboard/app.py`: the dashboard's entry (its code lives in tuner/dashboard)."""

from tuner.dashboard.app import main

main()
