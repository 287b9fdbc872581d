"""SDK part of the model registry: model groups, versions, tags, aliases, approval, and
scikit-learn models registered and loaded safely (skops + ONNX, sha256 checked)."""

from __future__ import annotations

from typing import Any

from charter.registry import artifacts
from charter.registry.schemas import ModelFile, ModelGroupRead, ModelVersionRead
from charter.sdk._part import Pager, Part, new_idempotency_key, q


class Models(Part):
    """The account's model registry (`client.models`): model groups and their versions,
    numbered from 1, with files (each with its sha256), signature, the source run's
    metrics and lake inputs, tags, aliases and approval status
    (`PendingManualApproval`, `Approved`, `Rejected`; only the account's ML team lead
    approves or rejects).

    `register` stores a fitted scikit-learn model as `model.skops` and `model.onnx` in
    the run's artifacts and registers them; `load` reads it back only after checking
    every file's sha256 and every type it holds against an allow-list (scikit-learn and
    NumPy classes), through skops, never pickle.
    """

    # -- groups ------------------------------------------------------------------------

    def create_group(self, account: str, name: str, *, description: str | None = None,
                     tags: dict[str, str] | None = None) -> ModelGroupRead:
        """Create a model group in `account`."""
        return self._typed(ModelGroupRead, "POST", _groups(account), json={
            "name": name, "description": description, "tags": tags or {}},
            idempotency_key=new_idempotency_key())

    def groups(self, account: str, *, limit: int = 100, offset: int = 0,
               cursor: str | None = None) -> Pager[ModelGroupRead]:
        """The account's model groups, by name."""
        return self._pages(ModelGroupRead, _groups(account),
                           {"limit": limit, "offset": offset, "cursor": cursor})

    def group(self, account: str, name: str) -> ModelGroupRead:
        """One model group: tags, aliases and newest version."""
        return self._typed(ModelGroupRead, "GET", _group(account, name))

    def set_group_tag(self, account: str, name: str, key: str, value: str) -> ModelGroupRead:
        """Set a tag of a model group."""
        return self._typed(ModelGroupRead, "PUT", _group(account, name) + "/tags",
                           json={"key": key, "value": value})

    def delete_group_tag(self, account: str, name: str, key: str) -> ModelGroupRead:
        """Remove a tag of a model group."""
        return self._typed(ModelGroupRead, "DELETE", _group(account, name) + "/tags",
                           params={"key": key})

    def set_alias(self, account: str, name: str, alias: str, version: int) -> ModelGroupRead:
        """Point `alias` of a model group at `version`."""
        return self._typed(ModelGroupRead, "PUT", f"{_group(account, name)}/aliases/{q(alias)}",
                           json={"version": version})

    def delete_alias(self, account: str, name: str, alias: str) -> ModelGroupRead:
        """Remove `alias` of a model group."""
        return self._typed(ModelGroupRead, "DELETE",
                           f"{_group(account, name)}/aliases/{q(alias)}")

    def version_by_alias(self, account: str, name: str, alias: str) -> ModelVersionRead:
        """The version `alias` points at."""
        return self._typed(ModelVersionRead, "GET",
                           f"{_group(account, name)}/aliases/{q(alias)}")

    # -- versions ----------------------------------------------------------------------

    def create_version(self, account: str, group: str, source: str, *,
                       run_id: str | None = None, model_id: str | None = None,
                       description: str | None = None, tags: dict[str, str] | None = None,
                       signature: dict[str, Any] | None = None) -> ModelVersionRead:
        """Register a version of `group` from the artifacts stored under `source` (a path
        under the account's artifact root, such as `<experiment>/<run>/artifacts/model`)."""
        return self._typed(ModelVersionRead, "POST", _group(account, group) + "/versions",
                           json={"source": source, "run_id": run_id, "model_id": model_id,
                                 "description": description, "tags": tags or {},
                                 "signature": signature},
                           idempotency_key=new_idempotency_key())

    def versions(self, account: str, group: str, *, limit: int = 100, offset: int = 0,
                 cursor: str | None = None) -> Pager[ModelVersionRead]:
        """A model group's versions, newest first."""
        return self._pages(ModelVersionRead, _group(account, group) + "/versions",
                           {"limit": limit, "offset": offset, "cursor": cursor})

    def version(self, account: str, group: str, version: int) -> ModelVersionRead:
        """One version: files, signature, metrics, lake inputs and approval."""
        return self._typed(ModelVersionRead, "GET", _version(account, group, version))

    def set_version_tag(self, account: str, group: str, version: int, key: str,
                        value: str) -> ModelVersionRead:
        """Set a tag of a model version."""
        return self._typed(ModelVersionRead, "PUT", _version(account, group, version) + "/tags",
                           json={"key": key, "value": value})

    def delete_version_tag(self, account: str, group: str, version: int,
                           key: str) -> ModelVersionRead:
        """Remove a tag of a model version."""
        return self._typed(ModelVersionRead, "DELETE",
                           _version(account, group, version) + "/tags", params={"key": key})

    def approve(self, account: str, group: str, version: int, *,
                reason: str) -> ModelVersionRead:
        """Approve a version (the account's ML team lead only); approving an approved
        version again changes nothing."""
        return self._typed(ModelVersionRead, "POST",
                           _version(account, group, version) + "/approve",
                           json={"reason": reason},
                           idempotency_key=new_idempotency_key())

    def reject(self, account: str, group: str, version: int, *,
               reason: str) -> ModelVersionRead:
        """Reject a version (the account's ML team lead only); rejecting a rejected
        version again changes nothing."""
        return self._typed(ModelVersionRead, "POST",
                           _version(account, group, version) + "/reject",
                           json={"reason": reason},
                           idempotency_key=new_idempotency_key())


    # -- scikit-learn models, stored safely --------------------------------------------

    def register(self, account: str, group: str, model: Any, *, run_id: str,
                 X_sample: Any, artifact_path: str = "model",
                 description: str | None = None,
                 tags: dict[str, str] | None = None) -> ModelVersionRead:
        """Register a fitted scikit-learn `model` as a new version of `group`.

        The model is stored as `model.skops` and `model.onnx` under `artifact_path` among
        the artifacts of the run `run_id`; the version records their sha256, the
        signature of `X_sample` (a few rows of the model's input) and of the ONNX
        outputs, and the run's metrics and lake inputs. A model holding a type that is
        not a scikit-learn or NumPy class is refused (`untrusted_type`) before anything is
        uploaded.
        """
        dumped = artifacts.dump_model(model, X_sample)
        run = self._c.runs.get(account, run_id)
        folder = artifact_path.strip("/")
        for name, data in dumped.files.items():
            self._c.request("PUT", f"/v1/accounts/{q(account)}/runs/{q(run_id)}/artifacts/file",
                            params={"path": f"{folder}/{name}"}, content=data)
        source = f"{run.experiment_id}/{run_id}/artifacts/{folder}"
        return self.create_version(account, group, source, run_id=run_id,
                                   description=description, tags=tags,
                                   signature=dumped.signature.model_dump())

    def download(self, account: str, group: str, version: int, path: str) -> bytes:
        """One file of a version, refused (`artifact_tampered`) unless its bytes have the
        sha256 the version recorded."""
        record = _file(self.version(account, group, version), path)
        data = self._c.request("GET", f"{_version(account, group, version)}/file",
                               params={"path": path}, raw=True)
        return artifacts.verify(data, record)

    def load(self, account: str, group: str, version: int) -> Any:
        """The scikit-learn model of a version, read from its `model.skops` only after its
        sha256 matched the version's record (else `artifact_tampered`) and every type in
        it was found trusted (else `untrusted_type`); never unpickled."""
        found = self.version(account, group, version)
        record = _file(found, artifacts.SKOPS_FILE)
        data = self._c.request("GET", f"{_version(account, group, version)}/file",
                               params={"path": record.path}, raw=True)
        return artifacts.load_skops(data, record)

    def predict_onnx(self, account: str, group: str, version: int,
                     rows: Any) -> dict[str, Any]:
        """Run a version's `model.onnx` (sha256 checked) on `rows` with onnxruntime: its
        outputs by name (`label`, `probabilities` for a classifier)."""
        found = self.version(account, group, version)
        record = _file(found, artifacts.ONNX_FILE)
        data = self._c.request("GET", f"{_version(account, group, version)}/file",
                               params={"path": record.path}, raw=True)
        return artifacts.predict_onnx(data, record, rows)


def _groups(account: str) -> str:
    return f"/v1/accounts/{q(account)}/registry/models"


def _group(account: str, name: str) -> str:
    return f"{_groups(account)}/{q(name)}"


def _version(account: str, group: str, version: int) -> str:
    return f"{_group(account, group)}/versions/{int(version)}"


def _file(version: ModelVersionRead, name: str) -> ModelFile:
    for record in version.files:
        if record.path == name:
            return record
    raise artifacts.missing_file(version.group, version.version, name)


PARTS: dict[str, type[Part]] = {"models": Models}
