"""rnn-tuner's dashboard as a checkout runs it: ``streamlit run dashboard/app.py`` (the way a Streamlit app
is run and deployed from its repository). The storage comes from $TUNER_STORAGE (default
sqlite:///tuner.db in the working folder).

The app itself is the package's (``tuner/dashboard``): ``tuner dashboard`` serves the same pages from an
installed wheel through ``tuner/dashboard/entry.py``. This file holds no page of its own.
"""

from tuner.dashboard.app import main

main()
