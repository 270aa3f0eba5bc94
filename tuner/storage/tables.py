"""Our own tables, created in the same database next to Optuna's.

Rows link to Optuna's ``trials.trial_id``; study name and trial number are
kept too so the tables read well on their own. Only the driver writes here.
"""

from __future__ import annotations

from sqlalchemy import JSON, Float, Integer, String, UniqueConstraint
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class EpochRow(Base):
    """One epoch of one trial: the learning curve, one row per epoch it ran."""

    __tablename__ = "tuner_epochs"
    __table_args__ = (UniqueConstraint("trial_id", "epoch", name="uq_tuner_epochs_trial_epoch"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(Integer, index=True)  # Optuna's trials.trial_id
    study_name: Mapped[str] = mapped_column(String(512), index=True)
    trial_number: Mapped[int] = mapped_column(Integer)
    epoch: Mapped[int] = mapped_column(Integer)  # numbered from 1
    train_loss: Mapped[float] = mapped_column(Float)
    val_loss: Mapped[float] = mapped_column(Float)
    grad_norm: Mapped[float] = mapped_column(Float)  # mean global norm before clipping
    clipped_fraction: Mapped[float] = mapped_column(Float)  # share of steps clipped
    seconds: Mapped[float] = mapped_column(Float)
    steps_per_sec: Mapped[float] = mapped_column(Float)  # training time steps (characters for char_lm) per second
    metrics: Mapped[dict] = mapped_column(JSON)  # the task's validation metrics, e.g. {"val_bpc": 3.1}
    layer_grad_norms: Mapped[list] = mapped_column(JSON)  # per recurrent layer, then the output layer


class FoldEpochRow(Base):
    """One fold's epoch of a cross-validated trial (``task.options.folds``); the trial's row in
    ``tuner_epochs`` holds the folds' means, which the pruner and early stopping saw."""

    __tablename__ = "tuner_fold_epochs"
    __table_args__ = (UniqueConstraint("trial_id", "epoch", "fold", name="uq_tuner_fold_epochs_trial_epoch_fold"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(Integer, index=True)  # Optuna's trials.trial_id
    study_name: Mapped[str] = mapped_column(String(512), index=True)
    trial_number: Mapped[int] = mapped_column(Integer)
    epoch: Mapped[int] = mapped_column(Integer)  # numbered from 1
    fold: Mapped[int] = mapped_column(Integer)  # numbered from 1
    train_loss: Mapped[float] = mapped_column(Float)
    val_loss: Mapped[float] = mapped_column(Float)
    seconds: Mapped[float] = mapped_column(Float)
    metrics: Mapped[dict] = mapped_column(JSON)  # the fold's validation metrics


class DriverRow(Base):
    """A `tuner run` process working on a study, and when it was last seen alive.

    Trials RUNNING under a driver that is gone (its process has exited, or it has
    not been seen for ``DRIVER_TIMEOUT_S``) are the ones a new run re-queues.
    """

    __tablename__ = "tuner_drivers"

    driver_id: Mapped[str] = mapped_column(String(200), primary_key=True)  # host:pid:start time
    study_name: Mapped[str] = mapped_column(String(512), index=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    last_seen: Mapped[float] = mapped_column(Float)  # seconds since the epoch


DRIVER_TIMEOUT_S = 120.0

EPOCH_METRICS = ("train_loss", "val_loss", "grad_norm", "clipped_fraction", "seconds", "steps_per_sec")
EPOCH_JSON = ("metrics", "layer_grad_norms")


def create_tables(engine: Engine) -> None:
    """Create our tables if they are missing (idempotent)."""
    Base.metadata.create_all(engine)
