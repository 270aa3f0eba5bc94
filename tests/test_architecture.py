"""The rooms of the code keep their import rules (pyproject.toml, [tool.importlinter])."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def test_no_room_imports_what_its_rules_forbid():
    # import-linter's own command on the contracts in pyproject.toml: layers, and the forbidden imports
    # (training without Optuna and Ray; study files and data without torch)
    done = subprocess.run(["lint-imports"], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "5 kept, 0 broken" in done.stdout


def test_importing_tuner_loads_nothing_heavy_and_every_package_says_what_it_owns():
    code = (
        "import sys, importlib, tuner\n"
        "heavy = [m for m in ('torch', 'ray', 'optuna', 'streamlit', 'pandas') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "for room in ('config', 'data', 'training', 'orchestration', 'storage', 'insight', 'cli', 'dashboard'):\n"
        "    doc = importlib.import_module('tuner.' + room).__doc__\n"
        "    assert doc and ('never' in doc or 'Never' in doc or 'Nothing' in doc), room\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
