"""The manual cannot drift from the product: every code block and command in the README and docs/.

Long commands (a Shakespeare study, the benchmarks) are not run here; every command, flag and file
they name is checked instead: `tuner` commands parse with the real parser, scripts exist and take
the flags shown, study and space files load through the same checks `tuner run` uses, Python
blocks compile and name only the public API. Quick Python examples run in the API, own-data and
task tests (the README's own-task and load_model examples, the notebook).
"""

from __future__ import annotations

import ast
import re
import shlex
import shutil

import pytest
import yaml

from tests.conftest import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
INLINE = re.compile(r"`((?:tuner|python benchmarks/|python scripts/|bash scripts/)[^`]*)`")
REPO_PATH = re.compile(r"^(studies|search_spaces|scripts|benchmarks|examples|docs|tuner)/[\w./-]+$")


def blocks(language: str) -> list[tuple[str, str]]:
    """(where, text) of every fenced block in that language."""
    found = []
    for page in PAGES:
        text = page.read_text()
        for match in FENCE.finditer(text):
            if match.group(1) == language:
                line = text[: match.start()].count("\n") + 1
                found.append((f"{page.relative_to(REPO)}:{line}", match.group(2)))
    return found


def commands() -> list[tuple[str, str]]:
    """Every command line in bash blocks, and every inline `tuner ...` / `python benchmarks/...` span."""
    found = []
    for where, text in blocks("bash"):
        for line in text.splitlines():
            line = shlex.split(line, comments=True)
            for part in " ".join(shlex.quote(word) for word in line).split(" && "):
                if part:
                    found.append((where, part))
    for page in PAGES:
        for match in INLINE.finditer(page.read_text()):
            found.append((str(page.relative_to(REPO)), match.group(1)))
    return found


def _flags(words: list[str]) -> list[str]:
    return [w.split("=")[0] for w in words if re.fullmatch(r"--[a-z][a-z-]*(=.*)?", w)]


def test_every_tuner_command_in_the_manual_names_a_command_and_flags_it_has():
    from tuner.cli.commands import HANDLERS
    from tuner.cli.parser import build_parser

    parser = build_parser(HANDLERS)
    checked = 0
    for where, command in commands():
        words = command.replace("\\|", "|").split()
        if words[0] != "tuner" or len(words) < 2 or words[1].startswith("-") or words[1].isupper():
            continue
        assert words[1] in parser.commands, f"{where}: {command}: no command {words[1]!r}"
        sub = parser.commands[words[1]]
        known = {flag for action in sub._actions for flag in action.option_strings}
        for flag in _flags(words[2:]):
            assert flag in known, f"{where}: {command}: tuner {words[1]} has no {flag}"
        checked += 1
    assert checked > 20


def test_every_script_and_file_the_manual_runs_exists_and_takes_the_flags_shown():
    for where, command in commands():
        words = command.split()
        if words[0] in ("python", "bash") and len(words) > 1 and REPO_PATH.match(words[1]):
            script = REPO / words[1]
            assert script.is_file(), f"{where}: {command}: no {words[1]}"
            source = script.read_text()
            for flag in _flags(words[2:]):
                assert f'"{flag}"' in source or f" {flag} " in f" {source} ", f"{where}: {command}: no {flag}"
        for before, word in zip(["", *words], words, strict=False):
            written = before in ("--out", "--model", "--keep")  # a file the command writes
            if REPO_PATH.match(word) and not written and not word.endswith((".pt", ".db")):
                assert (REPO / word).exists(), f"{where}: {command}: {word} does not exist"


def test_every_yaml_block_parses_and_every_study_or_space_in_it_loads(tmp_path):
    from tuner.config.spaces import parse_space
    from tuner.config.studies import load_study

    shutil.copytree(REPO / "search_spaces", tmp_path / "search_spaces")
    (tmp_path / "studies").mkdir()
    (tmp_path / "studies/models").mkdir()
    studies = 0
    for where, text in blocks("yaml"):
        document = yaml.safe_load(text)
        assert isinstance(document, dict), where
        if {"name", "task", "space"} <= document.keys():
            path = tmp_path / "studies" / "from_docs.yaml"
            path.write_text(text)
            load_study(path)  # raises BadInput with the key that is wrong
            studies += 1
        elif "parameters" in document:
            parse_space(document, where)
    assert studies >= 2


@pytest.mark.parametrize(("where", "text"), blocks("python"), ids=lambda v: v if ":" in str(v) else None)
def test_every_python_block_compiles_and_uses_only_what_it_imports_and_the_public_api(where, text):
    import importlib.util

    import tuner

    tree = ast.parse(text, filename=where)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            spec = importlib.util.find_spec(node.module)
            assert spec is not None, f"{where}: no module {node.module}"
            module = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name), f"{where}: {node.module} has no {alias.name}"
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "tuner":
            assert node.attr in tuner.__all__, f"{where}: tuner.{node.attr} is not public API"


def test_the_readme_fits_on_a_few_screens_and_links_only_to_pages_that_exist():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if not target.startswith("http"):
                assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
