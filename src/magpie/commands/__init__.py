"""Command families. Importing a family module registers its commands in the table."""

from __future__ import annotations

import importlib

FAMILIES = ("connection", "clients", "acl", "server", "info", "introspection", "strings", "keys", "expiry", "bits", "lcs", "pubsub", "lists", "hashes", "sets", "zsets", "zset_algebra", "transactions", "blocking_lists", "blocking_zsets", "search", "persistence", "replication", "scripting", "functions")


def load_all() -> None:
    for family in FAMILIES:
        importlib.import_module(f"magpie.commands.{family}")
