"""The message catalogues: complete, compiled, and the only place words come from."""

from __future__ import annotations

import ast
import gettext
import string
import sys
from pathlib import Path

import pytest

from sncguard import i18n
from sncguard.i18n import LANGUAGES, Seq, Text, msg, msg_n, render, seq

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "operator" / "sncguard"
sys.path.insert(0, str(ROOT / "hack"))

import i18n as catalogue_tool  # noqa: E402  (hack/i18n.py, what `make i18n` runs)


@pytest.fixture(scope="module")
def template():
    return catalogue_tool.extract()


def test_every_message_is_translated_and_every_catalogue_compiled(template):
    """Fails on a message missing from a catalogue, an empty or fuzzy translation, a translation naming a
    field the code does not pass, and a .mo older than its .po: `make i18n` and a translator mend them."""
    assert catalogue_tool.problems(template) == []


def test_the_shipped_languages_are_the_catalogues_and_include_italian():
    assert LANGUAGES[0] == "en" and {"fr", "it"} <= set(LANGUAGES)
    assert set(LANGUAGES) == set(catalogue_tool.languages())


def _keyword_calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("msg", "msg_n", "N_"):
            yield node


def test_message_ids_are_literals_the_extractor_sees():
    """An f-string or a variable as a message ID escapes extraction: it would show untranslated."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for call in _keyword_calls(ast.parse(path.read_text(encoding="utf-8"))):
            ids = call.args[:2] if call.func.id == "msg_n" else call.args[:1]
            if not ids or not all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in ids):
                offenders.append(f"{path.relative_to(ROOT)}:{call.lineno}")
    assert offenders == []


def test_no_language_is_chosen_by_an_if_outside_the_catalogues():
    """`language == "fr"` branches are what catalogues replace: a third language must need no code."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare) and any(
                    isinstance(c, ast.Constant) and c.value in ("fr", "it") for c in node.comparators):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def _texts(entry) -> list[Text]:
    """The entry as the code builds it, each field given a visible value; a plural entry at several counts."""
    forms = entry.id if isinstance(entry.id, tuple) else (entry.id,)
    fields = sorted({name for form in forms for _, name, _, _ in string.Formatter().parse(form) if name})
    params = tuple((name, f"<{name}>") for name in fields)
    if len(forms) == 1:
        return [Text(entry.id, params)]
    return [Text(forms[0], params, forms[1], n) for n in (0, 1, 2, 1_000_000)]


def test_every_translation_renders_with_the_parameters_the_code_passes(template):
    for language in LANGUAGES:
        for entry in template:
            if not entry.id:
                continue
            for text in _texts(entry):
                rendered = text.render(language)
                assert "{" not in rendered.replace("{}", ""), (language, entry.id, rendered)
                assert rendered.strip(), (language, entry.id)


def test_counts_take_each_language_s_plural_rule():
    """French puts 0 in the singular, English and Italian in the plural."""
    zones = [msg_n("{count} zone ({zones})", "{count} zones ({zones})", n, zones=["a", "b"][:n]) for n in (0, 1, 2)]
    assert [z.render("en") for z in zones] == ["0 zones ()", "1 zone (a)", "2 zones (a, b)"]
    assert [z.render("fr") for z in zones] == ["0 zone ()", "1 zone (a)", "2 zones (a, b)"]
    assert [z.render("it") for z in zones] == ["0 zone ()", "1 zona (a)", "2 zone (a, b)"]


def test_a_text_renders_its_parameters_in_the_same_language():
    text = msg("{nodes} and {more} more", nodes=seq([msg("node affinity"), "zone-a"]), more=2)
    assert text.render("en") == "node affinity, zone-a and 2 more"
    assert text.render("fr") == "l'affinité de nœud, zone-a et 2 autre(s)"
    assert text.render("it") == "l'affinità di nodo, zone-a e altri 2"
    assert str(text) == text.render("en") == render(text)


def test_texts_are_values():
    """Findings are compared and hashed (status diffs, sets): a Text with list parameters must be too."""
    a = msg("{nodes} and {more} more", nodes=["a", "b"], more=1)
    b = msg("{nodes} and {more} more", nodes=["a", "b"], more=1)
    assert a == b and hash(a) == hash(b) and isinstance(dict(a.params)["nodes"], Seq)
    assert a != msg("{nodes} and {more} more", nodes=["a"], more=1)


def test_an_unknown_language_is_an_error_not_english():
    with pytest.raises(ValueError, match="no catalogue for language 'de'"):
        msg("node affinity").render("de")


def test_a_message_without_translation_shows_its_english_id():
    """A message the catalogue lacks still says something true (the check above keeps that from shipping)."""
    assert msg("not in any catalogue {x}", x=1).render("fr") == "not in any catalogue 1"


def test_the_compiled_catalogues_are_what_gettext_loads():
    for language in LANGUAGES[1:]:
        loaded = gettext.translation(i18n.DOMAIN, localedir=i18n.LOCALE_DIR, languages=[language])
        assert loaded.gettext("node affinity") != "node affinity"
