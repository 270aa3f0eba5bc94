"""Opening a storage URL: one engine per URL, SQLite in WAL mode, clear errors, masked passwords."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import optuna
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError

from tuner.errors import BadInput

SQLITE_TIMEOUT_S = 60  # a reader or the driver waits this long on a lock instead of failing


def mask_url(url: str) -> str:
    """The URL with its password replaced by ***, safe to print or log."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _engine_kwargs(url: str) -> dict:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": SQLITE_TIMEOUT_S}}
    return {"pool_pre_ping": True}


def _fast_commits(engine: Engine) -> None:
    """SQLite in WAL mode with synchronous=NORMAL: a commit no longer waits for the disk (fsync
    happens at checkpoints). Still safe when a process is killed; only a power cut can lose the
    last commits. This is what keeps the per-trial cost of a study small."""
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001 (DB-API object)
            dbapi_connection.execute("PRAGMA synchronous=NORMAL")

        engine.dispose()  # connections opened before the listener get it too


@functools.cache
def get_engine(url: str) -> Engine:
    """One engine per URL for this process."""
    engine = sa.create_engine(url, **_engine_kwargs(url))
    _fast_commits(engine)
    return engine


def use_wal(url: str) -> None:
    """Put an SQLite database in WAL mode (it stays so): readers such as the dashboard then never
    block the driver's writes, and the driver never blocks them. Called by the writer only."""
    engine = get_engine(url)
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA journal_mode=WAL")


def check_storage(url: str, flag: str = "--storage", must_exist: bool = False) -> None:
    """Raise BadInput (one line, password masked) unless ``url`` can be connected to.

    ``must_exist``: for commands that only read, a missing SQLite file is an
    error rather than an empty database created by accident.
    """
    shown = mask_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise BadInput(flag, None, "an SQLAlchemy URL such as sqlite:///tuner.db", url) from None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database)
        if must_exist and not path.is_file():
            raise BadInput(flag, None, "an existing SQLite database file", f"{shown} (no such file)")
        if not path.parent.is_dir():
            raise BadInput(flag, None, "an SQLite file in an existing folder", f"{shown} (no folder {path.parent})")
        if not path.exists():  # connecting would create it: a run stopped later by a bad flag leaves no empty file
            if not os.access(path.parent, os.W_OK):
                raise BadInput(
                    flag, None, "an SQLite file in a folder it may write", f"{shown} (cannot write {path.parent})"
                )
            return
    try:
        with get_engine(url).connect() as connection:
            connection.execute(sa.text("SELECT 1"))
            found = _schema_version(connection)
    except NoSuchModuleError:
        raise BadInput(
            flag, None, "a database driver that is installed", f"{shown} (no driver for {parsed.drivername})"
        ) from None
    except ModuleNotFoundError as error:
        raise BadInput(flag, None, "a database driver that is installed", f"{shown} ({error})") from None
    except (OperationalError, SQLAlchemyError) as error:
        reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
        raise BadInput(flag, None, "a reachable database", f"{shown} ({reason})") from None
    check_schema(found, flag, shown)


def _schema_version(connection: sa.Connection) -> str | None:
    """The Optuna table schema (alembic revision) a database holds, or None before Optuna made its tables."""
    if not sa.inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


@functools.cache
def optuna_schema() -> str:
    """The table schema the installed Optuna writes (its RDB storage's head revision, by its public API)."""
    storage = optuna.storages.RDBStorage("sqlite://", skip_compatibility_check=True)
    return storage.get_head_version()


def check_schema(found: str | None, flag: str, shown: str) -> None:
    """Our queries read Optuna's tables with plain SQL: refuse a database another Optuna version laid out
    (in one line, naming both), rather than misread it."""
    if found is not None and found != optuna_schema():
        raise BadInput(
            flag,
            None,
            f"Optuna's table schema {optuna_schema()} (optuna {optuna.__version__}, installed)",
            f"{shown} (schema {found})",
            "written by another Optuna version: `optuna storage upgrade --storage URL` upgrades an older one",
        )


def optuna_storage(url: str, create_tables: bool = True) -> optuna.storages.RDBStorage:
    """Optuna's RDB storage on the same URL; readers pass ``create_tables=False`` so they never write."""
    storage = optuna.storages.RDBStorage(url, engine_kwargs=_engine_kwargs(url), skip_table_creation=not create_tables)
    _fast_commits(storage.engine)
    return storage


def choose_storage(
    given: str | None, given_as: str, study_storage: str | None = None, study_file: str = "", must_exist: bool = True
) -> str:
    """``given`` (a flag or an argument), else $TUNER_STORAGE, else the study file's storage, else
    sqlite:///tuner.db; checked. An error names where the URL came from (``given_as``, the variable
    or the study file). ``must_exist``: a reading command refuses a missing SQLite file instead of
    creating an empty one.
    """
    from tuner.storage import DEFAULT_STORAGE, STORAGE_ENV

    choices = [
        (given, given_as),
        (os.environ.get(STORAGE_ENV), f"${STORAGE_ENV}"),
        (study_storage, f"{study_file}: storage"),
    ]
    storage, origin = next(
        ((url, origin) for url, origin in choices if url), (DEFAULT_STORAGE, f"{given_as} (default)")
    )
    check_storage(storage, flag=origin, must_exist=must_exist)
    return storage
