"""The `charter` command line: a thin shell over the SDK."""
