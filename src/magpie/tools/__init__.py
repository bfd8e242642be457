"""Command-line tools that ship with Magpie (magpie-check-rdb)."""
