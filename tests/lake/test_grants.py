"""Column, row and cell security through grants and shares: two principals, same SQL,
different results; a consumer cannot grant onward more than was shared."""

from __future__ import annotations

import pytest

from charter.errors import CharterError

CUSTOMERS = (b"id,name,ssn,region,age\n1,Ann,111-22-3333,EU,34\n2,Bob,444-55-6666,US,51\n"
             b"3,Cy,777-88-9999,EU,17\n")
SQL = "SELECT * FROM bank.customers ORDER BY id"


@pytest.fixture
def lake(retail):
    platform, erin = retail
    erin.lake.ingest("retail-data", "bank.customers", CUSTOMERS, mode="create")
    platform.vend("team-a-dev")
    return platform, erin


def test_group_grants_in_the_producer_account(lake):
    platform, erin = lake
    platform.admin.groups.create("retail-analysts")
    platform.admin.groups.create("retail-auditors")
    for user, group in (("ana", "retail-analysts"), ("otto", "retail-auditors")):
        platform.user(user, group)
        platform.admin.assignments.create(permission_set="data-scientist", group=group,
                                          account="retail-data")
    erin.lake.grant("retail-data", "bank.customers", to="group:retail-analysts",
                    exclude_columns=["ssn"], row_filter="region = 'EU'")
    erin.lake.grant("retail-data", "bank.customers", to="group:retail-auditors",
                    masks={"ssn": "last4", "name": "hash"})
    ana = platform.client(platform.admin.tokens.create(user="ana")["token"])
    otto = platform.client(platform.admin.tokens.create(user="otto")["token"])
    seen_by_ana = ana.lake.query("retail-data", SQL)
    assert seen_by_ana.column_names == ["id", "name", "region", "age"]  # column security
    assert seen_by_ana.column("id").to_pylist() == [1, 3]  # row security
    seen_by_otto = otto.lake.query("retail-data", SQL).to_pylist()
    assert [r["ssn"] for r in seen_by_otto] == ["*******3333", "*******6666", "*******9999"]
    assert seen_by_otto[0]["name"] != "Ann" and len(seen_by_otto[0]["name"]) == 64  # cells
    full = erin.lake.query("retail-data", SQL).to_pylist()
    assert full[0]["ssn"] == "111-22-3333"
    with pytest.raises(CharterError) as refused:
        ana.lake.query("retail-data", "SELECT ssn FROM bank.customers")
    assert refused.value.code == "query_failed" and "ssn" in refused.value.message


def test_share_with_masks_and_row_filter_then_onward_grant(lake):
    platform, erin = lake
    share = erin.lake.share("retail-data", "bank.customers", with_account="team-a-dev",
                            masks={"ssn": "null"}, row_filter="age >= 18", grant_option=True)
    assert share["grantee"] == "account:team-a-dev"
    lead, _ = platform.user("lena", "team-a-leads")
    sam, _ = platform.user("sam", "team-a-data-scientists")
    with pytest.raises(CharterError):  # nothing granted to sam's group yet
        sam.lake.query("team-a-dev", SQL)
    platform.admin.lake.grant("team-a-dev", "bank.customers", to="group:team-a-data-scientists",
                              columns=["id", "ssn", "region", "age"], masks={"ssn": "null"},
                              row_filter="region = 'EU'")
    rows = sam.lake.query("team-a-dev", SQL).to_pylist()
    assert rows == [{"id": 1, "ssn": None, "region": "EU", "age": 34}]
    listed = platform.admin.lake.grants("team-a-dev").items
    assert {g["grantee"] for g in listed} == {"account:team-a-dev",
                                              "group:team-a-data-scientists"}
    assert lead.lake.tables("team-a-dev").items == []  # the producer's catalog stays its own


@pytest.mark.parametrize("policy", [
    {"masks": {}},  # drops the share's mask
    {"masks": {"ssn": "last4"}},  # a weaker mask
    {"columns": ["id", "name"], "masks": {}},  # a column the share does not... (all shared)
])
def test_onward_grants_stay_within_the_share(lake, policy):
    platform, erin = lake
    erin.lake.share("retail-data", "bank.customers", with_account="team-a-dev",
                    exclude_columns=["name"], masks={"ssn": "null"}, grant_option=True)
    with pytest.raises(CharterError) as refused:
        platform.admin.lake.grant("team-a-dev", "bank.customers",
                                  to="group:team-a-data-scientists", **policy)
    assert refused.value.code == "exceeds_share"


def test_no_onward_grant_without_grant_option(lake):
    platform, erin = lake
    erin.lake.share("retail-data", "bank.customers", with_account="team-a-dev")
    with pytest.raises(CharterError) as refused:
        platform.admin.lake.grant("team-a-dev", "bank.customers",
                                  to="group:team-a-data-scientists")
    assert refused.value.code == "exceeds_share"


def test_unshared_tables_stay_invisible(lake):
    platform, erin = lake
    erin.lake.ingest("retail-data", "bank.secrets", b"k\n1\n", mode="create")
    erin.lake.share("retail-data", "bank.customers", with_account="team-a-dev",
                    grant_option=True)
    platform.admin.lake.grant("team-a-dev", "bank.customers", to="group:team-a-data-scientists")
    sam, _ = platform.user("sam", "team-a-data-scientists")
    assert sam.lake.query("team-a-dev", "SELECT count(*) AS n FROM bank.customers") \
        .to_pylist() == [{"n": 3}]
    with pytest.raises(CharterError) as refused:
        sam.lake.query("team-a-dev", "SELECT * FROM bank.secrets")
    assert refused.value.code == "table_not_found"


@pytest.mark.parametrize("kwargs,code", [
    ({"to": "group:ghosts"}, "group_not_found"),
    ({"to": "group:retail-data-data-engineers", "columns": ["nope"]}, "unknown_column"),
    ({"to": "group:retail-data-data-engineers", "row_filter": "nope = 1"},
     "invalid_row_filter"),
    ({"to": "group:retail-data-data-engineers", "row_filter": "id IN (SELECT 1)"},
     "invalid_row_filter"),
    ({"to": "group:retail-data-data-engineers", "row_filter": "1; DROP TABLE x"},
     "invalid_row_filter"),
    ({"to": "group:retail-data-data-engineers", "masks": {"ssn": "rot13"}}, "invalid_grant"),
    ({"to": "team-a"}, "invalid_grantee"),
    ({"to": "account:retail-data"}, "invalid_grantee"),
])
def test_bad_grants_change_nothing(lake, kwargs, code):
    _, erin = lake
    with pytest.raises(CharterError) as refused:
        erin.lake.grant("retail-data", "bank.customers", **kwargs)
    assert refused.value.code == code
    assert erin.lake.grants("retail-data").items == []


def test_revoking_a_share_takes_onward_grants_with_it(lake):
    platform, erin = lake
    share = erin.lake.share("retail-data", "bank.customers", with_account="team-a-dev",
                            grant_option=True)
    platform.admin.lake.grant("team-a-dev", "bank.customers", to="group:team-a-data-scientists")
    sam, _ = platform.user("sam", "team-a-data-scientists")
    assert sam.lake.query("team-a-dev", SQL).num_rows == 3
    erin.lake.revoke("retail-data", share["id"])
    assert platform.admin.lake.grants("team-a-dev").items == []
    with pytest.raises(CharterError):
        sam.lake.query("team-a-dev", SQL)


def test_catalog_shows_only_what_the_caller_may_read(lake):
    platform, erin = lake
    erin.lake.ingest("retail-data", "bank.secrets", b"k\n1\n", mode="create")
    erin.lake.add_rules("retail-data", "bank.customers", ["not_null(ssn)"])
    platform.admin.groups.create("analysts")
    platform.admin.assignments.create(permission_set="data-scientist", group="analysts",
                                      account="retail-data")
    ana, _ = platform.user("ana", "analysts")
    assert ana.lake.tables("retail-data").items == []
    for name in ("bank.customers", "bank.nothing"):
        with pytest.raises(CharterError) as refused:
            ana.lake.table("retail-data", name)
        assert refused.value.code == "table_not_found"
    erin.lake.grant("retail-data", "bank.customers", to="group:analysts",
                    exclude_columns=["ssn"])
    listed = ana.lake.tables("retail-data").items
    assert [t["name"] for t in listed] == ["customers"]
    shown = ana.lake.table("retail-data", "bank.customers")
    assert "ssn" not in [c["name"] for c in shown["columns"]] and shown["rules"] == []
    assert len(erin.lake.table("retail-data", "bank.customers")["columns"]) == 5
    # A consumer sees a shared table in its own catalog view.
    erin.lake.share("retail-data", "bank.customers", with_account="team-a-dev",
                    exclude_columns=["ssn"])
    shared = platform.admin.lake.tables("team-a-dev").items
    assert [(t["account"], t["name"]) for t in shared] == [("retail-data", "customers")]


def test_database_share_covers_present_and_future_tables(lake):
    platform, erin = lake
    share = erin.lake.share("retail-data", "bank", with_account="team-a-dev",
                            masks={"ssn": "null"}, row_filter="region = 'EU'", grant_option=True)
    assert share["table"] == "bank"
    erin.lake.ingest("retail-data", "bank.accounts", b"id,region,ssn\n7,EU,x\n8,US,y\n",
                     mode="create")
    erin.lake.ingest("retail-data", "bank.rates", b"code,rate\nA,1.5\n", mode="create")
    admin = platform.admin
    listed = {t["name"] for t in admin.lake.tables("team-a-dev").items}
    assert listed == {"customers", "accounts"}  # rates has no region: the filter excludes it
    assert admin.lake.query("team-a-dev", "SELECT id, ssn FROM bank.accounts").to_pylist() \
        == [{"id": 7, "ssn": None}]
    with pytest.raises(CharterError) as refused:
        admin.lake.grant("team-a-dev", "bank.accounts", to="group:team-a-data-scientists")
    assert refused.value.code == "exceeds_share"  # drops the share's mask
    admin.lake.grant("team-a-dev", "bank.accounts", to="group:team-a-data-scientists",
                     masks={"ssn": "null"})
    sam, _ = platform.user("sam", "team-a-data-scientists")
    assert sam.lake.query("team-a-dev", "SELECT count(*) AS n FROM bank.accounts") \
        .to_pylist() == [{"n": 1}]
    erin.lake.revoke("retail-data", share["id"])
    assert admin.lake.grants("team-a-dev").items == []
    with pytest.raises(CharterError):
        sam.lake.query("team-a-dev", "SELECT * FROM bank.accounts")


def test_database_grant_to_a_group(lake):
    platform, erin = lake
    platform.admin.groups.create("analysts")
    platform.admin.assignments.create(permission_set="data-scientist", group="analysts",
                                      account="retail-data")
    ana, _ = platform.user("ana", "analysts")
    erin.lake.grant("retail-data", "bank", to="group:analysts", masks={"ssn": "last4"})
    rows = ana.lake.query("retail-data", SQL).to_pylist()
    assert [r["ssn"] for r in rows] == ["*******3333", "*******6666", "*******9999"]
    code, _, err = platform.cli("lake", "grant", "retail-data", "bank", "--to",
                                "group:analysts", "--columns", "id")
    assert code == 1 and "[invalid_grant]" in err
    code, _, err = platform.cli("lake", "share", "retail-data", "nodb", "--with", "team-a-dev")
    assert code == 1 and "[database_not_found]" in err


def test_an_auditor_reads_the_trail_but_lake_data_only_through_grants(lake):
    """IT auditors hold every read action across the organisation, but not the one that
    reads every table's data as it is: they see a table only as a grant shows it."""
    platform, erin = lake
    aud, _ = platform.user("aud", "security-auditors")
    with pytest.raises(CharterError) as refused:
        aud.lake.query("retail-data", SQL)
    assert refused.value.code == "table_not_found"
    assert aud.audit.verify()["ok"]
    platform.admin.groups.create("audit-sample")
    platform.admin.groups.add_member("audit-sample", "aud")
    erin.lake.grant("retail-data", "bank.customers", to="group:audit-sample",
                    columns=["id", "region"], row_filter="region = 'EU'")
    seen = aud.lake.query("retail-data", SQL)
    assert seen.column_names == ["id", "region"] and seen.column("id").to_pylist() == [1, 3]
    sets = {p["name"]: p for p in platform.admin.permission_sets.list()}
    assert "lake:ReadTable" not in sets["auditor"]["actions"]
    assert "lake:QueryTables" in sets["auditor"]["actions"]
