"""Registry schemas: model groups, versions, their files, signature and approval."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from charter.core.pagination import Page
from charter.core.wire import BigId, Schema

ApprovalStatus = Literal["PendingManualApproval", "Approved", "Rejected"]
MAX_REASON = 1000

TagMap = dict[str, str]


class ModelGroupCreate(Schema):
    name: str = Field(max_length=63, description="Model group name, unique in the account: "
                      "letters, digits, `.`, `_` and `-`, starting with a letter or digit.")
    description: str | None = Field(default=None, max_length=5000)
    tags: TagMap = Field(default_factory=dict, description="Tags (key 250, value 5000 "
                         "characters at most).")


class ModelGroupRead(Schema):
    name: str
    account: str
    crn: str
    description: str | None
    tags: TagMap
    aliases: dict[str, int] = Field(description="Alias -> version number.")
    latest_version: int | None = Field(description="The newest version's number; null "
                                       "before the first.")
    created_by: str
    created_at: datetime
    updated_at: datetime


class ModelFile(Schema):
    path: str = Field(description="Path of the file under the version's source.")
    size: int
    sha256: str


class ModelSignature(Schema):
    inputs: list[dict[str, Any]] = Field(description="Input columns or tensors: "
                                         "`{name, type, shape}`.")
    outputs: list[dict[str, Any]] = Field(default_factory=list)


class ModelVersionCreate(Schema):
    source: str = Field(max_length=1000, description="Artifact path under the account's "
                        "artifact root holding the model, e.g. `1/<run>/artifacts/model`.")
    run_id: str | None = Field(default=None, max_length=64,
                               description="The run that made the model.")
    model_id: str | None = Field(default=None, max_length=64,
                                 description="The MLflow logged model, if any.")
    description: str | None = Field(default=None, max_length=5000)
    tags: TagMap = Field(default_factory=dict)
    signature: ModelSignature | None = None


class ModelApproval(Schema):
    by: str
    at: datetime
    reason: str


class ModelMetric(Schema):
    # NaN and infinities, which MLflow metrics may be, travel and are stored as strings.
    model_config = ConfigDict(ser_json_inf_nan="strings")

    key: str
    value: float
    timestamp: int
    step: int


class ModelLakeInput(Schema):
    account: str
    table: str
    snapshot_id: BigId
    recorded_at: datetime | None = None


class ModelVersionRead(Schema):
    group: str
    account: str
    version: int
    crn: str
    status: Literal["READY"]
    approval_status: ApprovalStatus
    approval: ModelApproval | None = Field(description="Who approved or rejected it, when and "
                                      "why; null while pending.")
    source: str
    run_id: str | None
    model_id: str | None
    description: str | None
    files: list[ModelFile]
    flavor: Literal["skops", "mlflow"]
    signature: ModelSignature | None
    metrics: list[ModelMetric] = Field(description="The source run's latest metrics when "
                                       "the version was registered.")
    lake_inputs: list[ModelLakeInput] = Field(description="The lake snapshots the source run read.")
    tags: TagMap
    aliases: list[str]
    created_by: str
    created_at: datetime


class ModelDecision(Schema):
    reason: str = Field(min_length=1, max_length=MAX_REASON,
                        description="Why the version is approved or rejected.")


class ModelTagSet(Schema):
    key: str = Field(min_length=1, max_length=250)
    value: str = Field(max_length=5000)


class ModelAliasSet(Schema):
    version: int = Field(ge=1)


ModelGroupPage = Page[ModelGroupRead]
ModelVersionPage = Page[ModelVersionRead]

# The names the shared contract of the ML domains uses.
GroupCreate, GroupRead = ModelGroupCreate, ModelGroupRead
VersionCreate, VersionRead = ModelVersionCreate, ModelVersionRead
