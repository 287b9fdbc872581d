"""Identity: users, groups, permission sets (personas), assignments and API tokens."""
