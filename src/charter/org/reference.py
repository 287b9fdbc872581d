"""The reference organisation `charter init` creates (see MISSION.md)."""

from __future__ import annotations

ROOT = "/"
MANAGEMENT = "management"

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
    MANAGEMENT: ("/", "Organisation management and central identity"),
    "security-tooling": ("/security", "Central security findings"),
    "log-archive": ("/security", "The audit trail and central log archive"),
    "network": ("/infrastructure", "Shared network"),
    "shared-services": ("/infrastructure", "Shared infrastructure services"),
    "data-governance": ("/workloads/data/prod", "The central data catalog"),
    "feature-store": ("/workloads/data/prod", "The central feature store"),
    "ml-shared-services-test": ("/deployments/nonprod", "Test CI/CD and model registry"),
    "ml-shared-services-prod": ("/deployments/prod", "Production CI/CD, central model registry"),
    "ml-observability-test": ("/deployments/nonprod", "Central logs and metrics, test"),
    "ml-observability-prod": ("/deployments/prod", "Central logs and metrics, production"),
}

CENTRAL_TAGS = {"owner": "cloud-engineering", "cost-center": "platform"}
