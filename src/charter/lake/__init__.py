"""Data lake: data domains, the central catalog, Iceberg tables, ingestion with quality rules."""
