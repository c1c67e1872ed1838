"""The strings that the projections of thousands of objects repeat, held once.

Each object decoded from the API brings its own copy of every key and value: `app`, `Running`,
its namespace's and its node's names, `topologyKey`, `matchLabels`... At 40,000 pods and 20,000
Deployments those copies are a large share of what the informers keep. Interned, each distinct
string is held once, and the projection is equal to the one made without (the offline check makes
its projections once and drops them: it does without).
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

# Fields that are unique to their object: interning them would only add an entry to the table.
UNIQUE_FIELDS = frozenset({"name", "uid", "pod_ip", "waive"})
# A string this long is no label or key: left as it is.
LONGEST_INTERNED = 253


def interned(value: Any) -> Any:
    """`value` (a projection, or what it holds) with its strings interned; equal to `value`."""
    if isinstance(value, str):
        return sys.intern(value) if len(value) <= LONGEST_INTERNED and type(value) is str else value
    if isinstance(value, dict):
        return {interned(k): interned(v) for k, v in value.items()}
    if type(value) is list:
        return [interned(v) for v in value]
    if type(value) is tuple:
        return tuple(interned(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: interned(getattr(value, f.name)) for f in dataclasses.fields(value)
                   if f.init and f.name not in UNIQUE_FIELDS}
        return dataclasses.replace(value, **changes)
    return value
