"""redis-cli 7 against Magpie: one-shot commands, --no-raw, INFO, CLIENT LIST, and piped input."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli is not installed")


def cli(port: int, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["redis-cli", "-p", str(port), *args], input=stdin, capture_output=True,
                          text=True, timeout=30)  # fmt: skip


def test_one_shot_commands(magpie):
    port = magpie.port
    assert cli(port, "PING").stdout == "PONG\n"
    assert cli(port, "SET", "cli:k", "hello world").stdout == "OK\n"
    assert cli(port, "GET", "cli:k").stdout == "hello world\n"
    assert cli(port, "--no-raw", "GET", "cli:k").stdout == '"hello world"\n'
    assert cli(port, "--no-raw", "GET", "cli:missing").stdout == "(nil)\n"
    assert cli(port, "--no-raw", "INCR", "cli:n").stdout.startswith("(integer) ")
    assert cli(port, "--no-raw", "NOSUCH").stdout.startswith("(error) ERR unknown command 'NOSUCH'")


def test_info_and_client_list(magpie):
    info = cli(magpie.port, "INFO", "server").stdout
    assert "# Server" in info and "redis_version:7.0.15" in info
    listing = cli(magpie.port, "CLIENT", "LIST").stdout
    assert "cmd=client|list" in listing and "addr=127.0.0.1:" in listing


def test_cli_matches_reference_output(magpie, reference_redis):
    for args in (("--no-raw", "CONFIG", "GET", "maxmemory-policy"), ("--no-raw", "ECHO", "a b"),
                 ("--no-raw", "COMMAND", "GETKEYS", "mset", "a", "1", "b", "2"), ("--no-raw", "HELLO", "3")):  # fmt: skip
        ours = cli(magpie.port, *args).stdout
        theirs = cli(reference_redis.port, *args).stdout
        if args[1] == "HELLO":  # connection ids differ
            ours, theirs = (re.sub(r'"id" => \(integer\) \d+', "id", text) for text in (ours, theirs))
        assert ours == theirs, args


def test_piped_commands_like_an_interactive_session(magpie):
    script = "SET cli:p 1\nINCR cli:p\nGET cli:p\nCLIENT SETNAME piped\nCLIENT GETNAME\nDEL cli:p\n"
    result = cli(magpie.port, stdin=script)
    assert result.returncode == 0
    assert result.stdout.split("\n")[:6] == ["OK", "2", "2", "OK", "piped", "1"]


def test_command_docs_as_the_interactive_cli_asks(magpie):
    # redis-cli 7 in interactive mode first sends COMMAND DOCS to build its hints.
    result = cli(magpie.port, "--no-raw", "COMMAND", "DOCS", "get")
    assert result.returncode == 0
    assert "summary" in result.stdout and "group" in result.stdout
    full = cli(magpie.port, "COMMAND", "DOCS")
    assert full.returncode == 0 and "config|get" in full.stdout
