"""Command-line tools that work on Magpie's files (magpie-check-aof)."""
