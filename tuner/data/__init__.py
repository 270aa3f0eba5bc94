"""Data: reading and checking the files users bring (text, long-format CSV and Parquet), the
options that say how to read and split them (``options``), the sample-data generators
(``generators``), and the built-in data files beside this module.

Must never import torch, optuna or ray: a study's data is checked when the study is read, before
anything heavy starts.
"""
