"""The X client: tweepy.Client pointed at ``api_base_url``, with a timeout, no retries, no sleeping on rate
limits, and X's failures translated into SourceError with a kind. The X poster uses it too."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import requests
import tweepy
from requests.adapters import HTTPAdapter
from tweepy.auth import OAuth1UserHandler
from urllib3.util.retry import Retry

from monitor.sources.base import RateLimited, SourceError
from monitor.sources.common import digits, first_line, permanent_status, translated
from monitor.sources.common import retry_after as _retry_after
from monitor.sources.x import XOptions

DEFAULT_API_BASE_URL = "https://api.twitter.com"
DEFAULT_TIMEOUT = 10.0
RESET_HEADER = "x-rate-limit-reset"


def _no_debug(record: logging.LogRecord) -> bool:
    return record.levelno > logging.DEBUG


# oauthlib and requests-oauthlib log each signed request (consumer key, access token) at DEBUG; keep them out.
for _name in ("requests_oauthlib.oauth1_auth", "oauthlib.oauth1.rfc5849"):
    logging.getLogger(_name).addFilter(_no_debug)


class XClient(tweepy.Client):
    """tweepy.Client sending to ``base_url`` with a ``timeout``; never retries, never follows redirects, never
    sleeps on a 429 (it raises tweepy.TooManyRequests). Methods return the raw requests.Response, so callers
    parse the body themselves. Unlike tweepy's own request(), nothing here logs headers (they hold secrets).
    """

    def __init__(self, *, base_url: str = DEFAULT_API_BASE_URL, timeout: float = DEFAULT_TIMEOUT,
                 **secrets: str | None) -> None:
        super().__init__(**secrets, return_type=requests.Response, wait_on_rate_limit=False)
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        no_retries = HTTPAdapter(max_retries=Retry(total=0, read=False, redirect=False, status=False))
        self.session.mount("http://", no_retries)
        self.session.mount("https://", no_retries)

    def request(self, method: str, route: str, params: Any = None, json: Any = None,
                user_auth: bool = False) -> requests.Response:
        headers = {"User-Agent": self.user_agent}
        auth = None
        if user_auth:
            auth = OAuth1UserHandler(self.consumer_key, self.consumer_secret, self.access_token,
                                     self.access_token_secret).apply_auth()
        else:
            headers["Authorization"] = f"Bearer {self.bearer_token}"
        response = self.session.request(method, self.base_url + route, params=params, json=json, headers=headers,
                                        auth=auth, timeout=self.timeout, allow_redirects=False)
        raise_for_status(response)
        return response


def _error_body(response: requests.Response) -> dict[str, Any]:
    """The parts of an error body that tweepy's exceptions can read (they assume well-formed JSON)."""
    try:
        body = response.json()
    except (ValueError, RecursionError):
        return {}
    if not isinstance(body, dict):
        return {}
    errors: list[Any] = []
    raw_errors = body.get("errors")
    for error in raw_errors if isinstance(raw_errors, list) else []:
        if isinstance(error, str):
            errors.append(error)
        elif isinstance(error, dict):
            errors.append({**error, **({"message": str(error["message"])} if "message" in error else {})})
    clean: dict[str, Any] = {"errors": errors}
    if isinstance(body.get("detail"), str):
        clean["detail"] = body["detail"]
    if isinstance(body.get("error"), str):
        clean["error"] = body["error"]
    return clean


def raise_for_status(response: requests.Response) -> None:
    """Raise tweepy's exception for a non-2xx response, as tweepy does, without tripping on odd bodies."""
    status = response.status_code
    if 200 <= status < 300:
        return
    body = _error_body(response)
    if status == 400:
        raise tweepy.BadRequest(response, response_json=body)
    if status == 401:
        raise tweepy.Unauthorized(response, response_json=body)
    if status == 403:
        raise tweepy.Forbidden(response, response_json=body)
    if status == 404:
        raise tweepy.NotFound(response, response_json=body)
    if status == 429:
        reset = response.headers.get(RESET_HEADER, "").strip()
        raise tweepy.TooManyRequests(response, response_json=body, reset_time=int(reset) if digits(reset) else None)
    if status >= 500:
        raise tweepy.TwitterServerError(response, response_json=body)
    raise tweepy.HTTPException(response, response_json=body)


def retry_after(response: requests.Response, now: datetime) -> float:
    """Seconds to wait after a 429: x-rate-limit-reset (epoch seconds) minus ``now``, at least 1; else
    Retry-After (seconds or an HTTP date); else a minute."""
    return _retry_after(response.headers, now, reset_header=RESET_HEADER)


def invalid_parameters(exc: tweepy.HTTPException) -> set[str]:
    """Names of the request parameters a 400 complains about (X lists them per error under ``parameters``)."""
    names: set[str] = set()
    for error in exc.api_errors:
        if isinstance(error, dict):
            if isinstance(error.get("parameters"), dict):
                names.update(str(k) for k in error["parameters"])
            if isinstance(error.get("parameter"), str):
                names.add(error["parameter"])
    return names


def source_error(exc: Exception, endpoint: str, now: datetime) -> SourceError | None:
    """A tweepy or requests failure as RateLimited / SourceError with a kind (permanent: auth, config); None
    for anything else (a bug, not X)."""
    if isinstance(exc, tweepy.TooManyRequests):
        return RateLimited(retry_after(exc.response, now), f"X {endpoint} rate limited")
    if isinstance(exc, tweepy.Unauthorized | tweepy.Forbidden):
        return SourceError(f"X {endpoint} refused the credentials: {first_line(exc)}", permanent=True)
    if isinstance(exc, tweepy.BadRequest | tweepy.NotFound):
        return SourceError(f"X {endpoint} rejected the request: {first_line(exc)}", permanent=True)
    if isinstance(exc, tweepy.TwitterServerError):
        return SourceError(f"X {endpoint} server error: {first_line(exc)}", permanent=False)
    if isinstance(exc, tweepy.HTTPException):
        return SourceError(f"X {endpoint} answered {first_line(exc)}",
                           permanent=permanent_status(exc.response.status_code))
    if isinstance(exc, requests.Timeout):
        return SourceError(f"X {endpoint} timed out", permanent=False)
    if isinstance(exc, requests.RequestException):
        return SourceError(f"X {endpoint} unreachable: {type(exc).__name__}", permanent=False)
    return None


@contextmanager
def translate_errors(endpoint: str, clock: Callable[[], datetime]) -> Iterator[None]:
    """X's failures inside the block leave as the SourceError ``source_error`` gives."""
    with translated(lambda exc: source_error(exc, endpoint, clock())):
        yield


def make_client(options: XOptions, secrets: Mapping[str, str]) -> XClient:
    """The client for validated XOptions and the secrets of a role (read: bearer token; post: OAuth 1.0a)."""
    return XClient(base_url=str(options.api_base_url or DEFAULT_API_BASE_URL), timeout=float(options.timeout),
                   **secrets)
