"""`sncguard report` against the real cluster: a tenant applied, the operator's verdicts written, then the
evidence pack read from the cluster must name the tenant's subjects, zones and findings as the
operator's status does, and follow its schema."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from sncguard.evidence.schema import load_schema, verify

from .helpers import tenant_namespaces, wait_for

ZONE = "topology.kubernetes.io/zone"


def world(tenant: str, dmz: str, lan: str) -> str:
    return f"""
apiVersion: sncguard.io/v1alpha1
kind: TenantPolicy
metadata: {{name: {tenant}}}
spec:
  tenant: {tenant}
  namespaceSelector: {{matchLabels: {{sncguard.io/tenant: {tenant}}}}}
  zones:
    dmz: {{matchLabels: {{sncguard.io/zone: dmz}}}}
    lan: {{matchLabels: {{sncguard.io/zone: lan}}}}
  flows:
    - name: web-to-api
      from: {{zone: dmz, podSelector: {{matchLabels: {{app: web}}}}}}
      to: {{zone: lan}}
      ports: [{{protocol: TCP, port: 8443}}]
  authorizedSubjects: [{{kind: Group, name: {tenant}-admins}}]
  allowedRegions: [eu-fr-paris]
---
apiVersion: sncguard.io/v1alpha1
kind: ZoneSpread
metadata: {{name: sla, namespace: {dmz}}}
spec: {{minZones: 2}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: {dmz}, labels: {{app: web}}}}
spec:
  replicas: 3
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      topologySpreadConstraints:
        - {{maxSkew: 1, topologyKey: {ZONE}, whenUnsatisfiable: DoNotSchedule,
           labelSelector: {{matchLabels: {{app: web}}}}}}
      containers: [{{name: app, image: app:1}}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {{name: web, namespace: {dmz}}}
spec: {{minAvailable: 2, selector: {{matchLabels: {{app: web}}}}}}
---
apiVersion: v1
kind: Service
metadata: {{name: sftp, namespace: {dmz}}}
spec:
  type: LoadBalancer
  selector: {{app: web}}
  ports: [{{name: sftp, port: 22, targetPort: 2222}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: admins, namespace: {lan}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin}}
subjects: [{{apiGroup: rbac.authorization.k8s.io, kind: Group, name: {tenant}-admins}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: intruder, namespace: {lan}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}}
subjects: [{{apiGroup: rbac.authorization.k8s.io, kind: User, name: intruder@{tenant}.example}}]
"""


@pytest.fixture
def tenant(cluster, crds, live_operator):
    with tenant_namespaces(cluster, "evidence") as names:
        yield names


def failing(status: dict) -> set[tuple[str, str]]:
    return {(f["rule"], f["resource"]["name"]) for f in status.get("findings") or () if f["result"] == "fail"}


def report(cluster, out: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sncguard.cli", "report", "--output-dir", str(out), *args],
                          env={**cluster.env}, capture_output=True, text=True, timeout=120, check=False)


def test_report_on_the_cluster_agrees_with_the_operator(cluster, tenant, tmp_path):
    name, dmz, lan = tenant
    cluster.kubectl("apply", "-f", "-", input=world(name, dmz, lan))

    def settled():
        tp = cluster.kubectl_json("get", "tenantpolicy", name)
        zs = cluster.kubectl_json("get", "zonespread", "sla", "-n", dmz)
        tp_status, zs_status = tp.get("status") or {}, zs.get("status") or {}
        ready = (tp_status.get("observedGeneration") == tp["metadata"]["generation"]
                 and {("ACC-001", "intruder"), ("NET-003", "sftp")} <= failing(tp_status)
                 and zs_status.get("slaEligible") is True and len(zs_status.get("observedZones") or ()) == 3)
        return (tp_status, zs_status) if ready else None

    tp_status, zs_status = wait_for(settled, timeout=90, message=f"the operator's verdicts on {name}")

    def agreeing():
        out = tmp_path / secrets.token_hex(3)
        done = report(cluster, out)
        assert done.returncode == 0, done.stderr
        pack = json.loads((out / f"{name}.json").read_text(encoding="utf-8"))
        policy = next(p for p in pack["tenant"]["policies"] if p["kind"] == "TenantPolicy")
        recorded = policy["recorded"] or {}
        computed = {k: policy["summary"][k] for k in ("pass", "fail", "warn", "skip")}
        return (out, pack) if recorded.get("summary") == computed else None

    # The operator may still be writing a last change: the report is read again until the two agree.
    out, pack = wait_for(agreeing, timeout=60, interval=1, message="a report agreeing with the operator's status")
    tp_status = cluster.kubectl_json("get", "tenantpolicy", name)["status"]
    zs_status = cluster.kubectl_json("get", "zonespread", "sla", "-n", dmz)["status"]

    jsonschema.Draft202012Validator(load_schema()).validate(pack)
    assert verify(pack)
    assert pack["source"]["type"] == "cluster" and pack["source"]["server"] == cluster.server
    assert pack["tenant"]["name"] == name and pack["tenant"]["namespaces"] == sorted([dmz, lan])

    # Subjects: the register, and the digest the operator announced for it.
    register = {(e["kind"], e["name"]): e["authorised"] for e in pack["access"]["register"]}
    assert register[("User", f"intruder@{name}.example")] is False
    assert register[("Group", f"{name}-admins")] is True
    assert pack["access"]["recordedDigest"] == tp_status["accessRegisterDigest"]
    assert pack["access"]["recordedDigestMatches"] is True
    assert {(e["kind"], e["name"]) for e in tp_status["accessRegister"]} == set(register)

    # Zones: where the pods run, as the ZoneSpread's status says.
    web = next(w for w in pack["placement"]["workloads"] if w["name"] == "web")
    assert sorted(web["zones"]) == zs_status["observedZones"] == ["zone-a", "zone-b", "zone-c"]
    assert sum(web["zones"].values()) == 3 and web["hardSpread"] is True
    sla = pack["sla"]["policies"][0]
    assert (sla["namespace"], sla["eligible"]) == (dmz, zs_status["slaEligible"])
    assert sla["ledger"] == ("recorded" if "slaLedger" in zs_status else "not-recorded")
    assert ("timeline" in sla) == ("slaLedger" in zs_status)

    # Findings: the operator's failing ones, each in the pack with its rule and requirements.
    items = pack["findings"]["items"]
    mine = {(f["rule"], f["resource"]["name"]) for f in items
            if f["result"] == "fail" and f["policy"] == f"TenantPolicy/{name}"}
    assert mine == failing(tp_status)
    assert failing(zs_status) == {(f["rule"], f["resource"]["name"]) for f in items
                                  if f["result"] == "fail" and f["policy"] == f"ZoneSpread/{dmz}/sla"}
    assert all(f["requirements"] for f in items)
    sftp = next(x for x in pack["network"]["exposures"] if x["name"] == "sftp")
    assert sftp["rules"]["NET-003"] == "fail"

    # The page names the tenant; the platform pack lists it, agreeing with the operator.
    assert f"tenant {name}" in (out / f"{name}.html").read_text(encoding="utf-8")
    platform = json.loads((out / "platform.json").read_text(encoding="utf-8"))
    assert verify(platform)
    row = next(p for p in platform["policies"] if (p["kind"], p["name"]) == ("TenantPolicy", name))
    assert row["agrees"] is True and row["tenant"] == name

    # --tenant: that tenant's pack only, in French.
    only = tmp_path / "only"
    done = report(cluster, only, "--tenant", name, "--language", "fr")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in only.iterdir()) == [f"{name}.html", f"{name}.json"]
    assert "Registre des accès" in (only / f"{name}.html").read_text(encoding="utf-8")
