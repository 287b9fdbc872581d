"""Charter: governance for the machine-learning lifecycle of a large organisation.

`charter.Client(url, token)` is the Python SDK; every error it raises is a
`charter.CharterError` (`NotFound`, `Denied`, `Invalid`, ...) with a stable `code`.
"""

from charter.errors import (
    CharterError,
    Conflict,
    ControlViolation,
    Denied,
    Invalid,
    LockedOut,
    NotFound,
    TooLarge,
    TooManyRequests,
    Unauthenticated,
    Unavailable,
)

__version__ = "0.1.0"

__all__ = ["CharterError", "Client", "Conflict", "ControlViolation", "Denied", "Invalid",
           "LockedOut", "NotFound", "TooLarge", "TooManyRequests", "Unauthenticated",
           "Unavailable", "__version__"]


def __getattr__(name: str):
    # `charter.Client` without importing the HTTP stack for every `import charter`.
    if name == "Client":
        from charter.sdk import Client

        return Client
    raise AttributeError(name)
