"""A demo-like world for the evidence packs: the demo's tenant `acme` (shop in the dmz, payments in the
lan) after its Enforce policies have acted, on three nodes in three zones, with Velero's objects, a
volume, an unauthorised binding, and, for a cluster-like snapshot, the statuses only the operator
keeps (an SLA ledger with an interval and a zone outage, a restore drill, the register's digest).

Also a second tenant, `globex`, whose contract has ended and whose data is gone (an erasure
certificate), so that tenant filters and termination have something to show."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


def _node(name: str, zone: str) -> str:
    return f"""---
apiVersion: v1
kind: Node
metadata:
  name: {name}
  labels: {{topology.kubernetes.io/zone: {zone}, topology.kubernetes.io/region: eu-fr-paris}}
status:
  conditions: [{{type: Ready, status: "True", lastTransitionTime: "2026-11-01T00:00:00Z"}}]
"""


def _pod(namespace: str, name: str, app: str, node: str, ip: str, port: int = 8080) -> str:
    return f"""---
apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: {namespace}, labels: {{app: {app}}}}}
spec:
  nodeName: {node}
  containers: [{{name: {app}, image: app, ports: [{{containerPort: {port}, name: http}}]}}]
status:
  phase: Running
  podIP: {ip}
  conditions: [{{type: Ready, status: "True"}}]
"""


SPREAD = """      topologySpreadConstraints:
        - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule,
           labelSelector: {matchLabels: {app: %s}}}"""


WORLD = f"""
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {{sncguard.io/tenant: acme, sncguard.io/zone: dmz}}
---
apiVersion: v1
kind: Namespace
metadata:
  name: payments
  labels: {{sncguard.io/tenant: acme, sncguard.io/zone: lan}}
---
apiVersion: v1
kind: Namespace
metadata: {{name: openshift-adp}}
---
apiVersion: v1
kind: Namespace
metadata: {{name: batch}}
---
apiVersion: sncguard.io/v1alpha1
kind: TenantPolicy
metadata: {{name: acme}}
spec:
  mode: Enforce
  tenant: acme
  namespaceSelector: {{matchLabels: {{sncguard.io/tenant: acme}}}}
  zones:
    dmz: {{matchLabels: {{sncguard.io/zone: dmz}}}}
    lan: {{matchLabels: {{sncguard.io/zone: lan}}}}
  flows:
    - name: web-to-ledger
      from: {{zone: dmz, podSelector: {{matchLabels: {{app: web}}}}}}
      to: {{zone: lan, podSelector: {{matchLabels: {{app: ledger}}}}}}
      ports: [{{protocol: TCP, port: 8443}}]
    - name: internet-to-web
      from: {{cidr: 0.0.0.0/0}}
      to: {{zone: dmz, podSelector: {{matchLabels: {{app: web}}}}}}
      ports: [{{protocol: TCP, port: 8080}}]
  authorizedSubjects: [{{kind: Group, name: acme-admins}}]
  accessGrants:
    - subject: {{kind: User, name: ops@provider.example}}
      clusterRole: view
      expires: "2027-06-30T00:00:00Z"
      reason: "ticket 4711: storage incident analysis, agreed in writing"
  allowedRegions: [eu-fr-paris]
---
apiVersion: sncguard.io/v1alpha1
kind: TenantPolicy
metadata: {{name: globex}}
spec:
  tenant: globex
  namespaceSelector: {{matchLabels: {{sncguard.io/tenant: globex}}}}
  termination:
    contractEndedAt: "2026-09-30T23:59:59Z"
    erasureNoticeAt: "2026-10-05T09:00:00Z"
---
apiVersion: sncguard.io/v1alpha1
kind: ZoneSpread
metadata: {{name: sla, namespace: shop}}
spec: {{minZones: 2}}
---
apiVersion: sncguard.io/v1alpha1
kind: ZoneSpread
metadata: {{name: sla, namespace: payments}}
spec: {{mode: Enforce, minZones: 3}}
---
apiVersion: sncguard.io/v1alpha1
kind: BackupPolicy
metadata: {{name: nightly, namespace: payments}}
spec:
  mode: Enforce
  schedule: "30 1 * * *"
  rpo: 26h
  restoreTestInterval: 720h
  allowedRegions: [eu-fr-paris]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: shop}}
spec:
  replicas: 3
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
{SPREAD % "web"}
      containers: [{{name: web, image: web}}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {{name: web, namespace: shop}}
spec: {{minAvailable: 2, selector: {{matchLabels: {{app: web}}}}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: api, namespace: shop}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: api}}}}
  template:
    metadata: {{labels: {{app: api}}}}
    spec:
      nodeSelector: {{topology.kubernetes.io/zone: zone-a}}
      containers: [{{name: api, image: api}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: ledger, namespace: payments}}
spec:
  replicas: 3
  selector: {{matchLabels: {{app: ledger}}}}
  template:
    metadata: {{labels: {{app: ledger}}}}
    spec:
{SPREAD % "ledger"}
      containers: [{{name: ledger, image: ledger}}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {{name: ledger, namespace: payments}}
spec: {{maxUnavailable: 1, selector: {{matchLabels: {{app: ledger}}}}}}
{_node("node-a", "zone-a")}{_node("node-b", "zone-b")}{_node("node-c", "zone-c")}
{_pod("shop", "web-1", "web", "node-a", "10.128.0.11")}{_pod("shop", "web-2", "web", "node-b", "10.128.1.12")}
{_pod("shop", "web-3", "web", "node-c", "10.128.2.13")}{_pod("shop", "api-1", "api", "node-a", "10.128.0.14")}
{_pod("payments", "ledger-1", "ledger", "node-a", "10.128.0.21", 8443)}
{_pod("payments", "ledger-2", "ledger", "node-b", "10.128.1.22", 8443)}
{_pod("payments", "ledger-3", "ledger", "node-c", "10.128.2.23", 8443)}
---
apiVersion: v1
kind: Service
metadata: {{name: sftp, namespace: shop}}
spec:
  type: LoadBalancer
  selector: {{app: web}}
  ports: [{{name: sftp, port: 22, targetPort: 2222}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: web, namespace: shop}}
spec:
  tls: [{{hosts: [shop.acme.example]}}]
  rules: [{{host: shop.acme.example}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: sncguard-default-deny, namespace: shop, labels: {{app.kubernetes.io/managed-by: sncguard}}}}
spec: {{podSelector: {{}}, policyTypes: [Ingress, Egress]}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: sncguard-default-deny, namespace: payments, labels: {{app.kubernetes.io/managed-by: sncguard}}}}
spec: {{podSelector: {{}}, policyTypes: [Ingress, Egress]}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: sncguard-flow-web-to-ledger, namespace: payments,
           labels: {{app.kubernetes.io/managed-by: sncguard}}}}
spec:
  podSelector: {{matchLabels: {{app: ledger}}}}
  policyTypes: [Ingress]
  ingress:
    - from: [{{namespaceSelector: {{matchExpressions: [{{key: kubernetes.io/metadata.name, operator: In,
                                                       values: [shop]}}]}},
               podSelector: {{matchLabels: {{app: web}}}}}}]
      ports: [{{protocol: TCP, port: 8443}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: sncguard-flow-web-to-ledger-egress, namespace: shop,
           labels: {{app.kubernetes.io/managed-by: sncguard}}}}
spec:
  podSelector: {{matchLabels: {{app: web}}}}
  policyTypes: [Egress]
  egress:
    - to: [{{namespaceSelector: {{matchExpressions: [{{key: kubernetes.io/metadata.name, operator: In,
                                                     values: [payments]}}]}},
             podSelector: {{matchLabels: {{app: ledger}}}}}}]
      ports: [{{protocol: TCP, port: 8443}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: sncguard-flow-internet-to-web, namespace: shop,
           labels: {{app.kubernetes.io/managed-by: sncguard}}}}
spec:
  podSelector: {{matchLabels: {{app: web}}}}
  policyTypes: [Ingress]
  ingress:
    - from: [{{ipBlock: {{cidr: 0.0.0.0/0, except: [10.0.0.0/8, 100.64.0.0/10, 172.16.0.0/12, 192.168.0.0/16]}}}}]
      ports: [{{protocol: TCP, port: 8080}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: debug-ssh, namespace: shop}}
spec:
  podSelector: {{matchLabels: {{app: api}}}}
  policyTypes: [Ingress]
  ingress: [{{ports: [{{protocol: TCP, port: 2222}}]}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: admins, namespace: shop}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin}}
subjects: [{{apiGroup: rbac.authorization.k8s.io, kind: Group, name: acme-admins}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: contractor, namespace: payments}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}}
subjects: [{{apiGroup: rbac.authorization.k8s.io, kind: User, name: contractor@example.com}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: sncguard-grant-0a1b2c3d, namespace: payments, labels: {{app.kubernetes.io/managed-by: sncguard}}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}}
subjects: [{{apiGroup: rbac.authorization.k8s.io, kind: User, name: ops@provider.example}}]
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: pv-ledger-1
  labels: {{topology.kubernetes.io/zone: zone-b, topology.kubernetes.io/region: eu-fr-paris}}
spec:
  claimRef: {{namespace: payments, name: data-ledger-1}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: data-ledger-1, namespace: payments}}
spec: {{volumeName: pv-ledger-1}}
---
apiVersion: velero.io/v1
kind: BackupStorageLocation
metadata:
  name: default
  namespace: openshift-adp
  labels: {{topology.kubernetes.io/zone: zone-c, topology.kubernetes.io/region: eu-fr-paris}}
spec:
  provider: aws
  objectStorage: {{bucket: acme-backups}}
  config: {{region: eu-fr-paris, serverSideEncryption: "aws:kms"}}
---
apiVersion: velero.io/v1
kind: Schedule
metadata: {{name: sncguard-payments.nightly, namespace: openshift-adp}}
spec:
  schedule: "30 1 * * *"
  template: {{includedNamespaces: [payments], storageLocation: default, ttl: 720h}}
---
apiVersion: velero.io/v1
kind: Backup
metadata: {{name: sncguard-payments.nightly-20261121013000, namespace: openshift-adp,
           labels: {{velero.io/schedule-name: sncguard-payments.nightly}}}}
spec: {{includedNamespaces: [payments], storageLocation: default}}
status: {{phase: Completed, startTimestamp: "2026-11-21T01:30:00Z", completionTimestamp: "2026-11-21T01:34:10Z"}}
---
apiVersion: velero.io/v1
kind: Backup
metadata: {{name: sncguard-payments.nightly-20261122013000, namespace: openshift-adp,
           labels: {{velero.io/schedule-name: sncguard-payments.nightly}}}}
spec: {{includedNamespaces: [payments], storageLocation: default}}
status: {{phase: Completed, startTimestamp: "2026-11-22T01:30:00Z", completionTimestamp: "2026-11-22T01:33:52Z"}}
---
apiVersion: velero.io/v1
kind: Restore
metadata:
  name: sncguard-drill-payments-20261115013000
  namespace: openshift-adp
  labels: {{sncguard.io/drill: "true"}}
spec:
  backupName: sncguard-payments.nightly-20261121013000
  namespaceMapping: {{payments: sncguard-drill-payments}}
status: {{phase: Completed, startTimestamp: "2026-11-21T02:00:00Z", completionTimestamp: "2026-11-21T02:06:30Z"}}
"""

LEDGER_SHOP = {
    "startedAt": "2026-11-03T08:00:00Z", "accountedUntil": "2026-11-20T06:00:00Z",
    "current": {"eligible": False, "since": "2026-11-05T12:00:00Z",
                "causes": [{"kind": "Deployment", "namespace": "shop", "name": "api", "rule": "ZS-004"}]},
    "months": [{"month": "2026-11", "eligibleSeconds": 187200, "notEligibleSeconds": 1274400,
                "unobservedSeconds": 0, "intervalsTruncated": 0,
                "intervals": [{"start": "2026-11-05T12:00:00Z",
                               "causes": [{"kind": "Deployment", "namespace": "shop", "name": "api",
                                           "rule": "ZS-004"}]}]}],
    "totals": {"eligibleSeconds": 187200, "notEligibleSeconds": 1274400, "unobservedSeconds": 0},
    "zoneOutages": [{"zone": "zone-b", "start": "2026-11-14T02:00:00Z", "end": "2026-11-14T03:30:00Z"}],
}
LEDGER_PAYMENTS = {
    "startedAt": "2026-10-20T09:00:00Z", "accountedUntil": "2026-11-18T00:00:00Z",
    "current": {"eligible": True, "since": "2026-11-14T03:30:00Z"},
    "months": [
        {"month": "2026-10", "eligibleSeconds": 1004400, "notEligibleSeconds": 0, "unobservedSeconds": 0,
         "intervals": [], "intervalsTruncated": 0},
        {"month": "2026-11", "eligibleSeconds": 1462800, "notEligibleSeconds": 9000, "unobservedSeconds": 83400,
         "intervalsTruncated": 0,
         "intervals": [{"start": "2026-11-14T02:00:00Z", "end": "2026-11-14T03:30:00Z",
                        "causes": [{"kind": "Deployment", "namespace": "payments", "name": "ledger",
                                    "rule": "ZS-004"}]}]}],
    "zoneOutages": [{"zone": "zone-b", "start": "2026-11-14T02:00:00Z", "end": "2026-11-14T03:30:00Z"}],
}
DRILL = {"restore": "sncguard-drill-payments-20261115013000", "backup": "sncguard-payments.nightly-20261121013000",
         "scratchNamespace": "sncguard-drill-payments", "phase": "Completed", "started": "2026-11-21T02:00:00Z",
         "completed": "2026-11-21T02:06:30Z"}
CERTIFICATE = {"checkedAt": "2026-11-05T09:00:05Z", "deadline": "2026-11-04T09:00:00Z", "namespaces": ["globex-web"],
               "inventory": {"Namespace": 0, "PersistentVolume": 0, "Backup": 0}}


def write_world(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "world.yaml").write_text(WORLD, encoding="utf-8")
    return folder


def statuses(register_digest: str | None = None) -> dict[tuple[str, str, str], dict]:
    """What the operator's statuses hold in such a cluster (only what the packs read from them)."""
    from sncguard.rules.termination import certificate_digest

    certificate = {**CERTIFICATE, "digest": certificate_digest("globex", CERTIFICATE)}

    def verdict(compliant: bool, **fields: object) -> dict:
        return {"conditions": [{"type": "Ready", "status": "True", "reason": "Evaluated"},
                               {"type": "Compliant", "status": str(compliant),
                                "reason": "Compliant" if compliant else "NonCompliant"}],
                "lastEvaluated": "2026-11-22T09:59:58Z", **fields}

    acme = verdict(False, **({"accessRegisterDigest": register_digest} if register_digest else {}))
    return {
        ("ZoneSpread", "shop", "sla"): verdict(False, slaLedger=LEDGER_SHOP),
        ("ZoneSpread", "payments", "sla"): verdict(True, slaLedger=LEDGER_PAYMENTS),
        ("BackupPolicy", "payments", "nightly"): verdict(False, lastDrill=DRILL),
        ("TenantPolicy", "", "acme"): acme,
        ("TenantPolicy", "", "globex"): verdict(True, erasureCertificate=certificate,
                                                erasureNamespaces=["globex-web"]),
    }
