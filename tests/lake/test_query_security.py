"""The governed-SQL security contract: only SELECT over catalog tables, DuckDB locked down,
every refusal audited. Run as the producer, who may read everything of its own tables:
whatever the SQL, nothing but those tables is reachable."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from charter.audit.orm import AuditEvent
from charter.errors import CharterError, Denied
from charter.lake._common import hash_mask_key

CUSTOMERS = b"id,name,ssn\n1,Ann,111-22-3333\n2,Bob,444-55-6666\n"

ATTACKS = [
    "SELECT * FROM read_csv('/etc/passwd')",
    # functions that take SQL of their own: json_serialize_plan binds and optimises it,
    # reaching settings, files and their statistics around every check
    "SELECT json_serialize_plan('SELECT current_setting(''allowed_paths'')', "
    "optimize := true) AS p FROM bank.customers",
    "SELECT json_serialize_sql('SELECT 1') AS p FROM bank.customers",
    "SELECT json_deserialize_sql(json_serialize_sql('SELECT 1')) AS p FROM bank.customers",
    # how DuckDB holds vectors tells of rows a filter dropped; ids count others' queries
    "SELECT vector_type(name) AS v, count(*) AS n FROM bank.customers GROUP BY ALL",
    "SELECT current_connection_id() AS c, current_query_id() AS q FROM bank.customers",
    "SELECT current_transaction_id() AS t, txid_current() AS x FROM bank.customers",
    "SELECT sleep_ms(10) AS s FROM bank.customers",
    "SELECT * FROM read_csv_auto('/etc/passwd')",
    "SELECT * FROM read_parquet('/tmp/*.parquet')",
    "SELECT read_text('/etc/hostname')",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM read_blob('/etc/hostname')",
    "SELECT * FROM glob('/*')",
    "SELECT * FROM '/etc/passwd'",
    "SELECT * FROM 'data.parquet'",
    "COPY (SELECT * FROM bank.customers) TO '/tmp/leak.csv'",
    "ATTACH '/tmp/other.db' AS other",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "PRAGMA version",
    "CALL pragma_version()",
    "EXPORT DATABASE '/tmp/dump'",
    "SELECT 1; SELECT 2",
    "SELECT * FROM bank.customers; DROP TABLE x",
    "CREATE TABLE t AS SELECT * FROM bank.customers",
    "INSERT INTO bank.customers VALUES (3, 'x', 'y')",
    "DELETE FROM bank.customers",
    "UPDATE bank.customers SET name = 'x'",
    "SELECT * INTO stolen FROM bank.customers",
    "SELECT * FROM information_schema.tables",
    "SELECT * FROM information_schema.columns",
    "SELECT * FROM duckdb_tables()",
    "SELECT * FROM duckdb_settings()",
    "SELECT current_setting('enable_external_access')",
    "SELECT * FROM customers",
    "SELECT * FROM __charter_view_0",
    "SELECT * FROM main.__charter_view_0",
    "SELECT * FROM bank.orders",
    "SELECT * FROM other_db.customers",
    "WITH x AS (SELECT * FROM read_csv('/etc/passwd')) SELECT * FROM x",
    "SELECT * FROM bank.customers WHERE id IN (SELECT 1 FROM glob('/*'))",
    "SELECT * FROM bank.customers UNION ALL SELECT * FROM read_csv('/etc/passwd')",
    "/* comment */ select * FROM Read_CSV('/etc/passwd')",
    "SELECT * FROM system.main.customers",
    "SELECT * FROM query('SELECT 1')",
    "SELECT * FROM query_table('bank.customers')",
    "DESCRIBE bank.customers",
    "SHOW TABLES",
    "USE bank",
]


@pytest.fixture
def producer(retail):
    platform, erin = retail
    erin.lake.ingest("retail-data", "bank.customers", CUSTOMERS, mode="create")
    return platform, erin


def test_the_producer_reads_its_table(producer):
    _, erin = producer
    result = erin.lake.query("retail-data", "SELECT name FROM bank.customers ORDER BY id")
    assert result.column("name").to_pylist() == ["Ann", "Bob"]


@pytest.mark.parametrize("sql", ATTACKS)
def test_attacks_are_refused_and_audited(producer, sql):
    platform, erin = producer
    with pytest.raises(CharterError) as refused:
        erin.lake.query("retail-data", sql)
    # invalid_sql: what the parser cannot read; table_not_found: a catalog name the caller
    # may not read, whether or not it exists.
    assert refused.value.code in ("query_refused", "query_failed", "invalid_sql",
                                  "table_not_found")
    assert "/etc" not in refused.value.message or refused.value.code == "query_refused"
    with platform.runtime.db.transaction() as session:
        last = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "lake:QueryTables").order_by(AuditEvent.seq.desc())).first()
    assert last.principal == "erin" and last.outcome == "error"
    assert last.error_code == refused.value.code


def test_refusals_read_the_same_for_missing_and_forbidden_tables(producer):
    platform, _ = producer
    platform.vend("team-a-dev")
    sam, _ = platform.user("sam", "team-a-data-scientists")
    with pytest.raises(Denied):  # the query runs in an account that is not sam's
        sam.lake.query("retail-data", "SELECT * FROM bank.customers")
    platform.admin.assignments.create(permission_set="data-scientist", user="sam",
                                      account="retail-data")
    messages = []
    for table in ("bank.customers", "bank.nothing"):
        with pytest.raises(CharterError) as refused:
            sam.lake.query("retail-data", f"SELECT * FROM {table}")
        messages.append(refused.value.message.replace(table.split(".")[1], "T"))
    assert messages[0] == messages[1]


RESTRICTED = [
    # (sql, rows of ids the analyst may see) -- the grant: no ssn, only EU rows
    ("SELECT id FROM bank.customers ORDER BY id", [1, 3]),
    ("SELECT id FROM BANK.CUSTOMERS ORDER BY id", [1, 3]),
    ('SELECT id FROM "bank"."customers" ORDER BY id', [1, 3]),
    ("sElEcT /* all */ id FrOm bank.customers -- rows\n ORDER BY id", [1, 3]),
    ("WITH c AS (SELECT * FROM bank.customers) SELECT id FROM c ORDER BY id", [1, 3]),
    ("WITH customers AS (SELECT * FROM bank.customers WHERE region = 'US') "
     "SELECT id FROM customers", []),
    ("SELECT id FROM (SELECT * FROM bank.customers) t WHERE region <> 'EU'", []),
    ("SELECT a.id FROM bank.customers a JOIN bank.customers b USING (id) ORDER BY 1", [1, 3]),
    ("SELECT id FROM bank.customers UNION SELECT id FROM bank.customers ORDER BY 1", [1, 3]),
    ("SELECT id FROM bank.customers WHERE id IN (SELECT id FROM bank.customers "
     "WHERE region = 'US')", []),
    ("SELECT count(*) AS id FROM bank.customers", [2]),
    ("SELECT id FROM bank.customers c WHERE c.region = 'US' OR 1 = 1 ORDER BY id", [1, 3]),
    # comparisons run inside the scan, beside the row filter, never instead of it
    ("SELECT id FROM bank.customers WHERE region = 'US'", []),
    ("SELECT id FROM bank.customers WHERE id >= 2 AND region IN ('EU', 'US') ORDER BY id",
     [3]),
    ("SELECT id FROM bank.customers WHERE name IS NOT NULL AND id BETWEEN 1 AND 2", [1]),
]
HIDDEN_COLUMN = [
    "SELECT ssn FROM bank.customers",
    "SELECT c.ssn FROM bank.customers c",
    "WITH c AS (SELECT ssn FROM bank.customers) SELECT * FROM c",
    "SELECT id FROM bank.customers WHERE ssn LIKE '1%'",
    "SELECT (SELECT max(ssn) FROM bank.customers) AS x",
    "SELECT * FROM bank.customers ORDER BY ssn",
]


@pytest.fixture
def analyst(producer):
    platform, erin = producer
    erin.lake.ingest("retail-data", "bank.customers",
                     b"id,name,ssn,region\n1,Ann,111,EU\n2,Bob,222,US\n3,Cy,333,EU\n",
                     mode="overwrite", evolve=True, schema={"columns": [
                         {"name": "id", "type": "long"}, {"name": "name", "type": "string"},
                         {"name": "ssn", "type": "string"}, {"name": "region", "type": "string"}]})
    platform.admin.groups.create("analysts")
    platform.admin.assignments.create(permission_set="data-scientist", group="analysts",
                                      account="retail-data")
    erin.lake.grant("retail-data", "bank.customers", to="group:analysts",
                    exclude_columns=["ssn"], row_filter="region = 'EU'")
    ana, _ = platform.user("ana", "analysts")
    return platform, ana


@pytest.mark.parametrize("sql,ids", RESTRICTED)
def test_tricks_return_only_granted_rows(analyst, sql, ids):
    _, ana = analyst
    result = ana.lake.query("retail-data", sql)
    assert "ssn" not in result.column_names
    assert result.column(0).to_pylist() == ids


@pytest.mark.parametrize("sql", HIDDEN_COLUMN)
def test_hidden_columns_cannot_be_reached(analyst, sql):
    _, ana = analyst
    with pytest.raises(CharterError) as refused:
        ana.lake.query("retail-data", sql)
    assert refused.value.code == "query_failed" and "111" not in refused.value.message


# Names the engine would resolve itself if the parser took them for CTEs out of scope,
# or strings it would read as files: each must be refused before DuckDB sees it.
SCOPE_TRICKS = [
    "SELECT s.* FROM __charter_x s WHERE EXISTS "
    "(WITH __charter_x AS (SELECT 1) SELECT 1 FROM bank.customers)",
    "SELECT s.* FROM duckdb_views s WHERE EXISTS "
    "(WITH duckdb_views AS (SELECT 1) SELECT 1 FROM bank.customers)",
    "SELECT * FROM sqlite_master WHERE EXISTS "
    "(WITH sqlite_master AS (SELECT 1) SELECT 1 FROM bank.customers)",
    "SELECT * FROM pg_settings WHERE EXISTS "
    "(WITH pg_settings AS (SELECT 1) SELECT 1 FROM bank.customers)",
    "WITH a AS (SELECT * FROM duckdb_columns), duckdb_columns AS (SELECT 1) "
    "SELECT a.* FROM a WHERE EXISTS (SELECT 1 FROM bank.customers)",
    "WITH a AS (SELECT * FROM a) SELECT * FROM a, bank.customers",
    "SELECT * FROM (SELECT * FROM x) t, (WITH x AS (SELECT 1) SELECT * FROM x) u, "
    "bank.customers",
    'WITH "/etc/passwd" AS (SELECT 1) SELECT * FROM "/etc/passwd", bank.customers',
    "SELECT * FROM (SUMMARIZE '/etc/passwd') WHERE EXISTS (SELECT 1 FROM bank.customers)",
    "SELECT * FROM (SUMMARIZE bank.customers)",
    "SELECT * FROM (PIVOT 'data.csv' ON a USING sum(b)), bank.customers",
    "SELECT * FROM bank.customers AT (VERSION => 1)",
    "SELECT id FROM bank.customers AS __charter_v",
    # a recursive CTE's name is in scope in its recursive term only, not its anchor
    "WITH RECURSIVE sqlite_master AS (SELECT * FROM sqlite_master UNION ALL "
    "SELECT * FROM sqlite_master WHERE false) SELECT s.sql FROM sqlite_master s, "
    "bank.customers c WHERE c.id = 1",
    "WITH RECURSIVE pg_settings AS (SELECT * FROM pg_settings) "
    "SELECT * FROM pg_settings, bank.customers",
    # names compared as the engine compares them: K (Kelvin sign) is not k
    'WITH duckdb_views AS (SELECT 1 AS a) SELECT * FROM "duc\u212adb_views", bank.customers',
    # macros that select from the engine's catalog; statistics of the whole file
    "SELECT o, pg_get_viewdef(o) AS d FROM (SELECT unnest(range(0, 10)) AS o) t "
    "WHERE EXISTS (SELECT 1 FROM bank.customers)",
    "SELECT pg_catalog.pg_get_viewdef(1) AS d FROM bank.customers",
    "SELECT format_type(1, 1) AS t FROM bank.customers",
    "SELECT get_block_size('memory') AS b FROM bank.customers",
    "SELECT stats(id) AS s FROM bank.customers",
    # nesting deep enough to exhaust a recursive walker
    "SELECT " + "(" * 400 + "1" + ")" * 400 + " AS x FROM bank.customers",
    "SELECT " + "+".join(["1"] * 2000) + " AS x FROM bank.customers",
    "SELECT * FROM " + "(SELECT * FROM " * 300 + "bank.customers" + ") t" * 300,
    # a parenthesised query whose WITH the engine would fold into the views' WITH
    "(WITH pg_settings AS (SELECT 1 AS name, 2 AS setting) SELECT s.name, s.setting "
    "FROM pg_settings s, bank.customers c WHERE c.id = 1) LIMIT 5",
    "((WITH pg_views AS (SELECT 1 AS x) SELECT count(*) AS n FROM pg_views m "
    "WHERE EXISTS (SELECT 1 FROM bank.customers)) ORDER BY 1)",
    # the engine's own SQL, with the views' file paths; whether engine objects exist
    "SELECT current_query() AS q FROM bank.customers",
    "SELECT index_key({'table': 'duckdb_views'}, 'x', id) AS k FROM bank.customers",
]


@pytest.mark.parametrize("sql", SCOPE_TRICKS)
def test_names_out_of_scope_are_refused_and_audited(analyst, sql):
    platform, ana = analyst
    with pytest.raises(CharterError) as refused:
        ana.lake.query("retail-data", sql)
    assert refused.value.code == "query_refused", refused.value.message
    with platform.runtime.db.transaction() as session:
        last = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "lake:QueryTables").order_by(AuditEvent.seq.desc())).first()
    assert last.principal == "ana" and last.error_code == "query_refused"


@pytest.mark.parametrize("sql,ids", [
    ("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) "
     "SELECT id FROM bank.customers, r WHERE n = 1 ORDER BY id", [1, 3]),
    ("WITH a AS (SELECT * FROM bank.customers), b AS (SELECT * FROM a) "
     "SELECT id FROM b ORDER BY id", [1, 3]),
    ("SELECT x FROM bank.customers AS t(x) ORDER BY x", [1, 3]),
    ("SELECT count(*) AS id FROM bank.customers TABLESAMPLE 100%", [2]),
    ("SELECT customers.id FROM bank.customers ORDER BY 1", [1, 3]),
    ("(WITH a AS (SELECT 1 AS x) SELECT id FROM a, bank.customers ORDER BY id)", [1, 3]),
    ("((SELECT id FROM bank.customers ORDER BY id))", [1, 3]),
])
def test_ctes_in_scope_aliases_and_samples_still_work(analyst, sql, ids):
    _, ana = analyst
    assert ana.lake.query("retail-data", sql).column(0).to_pylist() == ids


def test_a_query_past_its_time_is_stopped(analyst):
    platform, ana = analyst
    platform.runtime.settings.lake.query_timeout = 0.5
    endless = ("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) "
               "SELECT count(*) FROM r, bank.customers")
    with pytest.raises(CharterError) as stopped:
        ana.lake.query("retail-data", endless)
    assert stopped.value.code == "query_timeout"
    assert ana.lake.query("retail-data", "SELECT count(*) AS n FROM bank.customers"
                          ).column("n").to_pylist() == [2]


def _view_bounds(platform, client, sql: str) -> set[str]:
    """The columns of the governed view of `sql` whose min or max DuckDB knows when it
    plans (`stats()` of each, asked of the view as `client` gets it)."""
    import duckdb

    from charter.lake import _query

    seen = []
    run = _query.run

    def recording(runtime, query, sources, views, *rest, **options):
        seen.append((sources, views))
        return run(runtime, query, sources, views, *rest, **options)

    _query.run = recording
    try:
        client.lake.query("retail-data", sql)
    finally:
        _query.run = run
    (sources, views), = seen
    (view,) = views.values()
    known = set()
    with duckdb.connect() as con:
        for name, source in sources.items():
            if source.arrow is not None:
                con.register(name, source.arrow)
        for column in ("id", "name", "region"):
            stats = con.execute(f'SELECT stats("{column}") FROM ({view}) LIMIT 1'
                                ).fetchall()[0][0]
            if "min" in stats or "max" in stats:
                known.add(column)
    return known


def test_views_under_a_row_filter_tell_the_planner_no_bounds(analyst):
    """The producer's view keeps the files' statistics; ana's, under a row filter,
    withholds them, since they cover the rows her filter hides."""
    platform, ana = analyst
    erin = platform.client(platform.user("erin9", "retail-data-data-engineers")[1])
    erin.lake.ingest("retail-data", "bank.customers", b"id,name,ssn,region\n1,Ann,x1,EU\n"
                     b"99,Zzz,x9,US\n", mode="overwrite")
    sql = "SELECT id, name, region FROM bank.customers"
    assert _view_bounds(platform, erin, sql) == {"id", "name", "region"}
    assert _view_bounds(platform, ana, sql) == set()


def test_an_engine_failure_does_not_break_the_table_for_others(analyst):
    platform, ana = analyst
    with pytest.raises(CharterError) as failed:
        ana.lake.query("retail-data", "SELECT \"!=\"(l, 'x') AS x FROM (SELECT [1, 2] AS l) t, "
                       "bank.customers")
    assert failed.value.code in ("query_failed", "query_refused")
    count = "SELECT count(*) AS n FROM bank.customers"
    assert ana.lake.query("retail-data", count).column("n").to_pylist() == [2]
    erin = platform.client(platform.user("erin3", "retail-data-data-engineers")[1])
    assert erin.lake.query("retail-data", count).column("n").to_pylist() == [3]


FAILS = "id IN (SELECT -1000 WHERE error('probe') IS NULL)"


@pytest.mark.parametrize("files", [1, 2])
@pytest.mark.parametrize("probes", [
    [f"id > {bound} AND {FAILS}" for bound in (5, 98, 99, 150)],
    [f"id < {bound} AND {FAILS}" for bound in (-5, -98, -99, -150)],
    [f"id = {bound} AND {FAILS}" for bound in (5, 99, 150)],
    [f"name > '{word}' AND {FAILS}" for word in ("Dan", "Zzy", "Zzz", "Zzzz")],
    # The probe runs unless DuckDB proves the subquery empty; it can only from bounds.
    [f"id IN (SELECT count(*) FROM (SELECT id FROM bank.customers WHERE id > {bound}) a, "
     "(SELECT unnest(range(3)) AS k) t WHERE error('probe') IS NULL)"
     for bound in (5, 98, 99, 150)],
])
def test_no_probe_tells_hidden_bounds_in_one_file_or_many(analyst, files, probes):
    """Rows the filter hides (ids 99 and -99, name 'Zzz') lie in the visible rows' file
    (one file) or in a file of their own (two); the visible ids are 1 and 3. A planner
    that knew the files' min and max would prove `id > 150` empty but not `id > 98`, and
    skip or run the failing probe accordingly; every bound must give the same outcome."""
    platform, ana = analyst
    erin = platform.client(platform.user("erin4", "retail-data-data-engineers")[1])
    rows = b"id,name,ssn,region\n1,Ann,x1,EU\n3,Cy,x3,EU\n"
    hidden = b"99,Zzz,x9,US\n-99,Zzz,x8,US\n"
    if files == 1:
        erin.lake.ingest("retail-data", "bank.customers", rows + hidden, mode="overwrite")
    else:
        erin.lake.ingest("retail-data", "bank.customers", rows, mode="overwrite")
        erin.lake.ingest("retail-data", "bank.customers", b"id,name,ssn,region\n" + hidden)
    outcomes = set()
    for probe in probes:
        try:
            result = ana.lake.query("retail-data", f"SELECT id FROM bank.customers WHERE {probe}")
            outcomes.add(str(result.to_pylist()))
        except CharterError as error:
            outcomes.add(error.code)
    assert len(outcomes) == 1, outcomes


def test_two_grants_show_each_grants_cells_not_their_cross_product(analyst):
    """ana's groups hold: every column but ssn on EU rows, and id and region on all rows.
    The US row shows id and region, never its name."""
    platform, ana = analyst
    erin = platform.client(platform.user("erin5", "retail-data-data-engineers")[1])
    platform.admin.groups.create("directory")
    platform.admin.groups.add_member("directory", "ana")
    erin.lake.grant("retail-data", "bank.customers", to="group:directory",
                    columns=["id", "region"])
    rows = ana.lake.query("retail-data", "SELECT * FROM bank.customers ORDER BY id")
    assert rows.column_names == ["id", "name", "region"]
    assert rows.to_pylist() == [{"id": 1, "name": "Ann", "region": "EU"},
                                {"id": 2, "name": None, "region": "US"},
                                {"id": 3, "name": "Cy", "region": "EU"}]
    assert ana.lake.query("retail-data", "SELECT id FROM bank.customers WHERE name = 'Bob'"
                          ).num_rows == 0


def test_predicates_never_see_hidden_rows_even_inside_the_scan(analyst):
    """DuckDB may run a user's one-column predicate inside the Parquet scan, on rows the
    row filter drops later; a predicate that fails on some values would then tell whether
    a hidden row holds them. Under an IN filter it always does, so probe with one."""
    platform, _ = analyst
    erin = platform.client(platform.user("erin6", "retail-data-data-engineers")[1])
    erin.lake.ingest("retail-data", "bank.customers", mode="overwrite", data=(
        b"id,name,ssn,region\n1,Ann,x1,EU\n2,Bob,x2,US\n3,Cy,x3,EU\n"
        b"2000000000,Yul,x4,US\n"))  # one file: hidden and visible rows side by side
    platform.admin.groups.create("probers")
    platform.admin.assignments.create(permission_set="data-scientist", group="probers",
                                      account="retail-data")
    erin.lake.grant("retail-data", "bank.customers", to="group:probers",
                    columns=["id", "name", "region"], row_filter="region IN ('EU', 'UK')")
    pat, _ = platform.user("pat", "probers")
    outcomes = []
    for bound in (1999999999, 2000000000):
        probe = ("SELECT count(*) AS n FROM bank.customers WHERE timezone_hour(CASE WHEN "
                 f"id > {bound} THEN DATE '2020-01-01' END) IS NULL")
        try:
            outcomes.append(pat.lake.query("retail-data", probe).column("n").to_pylist())
        except CharterError as error:
            outcomes.append(error.code)
    assert outcomes == [[2], [2]]


def test_a_column_masked_in_one_grant_and_open_in_another_reads_as_text(analyst):
    """ana's group sees id as it is on EU rows; a second group of hers sees id hashed on
    every row. The EU rows show the id, the US row its hash: one column, one type."""
    import hashlib

    platform, ana = analyst
    erin = platform.client(platform.user("erin7", "retail-data-data-engineers")[1])
    platform.admin.groups.create("hashed")
    platform.admin.groups.add_member("hashed", "ana")
    erin.lake.grant("retail-data", "bank.customers", to="group:hashed", columns=["id"],
                    masks={"id": "hash"})
    rows = ana.lake.query("retail-data", "SELECT id, region FROM bank.customers")
    got = sorted((r["region"] or "", r["id"]) for r in rows.to_pylist())
    key = hash_mask_key(platform.runtime, "retail-data")
    assert got == sorted([("EU", "1"), ("EU", "3"),
                          ("", hashlib.sha256(f"{key}2".encode()).hexdigest())])


@pytest.fixture
def hashed(producer):
    """ana sees customers' ids hashed, and the same ids hashed in orders."""
    platform, erin = producer
    erin.lake.ingest("retail-data", "bank.orders", b"order_id,customer_id\n10,1\n11,2\n",
                     mode="create")
    platform.admin.groups.create("hashers")
    platform.admin.assignments.create(permission_set="data-scientist", group="hashers",
                                      account="retail-data")
    erin.lake.grant("retail-data", "bank.customers", to="group:hashers",
                    columns=["id", "name"], masks={"id": "hash"})
    erin.lake.grant("retail-data", "bank.orders", to="group:hashers",
                    masks={"customer_id": "hash"})
    ana, _ = platform.user("ana", "hashers")
    return platform, ana


def test_hash_masks_are_keyed_so_a_guess_cannot_be_hashed_to_find_its_row(hashed):
    import hashlib

    _, ana = hashed
    ids = ana.lake.query("retail-data", "SELECT id FROM bank.customers").column("id")
    assert len(set(ids.to_pylist())) == 2
    assert hashlib.sha256(b"1").hexdigest() not in ids.to_pylist()  # not the bare hash
    guesses = ", ".join(f"sha256('{n}')" for n in range(100))
    assert ana.lake.query("retail-data", f"SELECT id FROM bank.customers WHERE id IN "
                                         f"({guesses})").num_rows == 0
    # Equal values still hash alike, in every table: masked columns join.
    joined = ana.lake.query("retail-data", "SELECT o.order_id FROM bank.orders o JOIN "
                                           "bank.customers c ON o.customer_id = c.id "
                                           "ORDER BY 1")
    assert joined.column("order_id").to_pylist() == [10, 11]


def test_hash_keys_differ_by_producer_so_no_one_builds_a_dictionary_elsewhere(hashed):
    """mal engineers two other domain accounts: he may load values of his choice in one,
    share them hashed to the other and read them there next to the values. With one key
    for the platform, that table would turn ana's hashed ids back into ids."""
    platform, ana = hashed
    seen = ana.lake.query("retail-data", "SELECT id, name FROM bank.customers").to_pylist()
    for account in ("mkt-data", "ops-data"):
        platform.admin.accounts.create(account, ou="/workloads/data/prod",
                                       blueprint="data-domain",
                                       tags={"owner": account[:3], "cost-center": "cc-9"})
    platform.admin.lake.create_domain("mkt", account="mkt-data")
    platform.admin.lake.create_database("mkt-data", "dict")
    mal, _ = platform.user("mal", "mkt-data-data-engineers", "ops-data-data-engineers")
    mal.lake.ingest("mkt-data", "dict.guesses",
                    ("v,w\n" + "".join(f"{i},{i}\n" for i in range(100))).encode(),
                    mode="create")
    mal.lake.grant("mkt-data", "dict.guesses", to="account:ops-data", masks={"v": "hash"})
    hashes = {r["v"]: r["w"] for r in mal.lake.query("ops-data", "SELECT v, w FROM "
                                                      "dict.guesses").to_pylist()}
    assert len(hashes) == 100  # the share does hash mal's values
    assert not [r for r in seen if r["id"] in hashes]


@pytest.mark.parametrize("sql", [
    "SELECT CAST(id AS INTEGER) AS x FROM bank.customers",
    "SELECT CAST(id AS DECIMAL(3, 1)) AS x FROM bank.customers",
    "SELECT id::DATE AS x FROM bank.customers",
    "SELECT strptime(id, '%Y') AS x FROM bank.customers",
    "SELECT error(id) AS x FROM bank.customers",
    "SELECT sum(id) AS x FROM bank.customers",
    "SELECT id.x AS x FROM bank.customers",
    "SELECT unnest(id) AS x FROM bank.customers",
    "SELECT nosuch AS x FROM bank.customers",
    "SELECT id FROM bank.customers GROUP BY name",
    "SELECT id, x FROM bank.customers, bank.customers AS c2",
])
def test_errors_never_tell_the_hash_key(hashed, sql):
    platform, ana = hashed
    with pytest.raises(CharterError) as failed:
        ana.lake.query("retail-data", sql)
    assert hash_mask_key(platform.runtime, "retail-data") not in failed.value.message
    assert "__charter" not in failed.value.message
    assert ".parquet" not in failed.value.message


def test_comparisons_that_would_cast_hidden_values_stay_out_of_the_scan(analyst):
    platform, ana = analyst
    erin = platform.client(platform.user("erin8", "retail-data-data-engineers")[1])
    erin.lake.ingest("retail-data", "bank.customers", mode="overwrite", data=(
        b"id,name,ssn,region\n1,Ann,x1,EU\n2000000000,Yul,x4,US\n3,Cy,x3,EU\n"))
    for probe in ("SELECT count(*) AS n FROM bank.customers "
                  "WHERE id <> 1.0000000000000000000000000000000000001",
                  "SELECT count(*) AS n FROM bank.customers "
                  "WHERE id BETWEEN 0.5 AND 1.00000000000000000000000000000000001"):
        try:
            result = ana.lake.query("retail-data", probe).to_pylist()
        except CharterError as error:
            result = error.message
        assert "2000000000" not in str(result)
