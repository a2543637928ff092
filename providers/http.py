"""The one HTTP session every source uses: timeouts, bounded retries, scoped keys, clear errors.

Why a session subclass and not urllib3's ``Retry``: the retry loop here also covers a body that
breaks mid-download (AWS files are hundreds of MB), caps ``Retry-After`` and the total time a
request may take, and reports how many attempts were made, none of which ``Retry`` does.

Every source only reads (searches and price lists), so POST searches are retried like GETs.

Keys are bound to the origin (scheme, host, port) of the source's base URL and added in
``send``, so a redirect or a pagination link to another host never carries them; they travel in
headers, never in URLs, so neither logs nor error messages can show them.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import IO, Any, TypeVar
from urllib.parse import urlsplit

import requests

from providers.base import ProviderError

log = logging.getLogger(__name__)

T = TypeVar("T")


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("rentbuy")
    except Exception:  # not installed (a bare checkout): the UA still names the project
        return "dev"


USER_AGENT = f"rentbuy/{_version()} (GPU rent-vs-buy price research; python-requests)"

RETRYABLE_EXCEPTIONS: tuple[type[BaseException], ...] = (
    requests.ConnectionError,  # includes resets, refused connections and ConnectTimeout
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,  # body cut off mid-stream
    requests.exceptions.ContentDecodingError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. Defaults suit price APIs that throttle with 429 and blip with 5xx."""

    max_attempts: int = 4
    backoff_base_seconds: float = 1.0
    backoff_cap_seconds: float = 30.0
    max_retry_after_seconds: float = 120.0  # a longer Retry-After is a refusal, not a pause
    total_seconds: float = 300.0  # no retry starts after this; a transfer in progress is not cut
    retry_statuses: frozenset[int] = field(default=frozenset({429, 500, 502, 503, 504}))

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Exponential backoff with 'equal jitter': half fixed, half random, so clients spread."""
        ceiling = min(self.backoff_cap_seconds, self.backoff_base_seconds * 2 ** (attempt - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


class RetriesExhausted(requests.RequestException):
    """Every attempt failed at the transport level; ``__cause__`` is the last failure."""

    def __init__(self, message: str, *, attempts: int, elapsed: float) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.elapsed = elapsed


def origin(url: str) -> str:
    """scheme://host:port with the default port filled in, for comparing where a URL goes."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def without_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class RentbuySession(requests.Session):
    """A ``requests.Session`` with default timeouts, retries and origin-scoped credentials."""

    def __init__(
        self,
        *,
        policy: RetryPolicy | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        user_agent: str = USER_AGENT,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__()
        self.policy = policy or RetryPolicy()
        self.timeout = (connect_timeout, read_timeout)
        self.headers["User-Agent"] = user_agent
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._credentials: dict[str, dict[str, str]] = {}
        self._secrets: list[str] = []

    # -- credentials ---------------------------------------------------------------------------
    def add_credentials(self, base_url: str, headers: Mapping[str, str]) -> None:
        """Send ``headers`` on every request to ``base_url``'s origin, and to no other."""
        self._credentials.setdefault(origin(base_url), {}).update(headers)

    def add_secret(self, value: str) -> None:
        """Register a value (a client secret, a fresh token) to redact from error text."""
        self._secrets.append(value)

    def secret_values(self) -> list[str]:
        """Every credential value, for redacting error text (defence in depth)."""
        values = list(self._secrets)
        for headers in self._credentials.values():
            for value in headers.values():
                values.append(value)
                if " " in value:  # "Bearer <token>" / "Basic <b64>": the token part alone too
                    values.append(value.split(" ", 1)[1])
        return [v for v in values if len(v) >= 4]

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        # Strip every credential header, then add back the ones for this request's origin. This
        # also runs for each redirect hop, so a Location on another host gets no key.
        for headers in self._credentials.values():
            for name, value in headers.items():
                if request.headers.get(name) == value:
                    del request.headers[name]
        request.headers.update(self._credentials.get(origin(request.url or ""), {}))
        return super().send(request, **kwargs)

    # -- requests with retries -----------------------------------------------------------------
    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        retry = kwargs.pop("retry", True)
        kwargs.setdefault("timeout", self.timeout)
        method_text = method.decode() if isinstance(method, bytes) else method
        url_text = url.decode() if isinstance(url, bytes) else url

        def once() -> requests.Response:
            response = super(RentbuySession, self).request(method_text, url_text, *args, **kwargs)
            log.debug("%s %s -> HTTP %s", method_text, without_query(url_text), response.status_code)
            return response

        if not retry:
            return once()
        return self.retrying(f"{method_text} {without_query(url_text)}", once)

    def retrying(self, what: str, attempt_fn: Callable[[], T]) -> T:
        """Run ``attempt_fn`` until it returns a non-retryable result, within the policy.

        A retryable HTTP status that outlasts the policy is returned (the caller turns it into
        an error naming the status); a transport failure that outlasts it raises
        ``RetriesExhausted`` chained to the last failure.
        """
        policy = self.policy
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            failure: BaseException | None = None
            response: requests.Response | None = None
            retry_after: float | None = None
            try:
                result = attempt_fn()
            except RETRYABLE_EXCEPTIONS as exc:
                failure = exc
            else:
                if not isinstance(result, requests.Response) or result.status_code not in policy.retry_statuses:
                    if isinstance(result, requests.Response):
                        result.rentbuy_attempts = attempt  # type: ignore[attr-defined]
                    return result
                response = result
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            wait = retry_after if retry_after is not None else policy.backoff(attempt, self._rng)
            elapsed = self._clock() - started
            give_up = (
                attempt >= policy.max_attempts
                or elapsed + wait > policy.total_seconds
                or (retry_after is not None and retry_after > policy.max_retry_after_seconds)
            )
            if give_up:
                if response is not None:
                    response.rentbuy_attempts = attempt  # type: ignore[attr-defined]
                    response.rentbuy_retry_after = retry_after  # type: ignore[attr-defined]
                    return response  # type: ignore[return-value]
                raise RetriesExhausted(
                    f"{describe_exception(failure)} (gave up after {attempt} attempt"
                    f"{'s' if attempt > 1 else ''} in {elapsed:.1f} s)",
                    attempts=attempt,
                    elapsed=elapsed,
                ) from failure
            cause = f"HTTP {response.status_code}" if response is not None else describe_exception(failure)
            log.info("%s: %s; retry %d in %.1f s", what, cause, attempt, wait)
            if response is not None:
                response.close()
            self._sleep(wait)


def make_session(
    *,
    policy: RetryPolicy | None = None,
    connect_timeout: float = 10.0,
    read_timeout: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
) -> RentbuySession:
    """The session factory every fetch uses (the refresh job makes one per source)."""
    return RentbuySession(
        policy=policy, connect_timeout=connect_timeout, read_timeout=read_timeout,
        sleep=sleep, clock=clock, rng=rng,
    )


def auth_headers(session: requests.Session, base_url: str, headers: Mapping[str, str]) -> dict[str, str]:
    """Bind credentials to ``base_url``'s origin; returns headers to pass per request instead
    when the session is a plain ``requests.Session`` (no scoping possible there)."""
    if isinstance(session, RentbuySession):
        session.add_credentials(base_url, headers)
        return {}
    return dict(headers)


# -- turning failures into one clear sentence ------------------------------------------------------


def _root_causes(exc: BaseException | None) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        nested = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
        reason = getattr(exc, "reason", None)
        exc = exc.__cause__ or exc.__context__ or nested or (reason if isinstance(reason, BaseException) else None)
    return seen


def describe_exception(exc: BaseException | None) -> str:
    """A short cause for a transport failure (no URLs with queries, no keys)."""
    if exc is None:
        return "unknown failure"
    if isinstance(exc, RetriesExhausted):
        return str(exc)
    chain = _root_causes(exc)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "timed out connecting"
    if isinstance(exc, requests.exceptions.ReadTimeout) or any(isinstance(e, TimeoutError) for e in chain):
        return "timed out waiting for the response"
    if any(isinstance(e, ConnectionResetError) for e in chain):
        return "connection reset by peer"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the connection broke mid-response (body truncated)"
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return "connection refused"
    if isinstance(exc, requests.ConnectionError):
        text = str(exc.args[0]) if exc.args else str(exc)
        return f"could not connect ({text[:160]})"
    return f"{type(exc).__name__}: {str(exc)[:160]}"


def redact(text: str, session: requests.Session | None) -> str:
    secrets = session.secret_values() if isinstance(session, RentbuySession) else []
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def error_message_from_body(response: requests.Response) -> str:
    """The error text an API put in its body (JSON conventions of the sources), or a snippet."""
    try:
        body = response.json()
    except ValueError:
        text = response.text or ""
        title = re.search(r"<title>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        snippet = title.group(1) if title else re.sub(r"<[^>]+>", " ", text)
        return " ".join(snippet.split())[:200]
    candidates: list[Any] = []
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            candidates += [error.get("message"), error.get("code")]
        if isinstance(error, str) and isinstance(body.get("error_description"), str):
            candidates.append(f"{error}: {body['error_description']}")  # OAuth error shape
        candidates += [error if isinstance(error, str) else None, body.get("message"),
                       body.get("error_description"), body.get("detail"), body.get("msg")]
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            candidates.append(errors[0].get("message"))
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()[:200]
    return json.dumps(body)[:200]


def _attempts_note(response: requests.Response) -> str:
    attempts = getattr(response, "rentbuy_attempts", 1)
    return f" after {attempts} attempts" if attempts > 1 else ""


def check_status(source: str, response: requests.Response, session: requests.Session | None = None) -> None:
    """Raise ``ProviderError`` for an HTTP error status, with the API's own message."""
    if response.status_code < 400:
        return
    message = error_message_from_body(response)
    status = f"HTTP {response.status_code} {response.reason or ''}".strip()
    where = without_query(response.url or "")
    retry_after = getattr(response, "rentbuy_retry_after", None)
    if response.status_code in (401, 403):
        text = f"the credentials were rejected ({status}: {message})"
    elif response.status_code == 429 and retry_after is not None:
        text = f"rate limited ({status}); the server asked to wait {retry_after:.0f} s{_attempts_note(response)}"
    else:
        text = f"{status} from {where}{_attempts_note(response)}: {message}"
    raise ProviderError(source, redact(text, session))


def decode_json(source: str, response: requests.Response, session: requests.Session | None = None) -> Any:
    """The decoded JSON body, or ``ProviderError`` saying why it is not JSON."""
    content_type = response.headers.get("Content-Type", "")
    text = response.text
    if not text.strip():
        raise ProviderError(source, f"returned an empty body (HTTP {response.status_code})")
    if "html" in content_type.lower() or text.lstrip()[:1] == "<":
        raise ProviderError(
            source,
            redact(f"returned an HTML page instead of JSON (HTTP {response.status_code}, "
                   f"{content_type or 'no content type'}): {error_message_from_body(response)!r}", session),
        )
    try:
        return json.loads(text)
    except ValueError as exc:
        position = getattr(exc, "pos", None)
        where = f" at character {position} of {len(text)}" if position is not None else ""
        at_end = position is not None and position >= len(text.rstrip()) - 1
        truncated = " (truncated)" if at_end or str(exc).startswith("Unterminated string") else ""
        raise ProviderError(source, f"returned invalid JSON{truncated}{where}: {exc}") from None


def request_json(source: str, session: requests.Session, method: str, url: str, **kwargs: Any) -> Any:
    """One request whose answer must be JSON: retried per the session, errors as ProviderError."""
    try:
        response = session.request(method, url, **kwargs)
    except requests.RequestException as exc:
        raise ProviderError(source, redact(describe_exception(exc), session)) from exc
    with response:
        check_status(source, response, session)
        return decode_json(source, response, session)


def download(source: str, session: requests.Session, url: str, dest: IO[bytes], *,
             chunk_size: int = 1 << 20, **kwargs: Any) -> int:
    """Stream ``url`` into ``dest`` without holding it in memory; returns bytes written.

    A connection that breaks mid-body restarts the download (``dest`` is truncated first), under
    the same retry policy as any request.
    """

    def attempt() -> requests.Response:
        dest.seek(0)
        dest.truncate()
        if isinstance(session, RentbuySession):
            response = session.request("GET", url, stream=True, retry=False, **kwargs)
        else:
            response = session.request("GET", url, stream=True, **kwargs)
        if response.status_code >= 400:
            return response
        with response:
            for chunk in response.iter_content(chunk_size):
                dest.write(chunk)
        return response

    try:
        if isinstance(session, RentbuySession):
            response = session.retrying(f"GET {without_query(url)}", attempt)
        else:
            response = attempt()
    except requests.RequestException as exc:
        raise ProviderError(source, redact(describe_exception(exc), session)) from exc
    with response:
        check_status(source, response, session)
    size = dest.tell()
    dest.seek(0)
    return size
