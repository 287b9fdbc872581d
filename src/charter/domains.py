"""The domains of Charter: the one list the runtime, the API, the CLI, the SDK and the
architecture check read.

A domain `name` is the package `charter.<name>`. Each interface finds its part of a domain
by convention, so adding a domain is its package, its migration and one entry here:

- `charter.<name>.service` registers the domain's operations, Cedar sources, controls and
  baseline steps when imported; an `install(runtime)` function there, if any, runs when a
  runtime is built (in the order of this list).
- `charter.api.routes.<name>` has `router` (when `api` is true).
- `charter.cli.<name>` has `COMMANDS`, a dict of command-group name to Typer app (when
  `cli` is true).
- `charter.sdk.<name>` has `PARTS`, a dict of client attribute name to part class (when
  `sdk` is true).

`uses` names the domains this one may import, and `exports` the modules of a domain that
others may import (its `service` and `schemas`; `access`, the pipeline every domain is built
on, exports more). The architecture check
(`tests/test_architecture.py`) refuses any other import between domains, an import cycle,
an import of another domain's `_private` module and an import inside a function. The list
is in dependency order: a domain uses only domains above it.

This module imports nothing of Charter, so every layer may read it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Domain:
    name: str
    uses: tuple[str, ...] = ()
    api: bool = True
    cli: bool = True
    sdk: bool = True
    summary: str = ""
    exports: tuple[str, ...] = ("service", "schemas")


DOMAINS: tuple[Domain, ...] = (
    Domain("access", api=False, cli=False, sdk=False,
           summary="Cedar authorization and the governed operation pipeline",
           exports=("actions", "authorizer", "pipeline", "idempotency", "records")),
    Domain("org", uses=("access",),
           summary="the OU tree, accounts, blueprints and account vending"),
    Domain("identity", uses=("access", "org"),
           summary="users, groups, permission sets, assignments and tokens"),
    Domain("audit", uses=("access", "org"),
           summary="the hash-chained audit trail, its checkpoints and verify"),
    Domain("controls", uses=("access", "org", "identity"),
           summary="preventive, proactive and detective controls; findings"),
    Domain("lake", uses=("access", "org", "identity"),
           summary="data domains, Iceberg tables, grants, tags and governed SQL"),
    Domain("experiments", uses=("access", "org", "identity", "lake"),
           summary="experiments, runs, metrics, params, lake inputs and artifacts"),
    Domain("registry", uses=("access", "org", "identity", "lake", "experiments"),
           summary="model groups, versions, approval and safe model artifacts",
           exports=("service", "schemas", "artifacts")),
)


def domain_names(*, api: bool = False, cli: bool = False, sdk: bool = False) -> list[str]:
    """Names of the domains in dependency order, keeping those with every interface asked."""
    return [d.name for d in DOMAINS
            if (d.api or not api) and (d.cli or not cli) and (d.sdk or not sdk)]
