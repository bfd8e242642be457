"""Command-line tools that work on Magpie's files (magpie-check-rdb, magpie-check-aof)."""
