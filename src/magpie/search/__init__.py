"""RediSearch-compatible FT.* indexes: field indexes, query parsing and planning, vector search."""
