"""RDB snapshots and the append-only file."""
