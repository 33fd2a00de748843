"""Who may open a served dashboard: a random token, Panel's login page and Bokeh's signed cookie, loopback names only.

``execlab dashboard`` makes a token when it starts and prints it once (as Jupyter does). The page and its websocket
are behind Panel's basic-auth login (:class:`panel.auth.BasicAuthProvider`): the login form takes the user name and
the token, Panel sets a ``user`` cookie signed with a random ``cookie_secret`` (tornado's secure cookies), and Bokeh
refuses the document and its websocket (``tornado.web.authenticated``) to a request without it. Two things are
added to Panel's provider: the token is compared in constant time, and a request whose ``Host`` header is not the
loopback address the dashboard was started on has no user (DNS rebinding). Bokeh checks the websocket's ``Origin``
against ``websocket_origin``.
"""

from __future__ import annotations

import getpass
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["TOKEN_ENV", "DashboardAccess", "new_access", "serve_options"]

#: The environment variable ``execlab dashboard`` reads its token from (else it makes one and prints it once).
TOKEN_ENV: Final = "EXECLAB_DASHBOARD_TOKEN"


@dataclass(frozen=True)
class DashboardAccess:
    """The credentials of one served dashboard and the host names it answers to."""

    user: str
    token: str = field(repr=False)
    cookie_secret: str = field(repr=False)
    hosts: frozenset[str]
    """``host:port`` values the ``Host`` header (and the websocket ``Origin``) may have."""

    def accepts(self, user: str, token: str) -> bool:
        """Whether a login with ``user`` and ``token`` succeeds (constant-time comparison)."""
        same_user = hmac.compare_digest(user.encode(), self.user.encode())
        return hmac.compare_digest(token.encode(), self.token.encode()) & same_user

    def host_allowed(self, host: str | None) -> bool:
        """Whether a request's ``Host`` header names this dashboard."""
        return host is not None and host.lower() in self.hosts


def new_access(address: str, port: int, user: str | None = None, token: str | None = None) -> DashboardAccess:
    """Fresh credentials for a dashboard served on ``address:port``: the given (or a random) token, a random cookie
    secret, and the login user (default: the user running the process)."""
    if token is not None and len(token) < 16:
        raise ValueError("the dashboard token must be at least 16 characters")
    return DashboardAccess(user or getpass.getuser(), token or secrets.token_urlsafe(24), secrets.token_urlsafe(32),
                           frozenset({f"{address}:{port}"}))


def _provider(access: DashboardAccess) -> Any:
    """Panel's basic-auth provider, with the token compared in constant time and the ``Host`` header checked."""
    import tornado.web
    from panel.auth import BasicAuthProvider, BasicLoginHandler

    class TokenLoginHandler(BasicLoginHandler):
        def prepare(self) -> None:
            if not access.host_allowed(self.request.host):
                raise tornado.web.HTTPError(403, "unexpected Host header")

        def _validate(self, username: str, password: str) -> bool:
            return access.accepts(username, password)

    class TokenAuthProvider(BasicAuthProvider):
        @property
        def get_user(self) -> Any:
            panel_get_user = super().get_user

            def get_user(handler: Any) -> str | None:
                if not access.host_allowed(handler.request.host):
                    return None
                user: str | None = panel_get_user(handler)
                return user

            return get_user

        @property
        def login_handler(self) -> Any:
            super().login_handler  # noqa: B018 (Panel configures its handler's endpoint and template here)
            TokenLoginHandler._login_endpoint = self._login_endpoint
            TokenLoginHandler._login_template = self._login_template
            return TokenLoginHandler

    provider: Any = TokenAuthProvider
    return provider()


def serve_options(access: DashboardAccess) -> dict[str, Any]:
    """Keyword arguments for ``panel.serve``: the login provider, the cookie secret and the websocket origins."""
    return {"auth_provider": _provider(access), "cookie_secret": access.cookie_secret,
            "websocket_origin": sorted(access.hosts)}
