"""The manifest of a Redis 7.0 multi-part AOF: which base and incremental files, in what order.

The append-only directory (``appenddirname``) holds at most one base file (a snapshot at
the last rewrite: an RDB image, ``<appendfilename>.<seq>.base.rdb``, or commands,
``.base.aof``), incremental files of commands written since (``<appendfilename>.<seq>.incr.aof``)
and the manifest ``<appendfilename>.manifest``, one line per file::

    file appendonly.aof.2.base.rdb seq 2 type b
    file appendonly.aof.3.incr.aof seq 3 type i

Type ``h`` (history) marks files a rewrite superseded that are not deleted yet. The parser
applies Redis's checks with Redis's messages, so a manifest either server accepts the other
accepts too; the writer replaces the manifest atomically (temp file, fsync, rename, fsync of
the directory), so a crash leaves the old manifest or the new one, never a mix.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

from magpie.persistence.children import fsync_directory
from magpie.protocol.inline import split_inline
from magpie.protocol.quoting import repr_bytes

BASE, HISTORY, INCR = "b", "h", "i"
#: fgets() buffer of Redis's manifest reader: a longer line is refused.
MAX_LINE = 1024
TEMP_PREFIX = "temp-"


class ManifestError(Exception):
    """The manifest cannot be used; ``line`` (1-based, 0 if none) and ``text`` say where."""

    def __init__(self, reason: str, line: int = 0, text: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line
        self.text = text

    def log_lines(self) -> list[str]:
        """What Redis logs before exiting on a bad manifest."""
        lines = ["*** FATAL AOF MANIFEST FILE ERROR ***"]
        if self.text or self.line:
            lines += [f"Reading the manifest file, at line {self.line}", f">>> '{self.text}'"]
        return lines + [self.reason]


@dataclass
class AofFile:
    name: str
    seq: int
    kind: str  # BASE, HISTORY or INCR


@dataclass
class Manifest:
    base: AofFile | None = None
    incrs: list[AofFile] = field(default_factory=list)
    history: list[AofFile] = field(default_factory=list)
    base_seq: int = 0  # the sequence of the newest base, so the next one gets base_seq + 1
    incr_seq: int = 0

    @property
    def empty(self) -> bool:
        return self.base is None and not self.incrs

    def copy(self) -> Manifest:
        """A deep copy to change and then persist: the live manifest changes only once the
        new one is on disk."""
        return Manifest(
            None if self.base is None else replace(self.base),
            [replace(f) for f in self.incrs],
            [replace(f) for f in self.history],
            self.base_seq,
            self.incr_seq,
        )

    def live_files(self) -> list[AofFile]:
        """The base (if any) then the incremental files: what a load replays, in order."""
        return ([self.base] if self.base is not None else []) + list(self.incrs)

    # -- changes a rewrite makes --------------------------------------------------------------

    def new_base(self, prefix: str, rdb: bool) -> str:
        """Name the next base; the current one becomes history."""
        if self.base is not None:
            self.base.kind = HISTORY
            self.history.insert(0, self.base)
        self.base_seq += 1
        suffix = ".base.rdb" if rdb else ".base.aof"
        self.base = AofFile(f"{prefix}.{self.base_seq}{suffix}", self.base_seq, BASE)
        return self.base.name

    def new_incr(self, prefix: str) -> str:
        self.incr_seq += 1
        incr = AofFile(f"{prefix}.{self.incr_seq}.incr.aof", self.incr_seq, INCR)
        self.incrs.append(incr)
        return incr.name

    def last_incr(self) -> str | None:
        return self.incrs[-1].name if self.incrs else None

    def retire_incrs(self, keep_last: bool) -> None:
        """After a successful rewrite the incremental files it covers become history; the
        one being written (opened when the rewrite started) stays, if ``keep_last``."""
        kept = self.incrs[-1:] if keep_last else []
        for incr in self.incrs[: len(self.incrs) - len(kept)]:
            incr.kind = HISTORY
            self.history.insert(0, incr)
        self.incrs = kept

    # -- text ----------------------------------------------------------------------------------

    def render(self) -> str:
        """Base first, then history, then incremental files, as Redis writes it."""
        files = ([self.base] if self.base else []) + self.history + self.incrs
        return "".join(f"file {_quote_name(f.name)} seq {f.seq} type {f.kind}\n" for f in files)


def _quote_name(name: str) -> str:
    """Redis quotes a name (sdscatrepr) only when sdsneedsrepr says it must."""
    raw = name.encode(errors="surrogateescape")
    if any(b in b'\\"\n\r\t\a\b' or not 33 <= b < 127 for b in raw):
        return repr_bytes(raw)
    return name


def is_base_name(path: str) -> bool:
    """Redis's pathIsBaseName: no directory separators."""
    return "/" not in path and "\\" not in path


def parse_manifest(text: bytes) -> Manifest:
    """Read a manifest with Redis's rules; ManifestError on anything Redis refuses."""
    manifest = Manifest()
    if not text:
        raise ManifestError("Found an empty AOF manifest")
    max_seq = 0
    pos = 0
    line_no = 0
    while pos < len(text):
        end = text.find(b"\n", pos, pos + MAX_LINE)
        raw = text[pos : (end + 1 if end >= 0 else pos + MAX_LINE)]
        pos += len(raw)
        line_no += 1
        if raw.startswith(b"#"):
            continue  # a comment (Redis skips it before the length check)
        shown = raw.strip(b" \t\r\n").decode(errors="replace")
        if end < 0:
            raise ManifestError("The AOF manifest file contains too long line", line_no, shown)
        line = raw.strip(b" \t\r\n")
        if not line:
            raise ManifestError("Invalid AOF manifest file format", line_no, shown)
        args = split_inline(line)
        if args is None or len(args) < 6 or len(args) % 2:
            raise ManifestError("Invalid AOF manifest file format", line_no, shown)
        name, seq, kind = None, 0, ""
        for i in range(0, len(args), 2):
            key, value = args[i].lower(), args[i + 1]
            if key == b"file":
                name = value.decode(errors="surrogateescape")
                if not is_base_name(name):
                    raise ManifestError("File can't be a path, just a filename", line_no, shown)
            elif key == b"seq":
                seq = _atoll(value)
            elif key == b"type":
                kind = value[:1].decode(errors="replace")
        if not name or not seq or not kind:
            raise ManifestError("Invalid AOF manifest file format", line_no, shown)
        entry = AofFile(name, seq, kind)
        if kind == BASE:
            if manifest.base is not None:
                raise ManifestError("Found duplicate base file information", line_no, shown)
            manifest.base = entry
            manifest.base_seq = seq
        elif kind == HISTORY:
            manifest.history.append(entry)
        elif kind == INCR:
            if seq <= max_seq:
                raise ManifestError("Found a non-monotonic sequence number", line_no, shown)
            manifest.incrs.append(entry)
            manifest.incr_seq = max_seq = seq
        else:
            raise ManifestError("Unknown AOF file type", line_no, shown)
    return manifest


def _atoll(raw: bytes) -> int:
    """C's atoll: optional sign and leading digits, 0 when there are none."""
    text = raw.decode(errors="replace").lstrip()
    digits = ""
    for i, ch in enumerate(text):
        if ch.isdigit() or (i == 0 and ch in "+-"):
            digits += ch
        else:
            break
    try:
        return int(digits)
    except ValueError:
        return 0


def read_manifest(path: str) -> Manifest:
    with open(path, "rb") as fh:
        return parse_manifest(fh.read())


def write_manifest(dirname: str, filename: str, manifest: Manifest) -> None:
    """Replace ``<dirname>/<filename>.manifest`` atomically; OSError if any step failed
    (the old manifest is then still in place)."""
    final = os.path.join(dirname, f"{filename}.manifest")
    temp = os.path.join(dirname, f"{TEMP_PREFIX}{filename}.manifest")
    data = manifest.render().encode(errors="surrogateescape")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, final)
    fsync_directory(dirname)
