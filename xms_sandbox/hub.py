"""The sandbox as a JupyterHub service: Hub users are its learners, Hub admins its instructors.

Run by the Hub (``python -m xms_sandbox --jupyterhub-service``, see ``docs/jupyterhub.md``), the
sandbox is reached through the Hub's proxy at ``<hub>/services/<name>/`` and takes, besides its
own plan tokens, a **JupyterHub API token** as the ``Authorization: Bearer`` token: it asks the
Hub whose token it is (``GET <JUPYTERHUB_API_URL>/user`` with ``Authorization: token <it>``,
which any Hub token may ask about itself) and keeps the answer for a short while. The token must
hold the scope to use this service (``access:services!service=<name>``, or ``access:services``).
Then:

* the learner's plan is their Hub user name: ``/xms/v1/<user name>/...`` takes their token, and
  the plan is made on first use (nobody else can make it: the sandbox does not run ``--open``);
* a Hub admin (or a member of the instructors' group, when one is named) is the instructor:
  the wall of every phone (``/sandbox/phones?key=<their Hub token>`` in a browser), resets.

The last Hub token a plan was used with becomes its plan token (hashed, like every token), so
the phones page link the helpers print (``?plan_id=...&key=...``) opens for it, and it keeps
working for that plan until a newer Hub token of the same user replaces it.

The Hub's proxy passes requests on with their whole path (``/services/<name>/xms/...``);
:class:`HubServiceMiddleware` moves that prefix out of the path, so the app's routes stay as
they are.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from flask import current_app, request

from .errors import ApiError
from .tokens import hub_token_matches, token_matches

if TYPE_CHECKING:
    from .models.plans import PlanStore
    from .models.records import Plan
    from .server import Sandbox

log = logging.getLogger("xms_sandbox.hub")

#: Where each request's WSGI environ carries the service's :class:`HubTokens`.
ENVIRON_KEY = "xms.hub"

#: What a Hub sets in the environment of a managed service (the first three always).
REQUIRED_ENV = ("JUPYTERHUB_API_URL", "JUPYTERHUB_SERVICE_NAME", "JUPYTERHUB_SERVICE_URL")


class HubSetupError(ValueError):
    """The environment is not a JupyterHub service's: the message says what is missing."""


@dataclass(frozen=True)
class HubUser:
    """Who a Hub token belongs to, as the Hub said."""

    name: str
    admin: bool = False
    groups: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ServiceSettings:
    """Where a Hub-managed service listens, under which prefix, and where the Hub's API is."""

    name: str
    host: str
    port: int
    prefix: str
    api_url: str


def service_settings(environ: Mapping[str, str]) -> ServiceSettings:
    """The service's settings from what the Hub puts in its environment.

    >>> s = service_settings({"JUPYTERHUB_API_URL": "http://127.0.0.1:8081/hub/api",
    ...     "JUPYTERHUB_SERVICE_NAME": "sms-sandbox",
    ...     "JUPYTERHUB_SERVICE_URL": "http://127.0.0.1:10101",
    ...     "JUPYTERHUB_SERVICE_PREFIX": "/services/sms-sandbox/"})
    >>> s.host, s.port, s.prefix
    ('127.0.0.1', 10101, '/services/sms-sandbox/')
    """
    missing = [name for name in REQUIRED_ENV if not environ.get(name)]
    if missing:
        raise HubSetupError(
            f"--jupyterhub-service needs {', '.join(missing)} in the environment, which "
            "JupyterHub sets for a managed service that has a 'url' (see docs/jupyterhub.md)."
        )
    name = environ["JUPYTERHUB_SERVICE_NAME"]
    where = urlsplit(environ["JUPYTERHUB_SERVICE_URL"])
    if where.hostname is None or where.port is None:
        raise HubSetupError(
            f"JUPYTERHUB_SERVICE_URL={environ['JUPYTERHUB_SERVICE_URL']!r} needs a host and a "
            "port: give the service a 'url' such as http://127.0.0.1:10101."
        )
    prefix = environ.get("JUPYTERHUB_SERVICE_PREFIX") or f"/services/{name}/"
    return ServiceSettings(
        name=name,
        host=where.hostname,
        port=where.port,
        prefix="/" + prefix.strip("/") + "/",
        api_url=environ["JUPYTERHUB_API_URL"].rstrip("/"),
    )


class HubTokens:
    """Asks the Hub who a token belongs to, and remembers the answer for ``cache_seconds``
    (``refusal_seconds`` for a token the Hub does not know), so that a room's requests cost the
    Hub one question per token and minute at most. Safe to use from many threads.
    """

    def __init__(
        self,
        api_url: str,
        service_name: str,
        *,
        instructor_group: str | None = None,
        cache_seconds: float = 30.0,
        refusal_seconds: float = 5.0,
        timeout: float = 5.0,
        max_cached: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.service_name = service_name
        self.instructor_group = instructor_group
        self.cache_seconds = cache_seconds
        self.refusal_seconds = refusal_seconds
        self.timeout = timeout
        self.max_cached = max_cached
        self._clock = clock
        self._cache: dict[str, tuple[float, HubUser | None]] = {}
        self._lock = threading.Lock()
        self._local = threading.local()
        #: How many times the Hub was asked (for tests and the curious).
        self.lookups = 0

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.trust_env = False  # the Hub is reached directly, never through a proxy
        return session

    def user_for(self, token: str) -> HubUser | None:
        """The Hub user whose token this is, when it may use this service; None when the Hub
        knows no such token, it is not a user's, or it lacks the scope. A 503 ``ApiError`` when
        the Hub cannot be asked."""
        key = hashlib.sha256(token.encode("utf-8")).hexdigest()
        now = self._clock()
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached[0] > now:
                return cached[1]
        user = self._ask(token)
        ttl = self.cache_seconds if user is not None else self.refusal_seconds
        with self._lock:
            if len(self._cache) >= self.max_cached:
                self._forget_expired(now)
            self._cache[key] = (now + ttl, user)
        return user

    def _forget_expired(self, now: float) -> None:
        for key in [k for k, (expires, _) in self._cache.items() if expires <= now]:
            del self._cache[key]
        while len(self._cache) >= self.max_cached:  # still full: drop the oldest entries
            del self._cache[next(iter(self._cache))]

    def _ask(self, token: str) -> HubUser | None:
        self.lookups += 1
        try:
            answer = self._session().get(
                f"{self.api_url}/user",
                headers={"Authorization": f"token {token}"},
                timeout=self.timeout,
            )
        except requests.RequestException as error:
            log.warning("Cannot reach the JupyterHub API at %s: %s", self.api_url, error)
            raise hub_unavailable() from None
        if answer.status_code in (401, 403, 404):
            return None
        if answer.status_code != 200:
            log.warning("The JupyterHub API answered %s to a token check", answer.status_code)
            raise hub_unavailable()
        try:
            model = answer.json()
        except ValueError:
            raise hub_unavailable() from None
        return self.user_from_model(model) if isinstance(model, dict) else None

    def user_from_model(self, model: Mapping[str, Any]) -> HubUser | None:
        """The user in the Hub's answer to ``GET /user``, when it is a user (not a service) and
        the token may use this service."""
        name = model.get("name")
        if model.get("kind", "user") != "user" or not isinstance(name, str) or not name:
            return None
        if not self.may_use_service(model.get("scopes") or ()):
            log.info("Hub user %s showed a token without access to %s", name, self.service_name)
            return None
        groups = model.get("groups") or ()
        return HubUser(
            name=name,
            admin=model.get("admin") is True,
            groups=frozenset(g for g in groups if isinstance(g, str)),
        )

    def may_use_service(self, scopes: Iterable[str]) -> bool:
        """Whether a token's scopes let it use this service.

        >>> HubTokens("http://hub/api", "sms").may_use_service(["access:services!service=sms"])
        True
        """
        wanted = {"access:services", f"access:services!service={self.service_name}"}
        return any(scope in wanted for scope in scopes)

    def instructs(self, user: HubUser) -> bool:
        """Whether this Hub user is an instructor: a Hub admin, or in the instructors' group."""
        return user.admin or (
            self.instructor_group is not None and self.instructor_group in user.groups
        )


def hub_unavailable() -> ApiError:
    return ApiError(
        503,
        "hub_unavailable",
        "The sandbox cannot ask JupyterHub whose token this is just now; try again shortly.",
        {"Retry-After": "5"},
    )


def _configured() -> HubTokens | None:
    found: HubTokens | None = request.environ.get(ENVIRON_KEY)
    return found


def serving_a_hub() -> bool:
    """Whether this request came to the sandbox as a Hub service (its users' plans are then
    made from their Hub tokens, by :func:`plan_of`)."""
    return _configured() is not None


def _plans() -> PlanStore:
    plans: PlanStore = current_app.extensions["xms_backend"].plans
    return plans


def plan_of(plans: PlanStore, user: HubUser, token: str) -> Plan:
    """The Hub user's own plan, named after them: made on first use, and given this (checked)
    token when the plan has another, so that the phones link made from it opens. The token is
    stored marked as the Hub's: it opens the plan only while the Hub still vouches for it."""
    plan = plans.find(user.name)
    if plan is not None and hub_token_matches(token, plan.token):
        return plan
    return plans.add(user.name, token, from_hub=True)


def hub_plan(plan_id: str, token: str | None) -> Plan | None:
    """For the API's routes: ``plan_id``'s plan when ``token`` is the Hub token of the user of
    that name; None otherwise (no Hub, a plan token, someone else's), and the plan's own
    authentication decides."""
    hub = _configured()
    if hub is None or not token:
        return None
    plan = _plans().find(plan_id)
    if plan is not None and token_matches(token, plan.token):
        return None  # the plan's own token: no need to ask the Hub
    user = hub.user_for(token)
    if user is None or user.name != plan_id:
        return None
    return plan_of(_plans(), user, token)


def hub_caller(token: str | None, named: str | None) -> tuple[bool, Plan | None] | None:
    """For the sandbox's own routes: ``(instructor, plan)`` when ``token`` is a Hub token that
    may use this service (the plan is the user's own; a request that names another plan gets
    nothing), None otherwise."""
    hub = _configured()
    if hub is None or not token:
        return None
    user = hub.user_for(token)
    if user is None:
        return None
    if hub.instructs(user):
        return True, None
    if named is not None and named != user.name:
        return None
    return False, plan_of(_plans(), user, token)


class HubServiceMiddleware:
    """Serve a WSGI app as the Hub service: under ``prefix`` (``/services/sms-sandbox/``), which
    moves from ``PATH_INFO`` to ``SCRIPT_NAME``, with ``tokens`` in each request's environ.
    Paths without the prefix are served as they are (the service's own address, for a check
    from the Hub's host)."""

    def __init__(self, app: Callable[..., Any], prefix: str, tokens: HubTokens) -> None:
        self.app = app
        self.prefix = "/" + prefix.strip("/")
        self.tokens = tokens

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path: str = environ.get("PATH_INFO", "")
        if path == self.prefix or path.startswith(self.prefix + "/"):
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "").rstrip("/") + self.prefix
            environ["PATH_INFO"] = path[len(self.prefix) :] or "/"
        environ[ENVIRON_KEY] = self.tokens
        return self.app(environ, start_response)


def install(sandbox: Sandbox, tokens: HubTokens, prefix: str) -> None:
    """Make a built (not yet serving) sandbox a Hub service: Hub tokens count, and it answers
    under ``prefix``."""
    server = sandbox._server
    server.app = HubServiceMiddleware(server.app, prefix, tokens)
