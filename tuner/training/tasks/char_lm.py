"""Character-level language modelling on a text file (Tiny Shakespeare by default).

The split is deterministic: the first ``1 - val_fraction`` of the text trains,
the rest validates, so every trial and every retrain sees the same data.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch
from torch import Tensor

from tuner.config.task import TASKS, data_path
from tuner.data.options import CharLMOptions
from tuner.data.text import read_plain_text, read_text, text_parts
from tuner.errors import BadInput
from tuner.training.tasks.base import Prepared, SequenceData, Target, Task, TaskData, full_lengths


class CharLM(Task):
    options = CharLMOptions
    metrics = TASKS["char_lm"].metrics

    def load(self, data: str | None, options: CharLMOptions) -> TaskData:
        text = read_text(_path(data), options)
        train, val, _ = text_parts(text, options)
        # the characters of the whole file (as char-rnn does): a test part may hold one the rest lacks
        vocab = "".join(sorted(set(text)))
        preparation = {"vocab": vocab, "seq_length": options.seq_length}
        return TaskData(
            target=Target.NEXT_TOKEN,
            train=cut_sequences(encode(train, vocab, str(data)), options.seq_length),
            val=cut_sequences(encode(val, vocab, str(data)), options.seq_length),
            input_size=len(vocab),
            output_size=len(vocab),
            vocab=vocab,
            step_unit="chars",
            preparation=preparation,
        )

    def held_out_test(self, data: str | None, options: CharLMOptions, preparation: dict) -> SequenceData:
        _, _, test = text_parts(read_text(_path(data), options), options)
        return cut_sequences(encode(test, preparation["vocab"], f"{data} (its test part)"), preparation["seq_length"])

    def prepare(self, source: str | Path | pd.DataFrame, preparation: dict, labelled: bool) -> Prepared:
        if isinstance(source, pd.DataFrame):
            raise BadInput("data", None, "a text file (a char_lm model reads text)", "a data frame")
        text = read_plain_text(Path(source))
        unseen = sorted(set(text) - set(preparation["vocab"]))
        known = "".join(ch for ch in text if ch not in unseen) if unseen else text  # left out, as SRILM's -ppl does
        encoded = encode(known, preparation["vocab"], str(source))
        if len(encoded) < 2:
            raise BadInput(str(source), None, "at least 2 characters (an input and its next character)", len(encoded))
        data = cut_sequences(encoded, preparation["seq_length"])
        keys = pd.DataFrame({"start": torch.arange(data.sequences).numpy() * data.inputs.shape[1]})
        left_out = len(text) - len(known)
        return Prepared(data, keys, "".join(unseen), left_out, left_out / len(text) if text else 0.0)


def _path(data: str | None) -> Path:
    return data_path(data or "builtin:tinyshakespeare")


def encode(text: str, vocab: str, where: str) -> Tensor:
    """Characters -> their indices in ``vocab``; a character the model never saw is named."""
    index = {ch: i for i, ch in enumerate(vocab)}
    unknown = sorted(set(text) - index.keys())
    if unknown:
        raise BadInput(where, None, "only characters the model was trained on", "".join(unknown)[:20])
    return torch.tensor([index[ch] for ch in text], dtype=torch.long)


def cut_sequences(encoded: Tensor, seq_length: int) -> SequenceData:
    """Non-overlapping sequences of inputs and next-character targets; a short stream is one shorter sequence."""
    length = min(seq_length, len(encoded) - 1)
    count = (len(encoded) - 1) // length
    inputs = encoded[: count * length].view(count, length)
    targets = encoded[1 : count * length + 1].view(count, length)
    return SequenceData(inputs, targets, full_lengths(inputs))
