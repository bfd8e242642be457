"""The Lua interpreter: one lupa Lua 5.1 runtime per server, set up as Redis sets up its own.

Redis embeds Lua 5.1 (number semantics differ in later versions), so this is lupa's
``lua51`` runtime. The environment a script sees is built by ``sandbox.lua``; this module
creates the runtime, loads the extra libraries and hands the sandbox the Python callables
behind ``redis.*``.
"""

from __future__ import annotations

import importlib.resources
from typing import Any, Protocol

import lupa.lua51 as lua51

from magpie import REDIS_VERSION
from magpie.scripting import libs

LuaRuntime = lua51.LuaRuntime
lua_type = lua51.lua_type
LuaError = lua51.LuaError


class RaisedError(Exception):
    """Raised by a Python function called from Lua to raise a Lua error whose value is a
    Lua table (Redis's error tables), or a message (bytes) that gets the calling script's
    position in front, as luaL_error gives it: the sandbox unwraps it."""

    def __init__(self, table: Any) -> None:
        super().__init__(table)
        self.table = table


class ScriptHost(Protocol):
    """What the sandbox calls back into (the server's scripting component)."""

    def call(self, *args: object) -> object: ...
    def pcall(self, *args: object) -> object: ...
    def unwrap(self, error: object) -> object: ...
    def log(self, *args: object) -> None: ...
    def sha1hex(self, *args: object) -> bytes: ...
    def setresp(self, *args: object) -> None: ...
    def set_repl(self, *args: object) -> None: ...
    def acl_check(self, *args: object) -> object: ...
    def hook(self) -> bytes | None: ...

    @property
    def rng(self) -> Any: ...


def _no_attributes(obj: object, name: object, is_setting: bool) -> object:
    """No script may reach into a Python object (the callables behind redis.*, errors):
    ``redis.call.__self__`` would otherwise lead to the whole server."""
    raise AttributeError("access to Python objects is not allowed from scripts")


def _version_num(version: str) -> int:
    """REDIS_VERSION_NUM: 0x00MMmmpp."""
    major, minor, patch = (int(part) for part in version.split(".")[:3])
    return (major << 16) | (minor << 8) | patch


def _install_libraries(lua: Any) -> Any:
    """cjson, cmsgpack, bit and struct, which Redis adds to Lua's own libraries; returns
    the chunk names of their code (a Lua set), which error positions skip."""
    libs.install(lua)
    return lua.table_from({name.encode(): True for name in libs.CHUNK_NAMES})


class LuaEngine:
    """The runtime and the sandbox's internals (compile, run_eval, run_function...)."""

    def __init__(self, host: ScriptHost, for_functions: bool = False) -> None:
        """``for_functions``: the interpreter of FUNCTION libraries, which Redis keeps apart
        from EVAL's (no redis.replicate_commands/breakpoint/debug, a library-load API)."""
        self.lua = LuaRuntime(
            encoding=None,
            register_eval=False,
            register_builtins=False,
            unpack_returned_tuples=True,
            attribute_filter=_no_attributes,
        )
        library_sources = _install_libraries(self.lua)
        source = importlib.resources.files("magpie.scripting").joinpath("sandbox.lua").read_bytes()
        setup = self.lua.globals().loadstring(source, b"=magpie")
        if isinstance(setup, tuple):  # pragma: no cover - (nil, message): sandbox.lua is ours
            raise RuntimeError(f"sandbox.lua does not compile: {setup[1]!r}")
        internals = setup(
            host.call, host.pcall, host.unwrap, host.log, host.sha1hex, host.setresp, host.set_repl,
            host.acl_check, host.hook, host.rng.random, host.rng.randomseed,
            REDIS_VERSION.encode(), _version_num(REDIS_VERSION),
            library_sources, for_functions,
        )
        self.internals = internals
        self.compile_chunk = internals.compile
        self.run_eval = internals.run_eval
        self.run_function = internals.run_function
        self.load_library = internals.load_library
        self.table_from = self.lua.table_from

    def compile(self, body: bytes, chunkname: bytes = b"@user_script") -> tuple[Any, bytes | None]:
        """(function, None), or (None, the compiler's message)."""
        result = self.compile_chunk(body, chunkname)
        if isinstance(result, tuple):
            return None, result[1]
        return result, None

    def memory(self) -> int:
        """Bytes the interpreter holds (collectgarbage('count') is in kilobytes)."""
        return int(self.lua.eval("collectgarbage('count')") * 1024)
