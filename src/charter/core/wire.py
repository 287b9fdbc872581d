"""How values travel in JSON: 64-bit ids as strings, which JavaScript reads exactly."""

from __future__ import annotations

from typing import Annotated

from pydantic import PlainSerializer, WithJsonSchema

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
