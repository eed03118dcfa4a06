"""``aicrm serve`` (registered in ``aicrm.cli``)."""

from __future__ import annotations

import os
from typing import Annotated

import typer


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0 for every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (one per core is a good start).", min=1, max=64)] = 1,
    database_url: Annotated[str | None, typer.Option(help="Store to serve (default: AICRM_DATABASE_URL).")] = None,
    access_log: Annotated[bool, typer.Option("--access-log/--no-access-log", help="Log every request.")] = True,
) -> None:
    """Serve the dashboard and REST API."""
    import tempfile

    import uvicorn
    from pydantic import ValidationError

    from aicrm.cli import console, fail
    from aicrm.core.config import get_settings
    from aicrm.core.errors import AicrmError

    if database_url:
        os.environ["AICRM_DATABASE_URL"] = database_url
    get_settings.cache_clear()
    try:
        settings = get_settings()
        from aicrm.core.db import get_engine
        from aicrm.core.migrate import ensure_schema

        ensure_schema(engine=get_engine(settings.database_url))  # once here, not racing in every worker
    except ValidationError as exc:
        fail(AicrmError("The settings are not valid: " + "; ".join(e["msg"] for e in exc.errors()),
                        hint="Check the AICRM_* environment variables and .env."))
    except Exception as exc:  # e.g. the database server is down: say so without a traceback
        fail(AicrmError(f"Cannot open the store: {str(exc).splitlines()[0]}",
                        hint="Check AICRM_DATABASE_URL (or --database-url) and that the database server runs."))
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    console.print(f"aicrm is serving on [bold]http://{shown}:{port}[/] "
                  f"(dashboard /, API docs /docs, metrics /metrics; {workers} worker(s)). Ctrl+C stops it.",
                  highlight=False)
    from aicrm.core.config import DEFAULT_SECRET

    if settings.secret_key == DEFAULT_SECRET and host not in ("127.0.0.1", "localhost", "::1"):
        console.print("[yellow]Warning:[/] the secret key is the development default; set AICRM_SECRET_KEY "
                      "before exposing this server to a network.", highlight=False)
    if workers > 1:
        # Each worker is a process: Prometheus counters are shared through files in this directory.
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="aicrm-metrics-"))
        # A worker imports the whole app before answering the supervisor's health check; on a busy machine that
        # takes longer than uvicorn's default 5 s, and the worker would be killed and restarted in a loop.
        uvicorn.run("aicrm.web.app:create_app", factory=True, host=host, port=port, workers=workers,
                    access_log=access_log, log_level=settings.log_level.lower(), timeout_worker_healthcheck=60)
    else:
        from aicrm.web.app import create_app

        uvicorn.run(create_app(), host=host, port=port, access_log=access_log, log_level=settings.log_level.lower())
