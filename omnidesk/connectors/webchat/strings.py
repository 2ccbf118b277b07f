"""The widget's own words, served per language from the gettext catalogues (one source of truth)."""

from __future__ import annotations

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_lazy as _

STRINGS = {
    "title": _("Chat with us"),
    "open": _("Open chat"),
    "close": _("Close chat"),
    "placeholder": _("Type your message…"),
    "send": _("Send"),
    "attach": _("Attach a file"),
    "sending": _("Sending…"),
    "sent": _("Sent"),
    "seen": _("Seen"),
    "failed": _("Not sent. Tap to retry."),
    "typing": _("%(name)s is typing…"),
    "someone_typing": _("Typing…"),
    "connecting": _("Connecting…"),
    "reconnecting": _("Connection lost. Reconnecting…"),
    "online": _("We are online"),
    "reply_time": _("We usually reply within %(time)s."),
    "offline_title": _("We are away right now"),
    # Followed by the expected-reply sentence ("We are closed until Monday 09:00 CET; expect an answer
    # by 11:00."), which says when; this one stands on its own.
    "offline_body": _("Leave your e-mail address and a message, and we will get back to you."),
    "prechat_intro": _("Before we start, please tell us a little about yourself."),
    "start": _("Start chat"),
    "name": _("Name"),
    "email": _("E-mail"),
    "phone": _("Phone"),
    "required": _("This field is required."),
    "bad_email": _("Please enter a valid e-mail address."),
    "too_big": _("The file is too large (at most %(size)s MB)."),
    "bad_type": _("This type of file cannot be sent."),
    "rate_limited": _("You are sending messages too quickly. Please wait a moment."),
    "identity_refused": _("We could not confirm who you are. Please reload the page."),
    "you": _("You"),
    "agent": _("Support"),
    "attachment": _("Attachment"),
}

# Browser tags Django's catalogue names do not cover by prefix.
_CHINESE = {
    "zh-tw": "zh-hant",
    "zh-hk": "zh-hant",
    "zh-mo": "zh-hant",
    "zh-hant": "zh-hant",
    "zh": "zh-hans",
    "zh-cn": "zh-hans",
    "zh-sg": "zh-hans",
    "zh-hans": "zh-hans",
}


def pick_language(requested: str) -> str:
    """The supported language for a browser or host-given tag ("zh-TW" → "zh-hant"), English if none."""
    supported = {code for code, _name in settings.LANGUAGES}
    for raw in requested.replace("_", "-").lower().split(","):
        tag = raw.split(";")[0].strip()
        if not tag:
            continue
        parts = tag.split("-")
        if parts[0] == "zh":
            for candidate in ("-".join(parts[:2]), "-".join(parts[:3:2]) if len(parts) > 2 else "", "zh"):
                if candidate in _CHINESE:
                    return _CHINESE[candidate]
        if tag in supported:
            return tag
        if parts[0] in supported:
            return parts[0]
    return settings.LANGUAGE_CODE


def strings_for(language: str) -> dict[str, str]:
    with translation.override(language):
        return {key: str(value) for key, value in STRINGS.items()}
