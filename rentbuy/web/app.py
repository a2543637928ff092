"""The FastAPI application: routes, the optional bearer token, and errors as one clear sentence.

Read-only by design: nothing here writes prices or settings. Errors never carry a stack trace or a
secret: bad input answers 422 naming the field and its allowed values, an unreachable database 503,
an unknown route 404.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException

from config.settings import Settings, get_settings
from rentbuy import __version__
from rentbuy.errors import RentbuyError
from rentbuy.web.params import FieldProblem, allowed_values, field_of_message, problems
from rentbuy.web.service import Database

log = logging.getLogger("rentbuy.web")
HERE = Path(__file__).parent
SESSION_COOKIE = "rentbuy_session"
# Paths reachable without the token: the login form itself and the stylesheet/script it uses.
OPEN_PATHS = ("/login", "/static/")
# Field names a domain error sentence may name (for 422 bodies from rentbuy.plan / the optimizer).
FIELD_NAMES = ["busy_hours_per_day", "horizon_years", "tokens_per_run", "runs_per_month", "micro_batch_size",
               "seq_len", "usd_per_kwh", "model", "method", "gradient_checkpointing", "precision", "quantization",
               "optimizer", "attention", "lora_rank", "num_gpus", "sharding", "offload", "gpu", "since", "source",
               "pricing", "own", "rent", "price", "purchase_usd", "speed", "resale", "depreciation", "price_change",
               "system_usd", "classes"]

DESCRIPTION = """Own or rent GPUs for LLM fine-tuning, over HTTP.

Every number is `rentbuy.plan`'s: `GET /api/plan` and `POST /api/plan` return `rentbuy.plan(...).to_dict()`
(options, break-even pairs, recommendation, assumptions with sources) plus the what-if utilization of the
recommended owned card and the data freshness. Invalid input answers 422 with a body naming each field and
its allowed values; an unreachable database answers 503. When `RENTBUY_WEB__TOKEN` is set, send
`Authorization: Bearer <token>`."""

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "detail": {"type": "string", "description": "one sentence saying what is wrong"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "field": {"type": "string"}, "message": {"type": "string"}, "allowed": {}}}},
    },
    "required": ["detail"],
}


def templates() -> Jinja2Templates:
    from rentbuy.web import pages

    env = Jinja2Templates(directory=str(HERE / "templates"))
    pages.add_filters(env)
    return env


def session_value(token: str) -> str:
    """What the login cookie holds: a keyed digest of the token, never the token itself."""
    return hmac.new(token.encode(), b"rentbuy web session v1", hashlib.sha256).hexdigest()


def _authorized(request: Request, token: str) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() == "bearer" and secrets.compare_digest(given.strip().encode(), token.encode()):
        return True
    cookie = request.cookies.get(SESSION_COOKIE, "")
    return bool(cookie) and secrets.compare_digest(cookie.encode(), session_value(token).encode())


def wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api") or path == "/openapi.json" or "text/html" not in request.headers.get("accept", "")


def json_error(status: int, detail: str, errors: list[FieldProblem] | None = None,
               headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"detail": detail}
    if errors is not None:
        body["errors"] = [e.to_dict() for e in errors]
    return JSONResponse(body, status_code=status, headers=headers)


def html_error(request: Request, status: int, title: str, detail: str) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(
        request, "error.html", {"title": title, "detail": detail, "status": status}, status_code=status)


def error_response(request: Request, status: int, detail: str, errors: list[FieldProblem] | None = None) -> Response:
    if wants_json(request):
        return json_error(status, detail, errors)
    titles = {404: "Not found", 422: "Invalid input", 503: "Database unavailable", 500: "Unexpected error"}
    return html_error(request, status, titles.get(status, "Error"), detail)


def _install_auth(app: FastAPI, settings: Settings) -> None:
    secret = settings.web.token.get_secret_value() if settings.web.token is not None else ""
    app.state.token_required = bool(secret)
    if not secret:
        return

    @app.middleware("http")
    async def require_token(request: Request, call_next: Any) -> Response:
        path = request.url.path
        if path == "/login" or path.startswith("/static/") or _authorized(request, secret):
            return await call_next(request)
        if wants_json(request):
            return json_error(401, "This rentbuy server needs its access token: send the header "
                              "'Authorization: Bearer <token>' (the server's RENTBUY_WEB__TOKEN).",
                              headers={"WWW-Authenticate": 'Bearer realm="rentbuy"'})
        target = path + (f"?{request.url.query}" if request.url.query else "")
        return request.app.state.templates.TemplateResponse(
            request, "login.html", {"next": target, "error": None}, status_code=401)

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        given = (form.get("token") or [""])[-1]
        target = (form.get("next") or ["/"])[-1]
        if not target.startswith("/") or target.startswith("//"):
            target = "/"  # only back into this site
        if not secrets.compare_digest(given.encode(), secret.encode()):
            return request.app.state.templates.TemplateResponse(
                request, "login.html", {"next": target, "error": "That is not this server's access token."},
                status_code=401)
        response = RedirectResponse(quote(target, safe="/?=&%:+,.-_~"), status_code=303)
        response.set_cookie(SESSION_COOKIE, session_value(secret), httponly=True, samesite="strict",
                            secure=request.url.scheme == "https", path="/")
        return response

    @app.get("/logout", include_in_schema=False)
    async def logout() -> Response:
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response


def _install_errors(app: FastAPI) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        found = problems(list(exc.errors()))
        return error_response(request, 422, " ".join(p.message for p in found) or "The request is invalid.", found)

    @app.exception_handler(ValueError)
    async def impossible_input(request: Request, exc: ValueError) -> Response:
        # The planner's and optimizer's way of saying "this input is impossible" (UsageError too).
        from rentbuy.web.service import speak_params

        message = speak_params(str(exc))
        name = field_of_message(message, FIELD_NAMES)
        return error_response(request, 422, message, [FieldProblem(name, message, allowed_values(name))])

    @app.exception_handler(RentbuyError)
    async def unavailable(request: Request, exc: RentbuyError) -> Response:
        if isinstance(exc, ValueError):
            return await impossible_input(request, exc)
        log.warning("database unavailable: %s", exc)
        return error_response(request, 503, f"The price database is unavailable: {exc}")

    @app.exception_handler(SQLAlchemyError)
    async def database_failed(request: Request, exc: SQLAlchemyError) -> Response:
        log.warning("database error: %s", exc.__class__.__name__, exc_info=True)
        request.app.state.database.dispose()  # a fresh connection next time
        original = getattr(exc, "orig", None) or exc
        return error_response(request, 503, f"The price database is unavailable ({type(original).__name__}); "
                              "try again shortly, or check RENTBUY_DATABASE_URL and the database server.")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        detail = {404: f"There is no page or endpoint at {request.url.path}; see /openapi.json for the API.",
                  405: f"{request.method} is not allowed on {request.url.path}: the rentbuy server is read-only."}
        text = detail.get(exc.status_code, str(exc.detail))
        response = error_response(request, exc.status_code, text)
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(request, 500, "rentbuy hit an unexpected error answering this request; the server "
                              "log has the details.")


def create_app(settings: Settings | None = None) -> FastAPI:
    """The web face: JSON API under /api (OpenAPI at /openapi.json), report page at /, prices at /prices."""
    from rentbuy.web import api, pages

    settings = settings or get_settings()
    app = FastAPI(title="rentbuy", version=__version__, description=DESCRIPTION, docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json")
    app.state.settings = settings
    app.state.database = Database(settings)
    app.state.templates = templates()
    _install_auth(app, settings)
    _install_errors(app)
    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    return app
