"""The web face of rentbuy: a JSON API under /api (OpenAPI at /openapi.json) and report pages.

``create_app(settings=None)`` builds the FastAPI application; ``rentbuy web`` serves it with uvicorn
and ``rentbuy serve --http`` serves it beside the scheduler.
"""

from __future__ import annotations

from rentbuy.web.app import create_app

__all__ = ["create_app"]
