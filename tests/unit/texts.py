"""A finding's text given per language, without a catalogue: for tests of what outputs put where."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Said:
    """Renders `fr` in French and `en` in any other language, as a Text renders from the catalogues."""

    en: str
    fr: str

    def render(self, language: str = "en") -> str:
        return self.fr if language == "fr" else self.en
