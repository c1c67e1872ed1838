"""One path from body to view: whichever way an object reaches sncguard, the view is the same.

For every watched kind there are two bodies: `written`, a manifest as a user writes it (what
`sncguard check` reads from a repository: no server defaults), and `served`, the same object as the
API server sends it back (defaulted, with server metadata). Each is fed through every path:

- the offline loader: the manifest file, a `kubectl get -o yaml` List (items with kind), and a raw
  API list response (`PodList`, whose items carry no kind or apiVersion);
- the informer: its paged LIST (items without kind), a WATCH event (objects with kind), and a
  re-LIST after a 410;
- the kopf path of the optional kinds (Velero, Routes), which projects bodies kopf hands over.

All must give equal ClusterViews. The served bodies follow what kube-apiserver v1.35 returns (list
items are stripped of kind and apiVersion exactly as the API does); the differential integration
test checks the same on a real API server.
"""

from __future__ import annotations

import asyncio
import copy
import json
from dataclasses import fields, replace
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from sncguard.controller.informer import Informer, ProjectionStore
from sncguard.controller.kinds import BY_KIND, CLUSTER, WATCHED, build_view
from sncguard.controller.kube import ApiError
from sncguard.loader import load
from sncguard.view import PROJECTIONS, UNREADABLE, ClusterView, project

SERVER_META = {"uid": "0b7c1d2e-0000-4000-8000-000000000001", "resourceVersion": "4242", "generation": 1,
               "creationTimestamp": "2026-11-28T09:00:00Z",
               "managedFields": [{"manager": "kubectl", "operation": "Apply", "apiVersion": "v1",
                                  "time": "2026-11-28T09:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {}}]}
API_VERSIONS = {w.kind: f"{w.group}/{w.version}" if w.group else w.version for w in WATCHED}


def served(kind: str, written: dict[str, Any], **server_side: Any) -> dict[str, Any]:
    """`written` as the server stores it: its metadata plus the server's, merged with `server_side`."""
    body = copy.deepcopy(written)
    body["metadata"] = {**body["metadata"], **SERVER_META}
    for key, value in server_side.items():
        body[key] = value
    return body


POD_SPEC_WRITTEN = {"containers": [{"name": "app", "image": "registry.example/app:1",
                                    "ports": [{"containerPort": 22, "name": "ssh"}, {"containerPort": 8080}]}]}
POD_SPEC_SERVED = {
    "containers": [{"name": "app", "image": "registry.example/app:1", "imagePullPolicy": "IfNotPresent",
                    "ports": [{"containerPort": 22, "name": "ssh", "protocol": "TCP"},
                              {"containerPort": 8080, "protocol": "TCP"}],
                    "resources": {}, "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File"}],
    "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
    "securityContext": {}, "terminationGracePeriodSeconds": 30,
}
TEMPLATE_WRITTEN = {"metadata": {"labels": {"app": "api"}}, "spec": POD_SPEC_WRITTEN}
TEMPLATE_SERVED = {"metadata": {"labels": {"app": "api"}}, "spec": POD_SPEC_SERVED}


def _case(kind: str, written: dict[str, Any], **server_side: Any) -> tuple[dict, dict]:
    written = {"apiVersion": API_VERSIONS[kind], "kind": kind, **written}
    return written, served(kind, written, **server_side)


CASES: dict[str, tuple[dict, dict]] = {
    "Namespace": _case(
        "Namespace", {"metadata": {"name": "shop", "labels": {"tenant": "acme"}}},
        metadata={"name": "shop", "labels": {"tenant": "acme", "kubernetes.io/metadata.name": "shop"}, **SERVER_META},
        spec={"finalizers": ["kubernetes"]}, status={"phase": "Active"}),
    "Node": _case(
        "Node", {"metadata": {"name": "n1", "labels": {"topology.kubernetes.io/zone": "zone-a",
                                                       "topology.kubernetes.io/region": "eu-fr-paris"}}},
        status={"conditions": [{"type": "Ready", "status": "True"}]}),
    "Pod": _case(
        "Pod", {"metadata": {"name": "api-1", "namespace": "shop", "labels": {"app": "api"}},
                "spec": {**POD_SPEC_WRITTEN, "nodeName": "n1"}},
        spec={**POD_SPEC_SERVED, "nodeName": "n1", "enableServiceLinks": True,
              "preemptionPolicy": "PreemptLowerPriority",
              "priority": 0, "serviceAccountName": "default"},
        status={"phase": "Running", "podIP": "10.244.1.7", "podIPs": [{"ip": "10.244.1.7"}],
                "conditions": [{"type": "Ready", "status": "True"}]}),
    "Deployment": _case(
        "Deployment", {"metadata": {"name": "api", "namespace": "shop"},
                       "spec": {"selector": {"matchLabels": {"app": "api"}}, "template": TEMPLATE_WRITTEN}},
        spec={"replicas": 1, "selector": {"matchLabels": {"app": "api"}}, "template": TEMPLATE_SERVED,
              "progressDeadlineSeconds": 600, "revisionHistoryLimit": 10,
              "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}},
        status={"observedGeneration": 1, "replicas": 1}),
    "StatefulSet": _case(
        "StatefulSet", {"metadata": {"name": "db", "namespace": "shop"},
                        "spec": {"serviceName": "db", "selector": {"matchLabels": {"app": "api"}},
                                 "template": TEMPLATE_WRITTEN}},
        spec={"replicas": 1, "serviceName": "db", "selector": {"matchLabels": {"app": "api"}},
              "template": TEMPLATE_SERVED, "podManagementPolicy": "OrderedReady", "revisionHistoryLimit": 10,
              "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
              "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"}},
        status={"replicas": 0, "availableReplicas": 0}),
    "PodDisruptionBudget": _case(
        "PodDisruptionBudget", {"metadata": {"name": "api", "namespace": "shop"},
                                "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "api"}}}},
        status={"currentHealthy": 0, "desiredHealthy": 1, "disruptionsAllowed": 0, "expectedPods": 0}),
    "Service": _case(
        "Service", {"metadata": {"name": "sftp", "namespace": "shop"},
                    "spec": {"type": "LoadBalancer", "selector": {"app": "api"}, "ports": [{"port": 22}]}},
        spec={"type": "LoadBalancer", "selector": {"app": "api"},
              "ports": [{"port": 22, "protocol": "TCP", "targetPort": 22, "nodePort": 31022}],
              "clusterIP": "10.96.12.34", "clusterIPs": ["10.96.12.34"], "ipFamilies": ["IPv4"],
              "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Cluster", "externalTrafficPolicy": "Cluster",
              "allocateLoadBalancerNodePorts": True, "sessionAffinity": "None"},
        status={"loadBalancer": {}}),
    "NetworkPolicy": _case(
        "NetworkPolicy", {"metadata": {"name": "web", "namespace": "shop"},
                          "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 443}]}],
                                   "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]}},
        spec={"podSelector": {}, "ingress": [{"ports": [{"port": 443, "protocol": "TCP"}]}],
              "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}], "policyTypes": ["Ingress", "Egress"]}),
    "Ingress": _case(
        "Ingress", {"metadata": {"name": "web", "namespace": "shop"},
                    "spec": {"rules": [{"host": "shop.example", "http": {"paths": [
                        {"path": "/", "pathType": "Prefix",
                         "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}},
        status={"loadBalancer": {}}),
    "Route": _case(
        "Route", {"metadata": {"name": "web", "namespace": "shop"},
                  "spec": {"host": "shop.example", "to": {"kind": "Service", "name": "web"}}},
        spec={"host": "shop.example", "to": {"kind": "Service", "name": "web", "weight": 100},
              "wildcardPolicy": "None"}),
    "RoleBinding": _case(
        "RoleBinding", {"metadata": {"name": "ops", "namespace": "shop"},
                        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
                        "subjects": [{"kind": "User", "name": "alice"}]},
        subjects=[{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}]),
    "ClusterRoleBinding": _case(
        "ClusterRoleBinding", {"metadata": {"name": "everyone-admin"},
                               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                           "name": "admin"},
                               "subjects": [{"kind": "Group", "name": "system:authenticated"}]},
        subjects=[{"kind": "Group", "name": "system:authenticated", "apiGroup": "rbac.authorization.k8s.io"}]),
    "PersistentVolume": _case(
        "PersistentVolume", {"metadata": {"name": "pv-1", "labels": {"topology.kubernetes.io/region": "eu-fr-paris"}},
                             "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                                      "hostPath": {"path": "/data"},
                                      "claimRef": {"namespace": "shop", "name": "data"}}},
        spec={"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
              "hostPath": {"path": "/data", "type": ""}, "claimRef": {"namespace": "shop", "name": "data"},
              "persistentVolumeReclaimPolicy": "Retain", "volumeMode": "Filesystem"},
        status={"phase": "Bound"}),
    "PersistentVolumeClaim": _case(
        "PersistentVolumeClaim", {"metadata": {"name": "data", "namespace": "shop"},
                                  "spec": {"accessModes": ["ReadWriteOnce"], "volumeName": "pv-1",
                                           "resources": {"requests": {"storage": "1Gi"}}}},
        spec={"accessModes": ["ReadWriteOnce"], "volumeName": "pv-1", "volumeMode": "Filesystem",
              "resources": {"requests": {"storage": "1Gi"}}},
        status={"phase": "Bound"}),
    "BackupStorageLocation": _case(
        "BackupStorageLocation", {"metadata": {"name": "default", "namespace": "velero",
                                               "labels": {"topology.kubernetes.io/zone": "zone-c"},
                                               "annotations": {"sncguard.io/encryption": "SSE-KMS"}},
                                  "spec": {"provider": "aws", "objectStorage": {"bucket": "b"},
                                           "config": {"region": "eu-fr-paris"}}},
        status={"phase": "Available"}),
    "Schedule": _case(
        "Schedule", {"metadata": {"name": "nightly", "namespace": "velero"},
                     "spec": {"schedule": "0 1 * * *",
                              "template": {"includedNamespaces": ["shop"], "storageLocation": "default"}}},
        status={"phase": "Enabled"}),
    "Backup": _case(
        "Backup", {"metadata": {"name": "nightly-1", "namespace": "velero",
                                "labels": {"velero.io/schedule-name": "nightly"}},
                   "spec": {"includedNamespaces": ["shop"], "storageLocation": "default"}},
        status={"phase": "Completed", "startTimestamp": "2026-11-28T01:00:00Z",
                "completionTimestamp": "2026-11-28T01:05:00Z"}),
    "Restore": _case(
        "Restore", {"metadata": {"name": "drill-1", "namespace": "velero"},
                    "spec": {"backupName": "nightly-1", "namespaceMapping": {"shop": "shop-drill"}}},
        status={"phase": "Completed", "startTimestamp": "2026-11-28T02:00:00Z",
                "completionTimestamp": "2026-11-28T02:03:00Z"}),
}


def list_item(body: dict[str, Any]) -> dict[str, Any]:
    """A body as an item of a LIST response: the API leaves kind and apiVersion to the list."""
    return {k: v for k, v in body.items() if k not in ("kind", "apiVersion")}


def attribute_of(view: ClusterView, kind: str) -> Any:
    value = getattr(view, PROJECTIONS[kind][0])
    if isinstance(value, dict):
        return value
    return sorted(value, key=repr)


class Transport:
    """The informer's transport, answering like the API server: list items without kind."""

    def __init__(self, watched, items, watch_events=(), then_expire=False):
        self.watched, self.items, self.events, self.expire = watched, items, list(watch_events), then_expire

    async def wait_configured(self):
        return None

    async def request(self, method, path, *, params=None):
        return {"kind": f"{self.watched.kind}List", "apiVersion": API_VERSIONS[self.watched.kind],
                "metadata": {"resourceVersion": "5000"}, "items": [list_item(i) for i in self.items]}

    async def watch(self, path, params):
        for event in self.events:
            yield event
        if self.expire:
            raise ApiError(410, "Expired", "too old resource version")


def run_informer(kind: str, *, items=(), watch=(), relist=False) -> Informer:
    watched = BY_KIND[kind]
    async def no_wait(_seconds):
        return None

    informer = Informer(watched, Transport(watched, items, watch, relist), lambda *_: None, sleep=no_wait)

    async def go():
        await informer.list()
        if watch or relist:
            try:
                await informer.watch()
            except ApiError:
                informer.resource_version = ""
                await informer.list()

    asyncio.run(go())
    return informer


def informer_values(kind: str, **kwargs: Any) -> list[Any]:
    informer = run_informer(kind, **kwargs)
    return [v for key in informer.store for v in informer.store[key]]


def loaded(tmp_path, name: str, document: Any, kind: str) -> Any:
    path = tmp_path / name
    path.write_text(json.dumps(document) if name.endswith(".json") else yaml.safe_dump(document))
    return attribute_of(load([path]).view, kind)


def test_every_watched_kind_has_a_case():
    assert set(CASES) == {w.kind for w in WATCHED} == set(PROJECTIONS)


@pytest.mark.parametrize("kind", sorted(CASES))
def test_every_path_gives_the_same_projection(kind, tmp_path):
    _, body = CASES[kind]
    expected_view = ClusterView()
    expected_view.add(kind, [project(kind, body)])
    expected = attribute_of(expected_view, kind)

    # A listed item (no kind, no apiVersion) projects as the object itself.
    assert project(kind, list_item(body)) == project(kind, body)

    # The offline loader: a manifest, a `kubectl get -o yaml` List, an API list response.
    assert loaded(tmp_path, "served.yaml", body, kind) == expected
    assert loaded(tmp_path, "kubectl.yaml", {"apiVersion": "v1", "kind": "List", "items": [body]}, kind) == expected
    assert loaded(tmp_path, "api.json", {"apiVersion": API_VERSIONS[kind], "kind": f"{kind}List",
                                         "metadata": {"resourceVersion": "5000"},
                                         "items": [list_item(body)]}, kind) == expected

    # The informer: LIST, WATCH (events carry kind), and a re-LIST after a 410.
    def as_view(values):
        view = ClusterView()
        view.add(kind, values)
        return attribute_of(view, kind)

    assert as_view(informer_values(kind, items=[body])) == expected
    assert as_view(informer_values(kind, watch=[{"type": "ADDED", "object": body}])) == expected
    assert as_view(informer_values(kind, items=[body], watch=[{"type": "MODIFIED", "object": body}],
                                   relist=True)) == expected


@pytest.mark.parametrize("kind", sorted(CASES))
def test_a_manifest_projects_as_the_server_would_store_it(kind):
    """What `check` reads from a repository gives the verdict the operator reaches on the stored object.

    Status is the cluster's to report, not the manifest's: both carry the served one here. Only the
    uid differs (a manifest has none): it is the one server-set field a projection keeps.
    """
    written, body = CASES[kind]
    stored = project(kind, body)
    from_manifest = project(kind, {**written, "status": body.get("status")})
    if kind == "Service":
        # nodePort is allocated by the server, not defaulted: a manifest may only name one itself.
        stored = replace(stored, ports=tuple(replace(p, node_port=None) for p in stored.ports))
    differing = [f.name for f in fields(stored) if getattr(stored, f.name) != getattr(from_manifest, f.name)]
    assert differing in ([], ["uid"]), differing


def test_the_kind_comes_from_the_table_for_the_kinds_that_share_a_projection():
    _, deployment = CASES["Deployment"]
    _, statefulset = CASES["StatefulSet"]
    _, crb = CASES["ClusterRoleBinding"]
    _, rb = CASES["RoleBinding"]
    assert BY_KIND["Deployment"].project(list_item(deployment)).kind == "Deployment"
    assert BY_KIND["StatefulSet"].project(list_item(statefulset)).kind == "StatefulSet"
    binding = BY_KIND["ClusterRoleBinding"].project(list_item(crb))
    assert (binding.kind, binding.namespace) == ("ClusterRoleBinding", "")
    assert BY_KIND["RoleBinding"].project(list_item(rb)).kind == "RoleBinding"


def test_a_whole_world_through_the_informers_equals_the_loader(tmp_path):
    """Every kind at once: the operator's build_view over informer stores equals the loader's view."""
    stores: dict[str, ProjectionStore] = {}
    velero = served("Namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "velero"}},
                    metadata={"name": "velero", "labels": {"kubernetes.io/metadata.name": "velero"}, **SERVER_META})
    world = [("Namespace", velero), *((kind, body) for kind, (_, body) in CASES.items())]
    for kind, body in world:
        watched = BY_KIND[kind]
        store = stores.setdefault(watched.index_id, ProjectionStore())
        namespace = body["metadata"].get("namespace") or ""
        store.put(namespace or CLUSTER, body["metadata"]["name"], watched.project(list_item(body)))
    engine = SimpleNamespace(index=stores.get, api_groups=lambda: {"velero.io", "route.openshift.io"})
    operator_view = build_view(engine, None, ["velero"])

    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [b for _, b in world]}))
    offline = load([path]).view
    for kind in CASES:
        assert attribute_of(operator_view, kind) == attribute_of(offline, kind), kind


def test_an_unreadable_body_is_left_out_and_counted():
    _, body = CASES["Service"]
    broken = copy.deepcopy(list_item(body))
    broken["metadata"]["name"] = "broken"
    broken["spec"]["ports"] = [{"port": "not-a-number", "protocol": "TCP", "targetPort": 1}]
    informer = run_informer("Service", items=[body, broken])
    assert [s.name for key in informer.store for s in informer.store[key]] == ["sftp"]
    assert informer.skipped == 1, "sncguard_skipped_objects_total counts it"
    with pytest.raises(UNREADABLE):
        project("Service", broken)


def test_an_inferred_namespace_carries_the_name_label(tmp_path):
    _, service = CASES["Service"]
    path = tmp_path / "svc.yaml"
    path.write_text(yaml.safe_dump(service))
    assert load([path]).view.namespaces["shop"].labels == {"kubernetes.io/metadata.name": "shop"}
