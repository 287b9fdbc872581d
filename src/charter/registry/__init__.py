"""The local model registry: model groups, versions, approvals and safe model artifacts."""
