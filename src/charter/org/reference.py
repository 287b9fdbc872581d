"""The reference organisation `charter init` creates (see MISSION.md)."""

from __future__ import annotations

from charter.core import accounts as central

ROOT = "/"
MANAGEMENT = central.MANAGEMENT

# path -> description
OUS: dict[str, str] = {
    "/": "Organisation root",
    "/security": "Security tooling and the log archive",
    "/infrastructure": "Network and shared infrastructure services",
    "/workloads": "Business workloads",
    "/workloads/ml": "ML team accounts",
    "/workloads/ml/nonprod": "ML team development and test accounts",
    "/workloads/ml/prod": "ML team production accounts",
    "/workloads/data": "Data lake accounts",
    "/workloads/data/nonprod": "Non-production data domains",
    "/workloads/data/prod": "Data domains, data governance and the central feature store",
    "/deployments": "ML shared services and observability",
    "/deployments/nonprod": "Test-stage CI/CD, registry and observability",
    "/deployments/prod": "Production CI/CD, central model registry and observability",
}

# account -> (OU, description)
CENTRAL_ACCOUNTS: dict[str, tuple[str, str]] = {
    central.MANAGEMENT: ("/", "Organisation management and central identity"),
    central.SECURITY_TOOLING: ("/security", "Central security findings"),
    central.LOG_ARCHIVE: ("/security", "The audit trail and central log archive"),
    central.NETWORK: ("/infrastructure", "Shared network"),
    central.SHARED_SERVICES: ("/infrastructure", "Shared infrastructure services"),
    central.DATA_GOVERNANCE: ("/workloads/data/prod", "The central data catalog"),
    central.FEATURE_STORE: ("/workloads/data/prod", "The central feature store"),
    central.ML_SHARED_SERVICES_TEST: ("/deployments/nonprod", "Test CI/CD and model registry"),
    central.ML_SHARED_SERVICES_PROD: ("/deployments/prod",
                                      "Production CI/CD, central model registry"),
    central.ML_OBSERVABILITY_TEST: ("/deployments/nonprod", "Central logs and metrics, test"),
    central.ML_OBSERVABILITY_PROD: ("/deployments/prod", "Central logs and metrics, production"),
}

CENTRAL_TAGS = {"owner": "cloud-engineering", "cost-center": "platform"}
