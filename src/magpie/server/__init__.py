"""Listening sockets, client connections, dispatch and once-a-tick housekeeping."""
