"""A consumer's own databases and the shares it receives never take the same name: one
would hide the other from the consumer's catalog and its grantees."""

from __future__ import annotations

import threading

import pytest

from charter.core.clock import now
from charter.core.db import lock
from charter.errors import CharterError
from charter.lake._common import catalog_names_lock
from charter.lake.orm import LakeGrant

CUSTOMERS = b"id,region\n1,EU\n2,US\n"
SQL = "SELECT id FROM bank.customers ORDER BY id"


@pytest.fixture
def consumer(retail):
    """(platform, erin, carl): retail-data holds bank.customers; cards-data, a data
    domain too, is where carl engineers data and ana analyses it."""
    platform, erin = retail
    erin.lake.ingest("retail-data", "bank.customers", CUSTOMERS, mode="create")
    platform.admin.accounts.create("cards-data", ou="/workloads/data/prod",
                                   blueprint="data-domain",
                                   tags={"owner": "cards", "cost-center": "cc-9"})
    platform.admin.lake.create_domain("cards", account="cards-data")
    platform.admin.groups.create("cards-analysts")
    platform.admin.assignments.create(permission_set="data-scientist", group="cards-analysts",
                                      account="cards-data")
    carl, _ = platform.user("carl", "cards-data-data-engineers")
    return platform, erin, carl


@pytest.mark.parametrize("shared", ["bank", "bank.customers"])
def test_a_consumer_database_never_shadows_a_share(consumer, shared):
    platform, erin, carl = consumer
    share = erin.lake.share("retail-data", shared, with_account="cards-data",
                            grant_option=True)
    carl.lake.grant("cards-data", "bank.customers", to="group:cards-analysts")
    ana, _ = platform.user("ana", "cards-analysts")
    with pytest.raises(CharterError) as refused:
        carl.lake.create_database("cards-data", "bank")
    assert refused.value.code == "database_name_taken"
    assert refused.value.http_status == 409
    code, _, err = platform.cli("lake", "databases", "create", "cards-data", "bank")
    assert code == 1 and "[database_name_taken]" in err
    assert carl.lake.databases("cards-data").items == []
    assert ana.lake.query("cards-data", SQL).column("id").to_pylist() == [1, 2]
    # Once the share is revoked the name is free; then a new share of it is refused.
    erin.lake.revoke("retail-data", share["id"])
    carl.lake.create_database("cards-data", "bank")
    with pytest.raises(CharterError) as refused:
        erin.lake.share("retail-data", shared, with_account="cards-data")
    assert refused.value.code == "database_name_taken"
    assert erin.lake.grants("retail-data").items == []


def test_a_share_and_a_database_made_at_once_never_both_stand(consumer):
    """A share's transaction holds the consumer's catalog-names lock until it commits
    (here one stands open, its grant row written): a database of the same name created
    meanwhile waits for it, then sees the share."""
    platform, _, carl = consumer
    outcome: dict[str, CharterError] = {}

    def create() -> None:
        try:
            carl.lake.create_database("cards-data", "bank")
        except CharterError as error:
            outcome["error"] = error

    creating = threading.Thread(target=create)
    with platform.runtime.db.transaction() as session:
        lock(session, catalog_names_lock("cards-data"))
        session.add(LakeGrant(id="grt-at-once", account="retail-data", owner="retail-data",
                              database="bank", table="*", grantee_type="account",
                              grantee="cards-data", created_by="erin", created_at=now(),
                              policy={"columns": None, "row_filter": None, "masks": {}}))
        session.flush()
        creating.start()
        creating.join(1.0)
        assert creating.is_alive()  # waiting for the share's transaction
    creating.join()
    assert outcome["error"].code == "database_name_taken"
