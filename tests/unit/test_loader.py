"""The offline loader: files and folders in, a ClusterView and validated policies out, or a clear error."""

import json

import pytest

from sncguard.loader import InputError, load

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template: {metadata: {labels: {app: web}}, spec: {containers: [{name: c, image: i}]}}
"""


def test_multi_document_files_lists_and_folders(tmp_path):
    (tmp_path / "a.yaml").write_text(DEPLOYMENT + "---\n" + """
apiVersion: v1
kind: Node
metadata: {name: n1, labels: {topology.kubernetes.io/zone: zone-a}}
---
""")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "list.yml").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "shop", "labels": {"app": "web"}},
         "spec": {"nodeName": "n1", "containers": []}, "status": {"phase": "Running"}},
    ]}))
    (sub / "ignored.txt").write_text("not a manifest")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.yaml").write_text("{{{ broken")
    inputs = load([tmp_path])
    view = inputs.view
    assert [w.name for w in view.workloads] == ["web"]
    assert view.workloads[0].replicas == 3
    assert set(view.nodes) == {"n1"} and view.nodes_observed
    assert [p.name for p in view.pods] == ["p"] and view.pods_observed and view.pods[0].running
    assert "shop" in view.namespaces
    assert inputs.documents == 3


def test_objects_without_namespace_land_in_default(tmp_path):
    f = tmp_path / "d.yaml"
    f.write_text(DEPLOYMENT.replace("namespace: shop, ", ""))
    assert load([f]).view.workloads[0].namespace == "default"


def test_replicas_default_to_one(tmp_path):
    f = tmp_path / "d.yaml"
    f.write_text(DEPLOYMENT.replace("replicas: 3", ""))
    assert load([f]).view.workloads[0].replicas == 1


def test_policies_are_validated_with_the_crd_models(tmp_path):
    f = tmp_path / "zs.yaml"
    f.write_text("apiVersion: sncguard.io/v1alpha1\nkind: ZoneSpread\nmetadata: {name: sla, namespace: shop}\n"
                 "spec: {minZones: 3, mode: Enforce}\n")
    (policy,) = load([f]).policies
    assert (policy.kind, policy.namespace, policy.name) == ("ZoneSpread", "shop", "sla")
    assert policy.spec.min_zones == 3 and policy.spec.mode.value == "Enforce"


@pytest.mark.parametrize(("text", "expected"), [
    ("spec: {minZones: 1}", "spec.minZones"),
    ("spec: {mode: Sometimes}", "spec.mode"),
    ("spec: {minZones: 2, colour: blue}", "spec.colour"),
    ("spec: {selector: {matchExpressions: [{key: app, operator: In}]}}", "needs at least one value"),
])
def test_an_invalid_policy_names_file_object_and_field(tmp_path, text, expected):
    f = tmp_path / "zs.yaml"
    header = "apiVersion: sncguard.io/v1alpha1\nkind: ZoneSpread\nmetadata: {name: sla, namespace: shop}\n"
    f.write_text(f"{header}{text}\n")
    with pytest.raises(InputError) as err:
        load([f])
    message = str(err.value)
    assert str(f) in message and "ZoneSpread shop/sla" in message and expected in message


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("broken.yaml", "a: [unclosed", "not valid YAML"),
    ("broken.json", "{", "not valid JSON"),
    ("scalar.yaml", "just a string", "not a Kubernetes object"),
    ("nokind.yaml", "metadata: {name: x}", "has no kind"),
])
def test_unusable_files_name_the_file(tmp_path, name, text, expected):
    f = tmp_path / name
    f.write_text(text)
    with pytest.raises(InputError) as err:
        load([f])
    assert str(f) in str(err.value) and expected in str(err.value)


def test_missing_path(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load([tmp_path / "nope.yaml"])
