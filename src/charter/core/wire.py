"""How values travel in JSON: the schemas' base, 64-bit ids as strings (which JavaScript
reads exactly)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, PlainSerializer, WithJsonSchema

# An Iceberg snapshot id is a random 63-bit integer: as a JSON number, JavaScript (and any
# reader that parses numbers as doubles) rounds it past 2**53. It is written as a decimal
# string and read from either a string or a number; in Python it stays an int.
BigId = Annotated[
    int,
    PlainSerializer(str, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": "^-?[0-9]{1,19}$",
                    "description": "A 64-bit id, as a decimal string."}, mode="serialization"),
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": "^-?[0-9]{1,19}$"},
                              {"type": "integer"}],
                    "description": "A 64-bit id: a decimal string, or an integer."},
                   mode="validation"),
]


class Schema(BaseModel):
    """Base of every domain schema: what the REST API reads and answers, and what the SDK
    returns. Attributes are typed (`account.name`); an answer also reads like the JSON
    object it came as (`account["name"]`, `account.get("budget")`), so code written
    against plain dicts keeps working."""

    def __getitem__(self, key: str) -> Any:
        if key in type(self).model_fields or key in (self.model_extra or {}):
            return getattr(self, key)
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key, _MISSING) is not _MISSING

    def keys(self) -> list[str]:
        return [*type(self).model_fields, *(self.model_extra or {})]


_MISSING = object()
