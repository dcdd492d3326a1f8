"""The docs beside the README: Given the settings models and template.yaml, Then every setting,
template parameter and alarm is documented, and every relative link in the docs leads somewhere.

What is documented where:
- docs/settings.md: every environment variable a settings model reads (pydantic-settings classes
  in the layer, found by their source) and every template.yaml Parameter;
- docs/operating.md: every AWS::CloudWatch::Alarm of template.yaml, in its runbook table.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from tests.support.template import template

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "shared"
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def _settings_classes() -> list[type[BaseSettings]]:
    """Every pydantic-settings class in the layer: each module that declares a ``...Settings``
    class is imported, then the BaseSettings subclasses defined in signbridge are collected."""
    for path in sorted((LAYER / "signbridge").rglob("*.py")):
        if re.search(r"^class \w*Settings\(", path.read_text(), re.MULTILINE):
            module = ".".join(path.relative_to(LAYER).with_suffix("").parts)
            importlib.import_module(module.removesuffix(".__init__"))
    found: list[type[BaseSettings]] = []
    pending = list(BaseSettings.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("signbridge") and cls not in found:
            found.append(cls)
    return sorted(found, key=lambda c: f"{c.__module__}.{c.__qualname__}")


def _env_names(cls: type[BaseSettings]) -> set[str]:
    prefix = str(cls.model_config.get("env_prefix", ""))
    names = set()
    for name, field in cls.model_fields.items():
        alias = field.validation_alias if isinstance(field.validation_alias, str) else None
        names.add((alias or f"{prefix}{name}").upper())
    return names


def _documented(page: Path) -> set[str]:
    """The names a page spells as code (`NAME`)."""
    return set(re.findall(r"`([^`\s]+)`", page.read_text())) if page.exists() else set()


CLASSES = _settings_classes()
SETTINGS = {name: cls.__name__ for cls in CLASSES for name in sorted(_env_names(cls))}
PARAMETERS = sorted(template()["Parameters"])
ALARMS = sorted(
    name for name, resource in template()["Resources"].items() if resource["Type"] == "AWS::CloudWatch::Alarm"
)


def test_the_settings_models_are_found():
    # Guards the discovery above: the core, the outbox and every destination's settings.
    classes = {cls.__name__ for cls in CLASSES}
    assert {"Settings", "OutboxSettings", "DropdaySettings", "OnwardSettings", "SignCustomiserSettings"} <= classes


def test_every_setting_is_in_docs_settings():
    documented = _documented(DOCS / "settings.md")
    missing = sorted(f"{name} ({cls})" for name, cls in SETTINGS.items() if name not in documented)
    assert not missing, f"docs/settings.md does not mention these environment variables: {missing}"


def test_every_template_parameter_is_in_docs_settings():
    documented = _documented(DOCS / "settings.md")
    missing = [name for name in PARAMETERS if name not in documented]
    assert not missing, f"docs/settings.md does not mention these template.yaml Parameters: {missing}"


def _runbook() -> dict[str, str]:
    """docs/operating.md's runbook rows, ``| `Alarm` | what happened | what to do |``, as the
    sentence they make: ``what happened: what to do``."""
    page = DOCS / "operating.md"
    rows = {}
    for line in page.read_text().splitlines() if page.exists() else []:
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if len(cells) == 3 and re.fullmatch(r"`\w+Alarm`", cells[0]):
            what, todo = cells[1], cells[2]
            rows[cells[0].strip("`")] = f"{what}: {todo[:1].lower()}{todo[1:]}"
    return rows


def test_every_alarm_has_a_runbook_row_in_docs_operating():
    missing = [name for name in ALARMS if name not in _runbook()]
    assert not missing, f"docs/operating.md's runbook table has no row for these alarms: {missing}"


@pytest.mark.parametrize("alarm", ALARMS)
def test_each_runbook_row_says_what_its_alarm_says(alarm):
    # The alarm's description (what an operator reads in the notification) and its runbook row
    # are the same sentence: "what happened: what to do".
    row = _runbook().get(alarm)
    if row is None:
        pytest.skip("no row (test_every_alarm_has_a_runbook_row_in_docs_operating fails)")
    assert row == template()["Resources"][alarm]["Properties"]["AlarmDescription"]


def _console_commands() -> list[tuple[str, ...]]:
    """Every leaf command of the console's parser, e.g. ("order", "show")."""
    import argparse

    from signbridge_tools.cli import build_parser

    def leaves(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> list[tuple[str, ...]]:
        subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subparsers:
            return [path]
        found, seen = [], set()
        for name, sub in subparsers[0].choices.items():
            if id(sub) in seen:  # an alias (in_doubt for in-doubt): the same command
                continue
            seen.add(id(sub))
            found.extend(leaves(sub, (*path, name)))
        return found

    return leaves(build_parser(), ())


def test_every_console_command_is_in_docs_operating():
    text = (DOCS / "operating.md").read_text() if (DOCS / "operating.md").exists() else ""
    # `signbridge deliveries STATE` is one command per unsettled state: the paragraph that names
    # STATE must list each.
    listed_states = " ".join(part for part in text.split("\n\n") if "STATE is one of" in part)
    missing = []
    for path in _console_commands():
        if f"signbridge {' '.join(path)}" in text:
            continue
        if path[0] == "deliveries" and f"`{path[1]}`" in listed_states:
            continue
        missing.append(" ".join(path))
    assert not missing, f"docs/operating.md does not show these console commands: {missing}"


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
    return {_slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE)}


def _links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
    text = re.sub(r"`[^`\n]*`", "", text)
    return re.findall(r"\]\(([^)\s]+)\)", text)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_leads_somewhere(page):
    broken = []
    for link in _links(page):
        if re.match(r"^[a-z]+:", link):  # https:, mailto:
            continue
        target, _, anchor = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        if not path.exists():
            broken.append(f"{link} (no such file)")
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(f"{link} (no such heading)")
    assert not broken, f"{page.relative_to(ROOT)} links to: {sorted(set(broken))}"
