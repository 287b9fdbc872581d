"""Catalog listings page in SQL: a page of tables reads one page of catalog rows, and
tables the caller may not read are passed over without ending the page early."""

from __future__ import annotations

from sqlalchemy import event, insert

from charter.core.clock import now
from charter.lake.orm import LakeTable


def test_a_page_of_tables_reads_one_page_of_the_catalog(retail):
    platform, erin = retail
    t = now()
    with platform.runtime.db.transaction() as session:
        session.execute(insert(LakeTable), [
            {"account": "retail-data", "database": "bank", "name": f"t{i:04d}",
             "description": "", "rules": {"rules": []}, "created_by": "test", "created_at": t}
            for i in range(1_200)])
    loaded: list[str] = []

    def on_load(target, context):
        loaded.append(target.name)

    erin.lake.tables("retail-data", limit=1)  # signs erin in beforehand
    event.listen(LakeTable, "load", on_load)
    try:
        listed = erin.lake.tables("retail-data", limit=5).items
    finally:
        event.remove(LakeTable, "load", on_load)
    assert [t["name"] for t in listed] == [f"t{i:04d}" for i in range(5)]
    assert len(loaded) == 6  # the page and the row after it
    assert [d["name"] for d in erin.lake.databases("retail-data")] == ["bank"]
    later = erin.lake.tables("retail-data", limit=3, offset=5)
    assert [t["name"] for t in later.items] == ["t0005", "t0006", "t0007"]
    assert later.total == 1200


def test_tables_and_grants_page_under_grants(retail):
    platform, erin = retail
    for name in ("alpha", "beta", "gamma", "delta"):
        erin.lake.ingest("retail-data", f"bank.{name}", b"id\n1\n", mode="create")
    platform.admin.groups.create("analysts")
    platform.admin.assignments.create(permission_set="data-scientist", group="analysts",
                                      account="retail-data")
    ana, _ = platform.user("ana", "analysts")
    for name in ("alpha", "gamma"):
        erin.lake.grant("retail-data", f"bank.{name}", to="group:analysts")
    first = ana.lake.tables("retail-data", limit=1).items
    second = ana.lake.tables("retail-data", limit=1, offset=1).items
    assert [t["name"] for t in first + second] == ["alpha", "gamma"]
    assert ana.lake.tables("retail-data", limit=1, offset=2).items == []
    grants = erin.lake.grants("retail-data").items
    assert len(grants) == 2
    assert erin.lake.grants("retail-data", limit=1, offset=1).items == grants[1:]


def test_domains_and_tag_keys_page(retail):
    platform, _ = retail
    admin = platform.admin
    admin.accounts.create("cards-data", ou="/workloads/data/prod", blueprint="data-domain",
                          tags={"owner": "cards", "cost-center": "cc-9"})
    admin.lake.create_domain("cards", account="cards-data")
    assert [d["name"] for d in admin.lake.domains().items] == ["cards", "retail"]
    assert [d["name"] for d in admin.lake.domains(limit=1, offset=1).items] == ["retail"]
    for key in ("pii", "domain"):
        admin.lake.create_tag(key, ["yes", "no"])
    assert [k["key"] for k in admin.lake.tag_keys().items] == ["domain", "pii"]
    assert [k["key"] for k in admin.lake.tag_keys(limit=1).items] == ["domain"]
