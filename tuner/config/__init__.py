"""What a study file says: reading and checking study, search-space, task, sampler/pruner,
early-stopping and export files into frozen, typed objects; the knobs and their defaults.

Owns: ``studies`` (a study file), ``spaces`` (a search space), ``task`` (which task, its data
files and options), ``algorithms`` and ``pruners`` (Optuna samplers and pruners from their
settings), ``early_stopping``, ``hyperparams`` (every knob of a network), ``export_file`` (the
file ``tuner export`` writes and ``tuner train`` reads), ``yaml_file``.

Must never import torch, ray, the CLI or the dashboard: a study is checked in one line before
anything heavy starts.
"""
