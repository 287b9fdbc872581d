"""REST API: a thin FastAPI shell over the domain services."""
