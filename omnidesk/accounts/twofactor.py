"""TOTP two-factor sign-in (docs/security.md): enrolment, codes, one-time recovery codes, the per-role policy.

pyotp computes the codes (RFC 6238, 30 s steps, 6 digits); a code is taken from the step before, the current one
or the next (clock drift), and never twice: the step accepted is stored and only a later step passes after it.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
import time

import pyotp
import segno
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from omnidesk.inboxes.secrets import decrypt_secrets, encrypt_secrets

from .audit import audit
from .models import AgentProfile, RecoveryCode, SignInPolicy, TwoFactor

ISSUER = "omnidesk"
RECOVERY_CODES = 10
# Steps either side of now a code may come from: phones' clocks drift.
DRIFT_STEPS = 1


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret)


def secret_of(two_factor: TwoFactor) -> str:
    return decrypt_secrets(two_factor.secret)["totp"]


def is_enrolled(user: AbstractBaseUser) -> bool:
    return TwoFactor.objects.filter(user=user, confirmed_at__isnull=False).exists()


def policy() -> SignInPolicy:
    return SignInPolicy.objects.filter(pk=1).first() or SignInPolicy(pk=1)


def required_for(user: AbstractBaseUser) -> bool:
    """Whether the administrator's policy makes this user's role use a second factor."""
    profile = AgentProfile.objects.filter(user=user).only("role").first()
    return profile is not None and policy().requires_2fa(profile.role)


def start_enrolment(user: AbstractBaseUser) -> TwoFactor:
    """The user's unconfirmed factor with a fresh secret (a confirmed one is left alone and returned)."""
    with transaction.atomic():
        two_factor = TwoFactor.objects.select_for_update().filter(user=user).first()
        if two_factor is not None and two_factor.confirmed_at is not None:
            return two_factor
        secret = pyotp.random_base32()
        if two_factor is None:
            return TwoFactor.objects.create(user=user, secret=encrypt_secrets({"totp": secret}))
        two_factor.secret = encrypt_secrets({"totp": secret})
        two_factor.last_step = 0
        two_factor.save(update_fields=["secret", "last_step"])
        return two_factor


def pending_enrolment(user: AbstractBaseUser) -> TwoFactor | None:
    return TwoFactor.objects.filter(user=user, confirmed_at__isnull=True).first()


def otpauth_uri(two_factor: TwoFactor, user: AbstractBaseUser) -> str:
    return _totp(secret_of(two_factor)).provisioning_uri(name=user.get_username(), issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The otpauth URI as an inline SVG QR code (segno; no script, no style attribute)."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=4, xmldecl=False, svgclass="qr", lineclass=None)
    return out.getvalue().decode()


def _accept_totp(two_factor: TwoFactor, code: str, *, now: float | None = None) -> bool:
    """A code of a step later than the last one taken; the step is stored in the same statement (no replay,
    even by two requests at once)."""
    totp = _totp(secret_of(two_factor))
    current = int((now if now is not None else time.time()) // totp.interval)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if step <= two_factor.last_step or not hmac.compare_digest(totp.at(step * totp.interval), code):
            continue
        taken = TwoFactor.objects.filter(pk=two_factor.pk, last_step__lt=step).update(last_step=step)
        if taken:
            two_factor.last_step = step
            return True
    return False


def _normalise(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def _hash(code: str) -> str:
    return hashlib.sha256(_normalise(code).encode()).hexdigest()


def _new_recovery_codes(user: AbstractBaseUser) -> list[str]:
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = secrets.token_hex(10)  # 80 bits
        codes.append("-".join(raw[i : i + 5] for i in range(0, 20, 5)))
    RecoveryCode.objects.filter(user=user).delete()
    RecoveryCode.objects.bulk_create([RecoveryCode(user=user, code_hash=_hash(c)) for c in codes])
    return codes


def confirm_enrolment(user: AbstractBaseUser, code: str) -> list[str] | None:
    """Turn the factor on with a first code from the app; returns the recovery codes (shown once), or None
    when the code does not match."""
    with transaction.atomic():
        two_factor = (
            TwoFactor.objects.select_for_update().filter(user=user, confirmed_at__isnull=True).first()
        )
        if two_factor is None or not _accept_totp(two_factor, _normalise(code)):
            return None
        two_factor.confirmed_at = timezone.now()
        two_factor.save(update_fields=["confirmed_at"])
        codes = _new_recovery_codes(user)
        audit(user, "auth.2fa_enabled", two_factor)
    return codes


def verify(user: AbstractBaseUser, code: str) -> str | None:
    """Check a sign-in code: "totp" or "recovery" for what matched, None for a wrong (or replayed) code. A
    recovery code is used up here."""
    code = _normalise(code)
    if not code or len(code) > 64:
        return None
    two_factor = TwoFactor.objects.filter(user=user, confirmed_at__isnull=False).first()
    if two_factor is None:
        return None
    if code.isdigit() and len(code) == 6:
        return "totp" if _accept_totp(two_factor, code) else None
    used = RecoveryCode.objects.filter(user=user, code_hash=_hash(code), used_at__isnull=True).update(
        used_at=timezone.now()
    )
    if used:
        audit(user, "auth.recovery_code_used", two_factor, left=recovery_codes_left(user))
        return "recovery"
    return None


def recovery_codes_left(user: AbstractBaseUser) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


def new_recovery_codes(user: AbstractBaseUser) -> list[str]:
    """Replace the user's recovery codes (the old ones stop working)."""
    with transaction.atomic():
        codes = _new_recovery_codes(user)
        two_factor = TwoFactor.objects.get(user=user)
        audit(user, "auth.recovery_codes_renewed", two_factor)
    return codes


def disable(user: AbstractBaseUser, *, actor: AbstractBaseUser | None = None) -> None:
    """Remove the factor and its recovery codes (an administrator's reset, or the user's own choice)."""
    with transaction.atomic():
        two_factor = TwoFactor.objects.filter(user=user).first()
        if two_factor is None:
            return
        audit(actor or user, "auth.2fa_disabled", two_factor)
        RecoveryCode.objects.filter(user=user).delete()
        two_factor.delete()
