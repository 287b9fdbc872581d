"""The DuckDB engine under governed SQL, tried directly with SQL the parser would refuse:
the second line of defence holds on its own. And the ways it reads a snapshot: DuckDB's
Parquet reader by Iceberg field id, or Arrow for what that reader cannot take."""

from __future__ import annotations

import io
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from charter.errors import Invalid
from charter.lake import _iceberg, _query

CUSTOMERS = b"id,name,ssn\n1,Ann,111-1\n2,Bob,222-2\n"
ORDERS = b"id,customer_id,amount\n10,1,9.5\n11,2,20.0\n"


@pytest.fixture
def tables(retail):
    platform, erin = retail
    erin.lake.ingest("retail-data", "bank.customers", CUSTOMERS, mode="create")
    erin.lake.ingest("retail-data", "bank.orders", ORDERS, mode="create")
    return platform, erin


def _source(platform, table: str) -> _query.Source:
    iceberg = _iceberg.load(platform.runtime, "retail-data", "bank", table)
    source, _ = _query.source(platform.runtime, iceberg, None)
    return source


def _run(platform, sql: str) -> pa.Table:
    """`sql` as `_query.run` gets it, with one view `v` of every row of customers."""
    source = _source(platform, "customers")
    return _query.run(platform.runtime, sql, {"d": source},
                      {"v": f"SELECT * FROM {source.relation('d')}"})


def _locked(platform, sql: str) -> list:
    """`sql` straight on the locked database that may read the customers files: no
    parser in front, so what holds here is DuckDB's lock alone."""
    files = frozenset(_source(platform, "customers").files)
    with _query._engines(platform.runtime).connection(files) as con:
        return con.execute(sql).fetchall()


def test_a_snapshot_is_read_from_its_parquet_files(tables):
    platform, _ = tables
    source = _source(platform, "customers")
    assert source.arrow is None and source.files and not source.mapped
    assert all(Path(f).is_file() for f in source.files)
    assert [name for _, name, _ in source.fields] == ["id", "name", "ssn"]
    assert _run(platform, "SELECT name FROM v ORDER BY id").column(
        "name").to_pylist() == ["Ann", "Bob"]


OUT_OF_REACH = [
    "SELECT * FROM read_parquet({other})",
    "SELECT * FROM read_blob({other})",
    "SELECT * FROM glob({folder})",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM {other}",
    "SELECT * FROM {quoted}",
    "SUMMARIZE SELECT * FROM read_parquet({other})",
]


@pytest.mark.parametrize("sql", OUT_OF_REACH)
def test_files_outside_the_query_are_out_of_reach(tables, sql):
    platform, _ = tables
    other = _source(platform, "orders").files[0]
    folder, quoted = str(Path(other).parent) + "/*", f'"{other}"'
    with pytest.raises(Invalid) as failed:
        _run(platform, sql.format(other=f"'{other}'", folder=f"'{folder}'", quoted=quoted))
    assert failed.value.code in {"query_refused", "query_failed"}


@pytest.mark.parametrize("sql", [*OUT_OF_REACH, "SET enable_external_access = true",
                                 "SET allowed_paths = ['/etc/hostname']"])
def test_the_locked_database_alone_keeps_other_files_out(tables, sql):
    platform, _ = tables
    other = _source(platform, "orders").files[0]
    folder, quoted = str(Path(other).parent) + "/*", f'"{other}"'
    with pytest.raises(duckdb.Error):
        _locked(platform, sql.format(other=f"'{other}'", folder=f"'{folder}'", quoted=quoted))


def test_the_locked_database_reads_no_python_object_by_name(tables):
    platform, _ = tables
    secret = pa.table({"ssn": ["999-99-9999"]})
    with duckdb.connect() as plain:  # DuckDB's default: a local Arrow table by its name
        assert plain.execute("SELECT ssn FROM secret").fetchall() == [("999-99-9999",)]
    files = frozenset(_source(platform, "customers").files)
    with _query._engines(platform.runtime).connection(files) as con:
        assert con.execute("SELECT current_setting('python_enable_replacements')"
                           ).fetchall() == [(False,)]
        with pytest.raises(duckdb.CatalogException):
            con.execute("SELECT ssn FROM secret").fetchall()
    assert secret.num_rows == 1


@pytest.mark.parametrize("sql", [
    "COPY (SELECT 42 AS id) TO {own} (FORMAT parquet, USE_TMP_FILE false)",
    "ATTACH {own} AS stolen",
    "SET enable_external_access = true",
    "PRAGMA version",
    "CALL pragma_version()",
    "EXPORT DATABASE '/tmp/dump'",
    "SELECT 1; COPY (SELECT 42 AS id) TO {own} (FORMAT parquet, USE_TMP_FILE false)",
    "INSTALL httpfs",
    "CREATE TABLE copy AS SELECT * FROM v",
])
def test_only_one_select_runs_even_against_the_query_files(tables, sql):
    """The query's own data files are allowed to DuckDB, so a COPY could overwrite them:
    DuckDB's parser must see one SELECT or nothing runs."""
    platform, _ = tables
    own = _source(platform, "customers").files[0]
    before = Path(own).read_bytes()
    with pytest.raises(Invalid) as refused:
        _run(platform, sql.format(own=f"'{own}'"))
    assert refused.value.code in {"query_refused", "query_failed"}
    assert Path(own).read_bytes() == before
    assert _run(platform, "SELECT count(*) AS n FROM v").column("n").to_pylist() == [2]


def test_files_written_before_a_schema_change_read_as_the_new_schema(tables):
    platform, erin = tables
    erin.lake.ingest("retail-data", "bank.customers",
                     b"id,name,ssn,email\n3,Cy,333-3,cy@example.com\n", evolve=True)
    source = _source(platform, "customers")
    assert len(source.files) == 1 and len(source.mapped) == 1  # new file, old file
    result = erin.lake.query("retail-data",
                             "SELECT id, email, ssn FROM bank.customers ORDER BY id")
    assert result.to_pylist() == [
        {"id": 1, "email": None, "ssn": "111-1"}, {"id": 2, "email": None, "ssn": "222-2"},
        {"id": 3, "email": "cy@example.com", "ssn": "333-3"}]


def test_each_snapshot_reads_its_own_files(tables):
    """File plans are cached per snapshot: a new write is seen, an old snapshot stays."""
    _, erin = tables
    count = "SELECT count(*) AS n FROM bank.customers"
    first = erin.lake.snapshots("retail-data", "bank.customers").items[-1]["snapshot_id"]
    assert erin.lake.query("retail-data", count).column("n").to_pylist() == [2]
    erin.lake.ingest("retail-data", "bank.customers", b"id,name,ssn\n3,Cy,333-3\n")
    assert erin.lake.query("retail-data", count).column("n").to_pylist() == [3]
    erin.lake.ingest("retail-data", "bank.customers", b"id,name,ssn\n9,Di,999-9\n",
                     mode="overwrite")
    assert erin.lake.query("retail-data", count).column("n").to_pylist() == [1]
    assert erin.lake.query("retail-data", count, snapshots={"bank.customers": first}
                           ).column("n").to_pylist() == [2]


def test_nested_columns_are_read_through_arrow(tables):
    platform, erin = tables
    data = pa.table({"id": pa.array([1, 2], pa.int64()),
                     "tags": pa.array([["a", "b"], []], pa.list_(pa.string()))})
    sink = io.BytesIO()
    pq.write_table(data, sink)
    erin.lake.ingest("retail-data", "bank.tagged", sink.getvalue(), format="parquet",
                     mode="create")
    assert _source(platform, "tagged").arrow is not None
    result = erin.lake.query("retail-data",
                             "SELECT id, len(tags) AS n FROM bank.tagged ORDER BY id")
    assert result.to_pylist() == [{"id": 1, "n": 2}, {"id": 2, "n": 0}]


def _statistics(platform, source: _query.Source, statistics: bool) -> dict:
    """What DuckDB knows of each column of `source` before reading a row (`stats()`)."""
    files = frozenset(source.paths)
    relation = source.relation("d", statistics=statistics)
    with _query._engines(platform.runtime).connection(files) as con:
        if source.arrow is not None:
            con.register("d", source.arrow)
        return {c: con.execute(f'SELECT stats("{c}") FROM {relation} LIMIT 1').fetchall()[0][0]
                for c in source.columns}


def _bounds(stats: dict) -> set[str]:
    return {c for c, s in stats.items() if "min" in s or "max" in s}


def test_a_source_read_under_a_row_filter_gives_the_planner_no_bounds(tables):
    """One file, several files, files read by field id and Arrow data: statistics=False
    leaves DuckDB no min or max of any column; otherwise files give theirs."""
    platform, erin = tables
    one = _source(platform, "customers")
    assert len(one.files) == 1 and _bounds(_statistics(platform, one, True)) >= {"id", "name"}
    assert not _bounds(_statistics(platform, one, False))
    erin.lake.ingest("retail-data", "bank.customers", b"id,name,ssn\n3,Cy,333-3\n")
    many = _source(platform, "customers")
    assert len(many.files) == 2 and _bounds(_statistics(platform, many, True))
    assert not _bounds(_statistics(platform, many, False))
    erin.lake.ingest("retail-data", "bank.customers",
                     b"id,name,ssn,email\n4,Di,444-4,di@example.com\n", evolve=True)
    mixed = _source(platform, "customers")
    assert mixed.files and mixed.mapped
    assert not _bounds(_statistics(platform, mixed, False))
    mapped_only = _query.Source(mixed.columns, mapped=mixed.mapped, fields=mixed.fields)
    assert not _bounds(_statistics(platform, mapped_only, False))
    arrow = _query.Source(("id",), arrow=pa.table({"id": pa.array([1, 99], pa.int64())}))
    assert not _bounds(_statistics(platform, arrow, False))
    assert all(s["has_null"] for s in _statistics(platform, many, False).values())


def test_connections_to_one_database_do_not_see_each_others_views(tables):
    platform, _ = tables
    engines = _query._engines(platform.runtime)
    own = frozenset(_source(platform, "customers").files)
    with engines.connection(own) as first, engines.connection(own) as second:
        first.execute("CREATE TEMP VIEW mine AS SELECT 1 AS x")
        assert first.sql("SELECT x FROM mine").fetchall() == [(1,)]
        with pytest.raises(duckdb.CatalogException):
            second.sql("SELECT x FROM mine").fetchall()
    assert len(engines.dbs) == 1  # one locked database per set of files


def test_the_least_recently_used_database_is_closed_once_idle(tables):
    platform, _ = tables
    engines = _query._Engines(size=1, memory="256MB",
                              spill_root=platform.settings.home / "spill", spill_limit="1GB")
    customers = frozenset(_source(platform, "customers").files)
    orders = frozenset(_source(platform, "orders").files)
    with engines.connection(customers) as busy:
        old = engines.dbs[customers]
        with engines.connection(orders):
            pass
        assert list(engines.dbs) == [orders]
        assert busy.sql("SELECT count(*) FROM read_parquet("
                        f"{sorted(customers)!r})").fetchall() == [(2,)]  # still open
    with pytest.raises(duckdb.ConnectionException):  # closed once its query ended
        old.con.execute("SELECT 1")
    locked = pytest.raises(duckdb.PermissionException)  # to its own files
    with engines.connection(orders) as con, locked:
        con.sql(f"SELECT * FROM read_parquet({sorted(customers)!r})").fetchall()
    assert len(list((platform.settings.home / "spill").iterdir())) == 1  # the open one's
    engines.close()
    assert not engines.dbs
    assert not list((platform.settings.home / "spill").iterdir())  # spill folders go too


@pytest.mark.parametrize("sql", [
    "SELECT s.* FROM duckdb_views s WHERE EXISTS (WITH duckdb_views AS (SELECT 1) "
    "SELECT 1 FROM v)",
    "WITH a AS (SELECT * FROM duckdb_columns), duckdb_columns AS (SELECT 1) "
    "SELECT a.* FROM a, v",
    "WITH a AS (SELECT * FROM a) SELECT * FROM a, v",
    "SELECT * FROM (SUMMARIZE '/etc/passwd'), v",
    "SELECT * FROM (SUMMARIZE v)",
    "SELECT * FROM read_parquet('/etc/passwd'), v",
    "SELECT current_setting('allowed_paths') FROM v",
    "SELECT * FROM v AT (VERSION => 1)",
    "SELECT * FROM main.v",
    "SELECT * FROM temp.main.v",
    "SELECT * FROM (PIVOT v ON name USING count(*))",
    "WITH RECURSIVE sqlite_master AS (SELECT * FROM sqlite_master UNION ALL "
    "SELECT * FROM sqlite_master WHERE false) SELECT * FROM sqlite_master, v",
    'WITH duckdb_views AS (SELECT 1 AS a) SELECT * FROM "duc\u212adb_views", v',
    "SELECT pg_get_viewdef(1) AS d FROM v",
    "SELECT stats(id) AS s FROM v",
    "SELECT " + "+".join(["1"] * 500) + " AS x FROM v",
    "(WITH pg_settings AS (SELECT 1 AS name) SELECT s.name FROM pg_settings s, v) LIMIT 5",
    "SELECT current_query() AS q FROM v",
    "SELECT json_serialize_plan('SELECT 1', optimize := true) AS p FROM v",
    "SELECT current_setting('threads') OVER () AS s FROM v",  # a window names it too
    "SELECT vector_type(id) AS t FROM v",
])
def test_duckdb_own_parse_tree_is_checked_too(tables, sql):
    """What sqlglot refuses is refused again on the tree DuckDB parsed, should the two
    parsers ever read a query differently."""
    platform, _ = tables
    for _ in range(2):  # a refused text is never kept as checked
        with pytest.raises(Invalid) as refused:
            _run(platform, sql)
        assert refused.value.code == "query_refused", refused.value.message


def test_ctes_in_scope_pass_duckdb_own_tree_check(tables):
    platform, _ = tables
    sql = ("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 2), "
           "w AS (SELECT * FROM v) SELECT count(*) AS c FROM w, r")
    assert _run(platform, sql).column("c").to_pylist() == [4]


@pytest.mark.parametrize("sql,expected", [
    ("SELECT 1", "WITH v AS NOT MATERIALIZED (SELECT 2) SELECT 1"),
    ("WITH a AS (SELECT 1) SELECT * FROM a",
     "WITH v AS NOT MATERIALIZED (SELECT 2), a AS (SELECT 1) SELECT * FROM a"),
    ("WITH RECURSIVE r AS (SELECT 1) SELECT * FROM r",
     "WITH RECURSIVE v AS NOT MATERIALIZED (SELECT 2), r AS (SELECT 1) SELECT * FROM r"),
])
def test_views_join_the_query_as_its_first_ctes(sql, expected):
    assert _query.with_views(sql, {"v": "SELECT 2"}) == expected


def test_a_long_query_does_not_hold_up_writers(tables):
    """A query reads in a read transaction and records itself after: on SQLite it does not
    hold the write lock while DuckDB works, so writes go on meanwhile."""
    import threading
    import time

    platform, erin = tables
    slow = ("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r "
            "WHERE n < 1000000) SELECT count(*) AS c FROM r, bank.customers")
    done: dict[str, float] = {}

    def query() -> None:
        erin.lake.query("retail-data", slow)
        done["query"] = time.monotonic()

    worker = threading.Thread(target=query)
    worker.start()
    time.sleep(0.3)  # the query is running
    platform.admin.groups.create("meanwhile")
    done["write"] = time.monotonic()
    worker.join(timeout=120)
    assert done["write"] < done["query"]
    events = platform.admin.audit.events(action="lake:QueryTables")["items"]
    assert any(e["principal"] == "erin" and e["outcome"] == "success" for e in events)


def test_macros_calling_denied_functions_are_found_by_name_or_prefix():
    called = _query._CALLED.findall('(SELECT 1) + "read_text"(x) + sleep_ms (5) + f.g(1)')
    assert {"read_text", "sleep_ms", "g"} <= set(called)
