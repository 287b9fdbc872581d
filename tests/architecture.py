"""The architecture check: the import rules of docs/design.md, read from `charter.domains`.

`check()` builds the import graph of a package with grimp (the graph import-linter uses)
and returns every broken rule, one line each:

- layers: interfaces -> platform -> domains -> core -> settings/errors; nothing imports
  upward (the root package's lazy `Client` aside);
- a domain imports another only if its entry's `uses` names it, and only that domain's
  public modules (`exports`): never a `_private` one;
- the domains' `uses` point only up the list, so domains cannot form a cycle;
- no two modules of the package import each other, directly or through others;
- no import of another domain inside a function (the usual way round a cycle);
- domain and core code import no web, CLI or HTTP library.
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import grimp

INTERFACES = ("cli", "sdk", "api", "web", "demo")
PLATFORM = ("platform", "migrations")
CORE = ("core",)
BASE = ("settings", "errors", "domains")  # settings may raise errors
FORBIDDEN_IN_DOMAINS = ("fastapi", "starlette", "typer", "httpx", "jinja2", "uvicorn", "rich")
IGNORED = {("charter", "charter.sdk")}  # `charter.Client`, imported lazily by the root


@dataclass(frozen=True)
class DomainRule:
    name: str
    uses: tuple[str, ...]
    exports: tuple[str, ...]


def rules_from(domains: Iterable[object]) -> list[DomainRule]:
    return [DomainRule(d.name, tuple(d.uses), tuple(d.exports))  # type: ignore[attr-defined]
            for d in domains]


def check(package: str, domains: Sequence[DomainRule]) -> list[str]:
    """Every broken import rule in `package`, as readable lines (empty: all hold)."""
    graph = grimp.build_graph(package, include_external_packages=True,
                              exclude_type_checking_imports=True, cache_dir=None)
    layer = _layers(package, domains)
    by_name = {d.name: d for d in domains}
    problems = _domain_order(domains)
    internal = sorted(m for m in graph.modules if m == package or m.startswith(package + "."))
    for importer in internal:
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            if (importer, imported) in IGNORED:
                continue
            where = _where(graph, importer, imported)
            problems += _import_problems(package, importer, imported, layer, by_name, where)
    problems += _cycles(graph, internal)
    problems += _function_imports(package, domains)
    return problems


def _layers(package: str, domains: Sequence[DomainRule]) -> dict[str, float]:
    order = [*INTERFACES, *PLATFORM, *(d.name for d in domains), *CORE, *BASE]
    rank: dict[str, float] = {name: 0 for name in INTERFACES}
    rank.update({name: 1 for name in PLATFORM})
    rank.update({d.name: 2 for d in domains})
    rank.update({name: 3 for name in CORE})
    rank.update({name: 4 for name in BASE})
    rank["settings"] = 3.5  # above errors, which it raises
    return {f"{package}.{name}": rank[name] for name in order}


def _top(package: str, module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 and parts[0] == package else module


def _where(graph: grimp.ImportGraph, importer: str, imported: str) -> str:
    details = graph.get_import_details(importer=importer, imported=imported)
    line = details[0]["line_number"] if details else "?"
    return f"{importer}:{line} imports {imported}"


def _import_problems(package: str, importer: str, imported: str, layer: dict[str, float],
                     domains: dict[str, DomainRule], where: str) -> list[str]:
    source, target = _top(package, importer), _top(package, imported)
    if importer == package:
        return []
    if not target.startswith(package + "."):  # an outside library
        if layer.get(source, 0) >= 2 and target.split(".")[0] in FORBIDDEN_IN_DOMAINS:
            return [f"web/CLI/HTTP library in domain or core code: {where}"]
        return []
    if source == target:
        return []
    if source not in layer:
        return [f"{source} is in no layer (add it to charter.domains or the check): {where}"]
    if target not in layer:
        return [f"{target} is in no layer (add it to charter.domains or the check): {where}"]
    if layer[source] > layer[target] or (layer[source] == layer[target] != 2
                                         and layer[source] != 0):
        return [f"upward import ({source} -> {target}): {where}"]
    problems = []
    src_name, dst_name = source.split(".")[1], target.split(".")[1]
    if src_name in domains and dst_name in domains:
        if dst_name not in domains[src_name].uses:
            problems.append(f"domain {src_name} does not list {dst_name} in its `uses`: {where}")
        rest = imported.split(".")[2:]
        if any(part.startswith("_") for part in rest):
            problems.append(f"import of another domain's private module: {where}")
        elif rest and rest[0] not in domains[dst_name].exports:
            problems.append(f"{imported} is not one of {dst_name}'s exports "
                            f"({', '.join(domains[dst_name].exports)}): {where}")
    return problems


def _domain_order(domains: Sequence[DomainRule]) -> list[str]:
    seen: set[str] = set()
    problems = []
    for domain in domains:
        for used in domain.uses:
            if used not in seen:
                problems.append(f"domain {domain.name} uses {used}, which is not listed "
                                "before it: domains may only use domains above them")
        seen.add(domain.name)
    return problems


def _cycles(graph: grimp.ImportGraph, modules: list[str]) -> list[str]:
    """Strongly connected groups of modules (Tarjan), each a cycle of imports."""
    edges = {m: sorted(i for i in graph.find_modules_directly_imported_by(m)
                       if i in set(modules) and (m, i) not in IGNORED) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(start: str) -> None:  # iterative, so deep graphs do not hit the recursion limit
        work = [(start, iter(edges[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(sorted(group))

    for module in modules:
        if module not in index:
            visit(module)
    return [f"import cycle between modules: {' <-> '.join(group)}" for group in groups]


def _function_imports(package: str, domains: Sequence[DomainRule]) -> list[str]:
    """Imports of another domain written inside a function body."""
    problems = []
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.submodule_search_locations
    root = Path(next(iter(spec.submodule_search_locations)))
    names = {d.name for d in domains}
    for name in sorted(names):
        for path in sorted((root / name).rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            for function in ast.walk(tree):
                if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                for node in ast.walk(function):
                    for module in _imported(node):
                        parts = module.split(".")
                        if parts[0] == package and len(parts) > 1 and parts[1] in names \
                                and parts[1] != name:
                            problems.append(f"import of {module} inside a function: "
                                            f"{path.relative_to(root.parent)}:{node.lineno}")
    return problems


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and not node.level:
        return [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return []


def main() -> int:
    from charter.domains import DOMAINS

    problems = check("charter", rules_from(DOMAINS))
    for problem in problems:
        print(problem)
    print(f"architecture: {len(problems)} broken import rule(s)" if problems
          else "architecture: every import rule holds")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
