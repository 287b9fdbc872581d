"""An error's details reach a remote caller: in the JSON body's `details` field, and on the
CharterError the SDK raises from it."""

from __future__ import annotations

import httpx
import pytest

from charter import Client
from charter.errors import Invalid

CUSTOMERS = b"id,name\n1,Ann\n"
WIDER = b"id,name,email,phone\n2,Bob,b@x.io,555\n"


def test_an_ingest_schema_mismatch_names_its_columns_over_http(server):
    platform, url, _ = server
    admin = Client(url, platform.admin_token)
    admin.accounts.create("retail-data", ou="/workloads/data/prod", blueprint="data-domain",
                          tags={"owner": "retail", "cost-center": "cc-9"})
    admin.lake.create_domain("retail", account="retail-data")
    admin.lake.create_database("retail-data", "bank")
    admin.lake.ingest("retail-data", "bank.customers", CUSTOMERS, mode="create")
    with pytest.raises(Invalid) as refused:
        admin.lake.ingest("retail-data", "bank.customers", WIDER)
    assert refused.value.code == "schema_mismatch"
    assert refused.value.details == {"columns": ["email", "phone"]}
    answer = httpx.post(f"{url}/v1/accounts/retail-data/lake/tables/bank/customers/ingest",
                        content=WIDER, headers={"authorization": f"Bearer {platform.admin_token}",
                                                "content-type": "application/octet-stream"})
    assert answer.status_code == 422
    assert answer.json()["details"] == {"columns": ["email", "phone"]}
