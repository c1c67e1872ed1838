"""Kubernetes label and node selector semantics, as the API server and scheduler apply them."""

from __future__ import annotations

import re
from collections.abc import Mapping

# Go's strconv.ParseInt(s, 10, 64), which the scheduler applies to Gt/Lt: an optional sign and ASCII
# digits only (Python's int() also takes underscores, surrounding spaces and non-ASCII digits).
_GO_INT = re.compile(r"[+-]?[0-9]+")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _parse_int64(text: str) -> int:
    if not _GO_INT.fullmatch(text):
        raise ValueError(f"{text!r} is not an integer")
    value = int(text)
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise ValueError(f"{text!r} is out of the int64 range")
    return value


def _requirement_matches(operator: str, key: str, values: list[str] | None,
                         labels: Mapping[str, str]) -> bool:
    values = values or []
    if operator == "In":
        return key in labels and labels[key] in values
    if operator == "NotIn":
        return key not in labels or labels[key] not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    if operator in ("Gt", "Lt"):
        # Node selector only: one integer value; a non-integer label never matches.
        try:
            have, want = _parse_int64(labels[key]), _parse_int64(values[0])
        except (KeyError, ValueError, IndexError, TypeError):
            return False
        return have > want if operator == "Gt" else have < want
    raise ValueError(f"unknown selector operator {operator!r}")


def label_selector_matches(selector: Mapping | None, labels: Mapping[str, str]) -> bool:
    """metav1.LabelSelector: an empty selector matches everything; None matches nothing."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    return all(
        _requirement_matches(e.get("operator", ""), e.get("key", ""), e.get("values"), labels)
        for e in selector.get("matchExpressions") or ()
    )


def is_empty_selector(selector: Mapping | None) -> bool:
    return selector is not None and not selector.get("matchLabels") and not selector.get("matchExpressions")


def node_selector_term_matches(term: Mapping, node_name: str, labels: Mapping[str, str]) -> bool:
    """One NodeSelectorTerm: all its expressions and fields must hold (an empty term matches nothing)."""
    expressions = term.get("matchExpressions") or ()
    fields = term.get("matchFields") or ()
    if not expressions and not fields:
        return False
    if not all(_requirement_matches(e.get("operator", ""), e.get("key", ""), e.get("values"), labels)
               for e in expressions):
        return False
    return all(
        _requirement_matches(f.get("operator", ""), "metadata.name", f.get("values"),
                             {"metadata.name": node_name})
        for f in fields
    )


def node_admits(node_name: str, labels: Mapping[str, str], node_selector: Mapping[str, str] | None,
                affinity: Mapping | None) -> bool:
    """Whether a pod's nodeSelector and required node affinity admit this node."""
    for key, value in (node_selector or {}).items():
        if labels.get(key) != value:
            return False
    required = (((affinity or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = required.get("nodeSelectorTerms")
    if terms is None:
        return True
    # Terms are ORed.
    return any(node_selector_term_matches(t, node_name, labels) for t in terms)
