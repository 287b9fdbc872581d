"""Tag-based access: tags inherited downward, a column tag overriding its table's, and a
tag-expression grant giving two principals different results of the same SQL."""

from __future__ import annotations

import pytest

from charter.errors import CharterError

CUSTOMERS = b"id,name,ssn,region\n1,Ann,111-22-3333,EU\n2,Bob,444-55-6666,US\n"
SQL = "SELECT * FROM bank.customers ORDER BY id"


@pytest.fixture
def tagged(retail):
    platform, _ = retail
    admin = platform.admin
    admin.lake.ingest("retail-data", "bank.customers", CUSTOMERS, mode="create")
    admin.lake.create_tag("domain", ["retail", "risk"])
    admin.lake.create_tag("sensitivity", ["public", "internal", "pii"])
    admin.lake.assign_tag("retail-data", "bank", "domain", "retail")  # inherited by all
    admin.lake.assign_tag("retail-data", "bank.customers", "sensitivity", "internal")
    admin.lake.assign_tag("retail-data", "bank.customers.ssn", "sensitivity", "pii")  # override
    for group in ("analysts", "compliance"):
        admin.groups.create(group)
        admin.assignments.create(permission_set="data-scientist", group=group,
                                 account="retail-data")
    return platform


def test_tag_grants_show_only_matching_columns(tagged):
    admin = tagged.admin
    admin.lake.grant("retail-data", to="group:analysts",
                     tags="domain=retail AND sensitivity IN (public, internal)")
    admin.lake.grant("retail-data", to="group:compliance", tags="domain=retail")
    ana, _ = tagged.user("ana", "analysts")
    cleo, _ = tagged.user("cleo", "compliance")
    assert ana.lake.query("retail-data", SQL).column_names == ["id", "name", "region"]
    assert cleo.lake.query("retail-data", SQL).column_names == ["id", "name", "ssn", "region"]
    # Re-tagging the column changes what the grant covers, no grant change needed.
    admin.lake.assign_tag("retail-data", "bank.customers.ssn", "sensitivity", "internal")
    assert "ssn" in ana.lake.query("retail-data", SQL).column_names


def test_no_matching_column_means_no_table(tagged):
    admin = tagged.admin
    admin.lake.grant("retail-data", to="group:analysts", tags="domain=risk")
    ana, _ = tagged.user("ana", "analysts")
    with pytest.raises(CharterError) as refused:
        ana.lake.query("retail-data", SQL)
    assert refused.value.code == "table_not_found"


@pytest.mark.parametrize("kwargs,code", [
    ({"tags": "domain=nowhere"}, "invalid_tag_expression"),
    ({"tags": "colour=red"}, "invalid_tag_expression"),
    ({"tags": "domain=retail", "masks": {"ssn": "rot13"}}, "invalid_grant"),
    ({"tags": "domain=retail", "columns": ["id"]}, "invalid_grant"),
    ({"tags": "domain=retail", "row_filter": "id IN (SELECT 1)"}, "invalid_row_filter"),
    ({"tags": "domain=retail", "table": "bank.customers"}, "invalid_grant"),
])
def test_bad_tag_grants(tagged, kwargs, code):
    with pytest.raises(CharterError) as refused:
        tagged.admin.lake.grant("retail-data", to="group:analysts", **kwargs)
    assert refused.value.code == code


def test_bad_tags(tagged):
    admin = tagged.admin
    for call, code in (
        (lambda: admin.lake.assign_tag("retail-data", "bank", "colour", "red"), "tag_not_found"),
        (lambda: admin.lake.assign_tag("retail-data", "bank", "domain", "sales"), "invalid_tag"),
        (lambda: admin.lake.assign_tag("retail-data", "bank.customers.nope", "domain", "risk"),
         "unknown_column"),
        (lambda: admin.lake.create_tag("domain", ["x"]), "tag_exists"),
        (lambda: admin.lake.create_tag("Bad Key", ["x"]), "invalid_tag"),
    ):
        with pytest.raises(CharterError) as refused:
            call()
        assert refused.value.code == code


def test_cli_tags(tagged):
    code, out, _ = tagged.cli("lake", "tags", "list", "--json")
    assert code == 0 and '"sensitivity"' in out
    code, _, err = tagged.cli("lake", "tags", "assign", "retail-data", "bank.customers.name",
                              "sensitivity=pii")
    assert code == 0, err


def test_tag_grants_carry_row_and_cell_security(tagged):
    admin = tagged.admin
    admin.lake.grant("retail-data", to="group:analysts", tags="domain=retail",
                     masks={"ssn": "last4"}, row_filter="region = 'EU'")
    admin.lake.grant("retail-data", to="group:compliance", tags="domain=retail",
                     row_filter="nope = 1")  # names no column of the table: covers nothing
    ana, _ = tagged.user("ana", "analysts")
    cleo, _ = tagged.user("cleo", "compliance")
    rows = ana.lake.query("retail-data", SQL).to_pylist()
    assert rows == [{"id": 1, "name": "Ann", "ssn": "*******3333", "region": "EU"}]
    with pytest.raises(CharterError):
        cleo.lake.query("retail-data", SQL)


def test_a_tag_grant_without_a_permission_set_says_which_one_is_needed(tagged):
    """A grant says which data; querying it also takes a permission set that allows the
    query where the table is. The refusal names them, in the same words for any table."""
    admin = tagged.admin
    admin.groups.create("outsiders")  # granted the columns, assigned nothing
    admin.lake.grant("retail-data", to="group:outsiders", tags="domain=retail")
    otto, _ = tagged.user("otto", "outsiders")
    refusals = []
    for sql in (SQL, "SELECT * FROM bank.nothing"):
        with pytest.raises(CharterError) as caught:
            otto.lake.query("retail-data", sql)
        refusals.append(caught.value)
    assert {e.code for e in refusals} == {"access_denied"}
    message = refusals[0].message
    assert "takes one of the permission sets" in message
    for needed in ("data-scientist", "ml-team-lead", "data-lake-admin"):
        assert needed in message
    assert message.index("data-scientist") < message.index("cloud-admin")
    assert refusals[0].message == refusals[1].message
