"""The offline loader: files and folders in, a ClusterView and validated policies out, or a clear error."""

import io
import json

import pytest

from sncguard.loader import InputError, Source, load

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
def test_an_invalid_policy_names_file_line_object_and_field(tmp_path, text, expected):
    """Not an InputError: the policy is left out and listed, so that the others are still evaluated."""
    f = tmp_path / "zs.yaml"
    header = "apiVersion: sncguard.io/v1alpha1\nkind: ZoneSpread\nmetadata: {name: sla, namespace: shop}\n"
    f.write_text(f"# a comment\n---\n{header}{text}\n")
    inputs = load([f])
    assert inputs.policies == []
    (error,) = inputs.errors
    assert (error.file, error.line, error.kind, error.namespace, error.name) == (str(f), 3, "ZoneSpread", "shop", "sla")
    assert error.policy == "ZoneSpread/shop/sla" and expected in error.problem
    message = str(error)
    assert f"{f}:3" in message and "ZoneSpread shop/sla" in message and expected in message


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


def test_every_object_records_the_line_where_it_starts(tmp_path):
    """Documents, `List` items in YAML and in JSON: the line of each object's first token."""
    (tmp_path / "a.yaml").write_text("""# leading comment
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---

# the Deployment's document starts here, its object two lines below
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec: {replicas: 2}
---
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Service
    metadata: {name: one, namespace: shop}
  -
    apiVersion: v1
    kind: Service
    metadata: {name: two, namespace: shop}
""")
    (tmp_path / "b.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1", "namespace": "shop"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c2", "namespace": "shop"}},
    ]}, indent=2))
    (tmp_path / "c.json").write_text('\n\n  {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}')
    sources = load([tmp_path]).sources
    a, b, c = (str(tmp_path / n) for n in ("a.yaml", "b.json", "c.json"))
    assert sources[("Namespace", "", "shop")] == Source(a, 3)
    assert sources[("Deployment", "shop", "web")] == (a, 9)
    assert sources[("Service", "shop", "one")] == (a, 17)
    assert sources[("Service", "shop", "two")] == (a, 21)
    # json.dumps(indent=2): the list's `items` opens on line 4, each item's brace on its own line.
    assert sources[("ConfigMap", "shop", "c1")] == (b, 5)
    assert sources[("ConfigMap", "shop", "c2")] == (b, 13)
    assert sources[("Node", "", "n1")] == (c, 3)


@pytest.mark.parametrize("text", [
    '{"kind": "List", "items": [1, }',          # invalid: json's own error
    '{"kind": "List", "items": []} trailing',   # trailing data
    '{"a": 1,}',                                # trailing comma
])
def test_the_json_line_walk_leaves_invalid_json_to_json_itself(tmp_path, text):
    f = tmp_path / "x.json"
    f.write_text(text)
    with pytest.raises(InputError, match="not valid JSON"):
        load([f])


def test_json_with_odd_keys_still_loads_like_json_loads(tmp_path):
    f = tmp_path / "x.json"
    doc = {"items": {"not": "a list"}, "kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "m"},
           "data": {"k": "\u00e9\"}"}}
    f.write_text(json.dumps(doc))
    inputs = load([f])
    assert inputs.documents == 1 and inputs.sources[("ConfigMap", "default", "m")] == (str(f), 1)


def test_standard_input_is_read_once_and_named_stdin():
    text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 2}\n"
    inputs = load(["-", "/dev/stdin"], stdin=io.BytesIO(text.encode()))
    assert [w.name for w in inputs.view.workloads] == ["web"]
    assert inputs.sources[("Deployment", "default", "web")] == Source("<stdin>", 1)
    with pytest.raises(InputError, match="<stdin>: not valid YAML"):
        load(["-"], stdin=io.BytesIO(b"a: [unclosed"))


def test_standard_input_in_json_keeps_item_lines():
    text = json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}]}, indent=1)
    assert load(["-"], stdin=io.StringIO(text)).sources[("Node", "", "n1")] == ("<stdin>", 5)


def test_a_namespace_for_objects_without_one(tmp_path):
    f = tmp_path / "d.yaml"
    f.write_text(DEPLOYMENT.replace("namespace: shop, ", ""))
    inputs = load([f], namespace="team-a")
    assert inputs.view.workloads[0].namespace == "team-a" and "team-a" in inputs.view.namespaces
    assert ("Deployment", "team-a", "web") in inputs.sources
    # An object that names its namespace keeps it; a cluster-scoped one gets none.
    g = tmp_path / "e.yaml"
    g.write_text(DEPLOYMENT + "---\napiVersion: v1\nkind: Node\nmetadata: {name: n1}\n")
    inputs = load([g], namespace="team-a")
    assert inputs.view.workloads[0].namespace == "shop"
    assert ("Node", "", "n1") in inputs.sources


def test_a_named_pipe_is_read_as_a_stream(tmp_path):
    import os
    import threading

    fifo = tmp_path / "manifests"
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_text, args=(DEPLOYMENT,))
    writer.start()
    try:
        inputs = load([fifo])
    finally:
        writer.join(timeout=10)
    assert [w.name for w in inputs.view.workloads] == ["web"]
