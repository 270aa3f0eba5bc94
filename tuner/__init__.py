"""rnn-tuner: hyperparameter tuning for recurrent networks.

Optuna decides what to try, Ray Tune runs trials, torch trains, SQL keeps
every trial and its learning curve. The command line is ``tuner.cli``; the
README's Architecture section maps the modules. Importing this package
imports nothing heavy: torch, Ray and Optuna load where they are needed.
"""

__version__ = "0.1.0"
