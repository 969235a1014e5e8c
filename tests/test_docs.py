"""The README tells the truth: every setting the code reads and every operator
command it offers is documented there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_every_environment_setting_is_documented():
    used = set()
    for path in (ROOT / "ats").rglob("*.py"):
        used |= set(re.findall(r"\b(ATS_[A-Z_]+)\b", path.read_text()))
    assert used, "no settings found: the scan is broken"
    missing = sorted(name for name in used if f"`{name}`" not in README)
    assert missing == [], f"README does not document {missing}"


def test_every_operator_command_is_documented(app):
    commands = []
    for name, group in app.cli.commands.items():
        if name in ("users", "tokens"):
            commands += [f"flask --app app {name} {sub}" for sub in group.commands]
    commands.append("flask --app app db upgrade")
    assert len(commands) >= 4
    missing = [c for c in commands if c not in README]
    assert missing == [], f"README does not document {missing}"


def test_readme_screenshots_exist():
    shots = re.findall(r"\]\((docs/screenshots/[^)]+)\)", README)
    assert shots and all((ROOT / s).is_file() for s in shots), shots


def test_every_atscli_command_is_documented():
    from ats.client.main import COMMANDS, profile

    missing = [f"profile {c}" for c in profile.commands if f"atscli profile {c}" not in README]
    missing += [c for c in COMMANDS if not re.search(rf"atscli \w+ {c}\b", README)]
    assert missing == [], f"README does not show {missing}"
    for variable in ("ATSCLI_CONFIG", "ATSCLI_PROFILE", "ATS_URL", "ATS_TOKEN"):
        assert f"`{variable}`" in README


def _names_a_command(group, words: list[str]) -> bool:
    """Whether the words lead from the CLI group to a command (a bare group is not one)."""
    import click

    command = group
    for word in words:
        if not isinstance(command, click.Group):
            break  # the rest are the command's arguments
        command = command.commands.get(word)
        if command is None:
            return False
    return not isinstance(command, click.Group)


def test_every_flask_command_in_the_readme_exists(app):
    written = re.findall(
        r"(?:flask --app app|deploy/ats-flask) ([a-z][\w-]*(?: [a-z][\w-]*)*)", README
    )
    assert len(written) >= 10
    wrong = sorted({w for w in written if not _names_a_command(app.cli, w.split())})
    assert wrong == [], f"README names commands that do not exist: {wrong}"


def test_deploy_files_are_documented_and_exist():
    files = {path.name for path in (ROOT / "deploy").iterdir()}
    named = {name.rstrip(".") for name in re.findall(r"deploy/([\w.@-]+)", README)}
    assert named - files == set(), f"README names missing files {named - files}"
    unmentioned = {f for f in files if f"deploy/{f}" not in README and f"`{f}`" not in README}
    assert unmentioned == set(), f"README does not mention {unmentioned}"
