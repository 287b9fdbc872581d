"""Core: settings-driven plumbing shared by every domain (db, storage, names, events, context)."""
