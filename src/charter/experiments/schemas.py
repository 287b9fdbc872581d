"""Experiment tracking schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from charter.core.pagination import Page
from charter.core.wire import BigId, Schema

RunStatus = Literal["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"]
ViewType = Literal["ACTIVE_ONLY", "DELETED_ONLY", "ALL"]
ModelStatus = Literal["PENDING", "READY", "FAILED"]

# Limits MLflow's own server keeps, so a client's batch means the same on both.
MAX_KEY = 250
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
MAX_BATCH_METRICS = 1000
MAX_BATCH_PARAMS = 100
MAX_BATCH_TAGS = 100
MAX_SEARCH_RESULTS = 50_000


class ExperimentCreate(Schema):
    name: str = Field(min_length=1, max_length=500, description="Unique in the account.")
    tags: dict[str, str] = Field(default_factory=dict)


class ExperimentRead(Schema):
    id: str = Field(description="Digits, as MLflow names experiments.")
    account: str
    name: str
    crn: str
    artifact_location: str = Field(description="`mlflow-artifacts:/<id>`.")
    lifecycle_stage: Literal["active", "deleted"]
    tags: dict[str, str]
    created_by: str
    created_at: datetime
    updated_at: datetime


class KeyValue(Schema):
    key: str
    value: str


class Metric(Schema):
    """One point of a metric series. NaN and infinities travel as the strings "NaN",
    "Infinity" and "-Infinity" (JSON has no number for them)."""

    model_config = ConfigDict(ser_json_inf_nan="strings")

    key: str
    value: float
    timestamp: int = Field(description="Milliseconds since the epoch.")
    step: int = 0


class MetricIn(Metric):
    step: int = Field(default=0, ge=-2**63, lt=2**63)
    timestamp: int = Field(ge=-2**63, lt=2**63)


class RunInputCreate(Schema):
    table: str = Field(max_length=127, description="`DB.TABLE` as the run read it.")
    snapshot_id: BigId
    source_account: str | None = Field(
        default=None, max_length=63,
        description="The account whose catalog the run read it in (default: the run's).")


class RunInputRead(Schema):
    account: str
    table: str
    snapshot_id: BigId
    recorded_at: datetime


class RunCreate(Schema):
    experiment_id: str = Field(max_length=20)
    name: str | None = Field(default=None, max_length=250)
    start_time: int | None = Field(default=None, ge=0, lt=2**63,
                                   description="Milliseconds since the epoch (default: now).")
    tags: dict[str, str] = Field(default_factory=dict)
    user: str | None = Field(default=None, max_length=250)
    source: str | None = Field(default=None, max_length=500)
    git_commit: str | None = Field(default=None, max_length=64)


class RunUpdate(Schema):
    status: RunStatus | None = None
    end_time: int | None = Field(default=None, ge=0, lt=2**63)
    name: str | None = Field(default=None, max_length=250)


class RunRead(Schema):
    id: str
    account: str
    experiment_id: str
    name: str
    crn: str
    status: RunStatus
    start_time: int
    end_time: int | None
    user: str
    source: str | None
    git_commit: str | None
    artifact_uri: str = Field(description="`mlflow-artifacts:/<experiment>/<run>/artifacts`.")
    lifecycle_stage: Literal["active", "deleted"]
    params: dict[str, str]
    metrics: list[Metric] = Field(description="The latest point of each metric.")
    tags: dict[str, str]
    inputs: list[RunInputRead]


class RunLog(Schema):
    """One batch: metric points, params and tags, written together or not at all."""

    metrics: list[MetricIn] = Field(default_factory=list)
    params: list[KeyValue] = Field(default_factory=list)
    tags: list[KeyValue] = Field(default_factory=list)


class RunSearch(Schema):
    experiment_ids: list[str] = Field(min_length=1, max_length=100)
    filter: str = Field(default="", max_length=10_000, description=(
        "MLflow's filter grammar: `metrics.rmse < 0.5 and params.model = 'rf' and "
        "tags.\"mlflow.runName\" LIKE 'a%' and attributes.status = 'FINISHED'`."))
    order_by: list[str] = Field(default_factory=list, max_length=10, description=(
        "`metrics.acc DESC`, `params.model`, `attributes.start_time ASC`, ..."))
    max_results: int = Field(default=1000, ge=1, le=MAX_SEARCH_RESULTS)
    page_token: str | None = Field(default=None, max_length=2000)
    run_view_type: ViewType = "ACTIVE_ONLY"


class RunSearchPage(Schema):
    items: list[RunRead]
    next_page_token: str | None = Field(
        default=None, description="Pass as `page_token` for the next page; null on the last.")


class ArtifactRead(Schema):
    path: str = Field(description="Relative to the account's artifact root (or the run's).")
    is_dir: bool
    size: int | None = Field(description="Bytes; null for a directory.")
    sha256: str | None = Field(description="Of the content; null for a directory.")


class LoggedModelCreate(Schema):
    experiment_id: str = Field(max_length=20)
    name: str = Field(min_length=1, max_length=250)
    source_run_id: str | None = Field(default=None, max_length=32)
    model_type: str | None = Field(default=None, max_length=250)
    params: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)


class LoggedModelUpdate(Schema):
    status: ModelStatus | None = None


class LoggedModelRead(Schema):
    id: str = Field(description="`m-` and 32 hex digits.")
    account: str
    experiment_id: str
    name: str
    crn: str
    artifact_location: str
    status: ModelStatus
    source_run_id: str | None
    model_type: str | None
    params: dict[str, str]
    tags: dict[str, str]
    metrics: list[dict[str, Any]]
    created_by: str
    created_at: datetime
    updated_at: datetime


ExperimentPage = Page[ExperimentRead]
RunPage = Page[RunRead]
MetricPage = Page[Metric]
LoggedModelPage = Page[LoggedModelRead]
