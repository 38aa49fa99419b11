"""`python -m reference_server`: run the reference server until SIGTERM or Ctrl+C.

Tokens come from STRETCH_REF_TOKENS="alice=TOKEN1,bob=TOKEN2" (never argv, so `ps` does not show
them). Once the server accepts connections it prints exactly one line to stdout:
`reference server listening on http://HOST:PORT`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import socket
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from reference_server.choices import ChoiceError, check_choice_names, describe_choices
from reference_server.config import ServerConfig
from reference_server.faults import UnknownFault, check_fault_names, describe_faults

TOKENS_ENV = "STRETCH_REF_TOKENS"
LISTENING = "reference server listening on"
_GRACEFUL_SHUTDOWN_SECONDS = 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.list_faults:
        _say("\n".join(describe_faults()))
        return 0
    if args.list_choices:
        _say("\n".join(describe_choices()))
        return 0
    try:
        faults = check_fault_names(args.fault)
        choices = check_choice_names(args.choice)
        tokens, generated = tokens_from_env(os.environ.get(TOKENS_ENV))
    except (UnknownFault, ChoiceError, ValueError) as exc:
        parser.error(str(exc))
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="stretch-reference-"))
    config = ServerConfig(data_dir=data_dir, tokens=tokens, faults=faults, choices=choices)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # The multipart parser warns about every malformed body; those are answered with a 400.
    logging.getLogger("python_multipart").setLevel(logging.ERROR)
    if generated:
        _say("tokens: " + " ".join(f"{user}={token}" for token, user in tokens.items()))
    try:
        listener = _bind(args.host, args.port)
    except OSError as exc:
        print(f"reference server cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    try:
        asyncio.run(_serve(config, listener))
    except KeyboardInterrupt:
        # uvicorn has already shut down cleanly; it re-raises Ctrl+C for the exit status.
        return 130
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m reference_server",
        description="Reference implementation of the Stretch gallery storage API.",
        epilog=f"Tokens: {TOKENS_ENV}=alice=TOKEN1,bob=TOKEN2 (generated and printed if unset).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port; 0 picks a free one")
    parser.add_argument("--data-dir", type=Path, help="storage folder (default: a new temp dir)")
    parser.add_argument(
        "--fault", action="append", default=[], metavar="NAME", help="switch on one fault"
    )
    parser.add_argument("--list-faults", action="store_true", help="print the fault catalogue")
    parser.add_argument(
        "--choice",
        action="append",
        default=[],
        metavar="NAME",
        help="switch on one legitimate alternative choice",
    )
    parser.add_argument(
        "--list-choices", action="store_true", help="print the catalogue of alternative choices"
    )
    return parser


def tokens_from_env(value: str | None) -> tuple[dict[str, str], bool]:
    """Token -> user from `alice=T1,bob=T2`; two random tokens when unset. Also: generated?"""
    if not value:
        return {secrets.token_urlsafe(24): user for user in ("alice", "bob")}, True
    tokens: dict[str, str] = {}
    for item in value.split(","):
        user, _, token = (piece.strip() for piece in item.partition("="))
        if not user or not token or token in tokens:
            # The message must not echo the value: it holds secrets.
            raise ValueError(f"{TOKENS_ENV} must look like alice=TOKEN1,bob=TOKEN2, tokens unique")
        tokens[token] = user
    return tokens, False


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio turns Nagle off only on sockets whose proto says TCP, and
    # with Nagle on every keep-alive answer waits ~40 ms for the client's delayed ACK.
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(128)
    return listener


async def _serve(config: ServerConfig, listener: socket.socket) -> None:
    import uvicorn

    from reference_server.app import create_app

    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config),
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_SECONDS,
        )
    )
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started and not serving.done():
        await asyncio.sleep(0.005)
    if server.started:
        host, port = listener.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        _say(f"{LISTENING} http://{shown}:{port}")
    await serving


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
