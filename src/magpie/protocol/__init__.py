"""RESP2/RESP3 parsing and encoding. No I/O: bytes in, requests out; values in, bytes out."""

from magpie.protocol.encoder import encode_reply
from magpie.protocol.parser import RequestParser

__all__ = ["RequestParser", "encode_reply"]
