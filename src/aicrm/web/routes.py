"""The app's routes with their full path templates (FastAPI >= 0.13x keeps included routers lazily)."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI


def iter_routes(app: FastAPI) -> Iterator[tuple[str, set[str], object]]:
    """``(path template, methods, route object)`` for every route, prefixes of included routers applied."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI flattened included routers into app.routes
        for route in app.routes:
            yield getattr(route, "path", ""), set(getattr(route, "methods", None) or ()), route
        return
    for ctx in iter_route_contexts(app.routes):
        yield ctx.path or "", set(ctx.methods or ()), ctx.original_route


def route_templates(app: FastAPI) -> dict[int, str]:
    """Path template by ``id`` of the route object that routing puts in ``scope["route"]``."""
    return {id(route): path for path, _, route in iter_routes(app) if path}
