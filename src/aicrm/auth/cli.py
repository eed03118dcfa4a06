"""``aicrm users ...`` commands (registered in ``aicrm.cli``)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, help="Manage users of the dashboard and API.")


def _engine():
    """The configured store, migrated (resolved from the settings now, not from a cached default engine)."""
    from aicrm.core.config import get_settings
    from aicrm.core.db import get_engine
    from aicrm.core.migrate import ensure_schema

    engine = get_engine(get_settings().database_url)
    ensure_schema(engine=engine)
    return engine


def _user_dict(user) -> dict:
    return {"id": user.id, "email": user.email, "full_name": user.full_name, "role": user.role,
            "is_active": user.is_active, "created_at": user.created_at.isoformat(timespec="seconds"),
            "last_login_at": user.last_login_at.isoformat(timespec="seconds") if user.last_login_at else None}


@app.command("create")
def create(
    email: Annotated[str, typer.Option(help="Sign-in e-mail.")],
    role: Annotated[str, typer.Option(help="admin | manager | analyst | agent.")],
    password: Annotated[str | None, typer.Option(help="At least 8 characters (asked for when omitted).")] = None,
    full_name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the new user as one JSON object.")] = False,
) -> None:
    """Create a user who can sign in to the dashboard and get API tokens."""
    from pydantic import ValidationError

    from aicrm.auth import service
    from aicrm.auth.schemas import UserCreate
    from aicrm.cli import console, fail
    from aicrm.core.db import session_scope
    from aicrm.core.errors import AicrmError, ValidationFailed

    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        try:
            data = UserCreate(email=email, password=password, role=role, full_name=full_name)
        except ValidationError as exc:
            raise ValidationFailed(
                "The user was not created: " + "; ".join(
                    f"--{'-'.join(str(p) for p in e['loc']).replace('_', '-')}: {e['msg']}" for e in exc.errors()),
                hint="Roles are admin, manager, analyst and agent; passwords need at least 8 characters.",
            ) from None
        with session_scope(_engine()) as session:
            user = service.create(session=session, data=data)
            info = _user_dict(user)
    except AicrmError as exc:
        fail(exc)
    if as_json:
        typer.echo(json.dumps(info))
    else:
        console.print(f"Created {info['role']} {info['email']} (id {info['id']}).", highlight=False)


@app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False) -> None:
    """List users and their roles."""
    from rich.table import Table

    from aicrm.auth import service
    from aicrm.cli import console
    from aicrm.core.db import session_scope

    with session_scope(_engine()) as session:
        users, _ = service.list_users(session=session, limit=100_000)
        rows = [_user_dict(u) for u in users]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    table = Table(title="aicrm users")
    for col in ("id", "email", "role", "active", "last sign-in"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r["id"]), r["email"], r["role"], "yes" if r["is_active"] else "no", r["last_login_at"] or "-")
    console.print(table)
