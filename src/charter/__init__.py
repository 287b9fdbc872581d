"""Charter: governance for the machine-learning lifecycle of a large organisation."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # `charter.Client` without importing the HTTP stack for every `import charter`.
    if name == "Client":
        from charter.sdk import Client

        return Client
    raise AttributeError(name)
