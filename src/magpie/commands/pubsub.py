"""Pub/sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH, PUBSUB.

Subscription commands answer one push per channel (``Sequence`` of ``Push``: ``>`` in
RESP3, plain arrays in RESP2). Their counts follow Redis 7.0: SUBSCRIBE, PSUBSCRIBE and
their opposites report the client's channels + patterns, the shard commands report its
shard channels only. Unsubscribing from everything while subscribed to nothing still
answers once, with a nil channel.
"""

from __future__ import annotations

from functools import partial

from magpie.commands.table import COMMANDS, command, container
from magpie.errors import CommandError
from magpie.protocol.replies import NO_REPLY, REPLY_ON, Push, Sequence

cmd = partial(command, "pubsub")

_SUBSCRIBE, _UNSUBSCRIBE = b"subscribe", b"unsubscribe"
_PSUBSCRIBE, _PUNSUBSCRIBE = b"psubscribe", b"punsubscribe"
_SSUBSCRIBE, _SUNSUBSCRIBE = b"ssubscribe", b"sunsubscribe"


def _confirm(client, replies: Sequence) -> object:
    """The confirmations, sent even under CLIENT REPLY OFF/SKIP as Redis 7.0.15 does.

    With replies switched off the dispatcher would drop them, so they go straight to the
    client's output (in order with the replies before them) and the command answers nothing.
    """
    if client.reply_mode == REPLY_ON:
        return replies
    client.encoders[Sequence](replies, client.out)
    return NO_REPLY


def _count(client) -> int:
    """What (P)SUBSCRIBE and (P)UNSUBSCRIBE report: channels plus patterns."""
    return len(client.channels) + len(client.patterns)


def _shard_count(client) -> int:
    return len(client.shard_channels)


@cmd("subscribe", -2, "pubsub noscript loading stale", channels=("subscribe", 1, -1), fast=False, since="2.0.0",
     complexity="O(N) where N is the number of channels to subscribe to.",
     summary="Listens for messages published to channels.")  # fmt: skip
def subscribe(client, args):
    return _subscribe(client, args, _SUBSCRIBE, client.server.pubsub.subscribe, _count)


@cmd("unsubscribe", -1, "pubsub noscript loading stale", fast=False, since="2.0.0",
     complexity="O(N) where N is the number of channels to unsubscribe.",
     summary="Stops listening to messages posted to channels.")  # fmt: skip
def unsubscribe(client, args):
    registry = client.server.pubsub
    return _unsubscribe(client, args, _UNSUBSCRIBE, client.channels, registry.unsubscribe, _count)


@cmd("psubscribe", -2, "pubsub noscript loading stale", channels=("psubscribe", 1, -1), fast=False, since="2.0.0",
     complexity="O(N) where N is the number of patterns to subscribe to.",
     summary="Listens for messages published to channels that match one or more patterns.")  # fmt: skip
def psubscribe(client, args):
    return _subscribe(client, args, _PSUBSCRIBE, client.server.pubsub.psubscribe, _count)


@cmd("punsubscribe", -1, "pubsub noscript loading stale", fast=False, since="2.0.0",
     complexity="O(N) where N is the number of patterns to unsubscribe.",
     summary="Stops listening to messages published to channels that match one or more patterns.")  # fmt: skip
def punsubscribe(client, args):
    registry = client.server.pubsub
    return _unsubscribe(client, args, _PUNSUBSCRIBE, client.patterns, registry.punsubscribe, _count)


@cmd("ssubscribe", -2, "pubsub noscript loading stale", (1, -1, 1), key_access="not-key", channels=("subscribe", 1, -1), fast=False, since="7.0.0",
     complexity="O(N) where N is the number of shard channels to subscribe to.",
     summary="Listens for messages published to shard channels.")  # fmt: skip
def ssubscribe(client, args):
    return _subscribe(client, args, _SSUBSCRIBE, client.server.pubsub.ssubscribe, _shard_count)


@cmd("sunsubscribe", -1, "pubsub noscript loading stale", (1, -1, 1), key_access="not-key", fast=False, since="7.0.0",
     complexity="O(N) where N is the number of shard channels to unsubscribe.",
     summary="Stops listening to messages posted to shard channels.")  # fmt: skip
def sunsubscribe(client, args):
    registry = client.server.pubsub
    return _unsubscribe(
        client, args, _SUNSUBSCRIBE, client.shard_channels, registry.sunsubscribe, _shard_count
    )


def _subscribe(client, args, kind: bytes, add, count) -> object:
    """One confirmation per name, each with the client's subscription count after it."""
    replies = Sequence()
    for name in args[1:]:
        add(client, name)
        replies.append(Push([kind, name, count(client)]))
    return _confirm(client, replies)


def _unsubscribe(client, args, kind: bytes, current: set[bytes], remove, count) -> object:
    """One reply per name; with no names, one per current subscription (or a nil one)."""
    names = args[1:] if len(args) > 1 else list(current)
    replies = Sequence()
    for name in names:
        remove(client, name)
        replies.append(Push([kind, name, count(client)]))
    if not replies:
        replies.append(Push([kind, None, count(client)]))
    return _confirm(client, replies)


@cmd("publish", 3, "pubsub loading stale fast may_replicate sentinel", channels=("publish", 1, 1), since="2.0.0", replicas_only=True,
     complexity="O(N+M) where N is the number of clients subscribed to the receiving channel and M is "
                "the total number of subscribed patterns (by any client).",
     summary="Posts a message to a channel.")  # fmt: skip
def publish(client, args):
    return client.server.pubsub.publish(args[1], args[2])


@cmd("spublish", 3, "pubsub loading stale fast may_replicate", (1, 1, 1), key_access="not-key", channels=("publish", 1, 1), since="7.0.0", replicas_only=True,
     complexity="O(N) where N is the number of clients subscribed to the receiving shard channel.",
     summary="Post a message to a shard channel")  # fmt: skip
def spublish(client, args):
    return client.server.pubsub.spublish(args[1], args[2])


# -- PUBSUB -------------------------------------------------------------------------------

container("pubsub", "pubsub", summary="A container for Pub/Sub commands.", since="2.8.0")
sub = partial(command, "pubsub", parent="pubsub")


def _syntax_error(args) -> CommandError:
    return CommandError(
        f"ERR unknown subcommand or wrong number of arguments for "
        f"'{args[1].decode(errors='replace')}'. Try PUBSUB HELP."
    )


@sub("channels", -2, "pubsub loading stale", since="2.8.0",
     complexity="O(N) where N is the number of active channels, and assuming constant time pattern matching "
                "(relatively short channels and patterns)",
     summary="Returns the active channels.")  # fmt: skip
def pubsub_channels(client, args):
    if len(args) > 3:
        raise _syntax_error(args)
    return client.server.pubsub.channel_names(args[2] if len(args) == 3 else None)


@sub("numsub", -2, "pubsub loading stale", since="2.8.0",
     complexity="O(N) for the NUMSUB subcommand, where N is the number of requested channels",
     summary="Returns a count of subscribers to channels.")  # fmt: skip
def pubsub_numsub(client, args):
    return _counts(args[2:], client.server.pubsub.numsub)


def _counts(channels: list[bytes], count) -> list:  # noqa: ANN001 - a registry method
    """[channel, subscribers, ...]: a flat array in RESP3 too, as Redis 7.0 answers."""
    reply: list = []
    for channel in channels:
        reply.append(channel)
        reply.append(count(channel))
    return reply


@sub("numpat", 2, "pubsub loading stale", since="2.8.0", complexity="O(1)",
     summary="Returns a count of unique pattern subscriptions.")  # fmt: skip
def pubsub_numpat(client, args):
    return client.server.pubsub.numpat()


@sub("shardchannels", -2, "pubsub loading stale", since="7.0.0",
     complexity="O(N) where N is the number of active shard channels, and assuming constant time pattern "
                "matching (relatively short shard channels).",
     summary="Returns the active shard channels.")  # fmt: skip
def pubsub_shardchannels(client, args):
    if len(args) > 3:
        raise _syntax_error(args)
    return client.server.pubsub.shard_channel_names(args[2] if len(args) == 3 else None)


@sub("shardnumsub", -2, "pubsub loading stale", since="7.0.0",
     complexity="O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels",
     summary="Returns the count of subscribers of shard channels.")  # fmt: skip
def pubsub_shardnumsub(client, args):
    return _counts(args[2:], client.server.pubsub.shard_numsub)


_HELP = [
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
]


@sub("help", 2, "loading stale", since="6.2.0", complexity="O(1)",
     summary="Returns helpful text about the different subcommands.")  # fmt: skip
def pubsub_help(client, args):
    return list(_HELP)  # simple strings, as Redis's addReplyHelp sends them


COMMANDS[b"pubsub"].subcommands[b"help"].categories = ("@slow",)  # as Redis: no @pubsub on HELP
