"""Magpie: a Redis-compatible key-value and vector database server."""

__version__ = "0.1.0"

#: The Redis release whose replies and semantics Magpie implements; clients gate features on it.
REDIS_VERSION = "7.0.15"
