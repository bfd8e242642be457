"""What redis-server 7.0.15 answers to scripts, pinned: the facts the scripting tests hold
Magpie to, in one place, readable without running anything.

Every reply is the exact bytes the server sent (``WireClient``). The differential tests run
each case on Magpie and on a real redis-server, require the two to agree, and also require the
reference to still say what is written here (so a changed Redis is noticed rather than
silently followed).

``Conv`` cases run four ways: a RESP2 or a RESP3 client (``HELLO 3``), and the script as
written or prefixed with ``redis.setresp(3)``. ``c2``/``c3`` are the replies without
``setresp(3)``; ``s3c2``/``s3c3`` with it, defaulting to ``c2``/``c3``.

``Pinned`` cases run on a RESP2 client after FLUSHALL (so ``KEYS[1]`` starts missing).
Error replies end in ``script: <sha1 of the script body>, on @user_script:<line>.`` when the
error escaped the script; errors returned by ``redis.pcall`` or by the command itself before the
script ran (numkeys, NOSCRIPT, shebang, compile errors) carry no such suffix.

Quirks worth knowing (all platform facts of Redis on x86-64 Linux with glibc, kept on purpose):
- Lua numbers become integers by C truncation: 3.99 -> 3, -3.5 -> -3, and a number that does
  not fit (1e20, 2^63, even an INCRBY reply of 2^63-1 that went through a Lua double) becomes
  -9223372036854775808.
- ``{double=0/0}`` is sent as ``-nan``; numbers passed to redis.call are formatted with
  ``%.17g`` (0.1 -> "0.10000000000000001", 1e20 -> "1e+20", -0.0 -> "-0", 0/0 -> "-nan").
- A boolean return depends on the *script's* protocol: under the default ``setresp(2)`` true is
  ``:1`` and false a null (``$-1`` / ``_``); after ``setresp(3)`` true/false are ``#t``/``#f``
  for RESP3 clients and ``:1``/``:0`` for RESP2 clients.
- ``redis.error_reply('x')`` gives ``-ERR x`` (a message without a space gets the ERR code) but
  ``{err='x'}`` is sent as ``-x``; CR and LF inside status/error text become spaces.
- Functions: a library's load-time code sees only ``redis.register_function``, ``redis.log``,
  the ``LOG_*`` constants and ``REDIS_VERSION(_NUM)`` (not even ``error`` or ``pairs``); FCALL
  errors end in ``script: <function name>, on @user_function:<line>.``; function names are
  case-insensitive for FCALL, library names case-sensitive; FUNCTION LOAD says
  ``Library 'x' already exists`` but FUNCTION RESTORE says ``Library x already exists``.
- ``error({})`` and ``error({err={}})`` crash redis-server 7.0.15 (SIGSEGV in luaCallFunction),
  so they are not pinned here; Magpie should answer them with some error and keep running.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Conv:
    """A script and the reply for each (client protocol, script protocol) pair."""

    script: str
    c2: bytes
    c3: bytes | None = None
    s3c2: bytes | None = None
    s3c3: bytes | None = None

    def expected(self, client_resp: int, script_resp: int) -> bytes:
        c3 = self.c3 if self.c3 is not None else self.c2
        if script_resp == 2:
            return self.c2 if client_resp == 2 else c3
        if client_resp == 2:
            return self.s3c2 if self.s3c2 is not None else self.c2
        return self.s3c3 if self.s3c3 is not None else c3


@dataclass(frozen=True)
class Pinned:
    """One command (run after FLUSHALL on a RESP2 connection) and redis-server's exact reply."""

    args: list
    reply: bytes


#: Lua values returned by a script, as the client receives them (``EVAL <script> 0``).
LUA_TO_RESP = [
    Conv("return 'hello'", b'$5\r\nhello\r\n'),
    Conv("return ''", b'$0\r\n\r\n'),
    Conv("return 'a\\0b'", b'$3\r\na\x00b\r\n'),
    Conv('return 42', b':42\r\n'),
    Conv('return 0', b':0\r\n'),
    Conv('return -7', b':-7\r\n'),
    Conv('return 3.99', b':3\r\n'),
    Conv('return -3.5', b':-3\r\n'),
    Conv('return -0.9', b':0\r\n'),
    Conv('return 2^53', b':9007199254740992\r\n'),
    Conv('return 1e20', b':-9223372036854775808\r\n'),
    Conv('return true', b':1\r\n', s3c3=b'#t\r\n'),
    Conv('return false', b'$-1\r\n', c3=b'_\r\n', s3c2=b':0\r\n', s3c3=b'#f\r\n'),
    Conv('return nil', b'$-1\r\n', c3=b'_\r\n'),
    Conv('return', b'$-1\r\n', c3=b'_\r\n'),
    Conv('return {}', b'*0\r\n'),
    Conv('return {1, 2, 3}', b'*3\r\n:1\r\n:2\r\n:3\r\n'),
    Conv('return {1, 2, nil, 4}', b'*2\r\n:1\r\n:2\r\n'),
    Conv('return {nil, 1}', b'*0\r\n'),
    Conv("return {1, {2, {3, {}}}, 'x'}", b'*3\r\n:1\r\n*2\r\n:2\r\n*2\r\n:3\r\n*0\r\n$1\r\nx\r\n'),
    Conv("return {1.5, true, false, 'x'}", b'*4\r\n:1\r\n:1\r\n$-1\r\n$1\r\nx\r\n', c3=b'*4\r\n:1\r\n:1\r\n_\r\n$1\r\nx\r\n', s3c2=b'*4\r\n:1\r\n:1\r\n:0\r\n$1\r\nx\r\n', s3c3=b'*4\r\n:1\r\n#t\r\n#f\r\n$1\r\nx\r\n'),
    Conv("return {'a', false, 'b'}", b'*3\r\n$1\r\na\r\n$-1\r\n$1\r\nb\r\n', c3=b'*3\r\n$1\r\na\r\n_\r\n$1\r\nb\r\n', s3c2=b'*3\r\n$1\r\na\r\n:0\r\n$1\r\nb\r\n', s3c3=b'*3\r\n$1\r\na\r\n#f\r\n$1\r\nb\r\n'),
    Conv("return {ok='fine'}", b'+fine\r\n'),
    Conv("return {ok=''}", b'+\r\n'),
    Conv("return {err='x'}", b'-x\r\n'),
    Conv("return {err='MY x'}", b'-MY x\r\n'),
    Conv("return {err='ERR x'}", b'-ERR x\r\n'),
    Conv("return {err='a\\r\\nb'}", b'-a  b\r\n'),
    Conv("return {ok='a\\r\\nb'}", b'+a  b\r\n'),
    Conv("return {err='E', ok='O'}", b'-E\r\n'),
    Conv('return {ok=5}', b'*0\r\n'),
    Conv("return {5, ok='x'}", b'+x\r\n'),
    Conv("return redis.error_reply('x')", b'-ERR x\r\n'),
    Conv("return redis.error_reply('MY x')", b'-MY x\r\n'),
    Conv("return redis.error_reply('-CODE msg')", b'-CODE msg\r\n'),
    Conv("return redis.error_reply('two words')", b'-two words\r\n'),
    Conv("return redis.status_reply('S')", b'+S\r\n'),
    Conv("return {1, {err='inner'}, {ok='inner'}}", b'*3\r\n:1\r\n-inner\r\n+inner\r\n'),
    Conv('return {double=1.5}', b'$3\r\n1.5\r\n', c3=b',1.5\r\n'),
    Conv('return {double=3}', b'$1\r\n3\r\n', c3=b',3\r\n'),
    Conv('return {double=0.1}', b'$19\r\n0.10000000000000001\r\n', c3=b',0.10000000000000001\r\n'),
    Conv('return {double=-2.5e-5}', b'$23\r\n-2.5000000000000001e-05\r\n', c3=b',-2.5000000000000001e-05\r\n'),
    Conv('return {double=1/0}', b'$3\r\ninf\r\n', c3=b',inf\r\n'),
    Conv('return {double=-1/0}', b'$4\r\n-inf\r\n', c3=b',-inf\r\n'),
    Conv('return {double=0/0}', b'$4\r\n-nan\r\n', c3=b',-nan\r\n'),
    Conv("return {double='abc'}", b'*0\r\n'),
    Conv('return {map={a=1}}', b'*2\r\n$1\r\na\r\n:1\r\n', c3=b'%1\r\n$1\r\na\r\n:1\r\n'),
    Conv('return {map={}}', b'*0\r\n', c3=b'%0\r\n'),
    Conv('return {map={a={1, 2}}}', b'*2\r\n$1\r\na\r\n*2\r\n:1\r\n:2\r\n', c3=b'%1\r\n$1\r\na\r\n*2\r\n:1\r\n:2\r\n'),
    Conv('return {map={a={map={b=true}}}}', b'*2\r\n$1\r\na\r\n*2\r\n$1\r\nb\r\n:1\r\n', c3=b'%1\r\n$1\r\na\r\n%1\r\n$1\r\nb\r\n:1\r\n', s3c3=b'%1\r\n$1\r\na\r\n%1\r\n$1\r\nb\r\n#t\r\n'),
    Conv('return {map={a=false}}', b'*2\r\n$1\r\na\r\n$-1\r\n', c3=b'%1\r\n$1\r\na\r\n_\r\n', s3c2=b'*2\r\n$1\r\na\r\n:0\r\n', s3c3=b'%1\r\n$1\r\na\r\n#f\r\n'),
    Conv("return {map={[1]='one'}}", b'*2\r\n:1\r\n$3\r\none\r\n', c3=b'%1\r\n:1\r\n$3\r\none\r\n'),
    Conv('return {set={a=true}}', b'*1\r\n$1\r\na\r\n', c3=b'~1\r\n$1\r\na\r\n'),
    Conv('return {set={}}', b'*0\r\n', c3=b'~0\r\n'),
    Conv('return {set={a=false}}', b'*1\r\n$1\r\na\r\n', c3=b'~1\r\n$1\r\na\r\n'),
    Conv("return {big_number='123'}", b'$3\r\n123\r\n', c3=b'(123\r\n'),
    Conv("return {big_number='-12345678901234567890'}", b'$21\r\n-12345678901234567890\r\n', c3=b'(-12345678901234567890\r\n'),
    Conv('return {big_number=123}', b'*0\r\n'),
    Conv("return {verbatim_string={format='txt', string='x'}}", b'$1\r\nx\r\n', c3=b'=5\r\ntxt:x\r\n'),
    Conv("return {verbatim_string={format='markdown', string='# x'}}", b'$3\r\n# x\r\n', c3=b'=7\r\nmar:# x\r\n'),
    Conv("return {verbatim_string={string='x'}}", b'*0\r\n'),
    Conv("return {1, {double=2.5}, {map={k='v'}}, {set={m=true}}}", b'*4\r\n:1\r\n$3\r\n2.5\r\n*2\r\n$1\r\nk\r\n$1\r\nv\r\n*1\r\n$1\r\nm\r\n', c3=b'*4\r\n:1\r\n,2.5\r\n%1\r\n$1\r\nk\r\n$1\r\nv\r\n~1\r\n$1\r\nm\r\n'),
    Conv('return {1, 2, map={a=1}}', b'*2\r\n$1\r\na\r\n:1\r\n', c3=b'%1\r\n$1\r\na\r\n:1\r\n'),
    Conv('return function() end', b'$-1\r\n', c3=b'_\r\n'),
]

#: Replies of commands called from a script, as the script sees them (it returns type() and
#: values), under ``redis.setresp(2)`` (``c2``/``c3``) and ``redis.setresp(3)`` (``s3c*``).
#: The script is prefixed with ``redis.setresp(2) `` or ``redis.setresp(3) `` and run as
#: ``EVAL <script> 1 k`` after ``DEL k``.
RESP_TO_LUA = [
    Conv("local r = redis.call('set', KEYS[1], 'v') return {type(r), r.ok}", b'*2\r\n$5\r\ntable\r\n$2\r\nOK\r\n'),
    Conv("local r = redis.call('ping') return {type(r), r.ok}", b'*2\r\n$5\r\ntable\r\n$4\r\nPONG\r\n'),
    Conv("local r = redis.call('type', KEYS[1]) return {type(r), r.ok}", b'*2\r\n$5\r\ntable\r\n$4\r\nnone\r\n'),
    Conv("local r = redis.call('incr', KEYS[1]) return {type(r), r}", b'*2\r\n$6\r\nnumber\r\n:1\r\n'),
    Conv("local r = redis.call('echo', 'x') return {type(r), r}", b'*2\r\n$6\r\nstring\r\n$1\r\nx\r\n'),
    Conv("redis.call('set', KEYS[1], '10') local r = redis.call('incrbyfloat', KEYS[1], '0.5') return {type(r), r}", b'*2\r\n$6\r\nstring\r\n$4\r\n10.5\r\n'),
    Conv("local r = redis.call('get', KEYS[1]) return {type(r), tostring(r)}", b'*2\r\n$7\r\nboolean\r\n$5\r\nfalse\r\n', s3c2=b'*2\r\n$3\r\nnil\r\n$3\r\nnil\r\n', s3c3=b'*2\r\n$3\r\nnil\r\n$3\r\nnil\r\n'),
    Conv("local r = redis.call('lpop', KEYS[1]) return {type(r), tostring(r)}", b'*2\r\n$7\r\nboolean\r\n$5\r\nfalse\r\n', s3c2=b'*2\r\n$3\r\nnil\r\n$3\r\nnil\r\n', s3c3=b'*2\r\n$3\r\nnil\r\n$3\r\nnil\r\n'),
    Conv("local r = redis.call('lmpop', 1, KEYS[1], 'left') return {type(r), tostring(r)}", b'*2\r\n$7\r\nboolean\r\n$5\r\nfalse\r\n', s3c2=b'*2\r\n$3\r\nnil\r\n$3\r\nnil\r\n', s3c3=b'*2\r\n$3\r\nnil\r\n$3\r\nnil\r\n'),
    Conv("local r = redis.call('lrange', KEYS[1], 0, -1) return {type(r), #r}", b'*2\r\n$5\r\ntable\r\n:0\r\n'),
    Conv("redis.call('rpush', KEYS[1], 'a', 'b') local r = redis.call('lrange', KEYS[1], 0, -1) return {type(r), #r, r[1], r[2]}", b'*4\r\n$5\r\ntable\r\n:2\r\n$1\r\na\r\n$1\r\nb\r\n'),
    Conv("redis.call('hset', KEYS[1], 'f', 'v') local r = redis.call('hgetall', KEYS[1]) return {type(r), #r, tostring(r[1]), tostring(r[2]), type(r.map)}", b'*5\r\n$5\r\ntable\r\n:2\r\n$1\r\nf\r\n$1\r\nv\r\n$3\r\nnil\r\n', s3c2=b'*5\r\n$5\r\ntable\r\n:0\r\n$3\r\nnil\r\n$3\r\nnil\r\n$5\r\ntable\r\n', s3c3=b'*5\r\n$5\r\ntable\r\n:0\r\n$3\r\nnil\r\n$3\r\nnil\r\n$5\r\ntable\r\n'),
    Conv("redis.call('hset', KEYS[1], 'f', 'v') local r = redis.call('hgetall', KEYS[1]) return {type(r.map), tostring(r.map and r.map.f)}", b'*2\r\n$3\r\nnil\r\n$3\r\nnil\r\n', s3c2=b'*2\r\n$5\r\ntable\r\n$1\r\nv\r\n', s3c3=b'*2\r\n$5\r\ntable\r\n$1\r\nv\r\n'),
    Conv("local r = redis.call('hgetall', KEYS[1]) return {type(r), #r, type(r.map)}", b'*3\r\n$5\r\ntable\r\n:0\r\n$3\r\nnil\r\n', s3c2=b'*3\r\n$5\r\ntable\r\n:0\r\n$5\r\ntable\r\n', s3c3=b'*3\r\n$5\r\ntable\r\n:0\r\n$5\r\ntable\r\n'),
    Conv("redis.call('sadd', KEYS[1], 'm') local r = redis.call('smembers', KEYS[1]) return {type(r), tostring(r[1]), type(r.set), tostring(r.set and r.set.m)}", b'*4\r\n$5\r\ntable\r\n$1\r\nm\r\n$3\r\nnil\r\n$3\r\nnil\r\n', s3c2=b'*4\r\n$5\r\ntable\r\n$3\r\nnil\r\n$5\r\ntable\r\n$4\r\ntrue\r\n', s3c3=b'*4\r\n$5\r\ntable\r\n$3\r\nnil\r\n$5\r\ntable\r\n$4\r\ntrue\r\n'),
    Conv("redis.call('zadd', KEYS[1], '1.5', 'm') local r = redis.call('zscore', KEYS[1], 'm') return {type(r), type(r) == 'table' and 'table' or r, type(r) == 'table' and type(r.double) or 'none', type(r) == 'table' and tostring(r.double) or 'none'}", b'*4\r\n$6\r\nstring\r\n$3\r\n1.5\r\n$4\r\nnone\r\n$4\r\nnone\r\n', s3c2=b'*4\r\n$5\r\ntable\r\n$5\r\ntable\r\n$6\r\nnumber\r\n$3\r\n1.5\r\n', s3c3=b'*4\r\n$5\r\ntable\r\n$5\r\ntable\r\n$6\r\nnumber\r\n$3\r\n1.5\r\n'),
    Conv("local r = redis.call('zscore', KEYS[1], 'm') return {type(r), tostring(r)}", b'*2\r\n$7\r\nboolean\r\n$5\r\nfalse\r\n', s3c2=b'*2\r\n$3\r\nnil\r\n$3\r\nnil\r\n', s3c3=b'*2\r\n$3\r\nnil\r\n$3\r\nnil\r\n'),
    Conv("redis.call('zadd', KEYS[1], '2.25', 'm') local r = redis.call('zrange', KEYS[1], 0, -1, 'withscores') return {#r, type(r[1]), type(r[2])}", b'*3\r\n:2\r\n$6\r\nstring\r\n$6\r\nstring\r\n', s3c2=b'*3\r\n:1\r\n$5\r\ntable\r\n$3\r\nnil\r\n', s3c3=b'*3\r\n:1\r\n$5\r\ntable\r\n$3\r\nnil\r\n'),
    Conv("redis.call('zadd', KEYS[1], '2.25', 'm') local r = redis.call('zrange', KEYS[1], 0, -1, 'withscores') local p = r[1] return {type(p) == 'table' and p[1] or p, type(p) == 'table' and tostring(p[2].double) or tostring(r[2])}", b'*2\r\n$1\r\nm\r\n$4\r\n2.25\r\n'),
    Conv("redis.call('zadd', KEYS[1], '2.25', 'm') local r = redis.call('zpopmin', KEYS[1]) return {#r, r[1], type(r[2])}", b'*3\r\n:2\r\n$1\r\nm\r\n$6\r\nstring\r\n', s3c2=b'*3\r\n:2\r\n$1\r\nm\r\n$5\r\ntable\r\n', s3c3=b'*3\r\n:2\r\n$1\r\nm\r\n$5\r\ntable\r\n'),
    Conv("redis.call('hset', KEYS[1], 'f', 'v') local r = redis.call('hrandfield', KEYS[1], 1, 'withvalues') return {#r, type(r[1])}", b'*2\r\n:2\r\n$6\r\nstring\r\n', s3c2=b'*2\r\n:1\r\n$5\r\ntable\r\n', s3c3=b'*2\r\n:1\r\n$5\r\ntable\r\n'),
    Conv("local r = redis.call('exists', KEYS[1]) return {type(r), r}", b'*2\r\n$6\r\nnumber\r\n:0\r\n'),
    Conv("local r = redis.call('time') return {type(r), #r, type(r[1]), type(r[2])}", b'*4\r\n$5\r\ntable\r\n:2\r\n$6\r\nstring\r\n$6\r\nstring\r\n'),
    Conv("local r = redis.call('info', 'server') return {type(r), type(r) == 'table' and type(r.verbatim_string) or 'none', type(r) == 'table' and r.verbatim_string.format or 'none'}", b'*3\r\n$6\r\nstring\r\n$4\r\nnone\r\n$4\r\nnone\r\n', s3c2=b'*3\r\n$5\r\ntable\r\n$5\r\ntable\r\n$3\r\ntxt\r\n', s3c3=b'*3\r\n$5\r\ntable\r\n$5\r\ntable\r\n$3\r\ntxt\r\n'),
    Conv("local r = redis.call('info', 'server') local s = type(r) == 'table' and r.verbatim_string.string or r return string.sub(s, 1, 8)", b'$8\r\n# Server\r\n'),
    Conv("redis.call('set', KEYS[1], 'str') local r = redis.pcall('incr', KEYS[1]) return {type(r), r.err}", b'*2\r\n$5\r\ntable\r\n$43\r\nERR value is not an integer or out of range\r\n'),
    Conv("redis.call('set', KEYS[1], 'str') local r = redis.pcall('lpush', KEYS[1], 'x') return {type(r), r.err}", b'*2\r\n$5\r\ntable\r\n$65\r\nWRONGTYPE Operation against a key holding the wrong kind of value\r\n'),
    Conv("local r = redis.pcall('nosuchcommand') return {type(r), r.err}", b'*2\r\n$5\r\ntable\r\n$44\r\nERR Unknown Redis command called from script\r\n'),
    Conv("local r = redis.pcall('get') return {type(r), r.err}", b'*2\r\n$5\r\ntable\r\n$58\r\nERR Wrong number of args calling Redis command from script\r\n'),
    Conv("local r = redis.pcall('get', KEYS[1], 'extra') return {type(r), r.err}", b'*2\r\n$5\r\ntable\r\n$58\r\nERR Wrong number of args calling Redis command from script\r\n'),
    Conv("local r = redis.pcall('multi') return {type(r), r.err}", b'*2\r\n$5\r\ntable\r\n$49\r\nERR This Redis command is not allowed from script\r\n'),
    Conv("local ok, e = pcall(redis.call, 'nosuchcommand') return {tostring(ok), type(e), e}", b'*3\r\n$5\r\nfalse\r\n$6\r\nstring\r\n$44\r\nERR Unknown Redis command called from script\r\n'),
    Conv("redis.call('set', KEYS[1], 'str') local ok, e = pcall(redis.call, 'incr', KEYS[1]) return {tostring(ok), type(e), e}", b'*3\r\n$5\r\nfalse\r\n$6\r\nstring\r\n$43\r\nERR value is not an integer or out of range\r\n'),
    Conv("local ok, e = pcall(function() error({err='MY boom'}) end) return {tostring(ok), type(e), e}", b'*3\r\n$5\r\nfalse\r\n$6\r\nstring\r\n$7\r\nMY boom\r\n'),
    Conv("local ok, e = pcall(function() error('boom') end) return {tostring(ok), type(e), e}", b'*3\r\n$5\r\nfalse\r\n$6\r\nstring\r\n$19\r\nuser_script:1: boom\r\n'),
    Conv("redis.call('hset', KEYS[1], 'f', 'v') return redis.call('hgetall', KEYS[1])", b'*2\r\n$1\r\nf\r\n$1\r\nv\r\n', s3c3=b'%1\r\n$1\r\nf\r\n$1\r\nv\r\n'),
    Conv("redis.call('zadd', KEYS[1], '1.5', 'm') return redis.call('zscore', KEYS[1], 'm')", b'$3\r\n1.5\r\n', s3c3=b',1.5\r\n'),
    Conv("redis.call('zadd', KEYS[1], '1.5', 'm') return redis.call('zrange', KEYS[1], 0, -1, 'withscores')", b'*2\r\n$1\r\nm\r\n$3\r\n1.5\r\n', s3c2=b'*1\r\n*2\r\n$1\r\nm\r\n$3\r\n1.5\r\n', s3c3=b'*1\r\n*2\r\n$1\r\nm\r\n,1.5\r\n'),
    Conv("redis.call('sadd', KEYS[1], 'm') return redis.call('smembers', KEYS[1])", b'*1\r\n$1\r\nm\r\n', s3c3=b'~1\r\n$1\r\nm\r\n'),
    Conv("return redis.call('get', KEYS[1])", b'$-1\r\n', c3=b'_\r\n'),
    Conv("return redis.call('lmpop', 1, KEYS[1], 'left')", b'$-1\r\n', c3=b'_\r\n'),
    Conv("return redis.call('set', KEYS[1], 'v')", b'+OK\r\n'),
    Conv("redis.call('set', KEYS[1], 'str') return redis.pcall('incr', KEYS[1])", b'-ERR value is not an integer or out of range\r\n'),
    Conv("return {redis.call('get', KEYS[1]), 'after'}", b'*2\r\n$-1\r\n$5\r\nafter\r\n', c3=b'*2\r\n_\r\n$5\r\nafter\r\n', s3c2=b'*0\r\n', s3c3=b'*0\r\n'),
]

#: Arguments redis.call refuses, and errors of the commands it calls (with the script's sha and line).
CALL_ERRORS = [
    Pinned(['EVAL', "return redis.call('nosuchcommand')", 0], b'-ERR Unknown Redis command called from script script: 60e6252e19199d82f2bea24345497fd1b735ed32, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('get')", 0], b'-ERR Wrong number of args calling Redis command from script script: f187dee77f607f7cff00bbabc9df38507582c78d, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('get', 'a', 'b')", 0], b'-ERR Wrong number of args calling Redis command from script script: 83fb1f3d3ef84eb4eebaa00386befdba32e9f237, on @user_script:1.\r\n'),
    Pinned(['EVAL', 'return redis.call()', 0], b'-ERR Please specify at least one argument for this redis lib call script: 0a907e1429221a4d85516cab7fd219a82a9439d8, on @user_script:1.\r\n'),
    Pinned(['EVAL', 'return redis.pcall()', 0], b'-ERR Please specify at least one argument for this redis lib call\r\n'),
    Pinned(['EVAL', 'return redis.call({})', 0], b'-ERR Lua redis lib command arguments must be strings or integers script: 80747816df1f4411f7c442b928fce6a814214839, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('get', {})", 0], b'-ERR Lua redis lib command arguments must be strings or integers script: 4368e88f98d93af9caf358186e5fbf273374ee91, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('set', 'k', true)", 0], b'-ERR Lua redis lib command arguments must be strings or integers script: 237d62ddcda195046454c4a222fde213ea590b11, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('get', KEYS[1])", 0], b'-ERR Lua redis lib command arguments must be strings or integers script: 4e6d8fc8bb01276962cce5371fa795a7763657ae, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('set', 'k', 'v', 'nx', 'xx')", 0], b'-ERR syntax error script: 79f453d3534b299c56e57d4bf0160003bdc9a1e0, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('select', 99)", 0], b'-ERR DB index is out of range script: 18e1229a222ce22829424a3c59b1c28095147cdd, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('select', 'x')", 0], b'-ERR value is not an integer or out of range script: 87c51773a3d432de1a9f72a9d4db93270ad4d80b, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.pcall('get', 'a', 'b')", 0], b'-ERR Wrong number of args calling Redis command from script\r\n'),
    Pinned(['EVAL', "return redis.pcall('nosuchcommand')", 0], b'-ERR Unknown Redis command called from script\r\n'),
    Pinned(['EVAL', "return redis.pcall('multi')", 0], b'-ERR This Redis command is not allowed from script\r\n'),
    Pinned(['EVAL', "return redis.call('ping', 'a', 'b')", 0], b"-ERR wrong number of arguments for 'ping' command script: 54bb24c858fab5a4c01933df40cd77926cc27e78, on @user_script:1.\r\n"),
]

#: Commands flagged ``noscript`` (Redis 7.0 refuses the blocking ones too: no BLPOP-returns-nil).
NOSCRIPT_COMMANDS = [
    Pinned(['EVAL', "return redis.call('multi')", 0], b'-ERR This Redis command is not allowed from script script: c329a1a294be6bf95b44144f7502610661ae925a, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('exec')", 0], b'-ERR This Redis command is not allowed from script script: cfd06730c41ba24d30327b6d49d1ebf96a001298, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('discard')", 0], b'-ERR This Redis command is not allowed from script script: 0d2fb0d95b01ad0ef1ff37f3559df7736cea2efb, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('watch', 'k')", 0], b'-ERR This Redis command is not allowed from script script: a817c523f5cc80f968ddb4aca6966271f58c9433, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('unwatch')", 0], b'-ERR This Redis command is not allowed from script script: 4a84ce53df3fe64c49f00be31eb28ab86acdf771, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('subscribe', 'ch')", 0], b'-ERR This Redis command is not allowed from script script: 718efb6c80dbecb7630204c826b12b5e7f976037, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('psubscribe', 'p*')", 0], b'-ERR This Redis command is not allowed from script script: 2111e2ec71b75e67b8fae57497f10c2fe0a26787, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('unsubscribe')", 0], b'-ERR This Redis command is not allowed from script script: 76e9cfe1fb4d618dd2f05fd220a8b2a02beb33e9, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('eval', 'return 1', 0)", 0], b'-ERR This Redis command is not allowed from script script: 310efa61ec0f2edf6c2e5b4007966dd555e75546, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('evalsha', '0000000000000000000000000000000000000000', 0)", 0], b'-ERR This Redis command is not allowed from script script: 3d9db7127b3f0cf095a20199bc0374b6db46268f, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('script', 'load', 'return 1')", 0], b'-ERR This Redis command is not allowed from script script: a490477d6bc12575fb844107684e6cd178d473fe, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('function', 'list')", 0], b'-ERR This Redis command is not allowed from script script: 79f85c3d63467b8be93f58abf6bbb59f5d9401d8, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('fcall', 'f', 0)", 0], b'-ERR This Redis command is not allowed from script script: 41b2711b7df2791b0759985663b75d6907bb6bc6, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('blpop', 'l', 0)", 0], b'-ERR This Redis command is not allowed from script script: 9796143aa36f79ff4329423cd8247733070488e9, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('brpop', 'l', 0)", 0], b'-ERR This Redis command is not allowed from script script: b20d843f1ab514993704ed2ea9e873a26559af2d, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('blmove', 'l', 'm', 'left', 'left', 0)", 0], b'-ERR This Redis command is not allowed from script script: 919996b5da111dbf94ff5ef11de153b45601c887, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('bzpopmin', 'z', 0)", 0], b'-ERR This Redis command is not allowed from script script: 238edb2af21afcf0534c52b94ad0a124e25b7ae1, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('wait', 0, 0)", 0], b'-ERR This Redis command is not allowed from script script: 09c741d9d86c54b89b6c904a627c276a73679c40, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('monitor')", 0], b'-ERR This Redis command is not allowed from script script: 816ccacd66cee27df40b38b03fcb7a2e6769f006, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('client', 'id')", 0], b'-ERR This Redis command is not allowed from script script: 9d62628b738307e9bc386eed63edab758ee76b57, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('config', 'get', 'maxmemory')", 0], b'-ERR This Redis command is not allowed from script script: 0980669769efeb6079a5a3c93e7ca4e95eedfa17, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('shutdown')", 0], b'-ERR This Redis command is not allowed from script script: efed7e6fbac55a79c47e5a9e6bd695e63e9dcada, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('hello')", 0], b'-ERR This Redis command is not allowed from script script: d0169abe9a451faf8a4132e9c783cc064ee9a6ac, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('auth', 'x')", 0], b'-ERR This Redis command is not allowed from script script: 7f1217694d43dd4cdc3ff084133cc4d0682328ab, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('reset')", 0], b'-ERR This Redis command is not allowed from script script: 5ba3d15b37e8cfa0d2fa377e0bf7baa4944fc939, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('save')", 0], b'-ERR This Redis command is not allowed from script script: 6193f10595eca2a5c1f0a13b9bf6b16068e2fbea, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('bgsave')", 0], b'-ERR This Redis command is not allowed from script script: bf7830eee0431265a56fcb69596213bd41d3e459, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('slaveof', 'no', 'one')", 0], b'-ERR This Redis command is not allowed from script script: 9c52515c0141b69bd27878e96c137af1ed00dd51, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('debug', 'sleep', 0)", 0], b'-ERR This Redis command is not allowed from script script: dff3594caa03824d030e33e07d3516f851839f52, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('acl', 'whoami')", 0], b'-ERR This Redis command is not allowed from script script: 27ac90dbed753d60b0580f9ec4852f7132486e8a, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.call('quit')", 0], b'-ERR This Redis command is not allowed from script script: 594184995799820e8ea15ff5ed6e55342c8fed42, on @user_script:1.\r\n'),
]

#: error(...) with strings, tables and other values; Lua runtime and compile errors.
RUNTIME_ERRORS = [
    Pinned(['EVAL', "error('x')", 0], b'-ERR user_script:1: x script: 9851144f39f03a0d597a980c5aa79c80cb696891, on @user_script:1.\r\n'),
    Pinned(['EVAL', "error({err='MY x'})", 0], b'-MY x script: 892d3143709ed90870061a291d50ce1f009cd7bf, on @user_script:1.\r\n'),
    Pinned(['EVAL', "error({err='x'})", 0], b'-x script: 0e48b9b90bf7d59e383ba68c5e1e495ef87146a8, on @user_script:1.\r\n'),
    Pinned(['EVAL', "error('x', 0)", 0], b'-ERR x script: a8325ab498c94f38b1b3e86862697a313b6dbe35, on @user_script:1.\r\n'),
    Pinned(['EVAL', 'error(5)', 0], b'-ERR user_script:1: 5 script: 007feaf5de074afe3398416376e34525ad911752, on @user_script:1.\r\n'),
    Pinned(['EVAL', 'error(nil)', 0], b'-ERR nil script: c402aa49952c86c38f35fb311d54977d08f3bf01, on @user_script:1.\r\n'),
    Pinned(['EVAL', 'error(true)', 0], b'-ERR true script: 4fafe2149f68a1618a3eef40aeef55f5af6951da, on @user_script:1.\r\n'),
    Pinned(['EVAL', "error({err='ERR with code'})", 0], b'-ERR with code script: 36f769ba558122ab5ea34b8b5655e5c0e9d7d266, on @user_script:1.\r\n'),
    Pinned(['EVAL', "error(redis.error_reply('MY y'))", 0], b'-MY y script: 1d9df86c95c7c2beec4e8c761b7eba7f68771e99, on @user_script:1.\r\n'),
    Pinned(['EVAL', 'local a = nil; return a + 1', 0], b"-ERR user_script:1: attempt to perform arithmetic on local 'a' (a nil value) script: 89b7d8273642b86be5c7a8f7f404432e80c342ed, on @user_script:1.\r\n"),
    Pinned(['EVAL', 'local t = {} return t.x.y', 0], b"-ERR user_script:1: attempt to index field 'x' (a nil value) script: b1687cd1d4e82de9f4ad5ffbfa977992210c8594, on @user_script:1.\r\n"),
    Pinned(['EVAL', "return ('x')()", 0], b'-ERR user_script:1: attempt to call a string value script: fa60faf27a57aff7250cdb60d007ea0d9bbe01b2, on @user_script:1.\r\n'),
    Pinned(['EVAL', 'return #5', 0], b'-ERR user_script:1: attempt to get length of a number value script: ffe83ca6101f6ad505d8608927f3d3b8a836e154, on @user_script:1.\r\n'),
    Pinned(['EVAL', 'return 1 +', 0], b"-ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'\r\n"),
    Pinned(['EVAL', "return 1\nerror('x')", 0], b"-ERR Error compiling script (new function): user_script:2: '<eof>' expected near 'error'\r\n"),
    Pinned(['EVAL', "\n\nerror('x')", 0], b'-ERR user_script:3: x script: ba81d70ce9cabd5079660943de6e37ccc74e6f22, on @user_script:3.\r\n'),
    Pinned(['EVAL', "local function f() error('deep') end\nf()", 0], b'-ERR user_script:1: deep script: 5534f9391a35c19fc34744875ed4a820d7666369, on @user_script:1.\r\n'),
    Pinned(['EVAL', "local function f()\n  redis.call('nosuchcommand')\nend\nf()", 0], b'-ERR Unknown Redis command called from script script: ee575b7fb49c3e4a4cbb83848b4b1326500019e8, on @user_script:2.\r\n'),
]

#: Globals are read-only and unknown globals are an error; so are the library tables.
SANDBOX_ERRORS = [
    Pinned(['EVAL', 'x = 1', 0], b'-ERR user_script:1: Attempt to modify a readonly table script: 34bce5f775de97f557a34088509c8bfe1ea17e52, on @user_script:1.\r\n'),
    Pinned(['EVAL', 'return nosuchglobal', 0], b"-ERR user_script:1: Script attempted to access nonexistent global variable 'nosuchglobal' script: 559c6067ec16a7fe6fd29ea74a4dcf4e627f6ba0, on @user_script:1.\r\n"),
    Pinned(['EVAL', 'string.x = 1', 0], b'-ERR user_script:1: Attempt to modify a readonly table script: c3eb0a2a15b3d4790b323c4104029c1ae425a769, on @user_script:1.\r\n'),
    Pinned(['EVAL', 'redis.call = nil', 0], b'-ERR user_script:1: Attempt to modify a readonly table script: 2786c35ed73d3860851cf52e0b5dfbbc0bdb4803, on @user_script:1.\r\n'),
    Pinned(['EVAL', '_G.x = 1', 0], b'-ERR user_script:1: Attempt to modify a readonly table script: e5cf4a26667af1721988fe8c9829d5cd2e26c62e, on @user_script:1.\r\n'),
    Pinned(['EVAL', "rawset(_G, 'x', 1)", 0], b'-ERR Attempt to modify a readonly table script: e2c706419da183d6229a1230c3be09cc32cdeee0, on @user_script:1.\r\n'),
    Pinned(['EVAL', 'math.pi = 3', 0], b'-ERR user_script:1: Attempt to modify a readonly table script: 29d944a5e7490072c60ab9cdf9bf7c8d2c97058c, on @user_script:1.\r\n'),
    Pinned(['EVAL', 'setmetatable(_G, nil)', 0], b'-ERR Attempt to modify a readonly table script: 22fdd3b51da2d4bc6703d71d651cd782d8e5a35f, on @user_script:1.\r\n'),
    Pinned(['EVAL', 'local mt = getmetatable(_G) mt.__index = nil', 0], b'-ERR user_script:1: Attempt to modify a readonly table script: f0484508561aa8182c2aa233bd4a8b1a3afeb7c4, on @user_script:1.\r\n'),
]

#: numkeys, arity and NOSCRIPT, checked before the script runs.
EVAL_ARGUMENT_ERRORS = [
    Pinned(['EVALSHA', 'ffffffffffffffffffffffffffffffffffffffff', 0], b'-NOSCRIPT No matching script. Please use EVAL.\r\n'),
    Pinned(['EVALSHA', 'abc', 0], b'-NOSCRIPT No matching script. Please use EVAL.\r\n'),
    Pinned(['EVALSHA', '', 0], b'-NOSCRIPT No matching script. Please use EVAL.\r\n'),
    Pinned(['EVALSHA_RO', 'ffffffffffffffffffffffffffffffffffffffff', 0], b'-NOSCRIPT No matching script. Please use EVAL.\r\n'),
    Pinned(['EVAL', 'return 1', 1], b"-ERR Number of keys can't be greater than number of args\r\n"),
    Pinned(['EVAL', 'return 1', -1], b"-ERR Number of keys can't be negative\r\n"),
    Pinned(['EVAL', 'return 1', 'abc'], b'-ERR value is not an integer or out of range\r\n'),
    Pinned(['EVAL', 'return 1', '1.5'], b'-ERR value is not an integer or out of range\r\n'),
    Pinned(['EVAL', 'return 1', ''], b'-ERR value is not an integer or out of range\r\n'),
    Pinned(['EVAL', 'return 1', '99999999999999999999'], b'-ERR value is not an integer or out of range\r\n'),
    Pinned(['EVAL', 'return 1', ' 1', 'k'], b'-ERR value is not an integer or out of range\r\n'),
    Pinned(['EVAL', 'return 1'], b"-ERR wrong number of arguments for 'eval' command\r\n"),
    Pinned(['EVAL'], b"-ERR wrong number of arguments for 'eval' command\r\n"),
    Pinned(['EVALSHA', 'ffffffffffffffffffffffffffffffffffffffff'], b"-ERR wrong number of arguments for 'evalsha' command\r\n"),
    Pinned(['EVAL_RO', 'return 1'], b"-ERR wrong number of arguments for 'eval_ro' command\r\n"),
    Pinned(['EVALSHA', 'ffffffffffffffffffffffffffffffffffffffff', 1], b"-ERR Number of keys can't be greater than number of args\r\n"),
    Pinned(['EVALSHA', 'ffffffffffffffffffffffffffffffffffffffff', -1], b"-ERR Number of keys can't be negative\r\n"),
    Pinned(['EVAL', "return 'ok'", 0, 'extra'], b'$2\r\nok\r\n'),
]

#: EVAL_RO and the no-writes flag.
READ_ONLY_ERRORS = [
    Pinned(['EVAL_RO', "return redis.call('set', KEYS[1], 'v')", 1, 'k'], b'-ERR Write commands are not allowed from read-only scripts. script: b0e7bbc2efc136be74cdebcb73a106ad46ea881b, on @user_script:1.\r\n'),
    Pinned(['EVAL_RO', "return redis.pcall('set', KEYS[1], 'v')", 1, 'k'], b'-ERR Write commands are not allowed from read-only scripts.\r\n'),
    Pinned(['EVAL_RO', "return redis.call('get', KEYS[1])", 1, 'k'], b'$-1\r\n'),
    Pinned(['EVAL_RO', "return redis.call('incr', KEYS[1])", 1, 'k'], b'-ERR Write commands are not allowed from read-only scripts. script: 2bab3b661081db58bd2341920e0ba7cf5dc77b25, on @user_script:1.\r\n'),
    Pinned(['EVAL_RO', "return redis.call('publish', 'ch', 'm')", 0], b'-ERR Write commands are not allowed from read-only scripts. script: 1b529a3c145ed594072c3c2219b2f093339e63cc, on @user_script:1.\r\n'),
    Pinned(['EVAL_RO', "#!lua\nreturn redis.call('get', KEYS[1])", 1, 'k'], b'-ERR Can not execute a script with write flag using *_ro command.\r\n'),
    Pinned(['EVAL_RO', "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", 1, 'k'], b'$-1\r\n'),
    Pinned(['EVAL', "#!lua flags=no-writes\nreturn redis.call('set', KEYS[1], 'v')", 1, 'k'], b'-ERR Write commands are not allowed from read-only scripts. script: 34506ea5aa699a74b84d4fdd3eb056b6880221a7, on @user_script:2.\r\n'),
    Pinned(['EVAL', "#!lua flags=no-writes\nreturn redis.pcall('set', KEYS[1], 'v')", 1, 'k'], b'-ERR Write commands are not allowed from read-only scripts.\r\n'),
]

#: The ``#!lua`` first line: engines, options and flags.
SHEBANG_CASES = [
    Pinned(['EVAL', '#!lua flags=nosuch\nreturn 1', 0], b'-ERR Unexpected flag in script shebang: nosuch\r\n'),
    Pinned(['EVAL', '#!lua flags=no-writes,nosuch\nreturn 1', 0], b'-ERR Unexpected flag in script shebang: nosuch\r\n'),
    Pinned(['EVAL', '#!python\nreturn 1', 0], b'-ERR Unexpected engine in script shebang: #!python\r\n'),
    Pinned(['EVAL', '#!LUA\nreturn 1', 0], b'-ERR Unexpected engine in script shebang: #!LUA\r\n'),
    Pinned(['EVAL', '#!lua name=x\nreturn 1', 0], b'-ERR Unknown lua shebang option: name=x\r\n'),
    Pinned(['EVAL', '#!lua foo=bar\nreturn 1', 0], b'-ERR Unknown lua shebang option: foo=bar\r\n'),
    Pinned(['EVAL', '#!lua', 0], b'-ERR Invalid script shebang\r\n'),
    Pinned(['EVAL', '#!', 0], b'-ERR Invalid script shebang\r\n'),
    Pinned(['EVAL', '#!lua\nreturn 1', 0], b':1\r\n'),
    Pinned(['EVAL', '#!lua flags=\nreturn 1', 0], b':1\r\n'),
    Pinned(['EVAL', '#!lua flags=no-writes,allow-oom,allow-stale,no-cluster,allow-cross-slot-keys\nreturn 1', 0], b':1\r\n'),
    Pinned(['EVAL', '#!lua  flags=no-writes \nreturn 1', 0], b':1\r\n'),
    Pinned(['EVAL', "#!lua\nerror('line two')", 0], b'-ERR user_script:2: line two script: 326d6fc9c3337f2180cd1ef5443419cfa63325d1, on @user_script:2.\r\n'),
    Pinned(['EVAL', '#!lua\nreturn 1 +', 0], b"-ERR Error compiling script (new function): user_script:2: unexpected symbol near '<eof>'\r\n"),
    Pinned(['EVAL', ' #!lua\nreturn 1', 0], b"-ERR Error compiling script (new function): user_script:1: unexpected symbol near '#'\r\n"),
    Pinned(['EVAL', "#!lua\nreturn redis.call('set', 'undeclared', 'v')", 0], b'+OK\r\n'),
    Pinned(['SCRIPT', 'LOAD', '#!lua name=x\nreturn 1'], b'-ERR Unknown lua shebang option: name=x\r\n'),
    Pinned(['SCRIPT', 'LOAD', '#!lua flags=bad\nreturn 1'], b'-ERR Unexpected flag in script shebang: bad\r\n'),
    Pinned(['SCRIPT', 'LOAD', 'return 1 +'], b"-ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'\r\n"),
]

#: redis.log/setresp/set_repl/sha1hex/error_reply/status_reply, the constants and stubs.
REDIS_LIBRARY_CASES = [
    Pinned(['EVAL', 'redis.log()', 0], b'-ERR redis.log() requires two arguments or more. script: 832b44eaff8743413d7a371df1c038871278515a, on @user_script:1.\r\n'),
    Pinned(['EVAL', 'redis.log(redis.LOG_WARNING)', 0], b'-ERR redis.log() requires two arguments or more. script: 49ca850ffc5e5c988724c7c053ac0e63c6043790, on @user_script:1.\r\n'),
    Pinned(['EVAL', "redis.log(99, 'x')", 0], b'-ERR Invalid debug level. script: 565e201a96e8ec463b56090cf8419fce86ea26cf, on @user_script:1.\r\n'),
    Pinned(['EVAL', "redis.log(-1, 'x')", 0], b'-ERR Invalid debug level. script: b3d3b58ce88640e3505cc2ccd8b3493313d74bae, on @user_script:1.\r\n'),
    Pinned(['EVAL', "redis.log('x', 'y')", 0], b'-ERR First argument must be a number (log level). script: f9e85f1a2c33bc0169e818179bf0154a5facc03a, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.log(redis.LOG_WARNING, 'from a test', 'second part')", 0], b'$-1\r\n'),
    Pinned(['EVAL', 'return redis.log(redis.LOG_DEBUG, 1, {})', 0], b'$-1\r\n'),
    Pinned(['EVAL', 'redis.setresp(4)', 0], b'-ERR RESP version must be 2 or 3. script: 68e72e4d8a428b9f599dce492315f2455a425a82, on @user_script:1.\r\n'),
    Pinned(['EVAL', 'redis.setresp(1)', 0], b'-ERR RESP version must be 2 or 3. script: c7b902a2c3928d46426d230692867f2c99b55bcc, on @user_script:1.\r\n'),
    Pinned(['EVAL', 'redis.setresp()', 0], b'-ERR redis.setresp() requires one argument. script: 42aacaf580759e59c97e8b1974d08a62f960014f, on @user_script:1.\r\n'),
    Pinned(['EVAL', "redis.setresp('x')", 0], b'-ERR RESP version must be 2 or 3. script: c2a797a9752572869ec889597b789377db40332b, on @user_script:1.\r\n'),
    Pinned(['EVAL', 'redis.setresp(2, 3)', 0], b'-ERR redis.setresp() requires one argument. script: 572defd933d67500478b711c7fa9e34b7534b0ca, on @user_script:1.\r\n'),
    Pinned(['EVAL', 'return redis.setresp(3)', 0], b'$-1\r\n'),
    Pinned(['EVAL', 'redis.set_repl(99)', 0], b'-ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE. script: d771ce5945d8966ba7b2527e297070ef439fb0b8, on @user_script:1.\r\n'),
    Pinned(['EVAL', 'redis.set_repl()', 0], b'-ERR redis.set_repl() requires two arguments. script: e39b47fd8e0d5dc1c7155bbafcefaf48cf163f82, on @user_script:1.\r\n'),
    Pinned(['EVAL', "redis.set_repl('x')", 0], b'$-1\r\n'),
    Pinned(['EVAL', 'return redis.set_repl(redis.REPL_ALL)', 0], b'$-1\r\n'),
    Pinned(['EVAL', 'return redis.replicate_commands()', 0], b':1\r\n'),
    Pinned(['EVAL', "return redis.sha1hex('')", 0], b'$40\r\nda39a3ee5e6b4b0d3255bfef95601890afd80709\r\n'),
    Pinned(['EVAL', "return redis.sha1hex('Pizza & Mandolino')", 0], b'$40\r\n74822d82031af7493c20eefa13bd07ec4fada82f\r\n'),
    Pinned(['EVAL', 'return redis.sha1hex(1)', 0], b'$40\r\n356a192b7913b04c54574d18c28d46e6395428ab\r\n'),
    Pinned(['EVAL', 'return redis.sha1hex(1.5)', 0], b'$40\r\naa8f289ebe6d4db1b4a1038b8931ec8c2b5399fb\r\n'),
    Pinned(['EVAL', 'return redis.sha1hex({})', 0], b'$40\r\nda39a3ee5e6b4b0d3255bfef95601890afd80709\r\n'),
    Pinned(['EVAL', 'return redis.sha1hex()', 0], b'-ERR wrong number of arguments script: 3c7ce947ae74a835cc575b6ee87fb27503cb7ba4, on @user_script:1.\r\n'),
    Pinned(['EVAL', "return redis.sha1hex('a', 'b')", 0], b'-ERR wrong number of arguments script: 168a80c1fc9ccc2a1035122eae7afa0f638ba5b5, on @user_script:1.\r\n'),
    Pinned(['EVAL', 'return redis.error_reply()', 0], b'-ERR wrong number or type of arguments\r\n'),
    Pinned(['EVAL', 'return redis.error_reply(5)', 0], b'-ERR wrong number or type of arguments\r\n'),
    Pinned(['EVAL', 'return redis.status_reply({})', 0], b'-ERR wrong number or type of arguments\r\n'),
    Pinned(['EVAL', 'return type(redis.REDIS_VERSION)', 0], b'$6\r\nstring\r\n'),
    Pinned(['EVAL', 'return redis.REDIS_VERSION', 0], b'$6\r\n7.0.15\r\n'),
    Pinned(['EVAL', 'return redis.REDIS_VERSION_NUM', 0], b':458767\r\n'),
    Pinned(['EVAL', 'return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}', 0], b'*4\r\n:0\r\n:1\r\n:2\r\n:3\r\n'),
    Pinned(['EVAL', 'return {redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL}', 0], b'*5\r\n:0\r\n:1\r\n:2\r\n:2\r\n:3\r\n'),
    Pinned(['EVAL', 'return redis.breakpoint()', 0], b'$-1\r\n'),
    Pinned(['EVAL', "return redis.debug('x')", 0], b'$-1\r\n'),
    Pinned(['EVAL', 'return _VERSION', 0], b'$7\r\nLua 5.1\r\n'),
    Pinned(['EVAL', "return redis.acl_check_cmd('get', 'k')", 0], b':1\r\n'),
    Pinned(['EVAL', "return redis.acl_check_cmd('nosuch')", 0], b'-ERR Invalid command passed to redis.acl_check_cmd() script: d2491587bab5149c93be0dce4426f7a06ba9e1a1, on @user_script:1.\r\n'),
    Pinned(['EVAL', 'return redis.acl_check_cmd()', 0], b'-ERR Please specify at least one argument for this redis lib call script: 1124f33ad66e7866b4e0c1499a4c20fb5eb9c180, on @user_script:1.\r\n'),
    Pinned(['EVAL', 'return math.randomseed()', 0], b"-ERR user_script:1: bad argument #1 to 'randomseed' (number expected, got no value) script: 9eed10cf76a7a6865ba6e0fcf62b0b32831bf4da, on @user_script:1.\r\n"),
    Pinned(['EVAL', "return {1, 2, {err='nested'}}", 0], b'*3\r\n:1\r\n:2\r\n-nested\r\n'),
]


#: A library for the FCALL cases: one function per behaviour (line N of the code is
#: ``user_function:N`` in errors).
FUNCTION_LIBRARY = "#!lua name=lib\nredis.register_function('f', function(keys, args) return {keys[1], args[1]} end)\nredis.register_function{function_name='ro', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}}\nredis.register_function('w', function(keys) return redis.call('set', keys[1], 'v') end)\nredis.register_function('boom', function() error('in a function') end)\nredis.register_function('nocmd', function() return redis.call('nosuchcommand') end)\nredis.register_function('evalcall', function() return redis.call('eval', 'return 1', 0) end)\nredis.register_function('ver', function() return redis.REDIS_VERSION end)\nredis.register_function('noglobal', function() return undefinedvar end)\nredis.register_function('setglobal', function() x = 1 end)\nredis.register_function('pc', function() return redis.pcall('incr', 'lib-str') end)"

#: FUNCTION LOAD and the other FUNCTION subcommands, each after FUNCTION FLUSH.
FUNCTION_CASES = [
    Pinned(['FUNCTION', 'LOAD', "redis.register_function('f', function() return 1 end)"], b'-ERR Missing library metadata\r\n'),
    Pinned(['FUNCTION', 'LOAD', "#!lua\nredis.register_function('f', function() return 1 end)"], b'-ERR Library name was not given\r\n'),
    Pinned(['FUNCTION', 'LOAD', '#!lua name=x\n'], b'-ERR No functions registered\r\n'),
    Pinned(['FUNCTION', 'LOAD', '#!lua name=x\nreturn 1 +'], b"-ERR Error compiling function: user_function:2: unexpected symbol near '<eof>'\r\n"),
    Pinned(['FUNCTION', 'LOAD', "#!lua name=x\nerror('boom')"], b"-ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'error'\r\n"),
    Pinned(['FUNCTION', 'LOAD', "#!lua name=x\nredis.call('set', 'k', 'v')"], b"-ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'call'\r\n"),
    Pinned(['FUNCTION', 'LOAD', "#!lua name=x\nredis.register_function('f')"], b'-ERR Error registering functions: ERR calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).\r\n'),
    Pinned(['FUNCTION', 'LOAD', "#!lua name=x\nredis.register_function('f', 5)"], b'-ERR Error registering functions: ERR second argument to redis.register_function must be a function\r\n'),
    Pinned(['FUNCTION', 'LOAD', "#!lua name=x\nredis.register_function('f', function() end, 'extra')"], b'-ERR Error registering functions: ERR wrong number of arguments to redis.register_function\r\n'),
    Pinned(['FUNCTION', 'LOAD', "#!lua name=x\nredis.register_function('bad name', function() end)"], b'-ERR Error registering functions: ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long\r\n'),
    Pinned(['FUNCTION', 'LOAD', "#!lua name=x\nredis.register_function('', function() end)"], b'-ERR Error registering functions: ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long\r\n'),
    Pinned(['FUNCTION', 'LOAD', "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, flags={'bad'}}"], b'-ERR Error registering functions: ERR unknown flag given\r\n'),
    Pinned(['FUNCTION', 'LOAD', "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, bad=1}"], b'-ERR Error registering functions: ERR unknown argument given to redis.register_function\r\n'),
    Pinned(['FUNCTION', 'LOAD', "#!lua name=x\nredis.register_function{function_name='f'}"], b'-ERR Error registering functions: ERR redis.register_function must get a callback argument\r\n'),
    Pinned(['FUNCTION', 'LOAD', '#!lua name=x\nredis.register_function{callback=function() end}'], b'-ERR Error registering functions: ERR redis.register_function must get a function name argument\r\n'),
    Pinned(['FUNCTION', 'LOAD', "#!lua name=x\nredis.register_function('f', function() end) redis.register_function('f', function() end)"], b'-ERR Error registering functions: ERR Function already exists in the library\r\n'),
    Pinned(['FUNCTION', 'LOAD', "#!lua name=bad-name!\nredis.register_function('f', function() end)"], b'-ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long\r\n'),
    Pinned(['FUNCTION', 'LOAD', "#!lua name=x flags=no-writes\nredis.register_function('f', function() end)"], b'-ERR Invalid metadata value given: flags=no-writes\r\n'),
    Pinned(['FUNCTION', 'LOAD', "#!lua name=x foo=bar\nredis.register_function('f', function() end)"], b'-ERR Invalid metadata value given: foo=bar\r\n'),
    Pinned(['FUNCTION', 'LOAD', "#!python name=x\nredis.register_function('f', function() end)"], b"-ERR Engine 'python' not found\r\n"),
    Pinned(['FUNCTION', 'LOAD', '#!lua name=x\nlocal a = 1'], b'-ERR No functions registered\r\n'),
    Pinned(['FUNCTION', 'LOAD', "#!lua name=x\nx = 1 redis.register_function('f', function() end)"], b'-ERR Error registering functions: ERR user_function:2: Attempt to modify a readonly table\r\n'),
    Pinned(['FUNCTION', 'LOAD', "#!lua name=x\nredis.register_function('f', function() end) return 5"], b'$1\r\nx\r\n'),
    Pinned(['FUNCTION', 'LOAD', "#!lua name=x\nlocal t = {} for k in pairs(redis) do table.insert(t, k) end table.sort(t) error(table.concat(t, ','))"], b"-ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'pairs'\r\n"),
    Pinned(['FUNCTION', 'LOAD', "#!lua name=x\nredis.log(redis.LOG_NOTICE, 'loading') redis.register_function('f', function() end)"], b'$1\r\nx\r\n'),
    Pinned(['FUNCTION', 'LOAD', "#!lua name=x\nredis.setresp(3) redis.register_function('f', function() end)"], b"-ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'setresp'\r\n"),
    Pinned(['FUNCTION', 'LOAD', 'REPLACE'], b'-ERR Missing library metadata\r\n'),
    Pinned(['FUNCTION', 'LOAD'], b"-ERR wrong number of arguments for 'function|load' command\r\n"),
    Pinned(['FUNCTION', 'LOAD', 'REPLACE', 'REPLACE', "#!lua name=x\nredis.register_function('f', function() end)"], b'$1\r\nx\r\n'),
    Pinned(['FUNCTION', 'DELETE'], b"-ERR wrong number of arguments for 'function|delete' command\r\n"),
    Pinned(['FUNCTION', 'DELETE', 'nosuch'], b'-ERR Library not found\r\n'),
    Pinned(['FUNCTION', 'LIST', 'bad'], b'-ERR Unknown argument bad\r\n'),
    Pinned(['FUNCTION', 'LIST', 'LIBRARYNAME'], b'-ERR library name argument was not given\r\n'),
    Pinned(['FUNCTION', 'LIST', 'WITHCODE', 'WITHCODE'], b'-ERR Unknown argument WITHCODE\r\n'),
    Pinned(['FUNCTION', 'FLUSH', 'bad'], b'-ERR FUNCTION FLUSH only supports SYNC|ASYNC option\r\n'),
    Pinned(['FUNCTION', 'RESTORE', 'garbage'], b'-ERR DUMP payload version or checksum are wrong\r\n'),
    Pinned(['FUNCTION', 'RESTORE'], b"-ERR wrong number of arguments for 'function|restore' command\r\n"),
    Pinned(['FUNCTION', 'RESTORE', 'x', 'BADPOLICY'], b'-ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.\r\n'),
    Pinned(['FUNCTION', 'KILL'], b'-NOTBUSY No scripts in execution right now.\r\n'),
    Pinned(['FUNCTION', 'KILL', 'x'], b"-ERR wrong number of arguments for 'function|kill' command\r\n"),
    Pinned(['FUNCTION'], b"-ERR wrong number of arguments for 'function' command\r\n"),
    Pinned(['FUNCTION', 'NOSUCH'], b"-ERR unknown subcommand 'NOSUCH'. Try FUNCTION HELP.\r\n"),
    Pinned(['FCALL', 'nosuch', 0], b'-ERR Function not found\r\n'),
    Pinned(['FCALL', 'f', 0], b'-ERR Function not found\r\n'),
    Pinned(['FCALL'], b"-ERR wrong number of arguments for 'fcall' command\r\n"),
    Pinned(['FCALL', 'f'], b"-ERR wrong number of arguments for 'fcall' command\r\n"),
    Pinned(['FCALL_RO', 'f', 0], b'-ERR Function not found\r\n'),
    # at load time only redis.register_function, redis.log, LOG_* and REDIS_VERSION(_NUM) exist
    Pinned(["FUNCTION", "LOAD", "#!lua name=x\nlocal v = string\nredis.register_function('f', function() end)"],
           b"-ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'string'\r\n"),
    Pinned(["FUNCTION", "LOAD", "#!lua name=x\nlocal v = redis.sha1hex\nredis.register_function('f', function() end)"],
           b"-ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'sha1hex'\r\n"),
    Pinned(["FUNCTION", "LOAD", "#!lua name=x\nlocal v = {redis.log, redis.LOG_NOTICE, redis.REDIS_VERSION, redis.REDIS_VERSION_NUM}\nredis.register_function('f', function() end)"],
           b"$1\r\nx\r\n"),
]

#: FCALL/FCALL_RO with FUNCTION_LIBRARY loaded and ``lib-str`` holding a non-number.
FCALL_CASES = [
    Pinned(['FCALL', 'f', 1, 'k', 'a'], b'*2\r\n$1\r\nk\r\n$1\r\na\r\n'),
    Pinned(['FCALL', 'f', 2, 'k'], b"-ERR Number of keys can't be greater than number of args\r\n"),
    Pinned(['FCALL', 'f', -1], b"-ERR Number of keys can't be negative\r\n"),
    Pinned(['FCALL', 'f', 'x'], b'-ERR Bad number of keys provided\r\n'),
    Pinned(['FCALL', 'F', 1, 'k', 'a'], b'*2\r\n$1\r\nk\r\n$1\r\na\r\n'),
    Pinned(['FCALL_RO', 'f', 1, 'k', 'a'], b'-ERR Can not execute a script with write flag using *_ro command.\r\n'),
    Pinned(['FCALL_RO', 'ro', 1, 'k'], b'$-1\r\n'),
    Pinned(['FCALL_RO', 'w', 1, 'k'], b'-ERR Can not execute a script with write flag using *_ro command.\r\n'),
    Pinned(['FCALL', 'boom', 0], b'-ERR user_function:5: in a function script: boom, on @user_function:5.\r\n'),
    Pinned(['FCALL', 'nocmd', 0], b'-ERR Unknown Redis command called from script script: nocmd, on @user_function:6.\r\n'),
    Pinned(['FCALL', 'evalcall', 0], b'-ERR This Redis command is not allowed from script script: evalcall, on @user_function:7.\r\n'),
    Pinned(['FCALL', 'ver', 0], b'$6\r\n7.0.15\r\n'),
    Pinned(['FCALL', 'noglobal', 0], b"-ERR user_function:9: Script attempted to access nonexistent global variable 'undefinedvar' script: noglobal, on @user_function:9.\r\n"),
    Pinned(['FCALL', 'setglobal', 0], b'-ERR user_function:10: Attempt to modify a readonly table script: setglobal, on @user_function:10.\r\n'),
    Pinned(['FCALL', 'pc', 0], b'-ERR value is not an integer or out of range\r\n'),
    Pinned(['FUNCTION', 'LOAD', FUNCTION_LIBRARY], b"-ERR Library 'lib' already exists\r\n"),
    Pinned(['FUNCTION', 'LOAD', "#!lua name=lib2\nredis.register_function('f', function() end)"], b'-ERR Function f already exists\r\n'),
    Pinned(['FUNCTION', 'DELETE', 'LIB'], b'-ERR Library not found\r\n'),
    Pinned(['EVAL', "return redis.call('fcall', 'f', 0)", 0], b'-ERR This Redis command is not allowed from script script: 41b2711b7df2791b0759985663b75d6907bb6bc6, on @user_script:1.\r\n'),
]
