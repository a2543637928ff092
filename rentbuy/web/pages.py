"""The pages a finance lead opens: the report at / (a form and its answer), downloads, and /prices.

Server-rendered with Jinja2 and complete without JavaScript: the form is a plain GET, so every
answer has a URL to share. ``static/app.js`` only swaps the answer in place. The form takes the
same parameters, with the same checks and sentences, as ``GET /api/plan``.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import QueryParams

from optimizer.memory import METHODS
from rentbuy.web import service
from rentbuy.web.params import (
    FieldProblem,
    PlanQuery,
    allowed_values,
    check_gpu_field,
    field_of_message,
    gpu_ids,
    presets,
    since_datetime,
    validate,
)

router = APIRouter(include_in_schema=False)
FORMATS = {"html": "text/html; charset=utf-8", "json": "application/json", "csv": "text/csv; charset=utf-8"}
NUMBER_FIELDS = ("seq_len", "micro_batch_size", "tokens_per_run", "runs_per_month", "busy_hours_per_day",
                 "horizon_years", "usd_per_kwh")
FORM_FIELDS = ("model", "method", "seq_len", "micro_batch_size", "gradient_checkpointing", "tokens_per_run",
               "runs_per_month", "busy_hours_per_day", "horizon_years", "usd_per_kwh")


# --- formatting ---------------------------------------------------------------------------------------


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def usd(value: Any, digits: int = 0) -> str:
    if _missing(value):
        return "—"
    if math.isinf(value):
        return "never"
    return f"${value:,.{digits}f}"


def number(value: Any, digits: int = 1) -> str:
    if _missing(value):
        return "—"
    if isinstance(value, float) and math.isinf(value):
        return "never"
    return f"{value:,.{digits}f}"


def when(value: Any) -> str:
    if _missing(value):
        return "—"
    return value.strftime("%Y-%m-%d") if isinstance(value, datetime) else str(value)


def add_filters(env: Jinja2Templates) -> None:
    env.env.filters.update(usd=usd, number=number, when=when, data_uri=service.data_uri)


# --- the form -----------------------------------------------------------------------------------------


def form_values(params: QueryParams, settings: Any) -> tuple[dict[str, str], dict[str, Any]]:
    """The form as typed (for redisplay) and the data to validate.

    A size typed in ``model_size`` takes the place of the preset. Inputs left at the settings' value
    count as not given, so the plan and its sources are exactly those of the defaults.
    """
    typed = {name: (params.getlist(name) or [""])[-1].strip() for name in (*FORM_FIELDS, "model_size")}
    data: dict[str, Any] = {name: typed[name] for name in FORM_FIELDS if typed[name] != ""}
    for name in NUMBER_FIELDS:  # "60,000,000" as a person writes it
        if name in data:
            data[name] = data[name].replace(",", "").replace("_", "")
    if typed["model_size"]:
        data["model"] = typed["model_size"]
    defaults = {"horizon_years": settings.economics.horizon_years, "usd_per_kwh": settings.economics.usd_per_kwh}
    for name, default in defaults.items():
        try:
            if name in data and float(data[name]) == default:
                del data[name]
        except ValueError:
            pass  # left for validation to name
    return typed, data


def shown_values(typed: dict[str, str], settings: Any) -> dict[str, str]:
    """What each form field shows: what was typed, else the default."""
    fields = PlanQuery.model_fields
    out = {name: typed.get(name) or "" for name in (*FORM_FIELDS, "model_size")}
    for name in ("model", "method", "seq_len", "micro_batch_size", "tokens_per_run", "runs_per_month"):
        if not out[name]:
            default = fields[name].default
            out[name] = f"{default:,.0f}" if name == "tokens_per_run" else (
                f"{default:g}" if isinstance(default, float) else str(default))
    out["horizon_years"] = out["horizon_years"] or f"{settings.economics.horizon_years:g}"
    out["usd_per_kwh"] = out["usd_per_kwh"] or f"{settings.economics.usd_per_kwh:g}"
    checkpointing = typed.get("gradient_checkpointing") or str(fields["gradient_checkpointing"].default)
    out["gradient_checkpointing"] = "true" if checkpointing.lower() in ("true", "1", "on", "yes") else "false"
    return out


def _errors_by_field(found: list[FieldProblem], typed: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for problem in found:
        name = problem.field.split(".")[0].split("[")[0]
        if name == "model" and typed.get("model_size"):
            name = "model_size"
        out[name] = (out[name] + " " if name in out else "") + problem.message
    return out


def _query_string(typed: dict[str, str]) -> str:
    return urlencode({k: v for k, v in typed.items() if v})


def _freshness_line(snap: service.Snapshot) -> str:
    from reports.document import freshness_line

    return freshness_line(SimpleNamespace(freshness=snap.freshness))  # type: ignore[arg-type]


def _option_rows(result: Any) -> list[dict[str, Any]]:
    from reports.document import records

    rows = []
    for row in records(result.table):
        if not row["feasible"]:
            row["note"] = f"Not feasible: {row['reason']}."
        elif row["kind"] == "own":
            row["note"] = f"vs {row['break_even_against']}" if row["break_even_against"] else ""
        else:
            row["note"] = ""
        rows.append(row)
    return rows


def _context(request: Request, **extra: Any) -> dict[str, Any]:
    return {"token_required": request.app.state.token_required, **extra}


def _plan_or_problems(request: Request, data: dict[str, Any], *, with_moves: bool = False, with_charts: bool = True
                      ) -> tuple[service.PageResult | None, list[FieldProblem]]:
    from rentbuy.web.app import FIELD_NAMES

    query, found = validate(PlanQuery, data)
    if query is None:
        return None, found
    engine = request.app.state.database.engine()
    try:
        settings = request.app.state.settings
        return service.page_result(engine, settings, query, with_moves=with_moves,  # type: ignore[arg-type]
                                   with_charts=with_charts), []
    except ValueError as exc:  # rentbuy.plan's "impossible input" sentence, shown beside its field
        name = field_of_message(str(exc), FIELD_NAMES)
        return None, [FieldProblem(name, str(exc), allowed_values(name))]


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> Response:
    """The report page: the form and, for its inputs, the answer with its charts and sources."""
    settings = request.app.state.settings
    typed, data = form_values(request.query_params, settings)
    result, found = _plan_or_problems(request, data)
    shown = shown_values(typed, settings)
    context = _context(
        request, form=shown, errors=_errors_by_field(found, typed), problems=found, presets=presets(),
        methods=METHODS, result=result, query=_query_string(typed),
        api_query=urlencode(result.query.model_dump(exclude_none=True)) if result else "",
        freshness_line=_freshness_line(result.snap) if result else "", options=_option_rows(result.plan) if result
        else [], break_even=_break_even(result), workload_busy=(result.plan.headline.busy_hours_per_day
                                                                 if result and result.plan.headline else None))
    return request.app.state.templates.TemplateResponse(request, "index.html", context,
                                                        status_code=422 if found else 200)


def _break_even(result: service.PageResult | None) -> tuple[list[dict[str, Any]], list[str]]:
    from reports.document import break_even_matrix

    if result is None:
        return [], []
    return break_even_matrix(result.plan.break_even)


@router.get("/download")
def download(request: Request) -> Response:
    """The page's report as a file: ``format=html`` (self-contained, charts inline), ``json`` or ``csv``."""
    settings = request.app.state.settings
    fmt = request.query_params.get("format", "html")
    if fmt not in FORMATS:
        from rentbuy.web.app import error_response

        problem = FieldProblem("format", f"format must be one of {', '.join(FORMATS)}; got {fmt!r}.", list(FORMATS))
        return error_response(request, 422, problem.message, [problem])
    _typed, data = form_values(request.query_params, settings)
    result, found = _plan_or_problems(request, data, with_moves=True, with_charts=fmt == "html")
    if result is None:
        from rentbuy.web.app import error_response

        return error_response(request, 422, " ".join(p.message for p in found), found)
    from reports.document import HISTORY_GPUS

    engine = request.app.state.database.engine()
    since = result.snap.now - timedelta(days=service.HISTORY_DAYS)
    gpus = dict.fromkeys([result.history_gpu, *HISTORY_GPUS]) if fmt == "html" else {}  # JSON/CSV carry no charts
    histories = {gpu: service.history(engine, gpu, since) for gpu in gpus}
    title = f"{result.plan.workload.label}: own or rent"
    report = service.report_for(settings, result.snap, result.plan, title, histories)
    body = service.render_download(report, result.what_if, fmt, result.charts)
    stamp = result.snap.now.strftime("%Y%m%d-%H%M")
    return Response(body, media_type=FORMATS[fmt],
                    headers={"Content-Disposition": f'attachment; filename="rentbuy-report-{stamp}.{fmt}"'})


@router.get("/prices", response_class=HTMLResponse)
def prices_page(request: Request) -> Response:
    """Current prices per GPU and source, street prices, and one GPU's price history."""
    from reports.prices import rental_summary, street_summary
    from store import queries
    from store.db import session_scope

    gpu = (request.query_params.get("gpu") or "h100-sxm").strip()
    since_text = (request.query_params.get("since") or "2y").strip()
    errors: dict[str, str] = {}
    try:
        check_gpu_field("gpu", gpu)
    except ValueError as exc:
        errors["gpu"] = str(exc)
    try:
        since = since_datetime(since_text)
    except ValueError as exc:
        errors["since"] = str(exc)
        since = None
    context = _context(request, gpu=gpu, since=since_text, gpus=gpu_ids(), errors=errors, rental=[], street=[],
                       chart=None, snap=None)
    if not errors:
        engine = request.app.state.database.engine()
        snap = service.snapshot(engine, request.app.state.settings)
        with session_scope(engine) as session:
            street = street_summary(queries.purchase_observations(session, gpu=gpu))
        rental = rental_summary(snap.offers)
        frame = service.history(engine, gpu, since)
        context.update(rental=service.records(rental[rental["gpu"] == gpu]) if not rental.empty else [],
                       all_rental=service.records(rental), street=service.records(street),
                       chart=service.history_chart(frame, gpu), snap=snap, freshness_line=_freshness_line(snap),
                       days=len(set(frame["day"])) if not frame.empty else 0)
    return request.app.state.templates.TemplateResponse(request, "prices.html", context,
                                                        status_code=422 if errors else 200)
