"""Our own tables, created in the same database next to Optuna's.

Rows link to Optuna's ``trials.trial_id``; study name and trial number are
kept too so the tables read well on their own. Only the driver writes here.
"""

from __future__ import annotations

from sqlalchemy import Float, Integer, String, UniqueConstraint
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
    val_bpc: Mapped[float] = mapped_column(Float)
    grad_norm: Mapped[float] = mapped_column(Float)
    clipped_fraction: Mapped[float] = mapped_column(Float)
    seconds: Mapped[float] = mapped_column(Float)
    chars_per_sec: Mapped[float] = mapped_column(Float)


EPOCH_METRICS = ("train_loss", "val_loss", "val_bpc", "grad_norm", "clipped_fraction", "seconds", "chars_per_sec")


def create_tables(engine: Engine) -> None:
    """Create our tables if they are missing (idempotent)."""
    Base.metadata.create_all(engine)
