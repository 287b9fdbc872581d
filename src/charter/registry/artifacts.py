"""Safe model artifacts: a scikit-learn model as skops plus an ONNX export, each checked by
its sha256, and loaded only through skops with an allow-list of trusted types.

Key contracts:
- A skops file names every type it builds. A type is trusted when it is a class of
  scikit-learn or NumPy (or a NumPy ufunc) in a module already loaded with those
  libraries, never a test, entry-point, f2py or vendored one: nothing the file names is
  imported (`trusted_type`); anything else (a class of the caller's code, a function
  such as `builtins.eval`, a type of another library) is refused with `untrusted_type`,
  at registration (on the server) and at load (in the SDK).
- A skops file (a zip) whose parts declare more than the limits unpacked is refused
  (`model_file_too_large`) before any part is read: a zip bomb costs nothing.
- An ONNX file is registered only when ONNX parses and checks it (`invalid_model_file`).
- Loading verifies each file's sha256 against the version's record before reading it
  (`artifact_tampered`) and goes through `skops.io.loads` with exactly the checked types
  trusted. Nothing here unpickles.
- scikit-learn, skops, skl2onnx and onnxruntime load only when a model is handled: every
  process imports the registry, few handle models.
"""

from __future__ import annotations

import hashlib
import io
import re
import sys
import zipfile
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from charter.errors import Conflict, Invalid, NotFound
from charter.registry.schemas import ModelFile, ModelSignature

SKOPS_FILE = "model.skops"
ONNX_FILE = "model.onnx"
MLFLOW_FILE = "MLmodel"
TRUSTED_LIBRARIES = ("sklearn", "numpy")
# Module name parts never trusted, even when loaded: entry points, Fortran wrapping, the
# test harness and vendored third-party code.
_REFUSED_PARTS = frozenset({"conftest", "f2py", "externals", "distutils", "_pytesttester"})
# What a skops file may unpack to: its parts are read whole (the schema parsed as JSON).
MAX_SKOPS_SCHEMA = 64 * 1024 * 1024
MAX_SKOPS_UNPACKED = 4 * 1024 * 1024 * 1024
MAX_SKOPS_PARTS = 100_000
MAX_ONNX_SIZE = 1024 * 1024 * 1024  # parsed whole in memory at registration
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+")


@dataclass(frozen=True)
class ModelFiles:
    """A model ready to upload: its files by name and the signature of its sample."""

    files: dict[str, bytes]
    signature: ModelSignature


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verify(data: bytes, record: ModelFile) -> bytes:
    """`data` if its sha256 is the one `record` holds, else Conflict `artifact_tampered`."""
    if sha256_of(data) != record.sha256 or len(data) != record.size:
        raise Conflict(f"the stored file {record.path} does not match the sha256 recorded "
                       "when its model version was registered: it was changed or damaged "
                       "since; it is not loaded", code="artifact_tampered", path=record.path)
    return data


def trusted_type(name: str) -> bool:
    """Whether the skops type `name` is a class of scikit-learn or NumPy, or a NumPy ufunc.

    Nothing the name says is imported: the name must be `<module>.<attribute>` where
    `<module>` is a module of scikit-learn or NumPy that is already loaded (importing
    `skops.io` loads scikit-learn's estimators and NumPy; these libraries are the only
    ones imported here, by this code, never by the file), and `<attribute>` is found in
    that module's own namespace (no module `__getattr__` runs, so no lazy import). A name
    with a test, conftest, dunder (`__main__`), f2py or vendored (`externals`) part, or a
    private attribute, is never trusted, whether loaded or not.
    """
    if not _DOTTED.fullmatch(name) or name.split(".", 1)[0] not in TRUSTED_LIBRARIES:
        return False
    module_name, _, attribute = name.rpartition(".")
    if not _allowed_module(module_name) or attribute.startswith("_"):
        return False
    import skops.io  # noqa: F401  (loads scikit-learn's estimators and NumPy)

    module = sys.modules.get(module_name)
    found = vars(module).get(attribute) if isinstance(module, ModuleType) else None
    numpy = sys.modules["numpy"]
    if isinstance(found, numpy.ufunc):
        return module_name.split(".")[0] == "numpy"
    return isinstance(found, type) and _allowed_module(getattr(found, "__module__", "") or "")


def _allowed_module(module_name: str) -> bool:
    """Whether `module_name` is a module of the trusted libraries that is not a test,
    entry point, f2py or vendored module."""
    parts = module_name.split(".")
    return parts[0] in TRUSTED_LIBRARIES and not any(
        part.startswith("__") or part in _REFUSED_PARTS or "test" in part.lower()
        for part in parts)


def check_size(data: bytes, *, path: str = SKOPS_FILE) -> None:
    """Refuse (Invalid `model_file_too_large`) a skops file whose parts would unpack past
    the limits, from the sizes its zip directory declares, before any part is read
    (reading a part stops at its declared size)."""
    try:
        members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as error:
        raise Invalid(f"{path} is not a skops file that can be read: "
                      f"{type(error).__name__}", code="invalid_model_file", path=path) from None
    total = sum(m.file_size for m in members)
    schema = sum(m.file_size for m in members if m.filename == "schema.json")
    if len(members) > MAX_SKOPS_PARTS or total > MAX_SKOPS_UNPACKED or schema > MAX_SKOPS_SCHEMA:
        raise Invalid(f"{path} unpacks to {total} bytes in {len(members)} parts (schema "
                      f"{schema} bytes); at most {MAX_SKOPS_UNPACKED} bytes in "
                      f"{MAX_SKOPS_PARTS} parts, a schema of at most {MAX_SKOPS_SCHEMA}",
                      code="model_file_too_large", path=path)


def check_types(data: bytes, *, path: str = SKOPS_FILE) -> list[str]:
    """The types the skops file `data` asks to be trusted, all of them trusted; else
    Invalid `untrusted_type` naming those that are not (a file skops cannot read is
    Invalid `invalid_model_file`)."""
    import skops.io

    check_size(data, path=path)
    try:
        wanted = sorted(skops.io.get_untrusted_types(data=data))
    except Exception as error:  # a damaged or foreign file: skops raises what its reader does
        raise Invalid(f"{path} is not a skops file that can be read: "
                      f"{type(error).__name__}", code="invalid_model_file", path=path) from None
    refused = [name for name in wanted if not trusted_type(name)]
    if refused:
        raise Invalid(f"{path} holds types that are not trusted: {', '.join(refused[:10])}; "
                      "only classes of scikit-learn and NumPy are loaded",
                      code="untrusted_type", path=path, types=refused[:10])
    return wanted


def check_onnx(data: bytes, *, path: str = ONNX_FILE) -> None:
    """Refuse (Invalid `invalid_model_file`) an ONNX file that does not parse as an ONNX
    model or fails ONNX's own checker, and (`model_file_too_large`) one past the size
    checked in memory."""
    import onnx

    if len(data) > MAX_ONNX_SIZE:
        raise Invalid(f"{path} has {len(data)} bytes; at most {MAX_ONNX_SIZE} are checked "
                      "and registered", code="model_file_too_large", path=path)
    try:
        onnx.checker.check_model(onnx.load_model_from_string(data))
    except Exception as error:  # protobuf's and the checker's own errors: not a model
        raise Invalid(f"{path} is not an ONNX model that can be read: "
                      f"{type(error).__name__}", code="invalid_model_file", path=path) from None


def load_skops(data: bytes, record: ModelFile) -> Any:
    """The model in the skops file `data`, after its sha256 and types were checked."""
    import skops.io

    verify(data, record)
    trusted = check_types(data, path=record.path)
    return skops.io.loads(data, trusted=trusted)


def dump_model(model: Any, sample: Any) -> ModelFiles:
    """`model.skops` and `model.onnx` of a fitted scikit-learn model, and the signature of
    its input `sample` (a few rows of what it predicts on) and of the ONNX outputs."""
    import numpy as np
    import skops.io
    from skl2onnx import to_onnx

    rows = np.asarray(sample, dtype=np.float32)
    if rows.ndim != 2 or not len(rows):
        raise Invalid("the sample must be a non-empty table of rows (2 dimensions)",
                      code="invalid_model_sample")
    skops_bytes = skops.io.dumps(model)
    check_types(skops_bytes)  # refuse here what the server would refuse at registration
    options = {id(model): {"zipmap": False}} if hasattr(model, "predict_proba") else None
    onnx_model = to_onnx(model, rows[:1], options=options)
    columns = [str(c) for c in getattr(sample, "columns", [])]
    inputs = ([{"name": c, "type": "float32", "shape": [-1]} for c in columns]
              if columns else [{"name": "X", "type": "float32", "shape": [-1, rows.shape[1]]}])
    outputs = [{"name": o.name, "type": _elem_type(o), "shape": _shape(o)}
               for o in onnx_model.graph.output]
    return ModelFiles({SKOPS_FILE: skops_bytes, ONNX_FILE: onnx_model.SerializeToString()},
                      ModelSignature(inputs=inputs, outputs=outputs))


def _elem_type(value: Any) -> str:
    import onnx

    return onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type).name


def _shape(value: Any) -> list[int]:
    return [d.dim_value if d.HasField("dim_value") else -1
            for d in value.type.tensor_type.shape.dim]


def predict_onnx(data: bytes, record: ModelFile, rows: Any) -> dict[str, Any]:
    """Run the ONNX file `data` (sha256 checked) on `rows`: its outputs by name."""
    import numpy as np
    import onnxruntime

    verify(data, record)
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: np.asarray(rows, dtype=np.float32)}
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, feed), strict=True))


def missing_file(group: str, version: int, name: str) -> NotFound:
    """The refusal for a model file a version does not record."""
    return NotFound(f"version {version} of model group {group!r} records no file {name}",
                    code="model_file_not_found")
