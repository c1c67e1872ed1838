"""Names, label values and owner references of the objects sncguard owns."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from . import API_VERSION

MAX_LABEL_VALUE = 63
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def digest(text: str, length: int = 10) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def label_value(text: str) -> str:
    """`text` when it is a valid label value; otherwise a stable shortening with a digest that is one."""
    if len(text) <= MAX_LABEL_VALUE and _LABEL_VALUE.match(text):
        return text
    tail = digest(text)
    head = re.sub(r"[^A-Za-z0-9_.-]", "-", text)[: MAX_LABEL_VALUE - len(tail) - 1].strip("-_.")
    return f"{head}-{tail}" if head else tail


def owner_reference(kind: str, name: str, uid: str) -> dict[str, Any]:
    """A controller reference to a policy; blockOwnerDeletion off, so deleting a policy never waits on us."""
    return {"apiVersion": API_VERSION, "kind": kind, "name": name, "uid": uid,
            "controller": True, "blockOwnerDeletion": False}
