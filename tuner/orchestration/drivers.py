"""Which `tuner run` processes are alive: a row per driver with a heartbeat.

Several drivers may share a study (two machines on one PostgreSQL). A trial
left RUNNING is re-queued only when its driver is gone: a process that no
longer exists on this host, or a driver not seen for DRIVER_TIMEOUT_S.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import sqlalchemy as sa
from ray.tune import Callback

from tuner.storage.engine import get_engine
from tuner.storage.tables import DRIVER_TIMEOUT_S, DriverRow

HEARTBEAT_S = 10.0


def new_driver_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{time.time():.3f}"


def beat(url: str, driver_id: str, study_name: str) -> None:
    """Insert or refresh this driver's row."""
    host, pid, _ = driver_id.rsplit(":", 2)
    with get_engine(url).begin() as connection:
        updated = connection.execute(
            sa.update(DriverRow).where(DriverRow.driver_id == driver_id).values(last_seen=time.time())
        ).rowcount
        if not updated:
            connection.execute(
                sa.insert(DriverRow).values(
                    driver_id=driver_id, study_name=study_name, host=host, pid=int(pid), last_seen=time.time()
                )
            )


def is_gone(url: str, driver_id: str | None) -> bool:
    """True when the driver that owned a trial cannot still be running it."""
    if not driver_id:
        return True
    with get_engine(url).connect() as connection:
        row = connection.execute(sa.select(DriverRow).where(DriverRow.driver_id == driver_id)).first()
    if row is None:
        return True
    if row.host == socket.gethostname():
        try:
            os.kill(row.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, someone else's
            pass
    return time.time() - row.last_seen > DRIVER_TIMEOUT_S


class Heartbeat(Callback):
    """Refreshes the driver's row every HEARTBEAT_S while Tune runs."""

    def __init__(self, url: str, driver_id: str, study_name: str) -> None:
        self.url, self.driver_id, self.study_name = url, driver_id, study_name
        self._last = 0.0

    def on_step_begin(self, iteration: int, trials: list, **info: Any) -> None:
        if time.monotonic() - self._last >= HEARTBEAT_S:
            self._last = time.monotonic()
            beat(self.url, self.driver_id, self.study_name)
