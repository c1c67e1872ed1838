"""The generated CRDs on the real apiserver: valid objects are accepted, invalid ones refused clearly."""

from __future__ import annotations

import pytest

ZS = "apiVersion: sncguard.io/v1alpha1\nkind: ZoneSpread\nmetadata: {{name: {name}, namespace: {ns}}}\nspec: {spec}\n"
TP = "apiVersion: sncguard.io/v1alpha1\nkind: TenantPolicy\nmetadata: {{name: {name}}}\nspec: {spec}\n"
BP = "apiVersion: sncguard.io/v1alpha1\nkind: BackupPolicy\nmetadata: {{name: {name}, namespace: {ns}}}\nspec: {spec}\n"

VALID_TENANT = """
  tenant: acme
  namespaceSelector: {matchLabels: {sncguard.io/tenant: acme}}
  zones:
    dmz: {matchLabels: {sncguard.io/zone: dmz}}
    lan: {matchLabels: {sncguard.io/zone: lan}}
  flows:
    - name: web-to-api
      from: {zone: dmz}
      to: {zone: lan, podSelector: {matchLabels: {app: api}}}
      ports: [{protocol: TCP, port: 8443}]
    - name: partners
      from: {cidr: 203.0.113.0/24}
      to: {zone: dmz}
      ports: [{port: https}]
  authorizedSubjects: [{kind: Group, name: acme-admins}]
  accessGrants:
    - {subject: {kind: User, name: ops@provider.example}, clusterRole: view,
       expires: "2026-12-01T00:00:00Z", reason: "ticket 4711"}
  allowedRegions: [eu-fr-paris]
"""
VALID_BACKUP = """
  storageLocation: default
  veleroNamespace: openshift-adp
  schedule: "0 2 * * *"
  ttl: 720h
  rpo: 26h
  restoreTestInterval: 720h
  requireEncryption: true
  allowedRegions: [eu-fr-paris]
"""


def apply(cluster, manifest: str, dry_run: bool = True):
    args = ["apply", "-f", "-"] + (["--dry-run=server"] if dry_run else [])
    return cluster.kubectl(*args, input=manifest, check=False)


def test_crds_are_established_with_names_and_categories(cluster, crds):
    names = cluster.kubectl("get", "crd", "-l", "app.kubernetes.io/part-of=sncguard", "-o", "name").stdout.split()
    assert sorted(names) == ["customresourcedefinition.apiextensions.k8s.io/backuppolicies.sncguard.io",
                             "customresourcedefinition.apiextensions.k8s.io/tenantpolicies.sncguard.io",
                             "customresourcedefinition.apiextensions.k8s.io/zonespreads.sncguard.io"]
    resources = cluster.kubectl("api-resources", "--api-group", "sncguard.io", "-o", "wide").stdout
    for short in ("zs", "tp", "bp"):
        assert f" {short} " in resources
    assert "sncguard" in resources  # the category


def test_valid_objects_are_accepted_and_defaulted(cluster, crds, namespace):
    for manifest in (ZS.format(name="sla", ns=namespace, spec="{}"),
                     TP.format(name="acme-valid", spec=VALID_TENANT),
                     BP.format(name="nightly", ns=namespace, spec=VALID_BACKUP)):
        result = apply(cluster, manifest)
        assert result.returncode == 0, result.stderr
    apply(cluster, ZS.format(name="sla", ns=namespace, spec="{}"), dry_run=False)
    spec = cluster.kubectl_json("get", "zonespread", "sla", "-n", namespace)["spec"]
    assert spec == {"mode": "Audit", "minZones": 2, "topologyKey": "topology.kubernetes.io/zone",
                    "requireHardSpread": True, "requirePodDisruptionBudget": True}


@pytest.mark.parametrize(("template", "spec", "expected"), [
    (ZS, "{minZones: 1}",
     "spec.minZones: Invalid value: 1: spec.minZones in body should be greater than or equal to 2"),
    (ZS, "{mode: Sometimes}", 'spec.mode: Unsupported value: "Sometimes": supported values: "Audit", "Enforce"'),
    (ZS, "{selector: {matchExpressions: [{key: app, operator: In}]}}",
     "operators In and NotIn need at least one value"),
    (ZS, "{topologyKey: 'not a key'}", "spec.topologyKey in body should match"),
    (TP, "{tenant: acme, namespaceSelector: {}, zones: {lan: {}},"
         " flows: [{name: f, from: {zone: dmz}, to: {zone: lan}}]}",
     "every zone a flow names must be declared under spec.zones"),
    (TP, "{tenant: acme, namespaceSelector: {},"
         " flows: [{name: f, from: {cidr: 10.0.0.0/33}, to: {namespaceSelector: {}}}]}",
     "cidr must be an IPv4 or IPv6 network"),
    (TP, "{tenant: acme, namespaceSelector: {},"
         " accessGrants: [{subject: {kind: User, name: bob}, clusterRole: view, reason: r}]}",
     'spec.accessGrants[0].expires: Required value'),
    (TP, "{namespaceSelector: {}}", "spec.tenant: Required value"),
    (BP, "{schedule: 'every night'}", "spec.schedule in body should match"),
    (BP, "{rpo: 26hours}", "spec.rpo in body should match"),
    (ZS, "{waivers: [{rule: ZS-005, until: '2027-01-31'}]}", "spec.waivers[0].reason: Required value"),
    (ZS, "{waivers: [{rule: ZS-005, until: '2027-01-31', reason: '  '}]}",
     "spec.waivers[0].reason in body should match"),
    (ZS, "{waivers: [{rule: ZS-005, reason: r}]}", "spec.waivers[0].until: Required value"),
    (ZS, "{waivers: [{rule: ZS-005, until: 'end of January', reason: r}]}",
     'spec.waivers[0].until in body must be of type date'),
    (BP, "{waivers: [{rule: zs5, until: '2027-01-31', reason: r}]}", "spec.waivers[0].rule in body should match"),
])
def test_invalid_objects_are_refused_with_a_clear_message(cluster, crds, namespace, template, spec, expected):
    result = apply(cluster, template.format(name="bad", ns=namespace, spec=spec))
    assert result.returncode != 0
    assert expected in result.stderr, result.stderr
