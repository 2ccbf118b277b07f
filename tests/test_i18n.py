"""The en, zh-Hans, zh-Hant, it and pl catalogues stay complete (the product promise, not a nicety)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

import omnidesk

PACKAGE = Path(omnidesk.__file__).resolve().parent
LOCALE = PACKAGE / "locale"
LANGUAGES = ["zh_Hans", "zh_Hant", "it", "pl"]


def catalogue(language: str) -> polib.POFile:
    path = LOCALE / language / "LC_MESSAGES" / "django.po"
    assert path.exists(), f"missing catalogue {path}"
    return polib.pofile(str(path))


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_is_complete(language):
    po = catalogue(language)
    untranslated = [e.msgid for e in po.untranslated_entries()]
    fuzzy = [e.msgid for e in po.fuzzy_entries()]
    assert not untranslated, f"{language}: {len(untranslated)} untranslated, e.g. {untranslated[:5]}"
    assert not fuzzy, f"{language}: {len(fuzzy)} fuzzy, e.g. {fuzzy[:5]}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_placeholders_survive_translation(language):
    """A translation that drops or renames %(name)s / {name} would crash or mislead at run time."""
    import re

    pattern = re.compile(r"%\(\w+\)[sd]|\{\w+\}")
    for entry in catalogue(language).translated_entries():
        if entry.msgid_plural:
            # Plural forms may leave the count out of the singular, so check every other placeholder.
            expected = set(pattern.findall(entry.msgid_plural)) - {"%(count)s", "%(count)d", "{count}"}
            for form in entry.msgstr_plural.values():
                assert expected <= set(pattern.findall(form)), (language, entry.msgid, form)
        else:
            assert set(pattern.findall(entry.msgid)) == set(pattern.findall(entry.msgstr)), (
                language,
                entry.msgid,
                entry.msgstr,
            )


@pytest.mark.parametrize("language", LANGUAGES)
def test_compiled_catalogue_matches_the_source(language):
    po = catalogue(language)
    mo_path = LOCALE / language / "LC_MESSAGES" / "django.mo"
    assert mo_path.exists(), f"{mo_path} is not compiled (make messages)"
    mo = {(e.msgctxt, e.msgid): e.msgstr or e.msgstr_plural for e in polib.mofile(str(mo_path))}
    stale = [e.msgid for e in po.translated_entries() if (e.msgctxt, e.msgid) not in mo]
    assert not stale, f"{language}: .mo lacks {len(stale)} strings, e.g. {stale[:5]} — run make messages"


def test_every_translatable_string_in_the_code_is_in_the_catalogues(tmp_path):
    """Re-extract the strings from a copy of the source and compare with what the catalogues hold."""
    if not shutil.which("xgettext"):
        if os.environ.get("CI") == "true":
            pytest.fail("GNU gettext is missing under CI=true (apt-get install gettext)")
        pytest.skip("GNU gettext not installed (apt-get install gettext)")
    copy = tmp_path / "omnidesk"
    shutil.copytree(
        PACKAGE, copy, ignore=shutil.ignore_patterns("locale", "__pycache__", "tests", "static", "migrations")
    )
    (copy / "locale").mkdir()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "omnidesk.settings"}
    subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "-l", "it", "--no-location", "--no-wrap"],
        cwd=copy,
        env=env,
        check=True,
        capture_output=True,
    )
    extracted = polib.pofile(str(copy / "locale" / "it" / "LC_MESSAGES" / "django.po"))
    wanted = {(e.msgctxt, e.msgid) for e in extracted}
    for language in LANGUAGES:
        have = {(e.msgctxt, e.msgid) for e in catalogue(language) if not e.obsolete}
        missing = sorted(m for _, m in wanted - have)
        assert not missing, (
            f"{language} lacks {len(missing)} strings, e.g. {missing[:5]} — run make messages and translate"
        )
