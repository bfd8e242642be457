"""Databases, value types and change signals. Knows nothing about sockets or RESP."""
