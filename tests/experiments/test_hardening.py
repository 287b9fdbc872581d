"""Hardening of the experiments domain: each test reproduces one finding of an outside
attack, fixed since, and stays as a regression test. What the attack tried that held is
in test_attack_holds.py.

Some could only fail on PostgreSQL (CHARTER_TEST_DATABASE_URL): SQLite runs one writer
at a time, so the races they start cannot happen there.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import httpx
import pytest
from sqlalchemy import func, select, update

from charter.audit.orm import AuditEvent
from charter.errors import CharterError
from charter.experiments import orm, service
from charter.experiments.schemas import ExperimentCreate, RunCreate, RunSearch
from tests import servers

A = "team-a-dev"
ESCAPES = "\x1b]0;PWNED\x07\x1b[2J\u202e"


@pytest.fixture
def run(team):
    """(platform, sam, a run of sam's in experiment churn, with param model=rf)."""
    platform, sam = team
    with sam.runs.start(A, "churn") as active:
        active.log_param("model", "rf")
        active.log_metric("acc", 0.5)
    return platform, sam, sam.runs.get(A, active.id)


def _points(platform, run_id: str, key: str) -> int:
    with platform.runtime.db.read() as session:
        return session.scalar(select(func.count()).select_from(orm.MetricPoint).where(
            orm.MetricPoint.run_id == run_id, orm.MetricPoint.key == key))


def _race(calls):
    """Run the calls at once (released together by a barrier); their results in order."""
    barrier = threading.Barrier(len(calls))

    def go(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(go, calls))


# -- retried writes ----------------------------------------------------------------------

def test_a_batch_retried_with_its_idempotency_key_is_logged_once(run):
    """Medium. POST .../runs/{id}/log takes no idempotency key: the header is accepted and
    ignored, so a client that resends a batch whose answer it lost (the SDK's retry, the
    MLflow client's retry on 5xx/429) logs every point twice and the series is wrong.
    Right: log_batch is @idempotent; the retry answers the first result, once."""
    platform, sam, r = run
    body = {"metrics": [{"key": "loss", "value": 0.25, "timestamp": 5, "step": 1}]}
    for _ in range(2):
        answer = sam._http.post(f"/v1/accounts/{A}/runs/{r.id}/log", json=body,
                                headers={"idempotency-key": "batch-1"})
        assert answer.status_code == 204, answer.text
    assert _points(platform, r.id, "loss") == 1


def test_a_point_logged_again_is_stored_once(team):
    """MLflow stores a point (key, value, time, step) once, and its client sends a run's
    points again when it logs a model: a point sent twice, in one batch or in two, is one
    row; a point differing only in its value (a number or NaN) is another."""
    platform, sam = team
    points = [{"key": "loss", "value": 0.25, "timestamp": 5, "step": 1},
              {"key": "loss", "value": 0.25, "timestamp": 5, "step": 1},
              {"key": "loss", "value": 0.5, "timestamp": 5, "step": 1},
              {"key": "loss", "value": "NaN", "timestamp": 5, "step": 1},
              {"key": "loss", "value": 0.0, "timestamp": 5, "step": 1}]
    with sam.runs.start(A, "churn") as active:
        for _ in range(2):
            answer = sam._http.post(f"/v1/accounts/{A}/runs/{active.id}/log",
                                    json={"metrics": points})
            assert answer.status_code == 204, answer.text
        assert _points(platform, active.id, "loss") == 4
        values = sorted(str(m.value) for m in sam.runs.metric_history(A, active.id, "loss"))
        assert values == ["0.0", "0.25", "0.5", "nan"]
        assert [(m.key, m.value) for m in sam.runs.get(A, active.id).metrics] == [
            ("loss", 0.5)]


@pytest.mark.timeout(120)
def test_a_batch_whose_answer_was_lost_is_logged_once_when_sent_again(run):
    """Medium, against a real `charter server`: the answer to a 1,000-point batch is lost
    (the client times out while the server commits); the client sends the same request
    again with the same idempotency key, as the SDK does for keyed writes. Right: 1,000
    points, not 2,000."""
    platform, _, r = run
    token = platform.admin.tokens.create(user="sam")["token"]
    server = servers.start(platform.settings.home).ready()
    try:
        body = {"metrics": [{"key": "lost", "value": float(i), "timestamp": 1_000 + i,
                             "step": i} for i in range(1000)]}
        url = f"{server.url}/v1/accounts/{A}/runs/{r.id}/log"
        headers = {"authorization": f"Bearer {token}", "idempotency-key": "lost-answer-1"}
        with pytest.raises(httpx.TimeoutException):
            httpx.post(url, json=body, headers=headers,
                       timeout=httpx.Timeout(30, read=0.001))
        deadline = time.monotonic() + 30
        while _points(platform, r.id, "lost") == 0 and time.monotonic() < deadline:
            time.sleep(0.1)  # the server got the request and commits it
        assert _points(platform, r.id, "lost") == 1000
        again = httpx.post(url, json=body, headers=headers, timeout=30)
        assert again.status_code == 204, again.text
        assert _points(platform, r.id, "lost") == 1000
    finally:
        server.stop()


def test_the_sdks_batch_of_more_than_1000_points_is_all_or_nothing(run):
    """Medium. `runs.log_batch` says "all or nothing" but sends more than 1,000 points as
    several requests, each its own transaction: a bad point in the second one leaves the
    first 1,000 logged (and a client killed between requests leaves half a batch).
    Right: check the whole batch before the first request, or refuse to split what the
    caller asked to be atomic (and say so in the docstring)."""
    platform, sam, r = run
    points = [{"key": "split", "value": 1.0, "step": i, "timestamp": 1 + i}
              for i in range(1500)]
    points[1200]["key"] = "/bad"
    with pytest.raises(CharterError) as refused:
        sam.runs.log_batch(A, r.id, metrics=points)
    assert refused.value.code == "invalid_key"
    assert _points(platform, r.id, "split") == 0


# -- lineage -----------------------------------------------------------------------------

def test_log_input_does_not_tell_whether_another_account_exists(run):
    """Medium. A run's input may name any `source_account`, which is looked up without any
    authorization: a data scientist of team-a learns whether an account exists (404
    account_not_found versus 200) and records lineage to team-b's tables, which no grant
    lets them read. Right: authorize reading the table in the source account (a refusal
    that is the same whether the account exists or not), and record nothing then."""
    platform, sam, r = run
    platform.vend("team-b-dev")
    url = f"/v1/accounts/{A}/runs/{r.id}/inputs"
    exists = sam._http.post(url, json={"table": "bank.customers", "snapshot_id": "1",
                                       "source_account": "team-b-dev"})
    missing = sam._http.post(url, json={"table": "bank.customers", "snapshot_id": "1",
                                        "source_account": "no-such-account"})
    assert exists.status_code == missing.status_code == 403, (exists.text, missing.text)
    assert exists.json()["code"] == missing.json()["code"]
    assert exists.json()["message"].replace("team-b-dev", "X") == \
        missing.json()["message"].replace("no-such-account", "X")
    assert sam.runs.get(A, r.id).inputs == []


def test_log_input_refuses_a_table_or_snapshot_that_does_not_exist(run):
    """Low. Lineage is recorded as given: a table and snapshot that never existed become a
    run's input, and `runs show` presents them as what it read. Right: the table and the
    snapshot are looked up in the source catalog (table_not_found, snapshot_not_found)."""
    _, sam, r = run
    answer = sam._http.post(f"/v1/accounts/{A}/runs/{r.id}/inputs",
                            json={"table": "bank.never_made", "snapshot_id": "42"})
    assert answer.status_code == 404, answer.text
    assert sam.runs.get(A, r.id).inputs == []


# -- concurrency (PostgreSQL) ------------------------------------------------------------

def test_parallel_jobs_creating_one_experiment_get_201_or_409_never_500(team):
    """Medium (PostgreSQL). Parallel training jobs that each make sure an experiment exists
    (get by name, create on 404: what `mlflow.set_experiment` and `runs.start` do) race on
    the (account, name) unique constraint: the losers get 500 internal_error. Right: 409
    experiment_exists (or the first one's result)."""
    platform, _ = team
    _, token = platform.user("sam2", "team-a-data-scientists")
    clients = [platform.client(token) for _ in range(4)]
    answers = _race([lambda c=c: c._http.post(f"/v1/accounts/{A}/experiments",
                                              json={"name": "shared"}) for c in clients])
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409], \
        [a.text[:200] for a in answers]


def test_the_same_param_logged_twice_at_once_is_not_a_500(team):
    """Medium (PostgreSQL). Two batches logging the same param with the same value at the
    same time (a retry racing its original, two threads of one job) both find no param,
    both insert it: one gets 500 internal_error. Right: both succeed (the same value is a
    no-op); a different value is 422 param_changed."""
    platform, _ = team
    _, token = platform.user("sam2", "team-a-data-scientists")
    clients = [platform.client(token) for _ in range(4)]
    r = clients[0].runs.create(A, clients[0].experiments.create(A, "e").id)
    for i in range(3):
        answers = _race([lambda c=c, i=i: c._http.post(
            f"/v1/accounts/{A}/runs/{r.id}/log",
            json={"params": [{"key": f"p{i}", "value": "same"}]}) for c in clients])
        assert [a.status_code for a in answers] == [204] * 4, [a.text[:200] for a in answers]


def test_a_path_never_becomes_both_a_file_and_a_directory(team):
    """Medium (PostgreSQL). The file-versus-directory check reads before it writes, with
    nothing held: `x` and `x/y` uploaded at once both succeed, the listing then shows `x`
    as a directory only (the file `x` is hidden), and no file system can download the
    run's artifacts. Right: one of the two is refused 409 artifact_path_conflict."""
    platform, _ = team
    _, token = platform.user("sam2", "team-a-data-scientists")
    one, two = platform.client(token), platform.client(token)
    r = one.runs.create(A, one.experiments.create(A, "e").id)
    url = f"/v1/accounts/{A}/runs/{r.id}/artifacts/file"
    headers = {"content-type": "application/octet-stream"}
    for i in range(3):
        answers = _race([
            lambda i=i: one._http.put(url, params={"path": f"x{i}"}, content=b"1",
                                      headers=headers),
            lambda i=i: two._http.put(url, params={"path": f"x{i}/y"}, content=b"2",
                                      headers=headers)])
        assert sorted(a.status_code for a in answers) == [200, 409], \
            (i, [a.text[:200] for a in answers])


# -- the CLI -----------------------------------------------------------------------------

def test_runs_show_writes_no_control_character_of_a_run_to_the_terminal(run):
    """Medium. A run's name (any account member, or an MLflow client, sets it) and its
    user are printed raw by `charter runs show`: escape sequences reach the terminal of
    whoever looks at the run (retitle it, clear it, reverse text). `runs list -o wide`
    and `runs compare` escape them (test_attack_holds.py). Right: shown escaped, as every
    other command does (tests/cli/test_terminal_safety.py)."""
    platform, sam, r = run
    planted = []
    for fields in ({"name": f"evil {ESCAPES}"}, {"name": "by", "user": f"eve {ESCAPES}"}):
        answer = sam._http.post(f"/v1/accounts/{A}/runs",
                                json={"experiment_id": r.experiment_id, **fields})
        assert answer.status_code == 201, answer.text
        planted.append(answer.json()["id"])
    for line in [("runs", "show", A, i) for i in planted]:
        code, out, err = platform.cli(*line)
        assert code == 0, err
        for raw in ("\x1b", "\x07", "\u202e"):
            assert raw not in out and raw not in err, (line, raw)


def test_runs_compare_shows_each_run_even_when_two_share_a_name(run):
    """Medium. `charter runs compare` keys its columns by run name: two runs named alike
    (a re-run of "baseline") collapse into one column that shows the second run's id,
    params and metrics twice, and the first run's values nowhere: a wrong comparison.
    Right: one column per run (name and short id when names repeat)."""
    platform, sam, r = run
    first = sam.runs.create(A, r.experiment_id, name="baseline")
    second = sam.runs.create(A, r.experiment_id, name="baseline")
    sam.runs.log_batch(A, first.id, params={"model": "first-model"})
    sam.runs.log_batch(A, second.id, params={"model": "second-model"})
    code, out, err = platform.cli("runs", "compare", A, first.id, second.id, "-o", "wide")
    assert code == 0, err
    assert first.id in out and second.id in out
    assert "first-model" in out and "second-model" in out


def test_runs_compare_csv_quotes_a_run_name_a_spreadsheet_would_run(run):
    """Low. `charter runs compare -o csv` puts run names in its header row unquoted: a run
    named `=HYPERLINK(...)` is a formula in whoever opens the file (cells below are
    quoted, as tests/cli/test_terminal_safety.py asks of every CSV). Right: header cells
    quoted the same way."""
    platform, sam, r = run
    evil = sam.runs.create(A, r.experiment_id, name='=HYPERLINK("http://evil","x")')
    code, out, err = platform.cli("runs", "compare", A, r.id, evil.id, "-o", "csv")
    assert code == 0, err
    header = next(csv.reader(io.StringIO(out)))
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in header), header


def test_runs_list_shows_a_run_whose_start_time_is_far_in_the_future(run):
    """Medium. The API takes any start and end time below 2**63 ms (MLflow clients send
    what they like), but the CLI formats each as a date and dies with an uncaught
    ValueError ("year 292278994 is out of range"): one such run breaks `charter runs
    list` (and search, show) for everyone in the account. Right: the CLI shows the raw
    value it cannot format (or the API bounds times to dates it can give back).
    Fixed both ways: the API refuses a time outside years 1-9999 (invalid_time), and the
    CLI shows a stored one it cannot format (a row written before the bound) as a number."""
    platform, sam, r = run
    answer = sam._http.post(f"/v1/accounts/{A}/runs", json={
        "experiment_id": r.experiment_id, "name": "future", "start_time": 2**62})
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "invalid_time"
    ended = sam._http.patch(f"/v1/accounts/{A}/runs/{r.id}", json={"end_time": 2**62})
    assert ended.status_code == 422 and ended.json()["code"] == "invalid_time", ended.text
    future = sam.runs.create(A, r.experiment_id, name="future")
    with platform.runtime.db.transaction() as session:
        session.execute(update(orm.Run).where(orm.Run.id == future.id)
                        .values(start_time=2**62))
    for line in [("runs", "list", A), ("runs", "show", A, future.id),
                 ("runs", "search", A, "--experiment-id", r.experiment_id)]:
        for fmt in ("table", "csv"):
            code, out, err = platform.cli(*line, "-o", fmt)
            assert code == 0, (line, err)
            assert "future" in out, (line, fmt, out)
    assert str(2**62) in platform.cli("runs", "list", A, "-o", "csv")[1]


@pytest.mark.parametrize("value", [True, False])
def test_a_boolean_is_not_a_metric_value(run, value):
    """Low. `check_batch` means to refuse a boolean metric (`invalid_metric`), but the
    schema has already made `true` into 1.0 (pydantic's lax float), so that check never
    fires and `true`/`false` are logged as 1 and 0. MLflow's server refuses them. Right:
    a strict float (numbers, and "NaN"/"Infinity" strings) and 422 for a boolean."""
    platform, sam, r = run
    answer = sam._http.post(f"/v1/accounts/{A}/runs/{r.id}/log", json={
        "metrics": [{"key": "flag", "value": value, "timestamp": 1}]})
    assert answer.status_code == 422, answer.text
    assert _points(platform, r.id, "flag") == 0


# -- search grammar ----------------------------------------------------------------------

@pytest.mark.parametrize("clause", ["metrics.acc ASC DESC", "attributes.colour",
                                    "metrics.acc DESC NULLS FIRST"])
def test_an_order_by_clause_outside_the_grammar_is_invalid_order_by(run, clause):
    """Low. `metrics.acc ASC DESC` and `... NULLS FIRST` are accepted (the second silently
    ignored); an unknown attribute in order_by is reported as `invalid_filter`. Right:
    each is 422 `invalid_order_by`."""
    _, sam, r = run
    answer = sam._http.post(f"/v1/accounts/{A}/runs/search", json={
        "experiment_ids": [r.experiment_id], "order_by": [clause]})
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "invalid_order_by"


# -- the SDK -----------------------------------------------------------------------------

def test_runs_start_with_an_experiment_named_in_digits_uses_that_experiment(team):
    """Medium. `runs.start(account, experiment)` takes "an id, or a name", and reads any
    digits as an id: with experiments "7" (id 1) and "other" (id 2), `start(A, "7")` is
    404 experiment_not_found, and `start(A, "2")` (meant: a new experiment "2") logs the
    run into "other". The CLI's `--experiment` reads digits the same way. Right: a name
    first (a separate `experiment_id=` for ids), or a name that is digits refused at
    creation."""
    _, sam = team
    seven = sam.experiments.create(A, "7")
    other = sam.experiments.create(A, "other")
    assert (seven.id, other.id) == ("1", "2")
    with sam.runs.start(A, "7") as in_seven:
        pass
    assert in_seven.info.experiment_id == seven.id
    with sam.runs.start(A, "2") as in_two:
        pass
    assert in_two.info.experiment_id != other.id
    assert sam.experiments.get(A, in_two.info.experiment_id).name == "2"


# -- one result on both backends ---------------------------------------------------------

@pytest.mark.parametrize("filter_,matches", [
    ("params.path LIKE 'a\\b'", True),   # MLflow's LIKE has % and _, no escape character
    ("params.city ILIKE 'é%'", True),    # ILIKE folds case beyond ASCII
])
def test_like_and_ilike_answer_the_same_on_sqlite_and_postgresql(run, filter_, matches):
    """Low. LIKE is GLOB on SQLite (no escape) but PostgreSQL's LIKE, where backslash
    escapes: `LIKE 'a\\b'` matches the param `a\\b` on SQLite only. ILIKE is lower() on
    SQLite, which folds ASCII only: `ILIKE 'é%'` matches `École` on PostgreSQL only.
    Right: the same runs on both backends (escape backslashes for PostgreSQL; fold case
    the same way on both)."""
    _, sam, r = run
    sam.runs.log_batch(A, r.id, params={"path": "a\\b", "city": "École"})
    found = sam.runs.search(A, [r.experiment_id], filter=filter_)
    assert [x.id for x in found] == ([r.id] if matches else [])


# -- who may read what -------------------------------------------------------------------

def test_an_auditor_does_not_read_run_artifacts_the_lake_would_not_show_them(run):
    """Medium. The auditor persona is "every read but lake:ReadTable": an auditor sees lake
    data only through grants. But experiments:GetArtifact is a read, so the auditor
    downloads any run's files, which are often lake data (training samples, predictions,
    a model that memorised rows). Right: artifact contents are data, not metadata: the
    auditor's permission set leaves out experiments:GetArtifact as it leaves out
    lake:ReadTable (listing and describing artifacts stays allowed)."""
    platform, sam, r = run
    auditor, _ = platform.user("audrey", "security-auditors")
    sam.runs.upload(A, r.id, _file(platform, "sample.csv", b"ssn\n123-45-6789\n"))
    listed = auditor._http.get(f"/v1/accounts/{A}/runs/{r.id}/artifacts")
    assert listed.status_code == 200 and listed.json()["total"] == 1
    read = auditor._http.get(f"/v1/accounts/{A}/runs/{r.id}/artifacts/file",
                             params={"path": "sample.csv"})
    assert read.status_code == 403, read.text[:100]


def _file(platform, name: str, data: bytes):
    path = platform.settings.home / name
    path.write_bytes(data)
    return path


def test_a_filter_that_does_not_parse_is_explained_without_parser_internals(run):
    """Low. A half-written filter (`metrics.acc >`) answers "Required keyword:
    'expression' missing for <class 'sqlglot.expressions.core.GT'>": the parser's class
    names, not the user's mistake. Right: say what is missing in the filter's own terms
    (a value after `>`), at its column."""
    _, sam, r = run
    answer = sam._http.post(f"/v1/accounts/{A}/runs/search", json={
        "experiment_ids": [r.experiment_id], "filter": "metrics.acc >"})
    assert answer.status_code == 422
    message = answer.json()["message"]
    assert "sqlglot" not in message and "<class" not in message, message


# -- the audit trail --------------------------------------------------------------------

def test_the_trail_names_a_run_by_the_crn_the_run_shows(run):
    """Low. A run's crn is `crn:A:experiments:run/<experiment>/<run>` (as `runs show`
    prints it), but the trail records the operations on it under other names: logging and
    reading as `run/<run>`, its artifacts as `artifact/<run>/<path>`. Whoever follows a
    run through the trail by its name misses them, and a policy written for the
    experiment's runs (`run/<experiment>/*`) would not match them. Right: the target of
    every operation on a run is the run's crn (its artifacts: below it)."""
    platform, sam, r = run
    sent = [sam._http.post(f"/v1/accounts/{A}/runs/{r.id}/log",
                           json={"params": [{"key": "k", "value": "v"}]}),
            sam._http.get(f"/v1/accounts/{A}/runs/{r.id}"),
            sam._http.put(f"/v1/accounts/{A}/runs/{r.id}/artifacts/file",
                          params={"path": "a.txt"}, content=b"a",
                          headers={"content-type": "application/octet-stream"})]
    with platform.runtime.db.read() as session:
        resources = [session.scalars(select(AuditEvent.resource).where(
            AuditEvent.request_id == s.headers["x-request-id"])).one() for s in sent]
    assert all(x == r.crn or x.startswith(r.crn + "/") for x in resources), resources


def test_a_run_shows_who_really_made_it(run):
    """Medium. A run's `user` is whatever the client sends (`"user": "lead"`), and it is
    all a reader sees: `runs show` says "by lead", search by `attributes.user_id = 'lead'`
    finds it, and the authenticated creator (`created_by`, kept in the table) is in no
    answer. On a governed platform the run's author is the token's user. Right: `user`
    is the principal (an MLflow client's own user_id kept apart, if at all), or the
    answer carries `created_by` and the CLI shows it."""
    _, sam, r = run
    answer = sam._http.post(f"/v1/accounts/{A}/runs", json={
        "experiment_id": r.experiment_id, "name": "forged", "user": "lead"})
    assert answer.status_code == 201
    shown = answer.json()
    assert shown["user"] == "sam" or shown.get("created_by") == "sam", shown


# -- bounds ------------------------------------------------------------------------------

def test_an_experiment_holds_no_more_tags_than_a_batch(team):
    """Low. An experiment's tags have no count limit: one create with 1,000 tags of 8,000
    characters stores 8 MB in the row, and every listing of the account's experiments
    (100 a page) then carries it, for everyone in the account. Runs take at most 100 tags
    a batch. Right: at most MAX_BATCH_TAGS tags on create and update (422)."""
    _, sam = team
    answer = sam._http.post(f"/v1/accounts/{A}/experiments", json={
        "name": "heavy", "tags": {f"k{i}": "v" * 8000 for i in range(1000)}})
    assert answer.status_code == 422, answer.text[:100]


def test_an_experiment_id_past_the_id_columns_range_is_not_found(as_user):
    """Medium (PostgreSQL). The experiment id column is a 32-bit integer there, which
    refuses a larger number even in a comparison: such an id answered 500. Right: no
    experiment has it, so it is experiment_not_found, and a search of logged models by it
    finds none."""
    ctx = as_user()
    for big in ("2147483648", "9" * 18):
        for call in (partial(service.get_experiment, ctx, A, big),
                     partial(service.create_run, ctx, A, RunCreate(experiment_id=big)),
                     partial(service.search_runs, ctx, A, RunSearch(experiment_ids=[big])),
                     partial(service.list_runs, ctx, A, experiment_id=big)):
            with pytest.raises(CharterError) as err:
                call()
            assert err.value.code == "experiment_not_found"
        assert service.search_logged_models(ctx, A, [big]).items == []


def test_a_deleted_runs_folder_takes_no_file_named_from_the_accounts_root(as_user):
    """Medium. A file written at `<experiment>/<run>/artifacts/...` from the account's
    root (as MLflow's artifact proxy writes) was stored in a deleted run's folder; with
    the run named, it is refused. Right: the same refusal, run_not_active, nothing
    stored; restored, the run takes it."""
    ctx = as_user()
    experiment = service.create_experiment(ctx, A, ExperimentCreate(name="e"))
    made = service.create_run(ctx, A, RunCreate(experiment_id=experiment.id))
    path = f"{experiment.id}/{made.id}/artifacts/late.txt"
    service.delete_run(ctx, A, made.id)
    for call in (lambda: service.put_artifact(ctx, A, path, b"late"),
                 lambda: service.put_artifact(ctx, A, "late.txt", b"late", run_id=made.id)):
        with pytest.raises(CharterError) as err:
            call()
        assert err.value.code == "run_not_active"
    assert service.list_artifacts(ctx, A, f"{experiment.id}/{made.id}") == []
    service.delete_run(ctx, A, made.id, restore=True)
    assert service.put_artifact(ctx, A, path, b"late").size == 4
