"""`closeloop serve` and `closeloop users`: the console's commands, registered into the main CLI."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from monitor.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_NOT_APPLIED,
    EXIT_OK,
    CliError,
    open_database,
    settings_for,
)

# models.tables.ROLES, spelled here so that building the parser imports no database code.
ROLE_NAMES = ("viewer", "agent", "approver", "admin")


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is from 1 to 65535, not {port}")
    return port


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from responders.web.app import listen, server_config

    settings = settings_for(args)
    config = server_config(settings, open_database(settings), host=args.host, port=args.port)
    try:
        sock = listen(config.host, config.port)
    except OSError as exc:
        raise CliError(f"the console cannot listen on {config.host}:{config.port}: {exc.strerror or exc}") from None
    print(f"closeloop console on http://{config.host}:{config.port}/", file=sys.stderr)
    uvicorn.Server(config).run(sockets=[sock])
    return EXIT_OK


def read_password(*, stdin: Any = None, prompt: Any = getpass.getpass) -> str:
    """The password from a hidden prompt (twice) on a terminal, else the first line of stdin."""
    stream = stdin or sys.stdin
    if stream.isatty():
        first = prompt("Password: ")
        if first != prompt("Password again: "):
            raise ValueError("the passwords differ")
        return str(first)
    return str(stream.readline().rstrip("\r\n"))


def cmd_users(args: argparse.Namespace) -> int:
    from models.types import utcnow
    from models.users import UserError, create_user, list_users
    from responders.web.auth import hash_password, password_problem

    settings = settings_for(args)
    engine = open_database(settings)
    if args.users_action == "signature":
        from models.users import set_signature

        text = " ".join(args.signature.split())
        if len(text) > 200:
            raise CliError("a signature is at most 200 characters", EXIT_BAD_INPUT)
        try:
            set_signature(engine, name=args.name, signature=text or None, actor="cli", now=utcnow(), address="cli")
        except UserError as exc:
            raise CliError(str(exc), EXIT_NOT_APPLIED) from None
        print(f"{args.name} signs approved replies with {text!r}" if text else
              f"{args.name} signs approved replies with their name after a dash")
        return EXIT_OK
    if args.users_action == "list":
        for user in list_users(engine):
            print(f"{user.name}\t{user.role}\t{'disabled' if user.disabled else 'active'}")
        return EXIT_OK
    if args.role not in ROLE_NAMES:
        raise CliError(f"--role: unknown role {args.role!r} (expected {', '.join(ROLE_NAMES)})")
    try:
        password = read_password()
    except ValueError as exc:
        raise CliError(str(exc)) from None
    problem = password_problem(password, min_length=settings.console.password_min_length)
    if problem:
        raise CliError(f"refusing the password: {problem}", EXIT_BAD_INPUT)
    try:
        create_user(engine, name=args.name, password_hash=hash_password(password), role=args.role, now=utcnow(),
                    actor="cli", address="cli")
    except UserError as exc:
        raise CliError(str(exc), EXIT_NOT_APPLIED) from None
    print(f"user {args.name} created with role {args.role}")
    return EXIT_OK


def register(commands: Any) -> None:
    """Add `serve` and `users` to the main parser's subcommands."""
    serve = commands.add_parser("serve", help="the web console alone (uvicorn on console.host:console.port)")
    serve.add_argument("--host", help="listen address (default: console.host)")
    serve.add_argument("--port", type=_port, help="listen port (default: console.port)")
    serve.set_defaults(func=cmd_serve)

    users = commands.add_parser("users", help="console accounts")
    actions = users.add_subparsers(dest="users_action", required=True)
    add = actions.add_parser("add", help="create an account; the password is prompted, or read from stdin")
    add.add_argument("name")
    add.add_argument("--role", required=True, help=" | ".join(ROLE_NAMES))
    add.set_defaults(func=cmd_users)
    listing = actions.add_parser("list", help="every account with its role")
    listing.set_defaults(func=cmd_users)
    signature = actions.add_parser("signature", help="how an approver signs the replies they approve "
                                   "(empty: their name after a dash)")
    signature.add_argument("name")
    signature.add_argument("signature", help='e.g. "– Maria, Acme care"')
    signature.set_defaults(func=cmd_users)
