"""The Lua libraries Redis links into its interpreter: cjson, cmsgpack, bit and struct.

Plain Lua 5.1 lacks them. They are written in Lua (one ``.lua`` file each, next to this
module) rather than as Python callbacks: a script can reach any function's upvalues
through the ``debug`` library Redis exposes, and no Python object may ever be reachable
from a script. ``runtime.lua`` holds what they share: raising errors the way the C API
does, and IEEE 754 bit patterns.

Where a Lua function cannot behave like the C original, the difference is confined to
error positions: a C function keeps its caller's frame even when called in tail position
(``return cjson.decode(x)``), a Lua function does not, so such an error lacks the
``user_script:1: `` prefix Redis gives it.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import lupa.lua51

#: Chunk names of the library code, as ``debug.getinfo(f).source`` reports them; an error
#: handler looking for the script's own frame skips frames from these chunks.
CHUNK_NAMES = frozenset(
    {"=runtime", "=bit", "=struct", "=cjson", "=cjson_decode", "=cjson_fast", "=cmsgpack"}
)

# the global each library is installed as, in loading order
_LIBRARIES = ("bit", "struct", "cjson", "cmsgpack")


@cache
def _source(name: str) -> bytes:
    return resources.files(__package__).joinpath(f"{name}.lua").read_bytes()


def install(lua: lupa.lua51.LuaRuntime) -> None:
    """Set the globals cjson, cmsgpack, bit, struct in lua.globals()."""
    runtime = lua.execute(_source("runtime"), name="=runtime")
    # cjson comes in three files: the module and encoder, its decoder, the decoder's fast path
    fast_path = lua.execute(_source("cjson_fast"), name="=cjson_fast")
    decoder = lua.execute(_source("cjson_decode"), runtime, fast_path, name="=cjson_decode")
    extras = {"cjson": [decoder]}
    globals_ = lua.globals()
    for name in _LIBRARIES:
        module = lua.execute(_source(name), runtime, *extras.get(name, []), name=f"={name}")
        globals_[name.encode()] = module
