"""Cedar authorization: build the policy and entity sets from every domain's fragment,
cache them per platform, and decide requests in tens of microseconds.

Key contracts:
- The Cedar resource of a request is the container that holds the target: an
  `Account` (whose parents are its OUs) or an `OU`. The target's crn, owner and
  attributes travel in the request context. Scoping every permit and forbid to
  containers keeps the entity set small (accounts, OUs, users, groups) and lets the
  cached sets serve every request without per-request copies.
- Domains contribute entities and policies through `register_source`; any operation that
  changes them bumps `authz_state.version`, and every process rebuilds its sets on the
  next request that sees a newer version.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cedarpy
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from charter.access.actions import ACTIONS, READ
from charter.access.orm import AuthzState
from charter.core.accounts import MANAGEMENT
from charter.core.context import Principal, Runtime


@dataclass(frozen=True)
class Target:
    """What an operation acts on: its container (Account or OU) and its name.

    `shown_as` is set where the crn would tell a refused caller what they may not know
    (whose a record is, whether it exists): the refusal then names `shown_as` and gives
    the same reason whatever the container and its policies (see `pipeline`).
    """

    kind: str  # Account | OU
    id: str
    crn: str
    owner: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    shown_as: str | None = None

    @property
    def account(self) -> str:
        return self.id if self.kind == "Account" else MANAGEMENT


def account_target(account: str, crn: str, **kw: Any) -> Target:
    return Target("Account", account, crn, **kw)


def ou_target(path: str, crn: str, **kw: Any) -> Target:
    return Target("OU", path, crn, **kw)


Scope = tuple[str, str]  # ("Account", name) or ("OU", path): the container a policy names


@dataclass
class Fragment:
    """What a domain adds to the Cedar sets.

    `policies` apply everywhere; `scoped` policies name one container in their scope
    (`resource in Account::"x"` / `resource in OU::"/p"`) and are only consulted for
    requests on that container or anything below it.
    """

    entities: list[dict[str, Any]] = field(default_factory=list)
    policies: list[str] = field(default_factory=list)
    scoped: list[tuple[Scope, str]] = field(default_factory=list)
    explanations: dict[str, str] = field(default_factory=dict)


Source = Callable[[Session], Fragment]
_SOURCES: dict[str, Source] = {}


def register_source(name: str, source: Source) -> None:
    """A domain contributes Cedar entities and policies (called at import)."""
    _SOURCES[name] = source


Holders = Callable[[str], list[str]]
_holders: list[Holders] = []


def register_holders(holders: Holders) -> None:
    """The identity domain says which permission sets allow an action, so a refusal can
    name what the caller lacks (called at import)."""
    _holders[:] = [holders]


def _needs(action: str) -> str:
    names = _holders[0](action) if _holders else []
    if not names:
        return ""
    return (f"; {action} takes one of the permission sets {', '.join(names)}, assigned to "
            "you or a group of yours where it applies")


def refusal_reason(action: str) -> str:
    """Why a request no policy permits is refused, worded the same for every target, so a
    refusal never tells whether the target exists."""
    return f"none of your permission sets permits it here{_needs(action)}"


def uid(kind: str, id_: str) -> dict[str, str]:
    return {"type": kind, "id": id_}


BASE_POLICIES = """
@id("base:system")
permit(principal is System, action, resource);
@id("base:whoami")
permit(principal, action == Action::"identity:WhoAmI", resource);
@id("base:own-tokens")
permit(principal, action in [Action::"identity:CreateToken", Action::"identity:ListTokens",
                             Action::"identity:RevokeToken"], resource)
when { context has owner && context.owner == principal };
@id("base:list-accounts")
permit(principal, action in [Action::"org:ListAccounts", Action::"controls:ListFindings",
                             Action::"audit:ListEvents"], resource == OU::"/")
unless { context has account };
@id("base:catalogues")
permit(principal, action in [Action::"org:ListBlueprints", Action::"controls:ListControls",
                             Action::"identity:ListPermissionSets"], resource);
@id("base:closed-accounts")
forbid(principal, action in Action::"write", resource)
when { resource is Account && resource.status == "closed" }
unless { action == Action::"org:CloseAccount" };
"""
# Closing a closed account changes nothing: it is left to the service, which answers
# `account_closed` (409) to those who may close it, rather than a refusal that reads as
# if they lacked the right.
# Listing calls are open to every signed-in principal at the root only; each listed item
# is then filtered through its own per-account action (org:DescribeAccount,
# controls:ReadFindings, audit:ReadEvents), so a listing never shows a foreign account.
# A request naming one account that does not exist is decided at the root with the name
# in `context.account` (`org.target_in_account`): the open listing does not apply to it,
# so only organisation-wide principals learn that the account does not exist.


@dataclass
class Decision:
    allowed: bool
    reason: str
    policies: list[str]


class Authorizer:
    """Cached Cedar sets for one platform version.

    A request is decided against the policies that can apply to its container: the global
    ones and those scoped to the container or an OU above it. The result is the same as
    with every policy (a policy scoped elsewhere never matches), but the cost of a decision
    no longer grows with the number of teams. Each container's set is parsed once.
    """

    def __init__(self, version: int, policies: list[str], scoped: list[tuple[Scope, str]],
                 entities: list[dict[str, Any]], explanations: dict[str, str]) -> None:
        self.version = version
        self.global_policies = policies
        self.scoped: dict[Scope, list[str]] = defaultdict(list)
        for scope, text in scoped:
            self.scoped[scope].append(text)
        self.entity_list = entities
        self.entities = cedarpy.Entities.from_json_str(json.dumps(entities))
        self.explanations = explanations
        self._parents = {(e["uid"]["type"], e["uid"]["id"]): (e["parents"][0]["type"],
                                                             e["parents"][0]["id"])
                         for e in entities
                         if e["uid"]["type"] in ("Account", "OU") and e["parents"]}
        self._sets: dict[Scope, cedarpy.PolicySet] = {}

    @property
    def policy_text(self) -> str:
        """Every policy of this version, as one Cedar document."""
        return "\n".join([*self.global_policies, *(p for ps in self.scoped.values() for p in ps)])

    def policy_set(self, kind: str, id_: str) -> cedarpy.PolicySet:
        key = (kind, id_)
        found = self._sets.get(key)
        if found is None:
            texts = list(self.global_policies)
            while key is not None:
                texts += self.scoped.get(key, ())
                key = self._parents.get(key)
            found = self._sets[(kind, id_)] = cedarpy.PolicySet.from_str("\n".join(texts))
        return found

    @staticmethod
    def request(principal: Principal, action: str, target: Target) -> dict[str, Any]:
        context: dict[str, Any] = {"crn": target.crn, **target.attrs}
        if target.owner:
            context["owner"] = {"__entity": uid("User", target.owner)}
        who = uid("System", "charter") if principal.is_system else uid("User", principal.name)
        return {
            "principal": who,
            "action": uid("Action", action),
            "resource": uid(target.kind, target.id),
            "context": context,
        }

    def decide(self, principal: Principal, action: str, target: Target) -> Decision:
        result = cedarpy.is_authorized(self.request(principal, action, target),
                                       self.policy_set(target.kind, target.id), self.entities)
        return self._explain(result, principal, action, target)

    def decide_many(self, principal: Principal, action: str, targets: list[Target]) -> list[bool]:
        by_container: dict[Scope, list[int]] = defaultdict(list)
        for i, target in enumerate(targets):
            by_container[(target.kind, target.id)].append(i)
        allowed = [False] * len(targets)
        for (kind, id_), indexes in by_container.items():
            requests = [self.request(principal, action, targets[i]) for i in indexes]
            results = cedarpy.is_authorized_batch(requests, self.policy_set(kind, id_),
                                                  self.entities)
            for i, result in zip(indexes, results, strict=True):
                allowed[i] = result.allowed
        return allowed

    def _explain(self, result: Any, principal: Principal, action: str, target: Target) -> Decision:
        ids = list(result.diagnostics.id_annotations_by_reason.values())
        if result.allowed:
            return Decision(True, "permitted by " + ", ".join(ids), ids)
        if ids:
            why = "; ".join(self.explanations.get(i, i) for i in ids)
            return Decision(False, f"forbidden by {', '.join(ids)}: {why}", ids)
        errors = result.diagnostics.errors
        extra = f" (policy errors: {errors})" if errors else ""
        return Decision(False, f"{refusal_reason(action)}{extra}", [])


_lock = threading.Lock()


def current_version(session: Session) -> int:
    """The stored policy version, read once per session: `Database` opens one session per
    transaction, and the bumps below forget the kept value."""
    return _state(session)[0]


def data_version(session: Session) -> int:
    """How many transactions with a write operation have committed (read with the policy
    version, once per session). Whatever a principal may read derives from state only
    write operations change, so a cache of it keyed on both versions is never stale."""
    return _state(session)[1]


# Core statements, built once: every operation reads the state and every write bumps it,
# and the ORM's per-statement work (an ORM UPDATE also searches the session for the rows
# it changes) cost more than the statements.
_STATE_TABLE = AuthzState.__table__
_READ_STATE = select(_STATE_TABLE.c.version, _STATE_TABLE.c.data_version).where(
    _STATE_TABLE.c.id == 1)
_BUMP_DATA = update(_STATE_TABLE).where(_STATE_TABLE.c.id == 1).values(
    data_version=_STATE_TABLE.c.data_version + 1)


def _state(session: Session) -> tuple[int, int]:
    state = session.info.get("authz_state")
    if state is None:
        row = session.connection().execute(_READ_STATE).first()
        state = session.info["authz_state"] = (row[0], row[1]) if row else (0, 0)
    return state


def bump_version(session: Session) -> None:
    session.info.pop("authz_state", None)
    updated = session.execute(
        update(AuthzState).where(AuthzState.id == 1).values(version=AuthzState.version + 1)
    ).rowcount
    if not updated:
        session.add(AuthzState(id=1, version=1, data_version=0))
        session.flush()


def bump_data_version(session: Session) -> None:
    """Count a write operation's transaction, once however many operations it holds."""
    if session.info.get("data_bumped"):
        return
    session.info.pop("authz_state", None)
    updated = session.connection().execute(_BUMP_DATA).rowcount
    if not updated:
        session.add(AuthzState(id=1, version=0, data_version=1))
        session.flush()
    session.info["data_bumped"] = True


def authorizer(runtime: Runtime, session: Session) -> Authorizer:
    """The platform's cached Authorizer, rebuilt only when the stored version moved."""
    version = current_version(session)
    cached: Authorizer | None = runtime.cache.get("access.authorizer")
    if cached is not None and cached.version == version:
        return cached
    with _lock:
        cached = runtime.cache.get("access.authorizer")
        if cached is None or cached.version != version:
            cached = build(session, version)
            runtime.cache["access.authorizer"] = cached
    return cached


def action_entities() -> list[dict[str, Any]]:
    groups = [{"uid": uid("Action", k), "attrs": {}, "parents": []} for k in ("read", "write")]
    return groups + [
        {"uid": uid("Action", a.name), "attrs": {},
         "parents": [uid("Action", READ if a.kind == READ else "write")]}
        for a in ACTIONS.values()
    ]


def build(session: Session, version: int) -> Authorizer:
    entities = [{"uid": uid("System", "charter"), "attrs": {}, "parents": []}]
    entities += action_entities()
    policies = [BASE_POLICIES]
    scoped: list[tuple[Scope, str]] = []
    explanations: dict[str, str] = {}
    for source in _SOURCES.values():
        fragment = source(session)
        entities += fragment.entities
        policies += fragment.policies
        scoped += fragment.scoped
        explanations.update(fragment.explanations)
    explanations["base:closed-accounts"] = "the account is closed and accepts no changes"
    return Authorizer(version, policies, scoped, entities, explanations)
