"""A script that never ends: BUSY for everyone else, SCRIPT KILL / FUNCTION KILL, UNKILLABLE
once it has written, and SHUTDOWN NOSAVE as the way out.

Every test starts its own server (``$SCRIPT_TEST_SERVERS``: ``magpie``, ``redis`` or both, the
default) with ``busy-reply-threshold`` set to 100 ms by CONFIG SET, because a test may shut it
down or leave a script running. One client starts an endless script without reading its reply;
another polls until it is answered ``-BUSY``; the looping client's reply is read at the end.
All waits are deadlines on polling, never fixed sleeps, and nothing measures speed.

Run against one server only::

    SCRIPT_TEST_SERVERS=magpie .venv/bin/python -m pytest tests/test_scripting_busy.py
    SCRIPT_TEST_SERVERS=redis  .venv/bin/python -m pytest tests/test_scripting_busy.py
"""

from __future__ import annotations

import hashlib
import os
import subprocess

import pytest
from scripting_wire import ConnectionClosed, WireClient, selected_servers, start_server, wait_until

BUSY_EVAL = b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
BUSY_FUNCTION = b"-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n"
NOTBUSY = b"-NOTBUSY No scripts in execution right now.\r\n"
UNKILLABLE = (b"-UNKILLABLE Sorry the script already executed write commands against the dataset. "
              b"You can either wait the script termination or kill the server in a hard way using "
              b"the SHUTDOWN NOSAVE command.\r\n")  # fmt: skip

LOOPS = """#!lua name=loops
redis.register_function('loop', function() while true do end end)
redis.register_function{function_name='loop_ro', callback=function() while true do end end, flags={'no-writes'}}
redis.register_function('write_then_loop', function(keys) redis.call('set', keys[1], 'x') while true do end end)
"""


def killed(name: str, line: int, where: str = "user_script") -> bytes:
    """The error the looping client gets; ``name`` is the sha for EVAL, the function's name for FCALL."""
    return (b"-ERR Script killed by user with SCRIPT KILL... script: %s, on @%s:%d.\r\n"
            % (name.encode(), where.encode(), line))  # fmt: skip


def sha1(script: str) -> str:
    return hashlib.sha1(script.encode()).hexdigest()


class Busy:
    """A fresh server, its looping client ``looper`` and an observer client ``other``."""

    def __init__(self, kind: str, *args: str) -> None:
        self.server = start_server(kind, *args)
        self.other = WireClient(self.server.port)
        self.looper = WireClient(self.server.port)
        assert self.other.execute_command("CONFIG", "SET", "busy-reply-threshold", "100") == b"+OK\r\n"

    def start(self, *command: str | int) -> None:
        """Send the endless command and wait until another client is told BUSY; fail at once
        if the command answers instead (it errored, or the server has no such command)."""
        self.looper.send(*command)

        def looping_and_busy() -> bytes | None:
            try:
                early = self.looper.read(timeout=0.01)
            except TimeoutError:
                return self.wait_busy_once()
            raise AssertionError(f"{command[:2]!r} answered instead of looping: {early!r}")

        wait_until(looping_and_busy, timeout=30, what="a BUSY reply")

    def wait_busy_once(self, client: WireClient | None = None) -> bytes | None:
        reply = (client or self.other).execute_command("PING")
        return reply if reply.startswith(b"-BUSY") else None

    def wait_busy(self, client: WireClient | None = None) -> bytes:
        return wait_until(lambda: self.wait_busy_once(client), timeout=30, what="a BUSY reply")

    def looper_reply(self) -> bytes:
        return self.looper.read(timeout=30)

    def close(self) -> None:
        """End whatever still runs (a failed test may leave a loop), then stop the process."""
        if self.server.alive():
            try:
                rescue = WireClient(self.server.port, timeout=5)
                for cmd in (("SCRIPT", "KILL"), ("FUNCTION", "KILL"), ("SHUTDOWN", "NOSAVE")):
                    rescue.send(*cmd)
            except OSError:
                pass
        for client in (self.other, self.looper):
            client.close()
        self.server.stop()


@pytest.fixture(params=selected_servers())
def kind(request) -> str:
    """Which server a test starts: ``magpie`` or ``redis``."""
    return request.param


@pytest.fixture
def busy(kind):
    state = Busy(kind)
    yield state
    state.close()


def wait_exit(server, timeout: float = 30) -> int:
    try:
        return server.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"{server.kind} still running {timeout} s after SHUTDOWN NOSAVE") from None


# --------------------------------------------------------------------------- EVAL


@pytest.mark.parametrize(
    ("script", "line"),
    [("while true do end", 1),
     ("local i = 0\nwhile true do i = i + 1 end", 2),
     ("while true do redis.call('get', KEYS[1]) end", 1),
     ("while true do pcall(function() while true do end end) end", 1),
     ("while true do local ok, e = pcall(redis.call, 'get', KEYS[1]) end", 1),
     ("#!lua flags=no-writes\nwhile true do end", 2)],
    ids=["empty-loop", "counting-loop", "reading-loop", "pcall-cannot-catch-the-kill",
         "pcall-redis-call", "no-writes-flag"],
)  # fmt: skip
def test_script_kill_ends_a_looping_script_that_has_not_written(busy, script, line):
    busy.start("EVAL", script, 1, "k")
    for cmd in (("PING",), ("GET", "k"), ("EVAL", "return 1", 0), ("SCRIPT", "EXISTS", sha1(script))):
        assert busy.other.execute_command(*cmd) == BUSY_EVAL, cmd
    assert busy.other.execute_command("SCRIPT", "KILL") == b"+OK\r\n"
    assert busy.looper_reply() == killed(sha1(script), line)
    assert busy.other.execute_command("PING") == b"+PONG\r\n"
    assert busy.looper.execute_command("PING") == b"+PONG\r\n"  # the looping client is fine
    assert busy.other.execute_command("SCRIPT", "KILL") == NOTBUSY


def test_script_kill_ends_an_evalsha_and_an_eval_ro(busy):
    script = "while true do end"
    assert busy.other.execute_command("SCRIPT", "LOAD", script) == b"$40\r\n%s\r\n" % sha1(script).encode()
    for command in ("EVALSHA", "EVALSHA_RO"):
        busy.start(command, sha1(script), 0)
        assert busy.other.execute_command("SCRIPT", "KILL") == b"+OK\r\n"
        assert busy.looper_reply() == killed(sha1(script), 1)
    busy.start("EVAL_RO", script, 0)
    assert busy.other.execute_command("SCRIPT", "KILL") == b"+OK\r\n"
    assert busy.looper_reply() == killed(sha1(script), 1)


def test_busy_reads_the_same_for_a_resp3_client_and_lua_time_limit_is_an_alias(busy):
    assert busy.other.execute_command("CONFIG", "SET", "lua-time-limit", "150") == b"+OK\r\n"
    assert busy.other.execute_command("CONFIG", "GET", "busy-reply-threshold") == (
        b"*2\r\n$20\r\nbusy-reply-threshold\r\n$3\r\n150\r\n")
    resp3 = WireClient(busy.server.port, resp=3)
    try:
        busy.start("EVAL", "while true do end", 0)
        assert busy.wait_busy(resp3) == BUSY_EVAL
        assert resp3.execute_command("SCRIPT", "KILL") == b"+OK\r\n"
    finally:
        resp3.close()
    assert busy.looper_reply() == killed(sha1("while true do end"), 1)


def test_script_kill_and_function_kill_with_nothing_running_are_notbusy(busy):
    assert busy.other.execute_command("SCRIPT", "KILL") == NOTBUSY
    assert busy.other.execute_command("FUNCTION", "KILL") == NOTBUSY
    assert busy.other.execute_command("EVAL", "return 'not busy'", 0) == b"$8\r\nnot busy\r\n"


def test_function_kill_does_not_stop_an_eval(busy):
    busy.start("EVAL", "while true do end", 0)
    assert busy.other.execute_command("FUNCTION", "KILL") == BUSY_EVAL
    assert busy.other.execute_command("FUNCTION", "STATS") == BUSY_EVAL
    assert busy.other.execute_command("PING") == BUSY_EVAL  # still running
    assert busy.other.execute_command("SCRIPT", "KILL") == b"+OK\r\n"
    assert busy.looper_reply() == killed(sha1("while true do end"), 1)


def test_a_script_that_wrote_is_unkillable_and_shutdown_nosave_ends_the_server(kind):
    """``--save`` is on, so a plain SHUTDOWN would write dump.rdb: NOSAVE must not."""
    state = Busy(kind, "--save", "3600 1")
    try:
        script = "redis.call('set', KEYS[1], 'written') while true do end"
        state.start("EVAL", script, 1, "k")
        assert state.other.execute_command("SCRIPT", "KILL") == UNKILLABLE
        assert state.other.execute_command("FUNCTION", "KILL") == UNKILLABLE
        assert state.other.execute_command("SHUTDOWN") == BUSY_EVAL
        assert state.other.execute_command("SHUTDOWN", "SAVE") == BUSY_EVAL
        assert state.other.execute_command("GET", "k") == BUSY_EVAL
        state.other.send("SHUTDOWN", "NOSAVE")
        with pytest.raises(ConnectionClosed):
            state.other.read(timeout=30)
        with pytest.raises(ConnectionClosed):
            state.looper_reply()
        wait_exit(state.server)
        assert not os.path.exists(os.path.join(state.server.workdir, "dump.rdb"))
    finally:
        state.close()


# --------------------------------------------------------------------------- FUNCTION


def test_function_kill_ends_a_looping_function(busy):
    assert busy.other.execute_command("FUNCTION", "LOAD", LOOPS) == b"$5\r\nloops\r\n"
    busy.start("FCALL", "loop", 0)
    assert busy.other.execute_command("PING") == BUSY_FUNCTION
    assert busy.other.execute_command("SCRIPT", "KILL") == BUSY_FUNCTION
    stats = busy.other.execute_command("FUNCTION", "STATS")
    assert stats.startswith(b"*4\r\n$14\r\nrunning_script\r\n*6\r\n$4\r\nname\r\n$4\r\nloop\r\n"
                            b"$7\r\ncommand\r\n*3\r\n$5\r\nFCALL\r\n$4\r\nloop\r\n$1\r\n0\r\n"
                            b"$11\r\nduration_ms\r\n:"), stats  # fmt: skip
    assert busy.other.execute_command("FUNCTION", "KILL") == b"+OK\r\n"
    assert busy.looper_reply() == killed("loop", 2, "user_function")
    assert busy.other.execute_command("FUNCTION", "KILL") == NOTBUSY
    busy.start("FCALL_RO", "loop_ro", 0)
    assert busy.other.execute_command("FUNCTION", "KILL") == b"+OK\r\n"
    assert busy.looper_reply() == killed("loop_ro", 3, "user_function")
    assert busy.looper.execute_command("FCALL", "nosuch", 0) == b"-ERR Function not found\r\n"


def test_a_function_that_wrote_is_unkillable_until_shutdown_nosave(busy):
    assert busy.other.execute_command("FUNCTION", "LOAD", LOOPS) == b"$5\r\nloops\r\n"
    busy.start("FCALL", "write_then_loop", 1, "k")
    assert busy.other.execute_command("FUNCTION", "KILL") == UNKILLABLE
    # having written is checked before the kind of script: SCRIPT KILL says UNKILLABLE too
    assert busy.other.execute_command("SCRIPT", "KILL") == UNKILLABLE
    assert busy.other.execute_command("PING") == BUSY_FUNCTION
    busy.other.send("SHUTDOWN", "NOSAVE")
    with pytest.raises(ConnectionClosed):
        busy.other.read(timeout=30)
    wait_exit(busy.server)
