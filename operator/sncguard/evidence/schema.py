"""The evidence pack's JSON: its schema (pack.schema.json, JSON Schema 2020-12, shipped in the package),
its canonical form and its digest.

The digest is the SHA-256 (hex) of the canonical JSON of every field of the pack but `digest` itself:
keys sorted, no whitespace (separators "," and ":"), non-ASCII characters as they are, UTF-8. A pack
holds no floating-point number, so any JSON tool that sorts keys and prints compactly gives the same
bytes. To verify a pack:

    python3 -c 'import hashlib,json,sys; p=json.load(open(sys.argv[1])); d=p.pop("digest"); print(hashlib.sha256(json.dumps(p,sort_keys=True,separators=(",",":"),ensure_ascii=False).encode()).hexdigest()==d["value"])' out/acme.json
"""  # noqa: E501

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

ALGORITHM = "sha256"
SCHEMA_FILE = "pack.schema.json"


def canonical(value: Any) -> bytes:
    """The canonical JSON of `value`: sorted keys, no whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def digest_of(pack: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of the pack without its `digest`."""
    return hashlib.sha256(canonical({k: v for k, v in pack.items() if k != "digest"})).hexdigest()


def seal(pack: Mapping[str, Any]) -> dict[str, Any]:
    """The pack with its digest as its last field."""
    body = {k: v for k, v in pack.items() if k != "digest"}
    return {**body, "digest": {"algorithm": ALGORITHM, "value": digest_of(body)}}


def verify(pack: Mapping[str, Any]) -> bool:
    """Whether the pack's digest is the one of its content."""
    digest = pack.get("digest")
    return (isinstance(digest, Mapping) and digest.get("algorithm") == ALGORITHM
            and digest.get("value") == digest_of(pack))


def dumps(pack: Mapping[str, Any]) -> str:
    """The pack as written to DIR/<name>.json: indented for people, in its own key order."""
    return json.dumps(pack, ensure_ascii=False, indent=2, allow_nan=False) + "\n"


def load_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) the packs follow."""
    return json.loads(resources.files(__package__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8"))
