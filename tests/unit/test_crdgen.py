"""The CRDs in crds/ are exactly what the models generate, and they are structural."""

from pathlib import Path

import pytest
import yaml

from sncguard import crdgen

CRDS = Path(__file__).resolve().parents[2] / "crds"


@pytest.mark.parametrize("kind", crdgen.KINDS, ids=lambda k: k.kind)
def test_committed_crd_matches_the_models(kind):
    committed = (CRDS / crdgen.file_name(kind)).read_text(encoding="utf-8")
    assert committed == crdgen.render(kind), f"crds/ is stale: run `make crds` ({kind.kind})"


def test_crds_folder_holds_nothing_else():
    assert sorted(p.name for p in CRDS.glob("*.yaml")) == sorted(crdgen.file_name(k) for k in crdgen.KINDS)


def _walk(node, path="$"):
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}[{i}]")


@pytest.mark.parametrize("kind", crdgen.KINDS, ids=lambda k: k.kind)
def test_schema_is_structural(kind):
    schema = crdgen.crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for path, node in _walk(schema):
        if not isinstance(node, dict) or path.endswith(".properties") or ".enum" in path:
            continue
        assert "$ref" not in node and "anyOf" not in node and "allOf" not in node, path
        assert node.get("additionalProperties") is not False, path
        if path.endswith("x-kubernetes-validations") or "x-kubernetes-validations[" in path:
            continue
        if ("type" in node or "properties" in node or "items" in node) and not node.get("x-kubernetes-int-or-string"):
            assert "type" in node, f"{path} has no type"


def test_names_columns_and_subresources():
    by_kind = {k.kind: crdgen.crd(k) for k in crdgen.KINDS}
    zs = by_kind["ZoneSpread"]["spec"]
    assert zs["scope"] == "Namespaced"
    assert zs["names"]["shortNames"] == ["zs"] and zs["names"]["categories"] == ["sncguard"]
    version = zs["versions"][0]
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"] if not c.get("priority")]
    assert columns == ["Mode", "Zones", "SLA-Eligible", "Compliant", "Fail", "Age"]
    tp = by_kind["TenantPolicy"]["spec"]
    assert tp["scope"] == "Cluster" and tp["names"]["shortNames"] == ["tp"]
    assert [c["name"] for c in tp["versions"][0]["additionalPrinterColumns"] if not c.get("priority")] == [
        "Tenant", "Mode", "Namespaces", "Compliant", "Fail", "Age"]
    bp = by_kind["BackupPolicy"]["spec"]
    assert bp["names"]["shortNames"] == ["bp"]
    assert [c["name"] for c in bp["versions"][0]["additionalPrinterColumns"] if not c.get("priority")] == [
        "Target", "Last-Backup", "Compliant", "Fail", "Age"]


def test_defaults_minimums_and_enums_reach_the_schema():
    spec = crdgen.crd(crdgen.KINDS[0])["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    props = spec["properties"]
    assert props["minZones"] == {**props["minZones"], "type": "integer", "minimum": 2, "default": 2}
    assert props["mode"]["enum"] == ["Audit", "Enforce"] and props["mode"]["default"] == "Audit"
    assert props["topologyKey"]["default"] == "topology.kubernetes.io/zone"


def test_cross_field_rules_are_cel():
    tp = crdgen.crd(crdgen.KINDS[1])["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    rules = [v["rule"] for v in tp["x-kubernetes-validations"]]
    assert any("in self.zones" in r for r in rules)
    peer = tp["properties"]["flows"]["items"]["properties"]["from"]
    assert any("isCIDR" in v["rule"] for v in peer["x-kubernetes-validations"])
    grant = tp["properties"]["accessGrants"]["items"]
    assert {"subject", "clusterRole", "expires", "reason"} <= set(grant["required"])


def test_rendered_yaml_parses_back():
    for kind in crdgen.KINDS:
        assert yaml.safe_load(crdgen.render(kind)) == crdgen.crd(kind)
