"""Redis 7.0 functions: libraries of Lua functions, loaded by FUNCTION LOAD, run by FCALL.

A library's code starts with a shebang naming its engine and itself (``#!lua name=mylib``).
It runs once, when loaded, in the functions' own interpreter (Redis keeps it apart from
EVAL's) with a restricted API: it can only register functions, log and read the version.
Its functions then run on FCALL with their (keys, args) tables, under the same checks,
busy-script handling and propagation as EVAL.

Libraries are part of the dataset: RDB files hold one opcode per library (its code) before
the keys, FUNCTION DUMP/RESTORE move the same records as a payload, and an AOF rewrite
without an RDB preamble writes a FUNCTION LOAD per library.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from magpie.commands.args import parse_int
from magpie.errors import NUMKEYS_TOO_MANY, CommandError
from magpie.persistence.rdb_format import (
    OP_FUNCTION2,
    OP_FUNCTION_PRE_GA,
    RDB_VERSION,
    crc64,
    encode_string,
)
from magpie.protocol.inline import split_inline
from magpie.scripting.convert import ToLua
from magpie.scripting.engine import LuaEngine
from magpie.scripting.run_context import ScriptRun
from magpie.scripting.scripts import ALLOW_OOM, NO_WRITES

if TYPE_CHECKING:
    from magpie.scripting.runner import Scripting
    from magpie.server.connection import Client

#: How long a library's code may run when loaded (Redis's LOAD_TIMEOUT_MS); a replica's
#: primary, the AOF and an RDB load wait as long as it takes.
LOAD_TIMEOUT = 0.5
ENGINE_NAME = b"LUA"
NAME_RULES = (
    "Library names can only contain letters, numbers, or underscores(_) and must be at least "
    "one character long"
)
_NAME_CHARS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
#: FUNCTION RESTORE's policies, as Redis names them.
RESTORE_POLICIES = (b"flush", b"append", b"replace")


class FunctionError(Exception):
    """A library that cannot be loaded or restored: ``message`` is the reply's text (with
    its error code)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _error(text: str) -> FunctionError:
    return FunctionError("ERR " + text)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


@dataclass(eq=False)
class Function:
    name: bytes
    callback: Any  # the Lua function, in the functions interpreter
    flags: frozenset[str]
    description: bytes | None
    library: Library


@dataclass(eq=False)
class Library:
    name: bytes
    code: bytes  # the whole code as loaded, shebang included (what RDB, DUMP and LIST show)
    #: Its functions in registration order; names are case-sensitive within a library.
    functions: dict[bytes, Function] = field(default_factory=dict)


def valid_name(name: bytes) -> bool:
    return bool(name) and all(c in _NAME_CHARS for c in name)


def parse_metadata(code: bytes) -> tuple[bytes, bytes, bytes]:
    """(engine, library name, the code after the shebang, from its newline on) by Redis's
    functionExtractLibMetaData; FunctionError with its texts. The shebang is read as a C
    string (a NUL before the first newline means there is none) split by sdssplitargs."""
    if not code.startswith(b"#!"):
        raise _error("Missing library metadata")
    newline = code.find(b"\n")
    nul = code.find(b"\0")
    if newline < 0 or 0 <= nul < newline:
        raise _error("Invalid library metadata")
    parts = split_inline(code[:newline])
    if not parts:
        raise _error("Invalid library metadata")
    engine = parts[0][2:]
    name: bytes | None = None
    for part in parts[1:]:
        if part[:5].lower() == b"name=":
            if name is not None:
                raise _error("Invalid metadata value, name argument was given multiple times")
            name = part[5:]
            continue
        raise _error(f"Invalid metadata value given: {_text(part)}")
    if name is None:
        raise _error("Library name was not given")
    return engine, name, code[newline:]


class LibrarySet:
    """Libraries by name and every function by name (Redis's functionsLibCtx). FCALL finds
    functions ignoring ASCII case, as Redis's dictionary of functions does."""

    def __init__(self) -> None:
        self.libraries: dict[bytes, Library] = {}
        self.functions: dict[bytes, Function] = {}
        self.function_count = 0  # what FUNCTION STATS counts: every library's functions

    def __len__(self) -> int:
        return len(self.libraries)

    def function(self, name: bytes) -> Function | None:
        return self.functions.get(name.lower())

    def link(self, library: Library) -> None:
        for fn in library.functions.values():
            self.functions.setdefault(fn.name.lower(), fn)
        self.libraries[library.name] = library
        self.function_count += len(library.functions)

    def unlink(self, library: Library) -> None:
        for fn in library.functions.values():
            if self.functions.get(fn.name.lower()) is fn:
                del self.functions[fn.name.lower()]
        del self.libraries[library.name]
        self.function_count -= len(library.functions)

    def collision(self, library: Library) -> bytes | None:
        """The first of ``library``'s functions that a linked library already has."""
        for fn in library.functions.values():
            if fn.name.lower() in self.functions:
                return fn.name
        return None

    def join(self, other: LibrarySet, replace: bool) -> None:
        """Add ``other``'s libraries (Redis's libraryJoin): a library of the same name is
        an error, or with ``replace`` is replaced; a function name taken by a library that
        stays is an error. Nothing changes on an error."""
        replaced: list[Library] = []
        try:
            for name in other.libraries:
                old = self.libraries.get(name)
                if old is None:
                    continue
                if not replace:
                    raise _error(f"Library {_text(name)} already exists")
                self.unlink(old)
                replaced.append(old)
            for key, fn in other.functions.items():
                if key in self.functions:
                    raise _error(f"Function {_text(fn.name)} already exists")
        except FunctionError:
            for old in replaced:
                self.link(old)
            raise
        for library in other.libraries.values():
            self.link(library)

    def codes(self) -> list[bytes]:
        return [library.code for library in self.libraries.values()]

    def memory(self) -> int:
        """An estimate of what the libraries hold outside the interpreter (Redis's
        functions cache memory: names, codes, descriptions and their structures)."""
        total = 0
        for library in self.libraries.values():
            total += 64 + len(library.name) + len(library.code)
            for fn in library.functions.values():
                total += 96 + len(fn.name) + len(fn.description or b"")
        return total


class Functions:
    """The server's functions: their interpreter and the libraries loaded in it."""

    def __init__(self, scripting: Scripting) -> None:
        self.scripting = scripting
        self.engine = LuaEngine(scripting, for_functions=True)
        self.to_lua = ToLua(self.engine.table_from)
        self.libraries = LibrarySet()
        #: The FCALL running now (FUNCTION STATS shows its arguments).
        self.running: list[bytes] | None = None
        #: A library's code is running (FUNCTION LOAD): redis.log's errors are this
        #: interpreter's values.
        self.loading = False

    # -- loading -------------------------------------------------------------------------------

    def create(self, code: bytes, replace: bool, timeout: float, target: LibrarySet | None = None) -> bytes:
        """Load a library into ``target`` (the server's libraries by default) by Redis's
        functionsCreateWithLibraryCtx; its name, or FunctionError with Redis's text, in
        which case nothing changed."""
        libraries = self.libraries if target is None else target
        engine_name, name, body = parse_metadata(code)
        if not valid_name(name):
            raise _error(NAME_RULES)
        if engine_name.upper() != ENGINE_NAME:
            raise _error(f"Engine '{_text(engine_name)}' not found")
        old = libraries.libraries.get(name)
        if old is not None and not replace:
            raise _error(f"Library '{_text(name)}' already exists")
        if old is not None:
            libraries.unlink(old)
        try:
            library = self._run_library(name, code, body, timeout)
            clash = libraries.collision(library)
            if clash is not None:
                raise _error(f"Function {_text(clash)} already exists")
        except BaseException:  # (a FunctionError, or anything unforeseen: the old one stays)
            if old is not None:
                libraries.link(old)
            raise
        libraries.link(library)
        return name

    def _run_library(self, name: bytes, code: bytes, body: bytes, timeout: float) -> Library:
        self.loading = True
        try:
            result = self.engine.load_library(body, timeout, time.monotonic)
        finally:
            self.loading = False
        if not result[0]:
            stage, message = result[1], result[2]
            text = _text(message) if isinstance(message, bytes) else str(message)
            if stage == b"compile":
                raise _error(f"Error compiling function: {text}")
            raise _error(f"Error registering functions: {text}")
        library = Library(name, code)
        registered = result[1]
        for index in range(1, len(registered) + 1):
            entry = registered[index]
            fn_name, callback, flags, description = entry[1], entry[2], entry[3], entry[4]
            flag_names = frozenset(flags[i].decode() for i in range(1, len(flags) + 1))
            library.functions[fn_name] = Function(fn_name, callback, flag_names, description, library)
        if not library.functions:
            raise _error("No functions registered")
        return library

    def load_all(self, codes: Iterable[bytes]) -> LibrarySet:
        """The libraries of an RDB image, loaded into a new set (without a timeout, as
        Redis loads them); FunctionError at the first that fails."""
        libraries = LibrarySet()
        for code in codes:
            self.create(code, False, 0, libraries)
        return libraries

    def install(self, libraries: LibrarySet) -> None:
        """Replace every library with ``libraries`` (a load, FUNCTION RESTORE FLUSH)."""
        self.libraries = libraries

    def delete(self, name: bytes) -> None:
        library = self.libraries.libraries.get(name)
        if library is None:
            raise _error("Library not found")
        self.libraries.unlink(library)

    def flush(self) -> None:
        self.libraries = LibrarySet()

    # -- DUMP and RESTORE -------------------------------------------------------------------------

    def dump(self, compress: bool = True) -> bytes:
        """FUNCTION DUMP: each library as an RDB function record, then the RDB version and
        a CRC-64, as Redis 7.0 writes them."""
        body = b"".join(bytes((OP_FUNCTION2,)) + encode_string(code, compress) for code in self.libraries.codes())
        body += RDB_VERSION.to_bytes(2, "little")
        return body + crc64(body).to_bytes(8, "little")

    def restore(self, payload: bytes, policy: bytes) -> None:
        """FUNCTION RESTORE of a verified payload under a policy (flush, append, replace)."""
        loaded = LibrarySet()
        for code in _payload_libraries(payload):
            self.create(code, False, 0, loaded)
        if policy == b"flush":
            self.install(loaded)
        else:
            self.libraries.join(loaded, policy == b"replace")

    # -- FCALL ----------------------------------------------------------------------------------

    def flags_of(self, name: bytes) -> frozenset[str] | None:
        fn = self.libraries.function(name)
        return None if fn is None else fn.flags

    def call(self, caller: Client, argv: list[bytes], read_only: bool) -> object:
        """FCALL and FCALL_RO."""
        fn = self.libraries.function(argv[1])
        if fn is None:
            return CommandError("ERR Function not found")
        numkeys = parse_int(argv[2], "ERR Bad number of keys provided")
        if numkeys > len(argv) - 3:
            return CommandError(NUMKEYS_TOO_MANY)
        if numkeys < 0:
            return CommandError("ERR Number of keys can't be negative")
        scripting = self.scripting
        refusal = scripting.start_refusal(caller, fn.flags, read_only)
        if refusal is not None:
            return CommandError(refusal)

        run = ScriptRun(
            caller,
            _text(fn.name),
            eval_mode=False,
            read_only=read_only or NO_WRITES in fn.flags,
            allow_oom=ALLOW_OOM in fn.flags,
        )
        self.running = argv
        try:
            # (math.random's generator is the server's, shared with EVAL: scripting.rng)
            return scripting.execute(run, self.engine.run_function, fn.callback, numkeys, *argv[3:])
        finally:
            self.running = None

    def memory(self) -> int:
        return self.engine.memory()


def _payload_libraries(payload: bytes) -> Iterator[bytes]:
    """The library codes of a FUNCTION DUMP payload (checked already), by Redis's
    functionRestoreCommand and rdbFunctionLoad; FunctionError with their texts."""
    from magpie.persistence.rdb_reader import ValueReader, read_function_record

    end = len(payload) - 10
    reader = ValueReader(payload)  # (a record may run into the trailer, as in Redis's reader)
    while reader.pos < end:
        kind = reader.byte()
        if kind not in (OP_FUNCTION2, OP_FUNCTION_PRE_GA):
            raise _error("given type is not a function")
        try:
            yield read_function_record(reader, kind)
        except ValueError as exc:
            raise _error(str(exc)) from None
