"""The central accounts `charter init` creates, by name: the one place any layer reads them."""

from __future__ import annotations

MANAGEMENT = "management"  # organisation-wide resources: OUs, users, groups, tokens
SECURITY_TOOLING = "security-tooling"  # detective controls' findings
LOG_ARCHIVE = "log-archive"  # the audit trail
NETWORK = "network"
SHARED_SERVICES = "shared-services"
DATA_GOVERNANCE = "data-governance"  # the lake's central catalog: domains, tag keys
FEATURE_STORE = "feature-store"
ML_SHARED_SERVICES_TEST = "ml-shared-services-test"
ML_SHARED_SERVICES_PROD = "ml-shared-services-prod"
ML_OBSERVABILITY_TEST = "ml-observability-test"
ML_OBSERVABILITY_PROD = "ml-observability-prod"
