"""Orchestration: Optuna decides what to try, Ray Tune runs it, the driver records it.

Owns the Tune searcher and pruning scheduler over one Optuna study (``bridge``), the worker
function (``trainable``), reconcile and resume (``runner``, ``drivers``), joining a cluster
(``cluster``), kept models and shared data.

Knows no model internals (it calls ``training.trial_run``); never imports the CLI, the dashboard
or insight.
"""
