"""Hypothesis strategies for the fuzz tests: policy specs, valid-leaning and hostile.

Shared by tests/unit/test_fuzz_check.py (`sncguard check` on manifests) and
tests/integration/test_fuzz_api.py (the same specs through the real API server and operator),
which loads this file by path.

- `valid_spec(kind)` is derived from the CRD's structural schema (crdgen, itself generated from the
  pydantic models): the right field names, types, enums, bounds and patterns, with a few
  overrides for what the schema cannot say (durations, CIDRs, label selectors whose operator and
  values agree, flow ends naming declared zones, unique flow names). Most of what it draws is
  accepted by the API server; a little (a zero duration, a label key or value the schema does
  not check) is for the operator to refuse.
- `hostile_spec(kind)` takes such a spec and breaks it one to three times: a wrong type, an
  out-of-range number, a bad duration or CIDR, an unknown field, a huge string, deep nesting, an
  empty selector, unicode, a null, a missing field.
- `junk()` is any JSON-like value; `mutate()` breaks any tree (manifests too).

Every strategy here yields JSON-serialisable values when `finite=True` (the default): no NaN or
infinity, which the API server cannot take in JSON at all.
"""

from __future__ import annotations

import copy
import os
import string
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from sncguard.api import BackupPolicySpec, TenantPolicySpec, ZoneSpreadSpec
from sncguard.crdgen import structural_schema

SPEC_MODELS = {"ZoneSpread": ZoneSpreadSpec, "TenantPolicy": TenantPolicySpec, "BackupPolicy": BackupPolicySpec}
SCHEMAS = {kind: structural_schema(model) for kind, model in SPEC_MODELS.items()}


def examples(default: int) -> int:
    """How many examples a fuzz test runs: SNCGUARD_FUZZ_EXAMPLES when set (`make fuzz`), else `default`."""
    raw = os.environ.get("SNCGUARD_FUZZ_EXAMPLES", "").strip()
    return int(raw) if raw else default


# ---- small building blocks ----------------------------------------------------------------------

DNS = string.ascii_lowercase + string.digits
dns_label = st.builds(
    lambda a, mid, b: a + mid + b if mid or b else a,
    st.sampled_from(DNS), st.text(DNS + "-", max_size=6), st.text(DNS, max_size=1),
).map(lambda s: s if not s.endswith("-") else s + "x")
# A small vocabulary first, so that selectors and the objects' labels meet often.
COMMON_KEYS = ["app", "tier", "sncguard.io/tenant", "sncguard.io/zone", "kubernetes.io/metadata.name"]
COMMON_VALUES = ["web", "db", "acme", "dmz", "lan", "shop", "payments"]
label_key = st.one_of(st.sampled_from(COMMON_KEYS), dns_label, st.builds(lambda p, n: f"{p}/{n}", st.sampled_from(
    ["sncguard.io", "app.kubernetes.io", "topology.kubernetes.io", "example.com"]), dns_label))
label_value = st.one_of(st.sampled_from(COMMON_VALUES), st.just(""), dns_label,
                        st.sampled_from(["zone-a", "zone-b", "zone-c"]))
# What the CRD schema lets through (it checks no key of matchLabels, only the values' length) and
# the models refuse: for the operator's InvalidSpec, now and then.
bad_label_key = st.sampled_from(["bad key", "-x", "a/b/c", "Upper.Case/x", "x" * 64, "", "é"])
bad_label_value = st.sampled_from(["-bad", "a b", "x.", "ünï"])
label_map = st.one_of(
    st.dictionaries(label_key, label_value, max_size=3),
    st.dictionaries(label_key, label_value, max_size=3),
    st.dictionaries(label_key, label_value, max_size=3),
    st.dictionaries(st.one_of(label_key, bad_label_key), st.one_of(label_value, bad_label_value), min_size=1,
                    max_size=2),
)
ZONE_LABEL = "topology.kubernetes.io/zone"
REGIONS = ["eu-fr-paris", "eu-de-fra", "us-east-1", "eu-fr-paris-2"]

_UNITS = ["ns", "us", "µs", "ms", "s", "m", "h"]
duration = st.one_of(
    st.sampled_from(["26h", "720h", "1h30m", "90m", "24h", "168h", "1h0m0s", "2.5h", "1s", "0s"]),
    st.lists(st.tuples(st.integers(0, 9999), st.sampled_from(_UNITS)), min_size=1, max_size=3)
    .map(lambda parts: "".join(f"{n}{u}" for n, u in parts)),
)
BAD_DURATIONS = ["26hours", "-1h", "", "1d", "h", "1.h", "1 h", "1h ", "P1D", "99999999999999999999h",
                 "1e3s", "1,5h", "∞h", "1H", "0", "12", "1h-30m", "µ", "1.5.5h"]
cidr = st.one_of(
    st.builds(lambda a, b, c, d, n: f"{a}.{b}.{c}.{d}/{n}", st.integers(0, 255), st.integers(0, 255),
              st.integers(0, 255), st.integers(0, 255), st.integers(0, 32)),
    st.sampled_from(["0.0.0.0/0", "10.0.0.0/8", "203.0.113.0/24", "192.168.1.7/32", "::/0", "2001:db8::/32",
                     "fd00::1/128"]),
)
BAD_CIDRS = ["10.0.0.0/33", "300.1.1.1/8", "::/129", "abc", "10.0.0.0/8/8", " 10.0.0.0/8", "10.0.0.0",
             "10.0.0.0/-1", "10.0.0/8", "", "0.0.0.0/0 ", "2001:db8::g/32", "10.0.0.0/08", "١٠.0.0.0/8"]
crons = st.one_of(
    st.sampled_from(["0 2 * * *", "*/15 * * * *", "@daily", "@every 1h", "0 3 * * MON-FRI", "30 1 1,15 * ?"]),
    st.from_regex(r"[0-9*/,-]{1,4}( [0-9*/,-]{1,4}){4}", fullmatch=True),
)
rfc3339 = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)) \
    .map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ"))


@st.composite
def requirement(draw: st.DrawFn) -> dict[str, Any]:
    operator = draw(st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]))
    out: dict[str, Any] = {"key": draw(label_key), "operator": operator}
    if operator in ("In", "NotIn"):
        out["values"] = draw(st.lists(label_value, min_size=1, max_size=3))
    return out


label_selector = st.fixed_dictionaries({}, optional={
    "matchLabels": label_map, "matchExpressions": st.lists(requirement(), max_size=2)})


@st.composite
def flow_peer(draw: st.DrawFn) -> dict[str, Any]:
    shape = draw(st.sampled_from(["cidr", "zone", "namespaces"]))
    if shape == "cidr":
        return {"cidr": draw(cidr)}
    peer: dict[str, Any] = ({"zone": draw(st.sampled_from(["dmz", "lan", "db"]))} if shape == "zone"
                            else {"namespaceSelector": draw(label_selector)})
    if draw(st.booleans()):
        peer["podSelector"] = draw(label_selector)
    return peer


@st.composite
def flow_port(draw: st.DrawFn) -> dict[str, Any]:
    port = draw(st.one_of(st.integers(1, 65535), st.sampled_from(["https", "http", "dns", "metrics"])))
    out: dict[str, Any] = {"port": port}
    if draw(st.booleans()):
        out["protocol"] = draw(st.sampled_from(["TCP", "UDP", "SCTP"]))
    if isinstance(port, int) and draw(st.booleans()):
        out["endPort"] = draw(st.integers(port, 65535))
    return out


# Overrides, by the name of the property (anywhere in the spec): what the schema cannot express.
OVERRIDES: dict[str, st.SearchStrategy] = {
    "ttl": duration, "rpo": duration, "restoreTestInterval": duration,
    "cidr": cidr, "expires": rfc3339, "schedule": crons,
    "matchLabels": label_map, "matchExpressions": st.lists(requirement(), max_size=2),
    "from": flow_peer(), "to": flow_peer(),
    "ports": st.lists(flow_port(), max_size=3),
    "topologyKey": st.sampled_from([ZONE_LABEL, "topology.kubernetes.io/region", "kubernetes.io/hostname",
                                    "example.com/rack"]),
    "allowedRegions": st.lists(st.sampled_from(REGIONS), max_size=3),
    "tenant": dns_label,
    "zones": st.dictionaries(st.sampled_from(["dmz", "lan", "db", "mgmt"]), label_selector, max_size=3),
    "storageLocation": st.sampled_from(["default", "offsite", "dpa-1"]),
}


def from_schema(schema: dict[str, Any], name: str = "", overrides: dict | None = None) -> st.SearchStrategy:
    """A strategy for values that fit a structural schema node (its CEL rules aside)."""
    overrides = OVERRIDES if overrides is None else overrides
    if name in overrides:
        return overrides[name]
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if schema.get("x-kubernetes-int-or-string"):
        return st.one_of(st.integers(1, 65535), dns_label)
    kind = schema.get("type")
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(schema.get("minimum", 0), schema.get("maximum", 10_000))
    if kind == "number":
        return st.floats(schema.get("minimum", 0), schema.get("maximum", 10_000), allow_nan=False)
    if kind == "string":
        if schema.get("format") == "date-time":
            return rfc3339
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True).filter(
                lambda s: len(s) <= schema.get("maxLength", 1 << 30))
        low = schema.get("minLength", 0)
        return st.text(string.ascii_letters + string.digits + "-._@", min_size=low,
                       max_size=max(low, min(schema.get("maxLength", 20), 20)))
    if kind == "array":
        items = from_schema(schema["items"], name + "[]", overrides)
        return st.lists(items, max_size=min(schema.get("maxItems", 3), 3))
    if kind == "object" and "properties" in schema:
        props = schema["properties"]
        required = set(schema.get("required", ()))
        return st.fixed_dictionaries(
            {k: from_schema(v, k, overrides) for k, v in props.items() if k in required},
            optional={k: from_schema(v, k, overrides) for k, v in props.items() if k not in required})
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return st.dictionaries(dns_label, from_schema(schema["additionalProperties"], name + "{}", overrides),
                               max_size=min(schema.get("maxProperties", 3), 3))
    return st.just({})


def _fit_tenant(spec: dict[str, Any]) -> dict[str, Any]:
    """The TenantPolicy CEL rules, as a valid spec should keep them: flows name declared zones, once."""
    zones = spec.get("zones")
    seen: set[str] = set()
    flows = []
    for flow in spec.get("flows") or ():
        if flow.get("name") in seen:
            continue
        seen.add(flow.get("name"))
        for end in ("from", "to"):
            zone = flow[end].get("zone")
            if zone is not None and zone not in (zones or {}):
                zones = spec["zones"] = {**(zones or {}), zone: {}}
        flows.append(flow)
    if "flows" in spec:
        spec["flows"] = flows
    return spec


def valid_spec(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    strategy = from_schema(SCHEMAS[kind])
    return strategy.map(_fit_tenant) if kind == "TenantPolicy" else strategy


# ---- junk and mutations -------------------------------------------------------------------------

UNICODE_SAMPLES = ["zöne-ä", "区域", "‮dmz", "a\u200bb", "🙂", "\x00", "a\nb", "ﬁ", "İ", "\ud7ff", "Ω" * 70,
                   "\t", " ", "null", "~", "yes", "0x1F", "1e3", "-0", "{}", "[]", "&a", "*a", "!!str", "%", "#"]


def scalars(finite: bool = True) -> st.SearchStrategy:
    return st.one_of(
        st.none(), st.booleans(),
        st.integers(-(2**70), 2**70), st.sampled_from([0, -1, 1, 2**31, 2**63, -(2**63) - 1, 65536, 10**30]),
        st.floats(allow_nan=not finite, allow_infinity=not finite),
        st.text(max_size=12), st.sampled_from(UNICODE_SAMPLES),
    )


def junk(finite: bool = True) -> st.SearchStrategy:
    """Any JSON-like value: scalars, lists and objects of them, a few levels deep."""
    return st.recursive(scalars(finite), lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=8)


def _paths(tree: Any, here: tuple = ()) -> list[tuple]:
    out = [here]
    if isinstance(tree, dict):
        for key, value in tree.items():
            out.extend(_paths(value, (*here, key)))
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            out.extend(_paths(value, (*here, i)))
    return out


def _get(tree: Any, path: tuple) -> Any:
    for step in path:
        tree = tree[step]
    return tree


def _deep(depth: int, leaf: Any, as_list: bool) -> Any:
    for i in range(depth):
        leaf = [leaf] if as_list else {f"n{i % 10}": leaf}
    return leaf


MUTATIONS = ("wrong_type", "out_of_range", "bad_duration", "bad_cidr", "unknown_field", "huge_string", "deep",
             "empty_selector", "unicode", "null", "delete", "empty_container")


@st.composite
def mutate(draw: st.DrawFn, tree: Any, finite: bool = True, max_deep: int = 200,
           max_huge: int = 100_000, prefer: tuple[str, ...] = ()) -> Any:
    """`tree` (a copy) broken in one place: the root or any value under it (mostly under the
    top-level keys `prefer` names, when it has any)."""
    tree = copy.deepcopy(tree)
    paths = _paths(tree)
    preferred = [p for p in paths if p and p[0] in prefer]
    path = draw(st.sampled_from(preferred if preferred and draw(st.integers(0, 4)) else paths))
    what = draw(st.sampled_from(MUTATIONS))
    old = _get(tree, path)
    if what == "wrong_type":
        new = draw(junk(finite))
        if type(new) is type(old):
            new = [new] if not isinstance(old, list) else {"item": new}
    elif what == "out_of_range":
        new = draw(st.sampled_from([-1, 0, 1, 17, 65536, 70000, 2**31, 2**63, -(2**63) - 1, 10**30, 1.5, -0.5,
                                    "2", "65535", True]))
    elif what == "bad_duration":
        new = draw(st.sampled_from(BAD_DURATIONS))
    elif what == "bad_cidr":
        new = draw(st.sampled_from(BAD_CIDRS))
    elif what == "unknown_field":
        if not isinstance(old, dict):
            path = path[:-1] if path else path
            old = _get(tree, path)
        if isinstance(old, dict):
            key = draw(st.one_of(st.sampled_from(["extra", "minzones", "Mode", "spec", "status", "metadata", "ⓤ",
                                                  "", "kind", "__proto__", "$ref"]), st.text(max_size=10)))
            old[key] = draw(junk(finite))
            return tree
        new = {"unknown": draw(junk(finite))}
    elif what == "huge_string":
        size = draw(st.sampled_from([64, 254, 318, 1024, 70_000, max_huge]))
        new = draw(st.sampled_from(["x", "é", "区", "🙂", "a-"])) * min(size, max_huge)
    elif what == "deep":
        new = _deep(draw(st.integers(2, max_deep)), draw(scalars(finite)), draw(st.booleans()))
    elif what == "empty_selector":
        new = draw(st.sampled_from([{}, {"matchLabels": {}}, {"matchExpressions": []},
                                    {"matchLabels": {}, "matchExpressions": []}, {"matchLabels": None}]))
    elif what == "unicode":
        new = draw(st.one_of(st.sampled_from(UNICODE_SAMPLES), st.text(min_size=1, max_size=20)))
    elif what == "null":
        new = None
    elif what == "empty_container":
        new = draw(st.sampled_from([{}, [], ""]))
    else:  # delete
        if not path:
            return {}
        parent = _get(tree, path[:-1])
        del parent[path[-1]]
        return tree
    if not path:
        return new
    _get(tree, path[:-1])[path[-1]] = new
    return tree


@st.composite
def broken(draw: st.DrawFn, base: st.SearchStrategy, finite: bool = True, max_deep: int = 200,
           max_huge: int = 100_000) -> Any:
    tree = draw(base)
    for _ in range(draw(st.integers(1, 3))):
        tree = draw(mutate(tree, finite=finite, max_deep=max_deep, max_huge=max_huge))
    return tree


def hostile_spec(kind: str, finite: bool = True, max_deep: int = 200, max_huge: int = 100_000) -> st.SearchStrategy:
    return broken(st.one_of(valid_spec(kind), st.just({})), finite=finite, max_deep=max_deep, max_huge=max_huge)


def any_spec(kind: str, **kwargs: Any) -> st.SearchStrategy:
    return st.one_of(valid_spec(kind), hostile_spec(kind, **kwargs))

