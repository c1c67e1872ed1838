"""`make i18n`: extract sncguard's messages, merge them into every catalogue, compile the catalogues.

    python hack/i18n.py            # write locale/sncguard.pot, update each .po, compile each .mo
    python hack/i18n.py --check    # exit 1 when a catalogue misses a message or a .mo is stale
    python hack/i18n.py --init de  # start a catalogue for a new language (then translate it, run make i18n)

Messages are the first argument of `msg(...)` and of `N_(...)` in operator/sncguard (see i18n.py).
A translator edits locale/<language>/LC_MESSAGES/sncguard.po, then runs `make i18n`.
"""

from __future__ import annotations

import argparse
import copy
import io
import string
import sys
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
# Fixed header dates: running `make i18n` twice on the same code writes the same bytes.
STAMP = datetime(2026, 1, 1, tzinfo=UTC)
PACKAGE = ROOT / "operator" / "sncguard"
sys.path.insert(0, str(ROOT / "operator"))

from sncguard.i18n import DOMAIN, LOCALE_DIR, SOURCE_LANGUAGE  # noqa: E402

KEYWORDS = {"msg": (1,), "msg_n": (1, 2), "N_": (1,)}
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"


def languages() -> list[str]:
    """Every language with a catalogue (.po), the source language included."""
    return sorted({SOURCE_LANGUAGE} | {p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")})


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(language: str) -> Path:
    return po_path(language).with_suffix(".mo")


def extract() -> Catalog:
    """The template: every message ID of the package, with where it is used."""
    template = Catalog(project="sncguard", domain=DOMAIN, fuzzy=False, creation_date=STAMP, revision_date=STAMP)
    for filename, lineno, message, comments, context in extract_from_dir(
            PACKAGE, method_map=[("**.py", "python")], keywords=KEYWORDS, comment_tags=("TRANSLATORS:",)):
        flags = ("python-brace-format",) if "{" in "".join(_forms(message)) else ()
        template.add(message, None, [(f"operator/sncguard/{filename}", lineno)], auto_comments=comments,
                     context=context, flags=flags)
    return template


def read(path: Path, language: str) -> Catalog:
    if not path.exists():
        return Catalog(locale=language, domain=DOMAIN, project="sncguard", fuzzy=False, creation_date=STAMP,
                       revision_date=STAMP)
    with path.open("rb") as f:
        return read_po(f, locale=language, domain=DOMAIN)


def serialised_po(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_po(out, catalog, width=100, omit_header=False, sort_output=False, include_previous=False)
    return out.getvalue()


def serialised_mo(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def merged(template: Catalog, language: str) -> Catalog:
    catalog = read(po_path(language), language)
    # Babel's update shares the template's entries: a copy keeps one catalogue's strings out of the next.
    catalog.update(copy.deepcopy(template), no_fuzzy_matching=True, update_header_comment=False)
    # Messages no longer in the code are dropped, not kept as obsolete: the code is the source of IDs.
    catalog.obsolete.clear()
    return catalog


def problems(template: Catalog) -> list[str]:
    """What `--check` refuses: an untranslated, fuzzy or format-breaking entry, or a stale compiled file."""
    found: list[str] = []
    ids = {m.id for m in template if m.id}
    for language in languages():
        catalog = read(po_path(language), language)
        have = {m.id: m for m in catalog if m.id}
        for message_id in sorted(ids - set(have), key=str):
            found.append(f"{language}: missing {message_id!r}")
        for message_id in sorted(set(have) - ids, key=str):
            found.append(f"{language}: {message_id!r} is no longer used (run make i18n)")
        if language != SOURCE_LANGUAGE:
            for message_id in sorted(ids & set(have), key=str):
                entry = have[message_id]
                if not all(_forms(entry.string)):
                    found.append(f"{language}: untranslated {message_id!r}")
                elif entry.fuzzy:
                    found.append(f"{language}: fuzzy {message_id!r}")
                elif _fields(entry.string) - _fields(message_id):
                    # A translation may leave a parameter out, never name one the code does not pass.
                    found.append(f"{language}: {message_id!r} has fields {sorted(_fields(entry.string))}, "
                                 f"the code passes {sorted(_fields(message_id))}")
        if not mo_path(language).exists() or mo_path(language).read_bytes() != serialised_mo(catalog):
            found.append(f"{language}: {mo_path(language).relative_to(ROOT)} is stale (run make i18n)")
    return found


def _forms(text: str | tuple[str, ...] | None) -> tuple[str, ...]:
    """A message's forms: one, or its singular and plurals."""
    if isinstance(text, tuple | list):
        return tuple(text)
    return (text or "",)


def _fields(text: str | tuple[str, ...]) -> set[str]:
    return {name for form in _forms(text) for _, name, _, _ in string.Formatter().parse(form) if name is not None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 on any problem")
    parser.add_argument("--init", metavar="LANGUAGE", help="start an empty catalogue for LANGUAGE")
    args = parser.parse_args(argv)
    template = extract()
    if args.init:
        po_path(args.init).parent.mkdir(parents=True, exist_ok=True)
        if not po_path(args.init).exists():
            po_path(args.init).write_bytes(serialised_po(read(po_path(args.init), args.init)))
    if args.check:
        found = problems(template)
        for problem in found:
            print(problem, file=sys.stderr)
        return 1 if found else 0
    TEMPLATE.parent.mkdir(parents=True, exist_ok=True)
    TEMPLATE.write_bytes(serialised_po(template))
    for language in languages():
        catalog = merged(template, language)
        po_path(language).parent.mkdir(parents=True, exist_ok=True)
        po_path(language).write_bytes(serialised_po(catalog))
        mo_path(language).write_bytes(serialised_mo(catalog))
    print(f"{len(template)} messages; catalogues: {', '.join(languages())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
