"""Charter's schemas as MLflow's REST answers write them (field names, ids as strings,
times as milliseconds), and MLflow's artifact URIs as paths under an account's root."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from charter.api.mlflow.errors import finite_or_text
from charter.errors import Invalid

SCHEME = "mlflow-artifacts:"


def ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def key_values(mapping: dict[str, Any]) -> list[dict[str, str]]:
    return [{"key": k, "value": str(v)} for k, v in mapping.items()]


def tag_dict(items: list[Any] | None) -> dict[str, str]:
    return {item.key: item.value for item in items or ()}


def experiment(e: Any) -> dict[str, Any]:
    return {"experiment_id": str(e.id), "name": e.name,
            "artifact_location": e.artifact_location, "lifecycle_stage": e.lifecycle_stage,
            "creation_time": ms(e.created_at), "last_update_time": ms(e.updated_at),
            "tags": key_values(e.tags)}


def metric(m: Any) -> dict[str, Any]:
    return {"key": m.key, "value": finite_or_text(m.value), "timestamp": m.timestamp,
            "step": m.step}


def run_info(r: Any) -> dict[str, Any]:
    info = {"run_uuid": r.id, "run_id": r.id, "experiment_id": str(r.experiment_id),
            "run_name": r.name or "", "user_id": r.user or "", "status": r.status,
            "start_time": r.start_time, "artifact_uri": r.artifact_uri,
            "lifecycle_stage": r.lifecycle_stage}
    if r.end_time is not None:
        info["end_time"] = r.end_time
    return info


def run(r: Any) -> dict[str, Any]:
    return {"info": run_info(r),
            "data": {"metrics": [metric(m) for m in r.metrics], "params": key_values(r.params),
                     "tags": key_values(r.tags)},
            "inputs": {}}


_MODEL_STATUS = {"PENDING": "LOGGED_MODEL_PENDING", "READY": "LOGGED_MODEL_READY",
                 "FAILED": "LOGGED_MODEL_UPLOAD_FAILED"}
MODEL_STATUS_IN = {v: k for k, v in _MODEL_STATUS.items()}


def logged_model(m: Any) -> dict[str, Any]:
    return {"info": {"model_id": m.id, "experiment_id": str(m.experiment_id), "name": m.name,
                     "creation_timestamp_ms": ms(m.created_at),
                     "last_updated_timestamp_ms": ms(m.updated_at),
                     "artifact_uri": m.artifact_location,
                     "status": _MODEL_STATUS.get(m.status, m.status),
                     "model_type": m.model_type or "", "source_run_id": m.source_run_id or "",
                     "tags": key_values(m.tags)},
            "data": {"params": key_values(m.params),
                     "metrics": [metric(x) for x in getattr(m, "metrics", None) or []]}}


def model_version(v: Any) -> dict[str, Any]:
    return {"name": v.group, "version": str(v.version), "creation_timestamp": ms(v.created_at),
            "last_updated_timestamp": ms(getattr(v, "updated_at", None) or v.created_at),
            "current_stage": "None", "description": v.description or "",
            "source": artifact_uri(v.source), "run_id": v.run_id or "",
            "model_id": v.model_id or "", "status": "READY", "run_link": "",
            "tags": key_values(v.tags), "aliases": list(v.aliases)}


def registered_model(g: Any, latest: Any | None) -> dict[str, Any]:
    return {"name": g.name, "creation_timestamp": ms(g.created_at),
            "last_updated_timestamp": ms(g.updated_at), "description": g.description or "",
            "latest_versions": [model_version(latest)] if latest is not None else [],
            "tags": key_values(g.tags),
            "aliases": [{"alias": a, "version": str(n)} for a, n in g.aliases.items()]}


def artifact_uri(path: str) -> str:
    """An artifact path under the account's root as the client resolves it against the
    tracking URI (which keeps the URI's path, so the account)."""
    return f"{SCHEME}/{path.strip('/')}"


def artifact_path(uri: str) -> str:
    """The path under the account's root that an `mlflow-artifacts:` URI names."""
    if not uri.startswith(SCHEME):
        raise Invalid(f"{uri!r} is not an artifact of this tracking server: give an "
                      f"{SCHEME}/... or runs:/... or models:/... source",
                      code="invalid_model_source")
    rest = uri[len(SCHEME):]
    if rest.startswith("//"):  # mlflow-artifacts://host/path: the host is this server
        rest = "/" + rest[2:].partition("/")[2]
    return rest.lstrip("/")


def version_number(text: str) -> int | None:
    """A model version number as MLflow writes it (ASCII digits, 1 to 2**31 - 1), or None.
    `str.isdigit` alone also takes digits `int` refuses ("²") and strings too long for
    `int` to read: each would fail past every check as an unexpected error."""
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    number = int(text)
    return number if 0 < number < 2**31 else None


def name_filter(text: str, what: str) -> str | None:
    """The name in `name = '<name>'` (the one filter served for `what`), None for none."""
    if not text.strip():
        return None
    field, op, value = (part.strip() for part in text.partition("="))
    if field != "name" or op != "=" or len(value) < 2 or value[0] != value[-1] \
            or value[0] not in "'\"" or value[0] in value[1:-1]:
        raise Invalid(f"{what} are searched by name only (name = '...'), not {text!r}",
                      code="invalid_filter")
    return value[1:-1]
