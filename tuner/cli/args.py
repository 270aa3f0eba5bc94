"""Command-line values, checked: each mistake is one line naming the flag (or file), what was expected and found.

The argparse subclass, output paths, the storage URL and where it came from, the dashboard's address,
and how the command shows Python warnings.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tuner.errors import BadInput, did_you_mean

if TYPE_CHECKING:
    from tuner.config.studies import StudySpec


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line and exits 2."""

    commands: dict[str, argparse.ArgumentParser]  # the top-level parser's subcommands, set by build_parser

    def error(self, message: str) -> None:  # type: ignore[override]
        raise BadInput(self.prog, None, "valid arguments (see --help)", message)

    def parse_command(self, argv: Sequence[str] | None) -> argparse.Namespace:
        """Parse; a flag the command does not have is named with the command, and a close one suggested."""
        args, unknown = self.parse_known_args(argv)
        if unknown:
            command = self.commands[args.command]
            # argparse has no public list of a parser's options: _actions is the one it keeps itself
            flags = [flag for action in command._actions for flag in action.option_strings]
            hint = did_you_mean(unknown[0], flags) if unknown[0].startswith("-") else ""
            raise BadInput(
                command.prog, None, "valid arguments (see --help)", f"unrecognized arguments: {' '.join(unknown)}", hint
            )
        return args


def output_file(flag: str, value: str) -> Path:
    """Where ``flag`` says to write, its folder made now: a path that cannot be written fails before the work."""
    path = Path(value)
    if path.is_dir():
        raise BadInput(flag, None, "a file path, not a folder", value)
    make_folder(flag, path.parent)
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise BadInput(flag, None, "a file path you can write", value, "permission denied")
    return path


def make_folder(flag: str, folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise BadInput(flag, None, "a folder", str(folder), "it is a file")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BadInput(flag, None, "a folder that can be created", str(folder), error.strerror or str(error)) from None


def storage_url(args: argparse.Namespace, study: StudySpec | None = None, must_exist: bool = True) -> str:
    """--storage, else $TUNER_STORAGE, else the study file's storage, else sqlite:///tuner.db; checked."""
    from tuner.storage.engine import choose_storage

    if study is None:
        return choose_storage(args.storage, "--storage", must_exist=must_exist)
    return choose_storage(args.storage, "--storage", study.storage, study.source, must_exist)


def storage_with(args: argparse.Namespace, *studies: str) -> str:
    """The storage URL for a reading command, checked to exist and to hold each of ``studies``."""
    import optuna

    from tuner.storage.queries import check_study

    storage = storage_url(args)
    for name in studies:
        check_study(storage, name)
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own lines say what matters
    return storage


def check_can_listen(host: str, port: int) -> None:
    """--host and --port must be bindable now: Streamlit would say so only after our "dashboard at" line."""
    import socket

    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
            probe.bind((host, port))
    except OSError as error:
        raise BadInput(
            "--host/--port", None, "an address this machine can listen on", f"{host}:{port} ({error.strerror or error})"
        ) from None


def one_line_warnings() -> None:
    """Show each Python warning (Optuna's "QMCSampler is experimental", ...) as one line, once per message:
    not a file, line number and source line, and not again when the study file is read a second time."""
    shown: set[str] = set()

    def show(message: Warning | str, *_: object, **__: object) -> None:
        text = f"tuner: warning: {str(message).splitlines()[0]}"
        if text not in shown:
            shown.add(text)
            print(text, file=sys.stderr)

    warnings.showwarning = show
