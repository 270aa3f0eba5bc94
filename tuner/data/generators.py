"""Generators of the sample data sets shipped in ``tuner/data`` (run ``python -m tuner.data.generators`` to rewrite them).

- ``control_charts.csv``: synthetic control-chart series (Alcock & Manolopoulos,
  1999; UCI "Synthetic Control Chart Time Series"): 6 classes x 100 series x 60
  steps, in long format (sequence_id, step, value, label). With mean m = 30,
  spread s = 2 and r uniform in [-3, 3] at each step t:
  0 normal y = m + r s; 1 cyclic + a sin(2 pi t / T), a in [10, 15], T in [10, 15];
  2 increasing trend + g t, g in [0.2, 0.5]; 3 decreasing trend - g t;
  4 upward shift + k x, x in [7.5, 20], k = 1 from a step t3 in [n/3, 2n/3] on;
  5 downward shift - k x.
- ``mackey_glass.csv``: the Mackey-Glass delay differential equation
  dx/dt = 0.2 x(t - 17) / (1 + x(t - 17)^10) - 0.1 x(t), sampled every time unit
  (Euler steps of 0.1 after a 500-unit warm-up): a classic chaotic forecasting series.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).parent  # the built-in data files sit beside this module
CONTROL_CLASSES = ("normal", "cyclic", "increasing trend", "decreasing trend", "upward shift", "downward shift")


def control_charts(per_class: int = 100, length: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    m, s = 30.0, 2.0
    t = np.arange(1, length + 1)
    rows = []
    for label in range(len(CONTROL_CLASSES)):
        for _ in range(per_class):
            y = m + rng.uniform(-3, 3, length) * s
            if label == 1:
                y += rng.uniform(10, 15) * np.sin(2 * np.pi * t / rng.uniform(10, 15))
            elif label in (2, 3):
                y += (1 if label == 2 else -1) * rng.uniform(0.2, 0.5) * t
            elif label in (4, 5):
                t3 = rng.integers(length // 3, 2 * length // 3 + 1)
                y += (1 if label == 4 else -1) * (t >= t3) * rng.uniform(7.5, 20)
            rows.append(y)
    ids = np.repeat(np.arange(len(rows)), length)
    return pd.DataFrame(
        {
            "sequence_id": ids,
            "step": np.tile(np.arange(length), len(rows)),
            "value": np.round(np.concatenate(rows), 4),
            "label": np.repeat(np.arange(len(CONTROL_CLASSES)), per_class * length),
        }
    )


def mackey_glass(points: int = 3000, tau: int = 17, dt: float = 0.1, warm_up: int = 500) -> pd.DataFrame:
    per_unit = int(round(1 / dt))
    delay = tau * per_unit
    total = (points + warm_up) * per_unit
    x = np.full(total + delay, 1.2)
    for i in range(delay, total + delay - 1):
        lagged = x[i - delay]
        x[i + 1] = x[i] + dt * (0.2 * lagged / (1 + lagged**10) - 0.1 * x[i])
    series = x[delay + warm_up * per_unit :: per_unit][:points]
    return pd.DataFrame({"t": np.arange(points), "value": np.round(series, 6)})


if __name__ == "__main__":
    control_charts().to_csv(DATA / "control_charts.csv", index=False)
    mackey_glass().to_csv(DATA / "mackey_glass.csv", index=False)
    print(f"wrote {DATA / 'control_charts.csv'} and {DATA / 'mackey_glass.csv'}")
