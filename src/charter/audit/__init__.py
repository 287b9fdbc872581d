"""Audit: the hash-chained trail of every operation, allowed or denied; query and verify."""
