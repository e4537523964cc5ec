"""Console login with a guard against password guessing: after too many failures for one
account from one address, further attempts are refused for a while, right or wrong."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)


def _key(request: HttpRequest) -> str:
    username = str(request.POST.get("username", "")).strip().lower()
    address = request.META.get("REMOTE_ADDR", "")
    digest = hashlib.sha256(f"{username}\0{address}".encode()).hexdigest()
    return f"login-failures:{digest}"


class LoginView(auth_views.LoginView):
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        key = _key(request)
        if (cache.get(key) or 0) >= settings.ANCHORAGE_LOGIN_MAX_FAILURES:
            logger.warning("login refused: too many failures (%s)", key[-12:])
            minutes = max(1, settings.ANCHORAGE_LOGIN_LOCKOUT_SECONDS // 60)
            context = self.get_context_data(
                throttled=f"Too many failed logins. Try again in {minutes} minutes."
            )
            return self.render_to_response(context, status=429)
        response = super().post(request, *args, **kwargs)
        if request.user.is_authenticated:
            cache.delete(key)
        else:
            timeout = settings.ANCHORAGE_LOGIN_LOCKOUT_SECONDS
            if not cache.add(key, 1, timeout):
                try:
                    cache.incr(key)
                except ValueError:  # expired between add and incr
                    cache.set(key, 1, timeout)
        return response
