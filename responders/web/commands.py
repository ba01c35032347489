"""`closeloop serve` and `closeloop users`: the console's commands, registered into the main CLI."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from models.tables import ROLES


def _settings_and_engine(args: argparse.Namespace) -> tuple[Any, Any]:
    from models.db import make_engine, prepare
    from monitor.config import load_settings

    settings = load_settings(args.config)
    engine = make_engine(settings.database_url(), echo=settings.database.echo)
    prepare(engine)
    return settings, engine


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from responders.web.app import create_app

    settings, engine = _settings_and_engine(args)
    host = args.host or settings.console.host
    port = args.port or settings.console.port
    print(f"closeloop console on http://{host}:{port}/", file=sys.stderr)
    uvicorn.run(create_app(settings, engine), host=host, port=port, log_level="warning", proxy_headers=False)
    return 0


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
    from responders.web.auth import hash_password

    _, engine = _settings_and_engine(args)
    if args.users_action == "list":
        for user in list_users(engine):
            print(f"{user.name}\t{user.role}\t{'disabled' if user.disabled else 'active'}")
        return 0
    try:
        password = read_password()
    except ValueError as exc:
        print(f"closeloop: {exc}", file=sys.stderr)
        return 2
    if not password:
        print("closeloop: refusing an empty password", file=sys.stderr)
        return 2
    try:
        create_user(engine, name=args.name, password_hash=hash_password(password), role=args.role, now=utcnow(),
                    actor="cli", address="cli")
    except UserError as exc:
        print(f"closeloop: {exc}", file=sys.stderr)
        return 1
    print(f"user {args.name} created with role {args.role}")
    return 0


def register(commands: Any) -> None:
    """Add `serve` and `users` to the main parser's subcommands."""
    serve = commands.add_parser("serve", help="the web console alone (uvicorn on console.host:console.port)")
    serve.add_argument("--host", help="listen address (default: console.host)")
    serve.add_argument("--port", type=int, help="listen port (default: console.port)")
    serve.set_defaults(func=cmd_serve)

    users = commands.add_parser("users", help="console accounts")
    actions = users.add_subparsers(dest="users_action", required=True)
    add = actions.add_parser("add", help="create an account; the password is prompted, or read from stdin")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.set_defaults(func=cmd_users)
    listing = actions.add_parser("list", help="every account with its role")
    listing.set_defaults(func=cmd_users)
