"""Keyspace notifications: ``notify-keyspace-events`` turns writes into pub/sub messages."""

from __future__ import annotations

import time

import pytest
from test_pubsub import wait_for


@pytest.fixture
def notify(r):
    """Set notify-keyspace-events for one test on the shared server, and switch it off after."""

    def configure(flags: str) -> None:
        r.config_set("notify-keyspace-events", flags)

    yield configure
    r.config_set("notify-keyspace-events", "")
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


@pytest.fixture
def events(magpie):
    """A pattern subscriber on every keyspace and keyevent channel; returns what arrives."""
    client = magpie.client()
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.psubscribe("__key*__:*")
    wait_until_listening(client, pubsub, b"__keyprobe__:ready")

    def collect(count: int | None = None, quiet: float = 0.2) -> list[tuple[bytes, bytes]]:
        """(channel, data) pairs: exactly ``count`` of them, or all until ``quiet`` s pass."""
        got: list[tuple[bytes, bytes]] = []
        end = time.monotonic() + 5
        while time.monotonic() < end and (count is None or len(got) < count):
            message = pubsub.get_message(timeout=quiet if count is None else 0.05)
            if message is None:
                if count is None:
                    break
                continue
            got.append((message["channel"], message["data"]))
        if count is not None:
            assert len(got) == count, got
            extra = pubsub.get_message(timeout=0.1)
            assert extra is None, extra
        return got

    yield collect
    pubsub.close()
    client.close()


def wait_until_listening(client, pubsub, probe_channel: bytes) -> None:
    """Publish probes until the subscriber receives one (it is registered), then drain them."""

    def probe_arrived() -> bool:
        client.publish(probe_channel, "probe")
        message = pubsub.get_message(timeout=0.05)
        return message is not None and message["channel"] == probe_channel

    wait_for(probe_arrived)
    while pubsub.get_message(timeout=0.1) is not None:
        pass


def both(db: int, key: bytes, event: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"__keyspace@%d__:%b" % (db, key), event), (b"__keyevent@%d__:%b" % (db, event), key)]


def test_set_and_del_publish_keyspace_then_keyevent(r, notify, events):
    notify("KEA")
    r.set("k", "v")
    r.delete("k")
    r.delete("k")  # nothing deleted: no event
    assert events(4) == both(0, b"k", b"set") + both(0, b"k", b"del")


def test_string_events(r, notify, events):
    notify("KEA")
    r.incr("n")
    r.incrby("n", 5)
    r.decr("n")
    r.incrbyfloat("n", 1.5)
    r.append("s", "x")
    r.append("s", "y")
    r.setrange("s", 5, "z")
    r.mset({"m1": "1", "m2": "2"})
    assert events(18) == (
        both(0, b"n", b"incrby") * 3 + both(0, b"n", b"incrbyfloat")
        + both(0, b"s", b"append") * 2 + both(0, b"s", b"setrange")
        + both(0, b"m1", b"set") + both(0, b"m2", b"set")
    )  # fmt: skip


def test_expire_rename_and_persist(r, notify, events):
    notify("KEA")
    r.set("a", "1")
    r.expire("a", 100)
    r.persist("a")
    r.rename("a", "b")
    r.expire("b", -1)  # in the past: the key is deleted, a del event only
    assert events(12) == (
        both(0, b"a", b"set") + both(0, b"a", b"expire") + both(0, b"a", b"persist")
        + [(b"__keyspace@0__:a", b"rename_from"), (b"__keyevent@0__:rename_from", b"a"),
           (b"__keyspace@0__:b", b"rename_to"), (b"__keyevent@0__:rename_to", b"b")]
        + both(0, b"b", b"del")
    )  # fmt: skip


def test_expired_event_on_lazy_expiry(r, notify, events):
    notify("KEA")
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    r.set("lazy", "v")
    r.pexpire("lazy", 30)
    assert events(4) == both(0, b"lazy", b"set") + both(0, b"lazy", b"expire")
    time.sleep(0.05)
    assert events(quiet=0.2) == []  # nothing expires actively
    assert r.get("lazy") is None  # the access finds it expired
    assert events(2) == both(0, b"lazy", b"expired")


def test_expired_event_on_active_expiry(r, notify, events):
    notify("Ex")
    r.set("active", "v")
    r.pexpire("active", 50)
    wait_for(lambda: r.dbsize() == 0)
    assert events(1) == [(b"__keyevent@0__:expired", b"active")]


def test_class_filtering(r, notify, events):
    notify("K$")  # keyspace channel, string events only
    r.set("f", "v")
    r.expire("f", 100)
    r.delete("f")
    r.incr("g")
    assert events(2) == [(b"__keyspace@0__:f", b"set"), (b"__keyspace@0__:g", b"incrby")]
    notify("Eg")  # keyevent channel, generic events only
    r.set("f", "v")
    r.expire("f", 100)
    r.delete("f")
    assert events(2) == [(b"__keyevent@0__:expire", b"f"), (b"__keyevent@0__:del", b"f")]


def test_classes_without_k_or_e_publish_nothing(r, notify, events):
    notify("A")
    r.set("silent", "v")
    assert events(quiet=0.2) == []
    notify("KE")  # channels but no classes
    r.set("silent", "v")
    assert events(quiet=0.2) == []


def test_config_get_shows_canonical_flags(r, notify):
    notify("gKE$")
    assert r.config_get("notify-keyspace-events") == {"notify-keyspace-events": "g$KE"}
    notify("KEA")
    assert r.config_get("notify-keyspace-events") == {"notify-keyspace-events": "AKE"}


def test_turning_notifications_off(r, notify, events):
    notify("KEA")
    r.set("on", "1")
    assert events(2) == both(0, b"on", b"set")
    notify("")
    r.set("off", "1")
    r.delete("off", "on")
    assert events(quiet=0.3) == []


def test_database_index_in_channel_names(magpie, notify, events):
    client = magpie.client(db=3)
    try:
        notify("KEA")
        client.set("k3", "v")
        assert events(2) == both(3, b"k3", b"set")
    finally:
        client.flushdb()
        client.close()


def test_flushdb_publishes_nothing(r, notify, events):
    r.set("x", "1")
    r.set("y", "1")
    notify("KEA")
    r.flushdb()
    r.flushall()
    assert events(quiet=0.3) == []


def test_channel_subscribers_get_keyspace_messages(magpie, r, notify):
    notify("KEA")
    pubsub = magpie.client().pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.subscribe("__keyspace@0__:watched", "__keyevent@0__:del")
        wait_for(lambda: r.pubsub_numsub("__keyevent@0__:del") == [(b"__keyevent@0__:del", 1)])
        r.set("watched", "1")
        r.delete("watched")
        got = []
        end = time.monotonic() + 5
        while len(got) < 3 and time.monotonic() < end:
            message = pubsub.get_message(timeout=0.05)
            if message is not None:
                got.append((message["channel"], message["data"]))
        assert got == [
            (b"__keyspace@0__:watched", b"set"),
            (b"__keyspace@0__:watched", b"del"),
            (b"__keyevent@0__:del", b"watched"),
        ]
    finally:
        pubsub.close()


def test_resp3_subscriber_gets_push_notifications(magpie, r, notify):
    notify("KEA")
    client = magpie.client(protocol=3)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.psubscribe("__keyevent@0__:*")
        wait_until_listening(client, pubsub, b"__keyevent@0__:probe")
        r.set("pushed", "v")
        end = time.monotonic() + 5
        message = None
        while message is None and time.monotonic() < end:
            message = pubsub.get_message(timeout=0.05)
        assert message is not None
        assert (message["type"], message["channel"], message["data"]) == (
            "pmessage", b"__keyevent@0__:set", b"pushed",
        )  # fmt: skip
    finally:
        pubsub.close()
        client.close()
