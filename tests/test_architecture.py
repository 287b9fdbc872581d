"""The import rules hold for Charter, and the check that enforces them can fail."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from charter.domains import DOMAINS
from tests.architecture import DomainRule, check, rules_from


def test_charter_keeps_the_import_rules():
    problems = check("charter", rules_from(DOMAINS))
    assert problems == [], "\n".join(problems)


@pytest.fixture
def toy(tmp_path: Path, monkeypatch):
    """A small package laid out like Charter, to break one rule at a time."""
    def make(files: dict[str, str]) -> str:
        name = f"toy_{len(list(tmp_path.iterdir()))}"
        for path, text in {"__init__.py": "", "core/__init__.py": "", "core/db.py": "",
                           "a/__init__.py": "", "a/service.py": "", "a/_inner.py": "",
                           "b/__init__.py": "", "b/service.py": "", **files}.items():
            file = tmp_path / name / path
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(textwrap.dedent(text).replace("toy.", f"{name}."))
        return name
    monkeypatch.syspath_prepend(str(tmp_path))
    yield make
    for module in [m for m in sys.modules if m.startswith("toy_")]:
        del sys.modules[module]


RULES = [DomainRule("a", (), ("service", "schemas")),
         DomainRule("b", ("a",), ("service", "schemas"))]


def test_a_clean_toy_passes(toy):
    package = toy({"b/service.py": "from toy.a import service\n"})
    assert check(package, RULES) == []


def test_a_cycle_between_domains_fails(toy):
    package = toy({"a/service.py": "from toy.b import service\n",
                   "b/service.py": "from toy.a import service\n"})
    problems = check(package, RULES)
    assert any("does not list b" in p for p in problems)
    assert any("import cycle" in p for p in problems)


def test_a_cycle_between_files_of_one_domain_fails(toy):
    package = toy({"a/service.py": "from toy.a import _inner\n",
                   "a/_inner.py": "from toy.a import service\n"})
    assert any("import cycle" in p for p in check(package, RULES))


def test_an_import_of_a_private_module_fails(toy):
    package = toy({"b/service.py": "from toy.a import _inner\n"})
    assert any("private module" in p for p in check(package, RULES))


def test_an_import_inside_a_function_fails(toy):
    package = toy({"a/service.py": "def f():\n    from toy.b import service\n"})
    assert any("inside a function" in p for p in check(package, RULES))


def test_uses_that_point_down_the_list_fail(toy):
    package = toy({})
    rules = [DomainRule("a", ("b",), ("service",)), DomainRule("b", (), ("service",))]
    assert any("not listed before it" in p for p in check(package, rules))


def test_an_upward_import_and_a_web_library_in_a_domain_fail(toy):
    package = toy({"core/db.py": "from toy.a import service\n",
                   "a/service.py": "import fastapi\n"})
    problems = check(package, RULES)
    assert any("upward import" in p for p in problems)
    assert any("web/CLI/HTTP library" in p for p in problems)
