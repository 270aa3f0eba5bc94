"""Reading what studies found: learning curves (best epoch, overfitting onset, fit labels),
hyperparameter importance, comparisons, the HTML report, and exports of results.

Owns: ``curves`` (per-study summaries and curve reading), ``analysis`` (curve arithmetic),
``importance``, ``score_lines`` (final scores as text), ``report``, ``export`` (a trial as a
training file, a kept model file).

Reads the storage; must never write to it, and never imports the CLI, the dashboard's pages,
or orchestration (a report is made without Ray).
"""

# bootstrap resamplings of the trials behind an importance interval, wherever one is shown (tuner
# importance, the report, the dashboard): 30 settle a 90% interval's ends to a few hundredths
BOOTSTRAP = 30
