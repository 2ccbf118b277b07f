"""Forms of the workspace knowledge-base editor."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .actions import MAX_BODY
from .constants import ArticleStatus, Visibility
from .languages import normalise
from .models import Category

LANGUAGE_CODE_RE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8}){0,2}$")


def clean_language(value: str) -> str:
    code = normalise((value or "").strip())
    if not LANGUAGE_CODE_RE.match(code):
        raise forms.ValidationError(_("Use a language code such as en, it, pl, zh-hans or pt-br."))
    return code


class TranslationForm(forms.Form):
    language = forms.CharField(
        label=_("Language"),
        max_length=16,
        help_text=_("Any language code; the help center offers %(list)s.")
        % {"list": ", ".join(code for code, _n in settings.LANGUAGES)},
    )
    title = forms.CharField(label=_("Title"), max_length=200)
    body = forms.CharField(
        label=_("Body (Markdown)"), max_length=MAX_BODY, widget=forms.Textarea(attrs={"rows": 18})
    )

    def clean_language(self) -> str:
        return clean_language(self.cleaned_data["language"])


class NewArticleForm(TranslationForm):
    category = forms.ModelChoiceField(label=_("Category"), queryset=Category.objects.all(), required=False)
    visibility = forms.ChoiceField(
        label=_("Visibility"), choices=Visibility.choices, initial=Visibility.PUBLIC
    )


class ArticleSettingsForm(forms.Form):
    category = forms.ModelChoiceField(label=_("Category"), queryset=Category.objects.all(), required=False)
    status = forms.ChoiceField(label=_("Status"), choices=ArticleStatus.choices)
    visibility = forms.ChoiceField(label=_("Visibility"), choices=Visibility.choices)


class ImageForm(forms.Form):
    image = forms.FileField(label=_("Image"))


class CategoryForm(forms.Form):
    slug = forms.SlugField(label=_("Slug"), max_length=80)
    position = forms.IntegerField(label=_("Position"), min_value=0, max_value=10_000, initial=0)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for code, name in settings.LANGUAGES:
            self.fields[f"name_{code}"] = forms.CharField(
                label=_("Name (%(language)s)") % {"language": name}, max_length=120, required=False
            )

    def names(self) -> dict[str, str]:
        return {code: self.cleaned_data.get(f"name_{code}", "") for code, _n in settings.LANGUAGES}


class ExampleReviewForm(forms.Form):
    text = forms.CharField(label=_("Question"), max_length=1000, min_length=3)
    decision = forms.ChoiceField(choices=[("approve", _("Approve")), ("reject", _("Reject"))])
