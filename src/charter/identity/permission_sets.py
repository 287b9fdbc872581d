"""The nine built-in permission sets, one per persona of MISSION.md.

Each selects actions by pattern (`module:*`, `*:List*`, `@read` for every read action), so
actions that later modules add are covered without editing this table.
"""

from __future__ import annotations

from dataclasses import dataclass

from charter.access.actions import expand
from charter.core.lookup import require

# What every persona may read about the accounts it is assigned in.
_READ_OWN = ["org:DescribeAccount", "controls:ListFindings", "controls:ReadFindings"]
_READ_TRAIL = ["audit:ListEvents", "audit:ReadEvents", "audit:DescribeEvent"]


@dataclass(frozen=True)
class PermissionSet:
    name: str
    persona: str
    team: str
    description: str
    actions: tuple[str, ...]


PERMISSION_SETS: dict[str, PermissionSet] = {
    p.name: p
    for p in (
        PermissionSet("cloud-admin", "Cloud administrator", "central cloud engineering",
                      "Organisation, OUs, accounts, identity and guardrails.", ("*",)),
        PermissionSet("data-lake-admin", "Data lake administrator, data engineer",
                      "data platform engineering",
                      "Lake, catalog, data access policies and ingestion.",
                      ("lake:*", "features:*", *_READ_OWN)),
        PermissionSet("ml-platform-admin", "ML platform administrator", "ML platform engineering",
                      "Service catalog, central model registry, CI/CD.",
                      ("service_catalog:*", "registry:*", "deploy:*", "pipelines:*",
                       "governance:Describe*", "governance:List*", *_READ_OWN)),
        PermissionSet("ml-team-lead", "ML team lead / head of data science", "a LOB",
                      "Provisions team environments and approves models.",
                      ("service_catalog:*", "experiments:*", "pipelines:*", "registry:*",
                       "features:*", "lake:Query*", "lake:Describe*", "lake:List*",
                       "governance:*", "deploy:Describe*", "deploy:List*", "cost:*",
                       *_READ_OWN, *_READ_TRAIL)),
        PermissionSet("data-scientist", "Data scientist", "a LOB",
                      "Experiments, features, pipelines; registers models.",
                      ("experiments:*", "pipelines:*", "features:*", "lake:Query*",
                       "lake:Describe*", "lake:List*", "registry:CreateModel*",
                       "registry:UpdateModel*", "registry:Describe*", "registry:List*",
                       *_READ_OWN, *_READ_TRAIL)),
        PermissionSet("ml-engineer", "ML engineer", "a LOB",
                      "Deploys, tests and monitors endpoints; approves production.",
                      ("deploy:*", "observe:*", "registry:Describe*", "registry:List*",
                       "registry:ApproveProduction*", "pipelines:Describe*",
                       "pipelines:List*", *_READ_OWN, *_READ_TRAIL)),
        PermissionSet("governance-officer", "ML governance officer", "central",
                      "Model cards, model dashboard, compliance.",
                      ("governance:*", "registry:Describe*", "registry:List*",
                       "controls:List*", "controls:Read*", *_READ_OWN, *_READ_TRAIL)),
        # Every read but lake:ReadTable, which reads every table's data as it is: an
        # auditor sees lake data only through grants, like anyone but the table's
        # producer and the data lake administrators.
        PermissionSet("auditor", "IT auditor", "central",
                      "Reads logs and the audit trail; never changes anything.",
                      ("@read", "!lake:ReadTable")),
        PermissionSet("cost-viewer", "LOB executive, ML manager", "a LOB",
                      "Cost and usage reports.", ("cost:*", "org:DescribeAccount")),
    )
}


def holders(action: str) -> list[str]:
    """The permission sets that allow `action`, the narrowest first (cloud-admin, which
    allows everything, last)."""
    names = [p.name for p in PERMISSION_SETS.values() if action in expand(list(p.actions))]
    return sorted(names, key=lambda name: (name == "cloud-admin", name))


def get_permission_set(name: str) -> PermissionSet:
    return require(PERMISSION_SETS.get(name), f"permission set {name!r}",
                   code="permission_set_not_found")
