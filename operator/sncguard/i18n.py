"""Words apart from verdicts: every sentence sncguard shows is an English message ID in a gettext catalogue.

Rules build `Text`s (`msg("Pod {pod} runs on node {node}", pod=..., node=...)`): the message ID and its
parameters, nothing rendered. A Text is rendered when it is shown, in the language asked for, from the
compiled catalogues in `locale/<language>/LC_MESSAGES/sncguard.mo`. A translator edits the `.po`
files beside them; `make i18n` extracts the template (`locale/sncguard.pot`, keywords `msg` and `N_`),
merges it into every catalogue and compiles them. Adding a language is adding its catalogue to
LANGUAGES' folder: no Python changes.

Message IDs are plain literals (never f-strings) so that the extractor sees them; parameters use
`str.format` fields. A parameter that is itself a Text, or a `Seq` of them, renders in the same language.
A count is `msg_n("{count} zone", "{count} zones", n)`: each catalogue's plural rule picks the form
(French puts 0 in the singular, English and Italian in the plural).
"""

from __future__ import annotations

import gettext
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

DOMAIN = "sncguard"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
SOURCE_LANGUAGE = "en"


def _shipped() -> tuple[str, ...]:
    """The languages with a compiled catalogue, the source language first: a language is its catalogue."""
    found = {p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.mo")}
    return (SOURCE_LANGUAGE, *sorted(found - {SOURCE_LANGUAGE}))


# The CLI's --language choices: en, fr and it (Italian, the language of the service agreement).
LANGUAGES = _shipped()


def N_(message_id: str) -> str:
    """Mark a literal for extraction without translating it (titles kept in tables)."""
    return message_id


@dataclass(frozen=True, slots=True)
class Seq:
    """Items rendered in the same language and joined by `separator` (language-neutral punctuation)."""

    items: tuple[Any, ...]
    separator: str = ", "

    def render(self, language: str) -> str:
        return self.separator.join(render(item, language) for item in self.items)


@dataclass(frozen=True, slots=True)
class Text:
    """A message ID and its parameters; `render` translates it. With `plural`, the ID is the singular and
    `count` picks the form."""

    message_id: str
    params: tuple[tuple[str, Any], ...] = ()
    plural: str | None = None
    count: int = 0

    def render(self, language: str = SOURCE_LANGUAGE) -> str:
        catalogue = translation(language)
        if self.plural is None:
            template = catalogue.gettext(self.message_id)
        else:
            template = catalogue.ngettext(self.message_id, self.plural, self.count)
        # Always formatted, parameters or not, so that a literal brace is written `{{` in every ID.
        return template.format_map({key: render(value, language) for key, value in self.params})

    def __str__(self) -> str:
        return self.render(SOURCE_LANGUAGE)


def msg(message_id: str, /, **params: Any) -> Text:
    """A Text. Lists and tuples among `params` become Seqs joined by ", " (use `Seq` for another separator)."""
    return Text(message_id, tuple((key, _frozen(value)) for key, value in params.items()))


def msg_n(singular: str, plural: str, count: int, /, **params: Any) -> Text:
    """A Text whose form follows `count` (also passed as the `{count}` parameter unless given)."""
    params.setdefault("count", count)
    return Text(singular, tuple((key, _frozen(value)) for key, value in params.items()), plural, count)


def seq(items: Iterable[Any], separator: str = ", ") -> Seq:
    return Seq(tuple(items), separator)


def semicolons(items: Iterable[Any]) -> Seq:
    """Items separated by semicolons as each language writes them ("; ", French " ; "); flat however long."""
    first, *rest = list(items) or [""]
    # TRANSLATORS: one more item of a list separated by semicolons; keep the leading punctuation and spaces.
    return Seq((first, *(msg("; {item}", item=item) for item in rest)), "")


def _frozen(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return Seq(tuple(value))
    if isinstance(value, set | frozenset):
        return Seq(tuple(sorted(value)))
    return value


def render(value: Any, language: str = SOURCE_LANGUAGE) -> str:
    """`value` shown in `language`: a Text or Seq translated, anything else as `str` gives it."""
    if isinstance(value, Text | Seq):
        return value.render(language)
    return str(value)


@cache
def translation(language: str) -> gettext.NullTranslations:
    """The compiled catalogue of `language`; the source language needs none. An unknown language is an
    error, not a silent fallback to English: the CLI offers LANGUAGES only."""
    if language not in LANGUAGES:
        raise ValueError(f"no catalogue for language {language!r}; known: {', '.join(LANGUAGES)}")
    try:
        return gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[language])
    except FileNotFoundError:
        if language == SOURCE_LANGUAGE:
            return gettext.NullTranslations()
        raise
