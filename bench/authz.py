"""Authorization benchmarks.

1. Decisions per second: Charter's `Authorizer.decide` over Cedar sets parsed once, against
   `cedarpy.is_authorized` re-parsing the same policy text and entity list on every call.
2. Latency of an authorized, audited API read against GET /healthz on a real HTTP server.
"""

from __future__ import annotations

import random
import time
from typing import Any

import cedarpy
import httpx

import charter.access.authorizer as access
from _common import Row, parse_quick, percentiles, platform, print_table, server, timed
from charter.core.context import Principal
from charter.core.ids import crn

Request = tuple[Principal, str, access.Target]
# (action, share of requests); targets are accounts of the caller's team or of another one.
ACCOUNT_ACTIONS = (("org:DescribeAccount", 4), ("org:UpdateAccount", 2), ("audit:ListEvents", 2),
                   ("org:CloseAccount", 1), ("audit:StopTrail", 1), ("identity:WhoAmI", 1))
OU_ACTIONS = ("org:CreateOU", "org:ListAccounts", "controls:EnableControl")


def cedar_sets(p: Any) -> tuple[access.Authorizer, str, list[dict[str, Any]]]:
    """The platform's cached Authorizer, and the whole policy text and entity list behind it."""
    with p.runtime.db.transaction() as session:
        cached = access.authorizer(p.runtime, session)
    return cached, cached.policy_text, cached.entity_list


def requests(p: Any, n: int, seed: int = 7) -> list[Request]:
    """A reproducible mix: mostly account actions, some on OUs, as users or the admin."""
    rng = random.Random(seed)
    actions = [a for a, weight in ACCOUNT_ACTIONS for _ in range(weight)]
    users = sorted(p.users)
    out: list[Request] = []
    for _ in range(n):
        user = "admin" if rng.random() < 0.05 else rng.choice(users)
        if rng.random() < 0.1:
            path = rng.choice(("/", "/workloads/ml/prod", "/workloads/ml/nonprod"))
            target = access.ou_target(path, crn("management", "org", "ou", path))
            out.append((Principal(user), rng.choice(OU_ACTIONS), target))
            continue
        team = p.users.get(user)
        own = [a for a in p.accounts if a.startswith(f"{team}-")] if team else []
        account = rng.choice(own if own and rng.random() < 0.7 else p.accounts)
        action = rng.choice(actions)
        owner = user if action == "identity:WhoAmI" else None
        target = access.account_target(account, crn(account, "org", "account", account),
                                      owner=owner)
        out.append((Principal(user), action, target))
    return out


def bench_decisions(p: Any, quick: bool) -> None:
    cached, policy_text, entities = cedar_sets(p)
    reqs = requests(p, 2_000 if quick else 50_000)
    peer_reqs = reqs[: 100 if quick else 1_000]
    ours, t_ours = timed(lambda: [cached.decide(*r).allowed for r in reqs])
    theirs, t_theirs = timed(lambda: [
        cedarpy.is_authorized(cached.request(*r), policy_text, entities).allowed
        for r in peer_reqs])
    assert ours[: len(theirs)] == theirs, "cached and re-parsed sets disagree"
    rate, peer_rate = len(reqs) / t_ours, len(peer_reqs) / t_theirs
    print_table(
        f"Authorization decisions/s ({policy_text.count('@id(')} policies, {len(entities)} "
        f"entities; {sum(ours) / len(ours):.0%} of {len(reqs):,} requests allowed)",
        "Authorizer.decide, PolicySet/Entities parsed once",
        f"cedarpy.is_authorized re-parsing policy text + entity list ({len(peer_reqs):,} calls)",
        [Row("decisions/s", rate, peer_rate, "/s", ">= 5x peer", rate >= 5 * peer_rate),
         Row("time per decision", 1e6 / rate, 1e6 / peer_rate, "us")])


def latencies(http: httpx.Client, path: str, n: int) -> list[float]:
    """Milliseconds of `n` sequential GETs of `path` (after a short warm-up)."""
    for _ in range(max(n // 20, 5)):
        http.get(path).raise_for_status()
    out = []
    for _ in range(n):
        start = time.perf_counter()
        http.get(path).raise_for_status()
        out.append((time.perf_counter() - start) * 1e3)
    return out


def bench_latency(p: Any, quick: bool) -> None:
    n = 200 if quick else 2_000
    account = p.accounts[0]
    with server(str(p.home)) as url, httpx.Client(
            base_url=url, headers={"authorization": f"Bearer {p.admin_token}"}) as http:
        health = percentiles(latencies(http, "/healthz", n))
        for path in ("/v1/identity/whoami", f"/v1/accounts/{account}"):
            ours = percentiles(latencies(http, path, n))
            rows = [Row(f"{q} latency", ours[q], health[q], "ms") for q in ours]
            rows += [Row(f"{q} overhead", ours[q] - health[q], None, "ms") for q in ours]
            # No target is set for the overhead: it is reported, not judged.
            print_table(f"API latency, {n:,} sequential keep-alive requests each",
                        f"GET {path} (authenticate, authorize, audit)",
                        "GET /healthz (no auth, no audit)", rows)


def main(quick: bool = False) -> None:
    with platform(teams=5 if quick else 30, users=50 if quick else 300) as p:
        bench_decisions(p, quick)
        bench_latency(p, quick)


if __name__ == "__main__":
    main(parse_quick())
