"""``magpie-server [config-file] [--name value ...]``, mirroring redis-server's command line."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys

# The server runs commands on one thread; numpy's BLAS threads (exact vector search) would
# only compete with it on small machines. Set before numpy is first imported.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from magpie import REDIS_VERSION, __version__  # noqa: E402
from magpie.config import Config, ConfigError, options_to_text  # noqa: E402


def build_config(argv: list[str]) -> Config:
    """The config file (if the first argument names one) followed by ``--name value``
    options, read as one text the way redis-server does, so line numbers in errors
    count on from the file into the options."""
    config = Config()
    args = list(argv)
    text = ""
    path = None
    if args and not args[0].startswith("--"):
        path = os.path.abspath(args.pop(0))
        with open(path) as fh:
            text = fh.read()
    if args:
        text = (text + "\n" if text and not text.endswith("\n") else text) + options_to_text(args)
    config.load_text(text)
    config.file = path
    return config


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("-v", "--version"):
        print(f"Magpie server v={__version__} redis_version={REDIS_VERSION}")
        return 0
    if argv and argv[0] in ("-h", "--help"):
        print("Usage: magpie-server [/path/to/redis.conf] [--port 6379] [--bind 127.0.0.1] [--dir ./data] ...")
        return 0
    try:
        config = build_config(argv)
    except ConfigError as exc:
        print(f"\n*** FATAL CONFIG FILE ERROR (Redis {REDIS_VERSION}) ***\n{exc.message}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"Fatal error, can't open config file '{exc.filename}': {exc.strerror}", file=sys.stderr)
        return 1
    logging.basicConfig(
        level=logging.DEBUG if config["loglevel"] == "debug" else logging.INFO,
        format="%(process)d:M %(asctime)s %(levelname).1s %(message)s",
        filename=str(config["logfile"]) or None,
    )
    data_dir = str(config["dir"])
    os.makedirs(data_dir, exist_ok=True)
    os.chdir(data_dir)
    config.values["dir"] = os.getcwd()  # as Redis, CONFIG GET dir answers the absolute path
    from magpie.commands import load_all
    from magpie.security.access import AclError
    from magpie.server.server import Server

    load_all()
    server = Server(config)
    # Requests allocate short-lived lists by the thousand; collect the young generation less
    # often, and keep everything loaded at start out of the collector's sight.
    gc.set_threshold(10_000, 10, 10)
    gc.freeze()
    server.executable = os.path.abspath(sys.argv[0])
    server.config_file = config.file or ""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is optional off Linux/macOS
        run = asyncio.run
    else:
        run = uvloop.run
    try:
        return run(server.serve_forever())
    except AclError as exc:
        logging.getLogger("magpie").warning("Aborting Redis startup because of ACL errors: %s", exc)
        return 1
