"""Account blueprints: where an account may be placed and the baseline it gets."""

from __future__ import annotations

from dataclasses import dataclass, field

from charter.core.lookup import require
from charter.errors import ControlViolation, Invalid


@dataclass(frozen=True)
class Blueprint:
    name: str
    description: str
    ous: tuple[str, ...]  # OU paths (or prefixes) the account may be placed under
    name_suffix: str | None  # team blueprints: <team>-<suffix>
    budget: float
    # group suffix -> permission set; the group is `<team>-<suffix>`
    assignments: dict[str, str] = field(default_factory=dict)
    controls: tuple[str, ...] = ()

    def team_of(self, account: str) -> str:
        if self.name_suffix and account.endswith(f"-{self.name_suffix}"):
            return account[: -len(self.name_suffix) - 1]
        return account

    def check_placement(self, ou: str) -> None:
        if not any(p == "/" or ou == p or ou.startswith(p + "/") for p in self.ous):
            raise Invalid(
                f"blueprint {self.name} places accounts under {', '.join(self.ous)}, not {ou}",
                code="blueprint_ou_mismatch",
            )


_TEAM = {
    "leads": "ml-team-lead",
    "data-scientists": "data-scientist",
    "ml-engineers": "ml-engineer",
}

BLUEPRINTS: dict[str, Blueprint] = {
    b.name: b
    for b in (
        Blueprint("ml-team-dev", "An ML team's development account: experiments, pipelines, "
                  "local registry.", ("/workloads/ml/nonprod",), "dev", 1000.0, _TEAM),
        Blueprint("ml-team-test", "An ML team's test account: CI/CD deploys candidate endpoints.",
                  ("/workloads/ml/nonprod",), "test", 500.0, _TEAM),
        Blueprint("ml-team-prod", "An ML team's production account: approved endpoints only.",
                  ("/workloads/ml/prod",), "prod", 2000.0, _TEAM,
                  controls=("CHARTER-PREV-3",)),
        Blueprint("data-domain", "A data domain's producer account in the data lake.",
                  ("/workloads/data",), None, 1500.0, {"data-engineers": "data-lake-admin"}),
        Blueprint("central", "A central platform account (security, logging, shared services).",
                  ("/",), None, 5000.0),
    )
}


def get_blueprint(name: str) -> Blueprint:
    return require(BLUEPRINTS.get(name), f"blueprint {name!r}", code="blueprint_not_found",
                   hint=f"choose one of {', '.join(BLUEPRINTS)}")


def check_account_name(blueprint: Blueprint, name: str) -> None:
    """The naming convention of CHARTER-PRO-2 for team blueprints."""
    if blueprint.name_suffix and not (
        name.endswith(f"-{blueprint.name_suffix}") and len(name) > len(blueprint.name_suffix) + 3
    ):
        raise ControlViolation(
            f"CHARTER-PRO-2: account {name!r} must be named <team>-{blueprint.name_suffix} "
            f"for blueprint {blueprint.name}",
            code="control_violation", control="CHARTER-PRO-2",
        )
