"""Request bodies: text the store refuses is found however the body is encoded or labelled
(as FastAPI decodes it), bodies are bounded, and a large body is read only from a caller
whose token is valid."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from charter.audit.orm import AuditEvent

from .conftest import one_record

CREATE = "/v1/accounts/retail-data/lake/databases"
INGEST = "/v1/accounts/retail-data/lake/tables/bank/wide/ingest"


@pytest.fixture
def retail(platform):
    platform.admin.accounts.create("retail-data", ou="/workloads/data/prod",
                                   blueprint="data-domain",
                                   tags={"owner": "retail", "cost-center": "cc-9"})
    platform.admin.lake.create_domain("retail", account="retail-data")
    platform.admin.lake.create_database("retail-data", "bank")
    return platform, platform.admin


BODY = {"name": "nuldb", "description": "a\x00b"}
ENCODINGS = {
    "nbsp-after": ("application/json\xa0", json.dumps(BODY).encode()),
    "nbsp-before": ("\xa0application/json", json.dumps(BODY).encode()),
    "utf-16": ("application/json", json.dumps(BODY).encode("utf-16-le")),
    "utf-32": ("application/json", json.dumps(BODY).encode("utf-32")),
    "raw-surrogate": ("application/json",
                      b'{"name": "x", "description": "a\xed\xa0\x80b"}'),
}


@pytest.mark.parametrize("case", ENCODINGS.values(), ids=ENCODINGS.keys())
def test_refused_text_is_found_however_the_body_is_encoded(retail, case):
    platform, admin = retail
    kind, content = case
    answer = admin._http.post(CREATE, content=content,
                              headers={"content-type": kind.encode("latin-1")})
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] in ("invalid_text", "invalid_request")
    assert one_record(platform, answer).outcome == "rejected"


def test_a_lone_surrogate_in_the_ingest_schema_is_refused(retail):
    platform, admin = retail
    schema = json.dumps({"columns": [{"name": "\ud800", "type": "long"}]})
    answer = admin._http.post(INGEST, params={"mode": "create", "schema": schema},
                              content=b"a\n1\n",
                              headers={"content-type": "application/octet-stream"})
    assert (answer.status_code, answer.json()["code"]) == (422, "invalid_text")
    one_record(platform, answer)


def test_bodies_are_bounded(retail, monkeypatch):
    platform, admin = retail
    monkeypatch.setattr(platform.runtime.settings.api, "max_json_bytes", 4096)
    monkeypatch.setattr(platform.runtime.settings.api, "max_body_bytes", 8192)
    answer = admin._http.post(CREATE, json={"name": "big", "description": "x" * 5000})
    assert (answer.status_code, answer.json()["code"]) == (413, "body_too_large")
    assert one_record(platform, answer).principal == "admin"
    answer = admin._http.post(INGEST, params={"mode": "create"}, content=b"a\n" + b"1\n" * 5000,
                              headers={"content-type": "application/octet-stream"})
    assert (answer.status_code, answer.json()["code"]) == (413, "body_too_large")


def test_a_large_body_is_read_only_from_a_signed_in_caller(retail):
    platform, admin = retail
    rows = b"a\n" + b"123456\n" * 200_000  # past 1 MiB
    anonymous = platform.client(None)._http
    answer = anonymous.post(INGEST, params={"mode": "create"}, content=rows,
                            headers={"content-type": "application/octet-stream",
                                     "authorization": "Bearer chr_wrong"})
    assert (answer.status_code, answer.json()["code"]) == (401, "invalid_token")
    answer = admin._http.post(INGEST, params={"mode": "create"}, content=rows,
                              headers={"content-type": "application/octet-stream"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["rows_written"] == 200_000


def test_an_invalid_idempotency_key_is_kept_in_its_record(retail):
    platform, admin = retail
    answer = admin._http.post(INGEST, params={"mode": "create"}, content=b"a\n1\n",
                              headers={"content-type": "application/octet-stream",
                                       "idempotency-key": "bad key!"})
    assert (answer.status_code, answer.json()["code"]) == (422, "invalid_idempotency_key")
    with platform.runtime.db.transaction() as session:
        record = session.scalar(select(AuditEvent).where(
            AuditEvent.request_id == answer.headers["x-request-id"]))
    assert "bad key!" in record.details


def test_a_chunked_body_of_unknown_length_is_withheld_from_a_wrong_token(retail):
    """No content-length: the body may be any size, so the token is checked before the
    route reads it, as for a large body (a GET has neither header and no body)."""
    platform, admin = retail
    anonymous = platform.client(None)._http

    def chunks():
        for _ in range(200):
            yield b"123456\n" * 1000

    answer = anonymous.post(INGEST, params={"mode": "create"}, content=chunks(),
                            headers={"content-type": "application/octet-stream",
                                     "authorization": "Bearer chr_wrong"})
    assert (answer.status_code, answer.json()["code"]) == (401, "invalid_token")
    answer = admin._http.post(INGEST, params={"mode": "create"},
                              content=(c for c in [b"a\n", b"1\n2\n"]),
                              headers={"content-type": "application/octet-stream"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["rows_written"] == 2
