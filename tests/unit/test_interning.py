"""Interned projections are equal to the others, and share their strings."""

from __future__ import annotations

import copy
import json

import pytest

from sncguard.controller.interning import interned
from sncguard.controller.kinds import BY_KIND, WATCHED
from sncguard.view import UNREADABLE

POD = {"metadata": {"name": "web-0", "namespace": "shop", "uid": "u-1", "labels": {"app": "web", "tier": "front"},
                    "annotations": {"sncguard.io/waive": "ZS-005 until 2027-01-31: migration"}},
       "spec": {"nodeName": "node-a-1", "nodeSelector": {"topology.kubernetes.io/zone": "zone-a"},
                "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "topology.kubernetes.io/region", "operator": "In",
                                           "values": ["eu-fr-paris"]}]}]}}},
                "containers": [{"name": "c", "ports": [{"containerPort": 8443, "name": "https"}]}]},
       "status": {"phase": "Running", "podIP": "10.244.0.7", "conditions": [{"type": "Ready", "status": "True"}]}}
DEPLOYMENT = {"metadata": {"name": "web", "namespace": "shop", "uid": "u-2", "labels": {"app": "web"}},
              "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                       "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                           "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                                          "whenUnsatisfiable": "DoNotSchedule",
                                                          "labelSelector": {"matchLabels": {"app": "web"}}}],
                           "containers": [{"name": "c"}]}}}}
NETPOL = {"metadata": {"name": "allow", "namespace": "shop"},
          "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [
              {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}},
              {"namespaceSelector": {"matchLabels": {"team": "a"}}}], "ports": [{"port": "https"}]}]}}


@pytest.mark.parametrize(("kind", "body"), [("Pod", POD), ("Deployment", DEPLOYMENT), ("NetworkPolicy", NETPOL)])
def test_an_interned_projection_is_equal_and_shares_its_strings(kind, body):
    def decoded() -> dict:
        return json.loads(json.dumps(body))  # as the API client gives it: fresh strings each time

    plain = BY_KIND[kind].project(decoded())
    first, second = interned(BY_KIND[kind].project(decoded())), interned(BY_KIND[kind].project(decoded()))
    assert first == plain and second == plain and type(first) is type(plain)
    assert first.namespace is second.namespace
    assert first.name is not second.name, "names are unique to their object: not interned"


def test_the_shared_strings_of_two_objects_are_one():
    a, b = (interned(BY_KIND["Pod"].project(json.loads(json.dumps(POD)))) for _ in range(2))
    assert next(iter(a.labels)) is next(iter(b.labels))
    assert a.node_name is b.node_name and a.phase is b.phase


def test_every_watched_kind_s_projection_goes_through_unchanged():
    for watched in WATCHED:
        body = copy.deepcopy({"metadata": {"name": "x", "namespace": "ns", "labels": {"k": "v"}}, "spec": {}})
        try:
            plain = watched.project(body)
        except UNREADABLE:  # a kind whose projection needs more than this: the other tests cover its shape
            continue
        assert interned(plain) == plain, watched.kind
