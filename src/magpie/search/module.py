"""The ``search`` module's identity, as MODULE LIST, INFO modules and HELLO report it.

RediSearch 2.10.5's name and version, so clients that gate features on the module (older
redisvl, langchain-redis) enable them.
"""

from __future__ import annotations

MODULE_NAME = "search"
MODULE_VERSION = 21005


def module_list_entry() -> dict[bytes, object]:
    return {b"name": MODULE_NAME.encode(), b"ver": MODULE_VERSION, b"path": b"magpie", b"args": []}


def info_modules_line() -> str:
    return f"name={MODULE_NAME},ver={MODULE_VERSION},api=1,filters=0,usedby=[],using=[],options=[]"
