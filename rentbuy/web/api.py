"""The JSON API under /api: the planner, prices, break-even, the memory estimator and health.

Handlers are plain functions (FastAPI runs them in its thread pool): the work is pandas, scipy and
SQL, not waiting on sockets. Bodies are serialised with ``reports.render.to_json``, the report's
JSON writer, so dates are ISO strings and an infinite break-even is ``null`` here as in the report.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from rentbuy.web import service
from rentbuy.web.params import BreakevenQuery, MemoryQuery, PlanQuery, PricesQuery, WorkloadBody


def _json(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"type": "object"}}}}


def _responses(ok: str) -> dict[int | str, dict[str, Any]]:
    from rentbuy.web.app import ERROR_SCHEMA

    error = {"content": {"application/json": {"schema": ERROR_SCHEMA}}}
    return {200: _json(ok),
            401: {"description": "RENTBUY_WEB__TOKEN is set and the request has no valid bearer token", **error},
            422: {"description": "invalid parameters: each field named with its allowed values", **error},
            503: {"description": "the price database is unreachable", **error}}


router = APIRouter(prefix="/api", tags=["api"])


def json(payload: Any, status: int = 200) -> Response:
    from reports.render import to_json

    return Response(to_json(payload), status_code=status, media_type="application/json")


def _settings(request: Request) -> Any:
    return request.app.state.settings


def _engine(request: Request) -> Any:
    return request.app.state.database.engine()


@router.get("/plan", summary="Own or rent: every option for one job class",
            responses=_responses("rentbuy.plan(...).to_dict() plus utilization (what-if), freshness and model notes"))
def get_plan(request: Request, query: Annotated[PlanQuery, Query()]) -> Response:
    """The options table, break-even pairs, recommendation and assumptions of ``rentbuy.plan`` for one job.

    ``busy_hours_per_day`` does not change the plan (the workload's volume sets its utilization); it is a
    what-if for the recommended owned card against the cheapest on-demand rental, answered under
    ``utilization``. Without it, ``utilization`` is at the busy hours the workload implies.
    """
    snap = service.snapshot(_engine(request), _settings(request))
    result = service.plan_query(query, _settings(request), snap.book)
    extra = service.what_if(result, query.busy_hours_per_day)
    return json(service.plan_payload(result, extra, snap, service.model_notes([query.model])))


@router.post("/plan", summary="Own or rent: every option for a workload of several job classes",
             responses=_responses("rentbuy.plan(workload=...).to_dict() plus utilization, freshness and model notes"))
def post_plan(request: Request, body: WorkloadBody) -> Response:
    """``rentbuy.plan(workload=Workload(...))``: the job classes share the same hardware."""
    snap = service.snapshot(_engine(request), _settings(request))
    result = service.plan_workload(body, _settings(request), snap.book)
    extra = service.what_if(result, body.busy_hours_per_day)
    return json(service.plan_payload(result, extra, snap, service.model_notes([c.model for c in body.classes])))


@router.get("/prices", summary="Rental price observations and current statistics, with source and date",
            responses=_responses("observations (newest first), current statistics per GPU/pricing/source, "
                                 "street prices"))
def get_prices(request: Request, query: Annotated[PricesQuery, Query()]) -> Response:
    return json(service.prices_payload(_engine(request), query))


@router.get("/breakeven", summary="Own vs rent for given options: break-even, payback, price, both breakdowns",
            responses=_responses("the comparison as `rentbuy breakeven --format json` gives it"))
def get_breakeven(request: Request, query: Annotated[BreakevenQuery, Query()]) -> Response:
    """One owned option against one rented option for the same work; prices default to the stored ones."""
    return json(service.breakeven_payload(query, _engine(request), _settings(request)))


@router.get("/memory", summary="The memory estimator: GPU and host memory of a fine-tune, which GPUs fit it",
            responses=_responses("the estimate as `rentbuy memory --format json` gives it"))
def get_memory(query: Annotated[MemoryQuery, Query()]) -> Response:
    return json(service.memory_payload(query))


@router.get("/health", summary="Database reachable, last successful refresh per source, data age",
            responses=_responses("status ok (or stale when the newest price is older than stale_after_days)"))
def get_health(request: Request) -> Response:
    from sqlalchemy.exc import SQLAlchemyError

    from rentbuy.errors import RentbuyError

    try:
        return json(service.health_payload(_engine(request), _settings(request)))
    except (RentbuyError, SQLAlchemyError) as exc:
        request.app.state.database.dispose()
        detail = str(exc) if isinstance(exc, RentbuyError) else f"database error ({type(exc).__name__})"
        return json({"status": "unavailable", "database": {"reachable": False},
                     "detail": f"The price database is unavailable: {detail}"}, status=503)
