"""Signing in (docs/security.md): password, then the second factor when the agent has one or their role must;
one view for /login/ and /admin/login/, so every way in shares the lockout (accounts/lockout.py)."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model, login
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods
from django_ratelimit.core import get_usage

from omnidesk.accounts import actions as account_actions
from omnidesk.accounts import lockout, twofactor
from omnidesk.accounts.models import AgentProfile
from omnidesk.ui.forms import first_error

from .forms import CodeForm, LoginForm

# Who gave the right password and still owes the second factor (or must enrol first), in the session: no
# sign-in exists until then, so neither the workspace, the API nor the agent socket treat them as signed in.
PENDING_KEY = "omnidesk_2fa_pending"
PENDING_SECONDS = 300


def client_ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "")


def _safe_next(request: HttpRequest, next_url: str) -> str:
    if url_has_allowed_host_and_scheme(next_url, {request.get_host()}, require_https=request.is_secure()):
        return next_url
    return ""


def _next_of(request: HttpRequest) -> str:
    return _safe_next(request, request.POST.get("next") or request.GET.get("next") or "")


def _locked_message(until: Any) -> str:
    minutes = max(1, round((until - timezone.now()).total_seconds() / 60))
    return ngettext(
        "Too many failed sign-in attempts. This account is locked; try again in %(minutes)s minute.",
        "Too many failed sign-in attempts. This account is locked; try again in %(minutes)s minutes.",
        minutes,
    ) % {"minutes": minutes}


def lockout_response(request: HttpRequest, *_args: Any) -> HttpResponse:
    """The sign-in page with the reason and the minutes left, 403. Also django-axes' AXES_LOCKOUT_CALLABLE,
    which it calls with (request, response, credentials) or (request, credentials) depending on the path."""
    pending = _pending(request)
    username = request.POST.get("username", "") or (pending or {}).get("username", "")
    until = lockout.locked_until(username) if username else None
    message = _locked_message(until or timezone.now() + lockout.cool_off())
    if hasattr(request, "session"):
        request.session.pop(PENDING_KEY, None)
    form = LoginForm(initial={"username": username})
    context = {"form": form, "error": message, "next": _next_of(request)}
    return render(request, "web/login.html", context, status=403)


def _address_blocked(request: HttpRequest, *, failed: bool = False) -> bool:
    """Whether this address has used up its failures (LOGIN_ADDRESS_RATE, "count/period"); `failed` counts one
    more first, so the failure that reaches the count is refused like the attempts after it."""
    usage = get_usage(
        request, group="omnidesk.signin", key="ip", rate=settings.LOGIN_ADDRESS_RATE, increment=failed
    )
    return usage is not None and usage["count"] >= usage["limit"]


def _address_refusal(request: HttpRequest) -> HttpResponse:
    message = _("Too many failed sign-ins from your network. Wait a few minutes and try again.")
    form = LoginForm(initial={"username": request.POST.get("username", "")})
    return render(
        request, "web/login.html", {"form": form, "error": message, "next": _next_of(request)}, status=429
    )


def _pending(request: HttpRequest) -> dict[str, Any] | None:
    session = getattr(request, "session", None)
    pending = session.get(PENDING_KEY) if session is not None else None
    if not isinstance(pending, dict) or time.time() - float(pending.get("at", 0)) > PENDING_SECONDS:
        return None
    return pending


def _pending_user(request: HttpRequest) -> tuple[dict[str, Any], AbstractBaseUser] | None:
    pending = _pending(request)
    if pending is None:
        return None
    user = get_user_model().objects.filter(pk=pending.get("user"), is_active=True).first()
    return (pending, user) if user is not None else None


def _complete(request: HttpRequest, user: AbstractBaseUser, backend: str, next_url: str) -> HttpResponse:
    request.session.pop(PENDING_KEY, None)
    login(request, user, backend=backend)
    profile = AgentProfile.objects.filter(user=user).select_related("user").first()
    if profile is not None:
        account_actions.record_login(profile, ip=client_ip(request))
    return HttpResponseRedirect(next_url or reverse(settings.LOGIN_REDIRECT_URL))


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    """Username and password; then the code step, or enrolment when the role requires a second factor."""
    next_url = _next_of(request)
    form = LoginForm(request.POST or None)
    error = ""
    status = 200
    if request.method == "POST":
        if not form.is_valid():
            error, status = first_error(form), 400
        else:
            username, password = form.cleaned_data["username"], form.cleaned_data["password"]
            if _address_blocked(request):
                return _address_refusal(request)
            if lockout.is_locked(request, username):
                # Refused before the password is even checked: a locked account learns nothing from guesses.
                return lockout_response(request)
            authed = authenticate(request, username=username, password=password)
            if authed is not None:
                return _after_password(request, authed, next_url)
            locked = bool(getattr(request, "axes_locked_out", False))
            profile = AgentProfile.objects.filter(user__username=username).select_related("user").first()
            refused = _after_failure(request, profile, locked)
            if refused is not None:
                return refused
            error, status = _("Wrong username or password."), 400
    return render(request, "web/login.html", {"form": form, "error": error, "next": next_url}, status=status)


def _after_failure(request: HttpRequest, profile: AgentProfile | None, locked: bool) -> HttpResponse | None:
    """A wrong password or code: into the agent's audit log, then the refusal if the account is now locked or
    the address has failed too often; None to show the form again."""
    if profile is not None:
        account_actions.record_failed_login(profile, ip=client_ip(request), locked=locked)
    if locked:
        return lockout_response(request)
    if _address_blocked(request, failed=True):
        return _address_refusal(request)
    return None


def _after_password(request: HttpRequest, user: AbstractBaseUser, next_url: str) -> HttpResponse:
    backend = getattr(user, "backend", settings.AUTHENTICATION_BACKENDS[-1])
    if twofactor.is_enrolled(user):
        step = "code"
    elif twofactor.required_for(user):
        step = "enrol"
    else:
        return _complete(request, user, backend, next_url)
    request.session.cycle_key()
    request.session[PENDING_KEY] = {
        "user": user.pk,
        "username": user.get_username(),
        "backend": backend,
        "next": next_url,
        "step": step,
        "at": time.time(),
    }
    return HttpResponseRedirect(reverse("web:login_code" if step == "code" else "web:two_factor_enrol"))


@require_http_methods(["GET", "POST"])
def code_view(request: HttpRequest) -> HttpResponse:
    """The second step: a code from the app or a recovery code. Wrong codes count toward the lockout."""
    found = _pending_user(request)
    if found is None or found[0].get("step") != "code":
        return HttpResponseRedirect(reverse("web:login"))
    pending, user = found
    username = pending["username"]
    if lockout.is_locked(request, username):
        return lockout_response(request)
    form = CodeForm(request.POST or None)
    error, status = "", 200
    if request.method == "POST":
        if _address_blocked(request):
            return _address_refusal(request)
        kind = twofactor.verify(user, form.data.get("code", "")) if form.is_valid() else None
        if kind is not None:
            return _complete(request, user, pending["backend"], pending.get("next", ""))
        locked = lockout.record_failure(request, username)
        profile = AgentProfile.objects.filter(user=user).select_related("user").first()
        refused = _after_failure(request, profile, locked)
        if refused is not None:
            return refused
        error, status = (
            _("That code is not valid. Try the current one from your app, or a recovery code."),
            400,
        )
    return render(request, "web/login_code.html", {"form": form, "error": error}, status=status)


@require_http_methods(["GET", "POST"])
def enrol_view(request: HttpRequest) -> HttpResponse:
    """Set up the authenticator app: the secret, its otpauth:// URI and QR code, then a first code to confirm.
    For a signed-in user, or one whose role requires a second factor and who has just given their password."""
    pending: dict[str, Any] | None = None
    if request.user.is_authenticated:
        user: AbstractBaseUser = request.user  # type: ignore[assignment]
    else:
        found = _pending_user(request)
        if found is None or found[0].get("step") != "enrol":
            return HttpResponseRedirect(reverse("web:login"))
        pending, user = found
    if twofactor.is_enrolled(user):
        return render(request, "web/two_factor.html", _status_context(user))
    error, status = "", 200
    if request.method == "POST":
        if pending is not None and lockout.is_locked(request, pending["username"]):
            return lockout_response(request)
        codes = twofactor.confirm_enrolment(user, request.POST.get("code", "")[:64])
        if codes is not None:
            continue_url = reverse(settings.LOGIN_REDIRECT_URL)
            if pending is not None:
                _complete(request, user, pending["backend"], "")
                continue_url = pending.get("next") or continue_url
            context = {"recovery_codes": codes, "continue_url": continue_url}
            return render(request, "web/two_factor_codes.html", context)
        if pending is not None and lockout.record_failure(request, pending["username"]):
            return lockout_response(request)
        error, status = (
            _("That code does not match. Check the time on your phone and try the next code."),
            400,
        )
    two_factor = twofactor.pending_enrolment(user) or twofactor.start_enrolment(user)
    uri = twofactor.otpauth_uri(two_factor, user)
    context = {
        "secret": twofactor.secret_of(two_factor),
        "uri": uri,
        "qr": twofactor.qr_svg(uri),
        "error": error,
        "required": pending is not None,
    }
    return render(request, "web/two_factor_enrol.html", context, status=status)


@require_http_methods(["POST"])
def two_factor_change(request: HttpRequest) -> HttpResponse:
    """A signed-in user with a second factor: new recovery codes, or turning it off (not when their role must
    use it). Both need a current code, so a session left open is not enough."""
    if not request.user.is_authenticated or not twofactor.is_enrolled(request.user):  # type: ignore[arg-type]
        return HttpResponseRedirect(reverse("web:two_factor_enrol"))
    user: AbstractBaseUser = request.user  # type: ignore[assignment]
    action = request.POST.get("action", "")
    if action not in ("renew", "disable"):
        return render(request, "web/two_factor.html", _status_context(user, _("Unknown action.")), status=400)
    if action == "disable" and twofactor.required_for(user):
        message = _("Your role must use two-factor sign-in; an administrator can change that.")
        return render(request, "web/two_factor.html", _status_context(user, message), status=403)
    if twofactor.verify(user, request.POST.get("code", "")[:64]) is None:
        message = _("That code is not valid. Try the current one from your app, or a recovery code.")
        return render(request, "web/two_factor.html", _status_context(user, message), status=400)
    if action == "disable":
        twofactor.disable(user)
        return HttpResponseRedirect(reverse("web:two_factor_enrol"))
    codes = twofactor.new_recovery_codes(user)
    context = {"recovery_codes": codes, "continue_url": reverse("web:two_factor_enrol")}
    return render(request, "web/two_factor_codes.html", context)


def _status_context(user: AbstractBaseUser, error: str = "") -> dict[str, Any]:
    return {
        "left": twofactor.recovery_codes_left(user),
        "required": twofactor.required_for(user),
        "error": error,
    }
