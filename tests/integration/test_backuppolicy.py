"""BackupPolicy end to end. Velero cannot run here: the tests install Velero's own v1.16 CRDs
and play Velero's part, setting Backup and Restore status as Velero would."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from .helpers import reference, wait_for

# Velero's own CRDs (v1.16.2): no status subresource, so the tests set status as Velero's server
# does, on the object itself.
VELERO_CRDS = reference.velero_crds()


def rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def status(cluster, ns: str, name: str = "nightly") -> dict:
    return cluster.kubectl_json("get", "backuppolicy", name, "-n", ns).get("status") or {}


def condition(st: dict, type_: str) -> dict:
    return next((c for c in st.get("conditions") or () if c["type"] == type_), {})


def finding(st: dict, rule: str) -> dict | None:
    return next((f for f in st.get("findings") or () if f["rule"] == rule), None)


def backup_policy(ns: str, velero_ns: str, *, mode: str = "Audit", rpo: str = "26h", extra: str = "") -> str:
    return f"""
apiVersion: sncguard.io/v1alpha1
kind: BackupPolicy
metadata: {{name: nightly, namespace: {ns}}}
spec: {{mode: {mode}, veleroNamespace: {velero_ns}, storageLocation: offsite, rpo: {rpo}{extra}}}
"""


def storage_location(velero_ns: str, zone: str, encrypted: bool = True) -> str:
    config = '{region: eu-fr-paris, serverSideEncryption: "aws:kms"}' if encrypted else "{region: eu-fr-paris}"
    return f"""
apiVersion: velero.io/v1
kind: BackupStorageLocation
metadata:
  name: offsite
  namespace: {velero_ns}
  labels: {{topology.kubernetes.io/zone: {zone}, topology.kubernetes.io/region: eu-fr-paris}}
spec: {{provider: aws, objectStorage: {{bucket: backups}}, config: {config}}}
"""


def workload(ns: str, zone: str) -> str:
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: app, namespace: {ns}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: app}}}}
  template:
    metadata: {{labels: {{app: app}}}}
    spec:
      nodeSelector: {{topology.kubernetes.io/zone: {zone}}}
      containers: [{{name: app, image: app:1}}]
"""


def completed_backup(cluster, velero_ns: str, name: str, ns: str, completed: datetime,
                     location: str = "offsite") -> None:
    """Create a Backup and set its status the way Velero does when it finishes."""
    cluster.kubectl("apply", "-f", "-", input=f"""
apiVersion: velero.io/v1
kind: Backup
metadata: {{name: {name}, namespace: {velero_ns}}}
spec: {{includedNamespaces: [{ns}], storageLocation: {location}, ttl: 720h0m0s}}
""")
    patch = {"status": {"phase": "Completed", "startTimestamp": rfc3339(completed - timedelta(seconds=30)),
                        "completionTimestamp": rfc3339(completed)}}
    cluster.kubectl("patch", "backup", name, "-n", velero_ns, "--type=merge",
                    "-p", json.dumps(patch))


@pytest.fixture
def velero(cluster, crds, live_operator, tmp_path_factory):
    """Velero's CRDs installed (the first test also proves the operator waits for them)."""
    cluster.kubectl("apply", "--server-side", "-f", str(VELERO_CRDS))
    cluster.kubectl("wait", "--for", "condition=established", "--timeout=60s", "-f", str(VELERO_CRDS))
    return VELERO_CRDS


@pytest.fixture
def velero_ns(cluster):
    from .conftest import create_namespace, delete_namespace, namespace_name
    name = create_namespace(cluster, namespace_name("velero"))
    yield name
    delete_namespace(cluster, name)


def test_without_velero_the_policy_says_so_then_picks_velero_up(cluster, crds, live_operator, namespace):
    installed = cluster.kubectl("get", "crd", "backups.velero.io", check=False).returncode == 0
    if not installed:
        cluster.kubectl("apply", "-f", "-", input=backup_policy(namespace, "openshift-adp"))
        st = wait_for(lambda: condition(status(cluster, namespace), "Ready").get("reason") == "VeleroNotInstalled"
                      and status(cluster, namespace), timeout=30, message="the VeleroNotInstalled condition")
        assert condition(st, "Ready")["status"] == "False"
        assert "Velero" in condition(st, "Ready")["message"]
    cluster.kubectl("apply", "--server-side", "-f", str(VELERO_CRDS))
    cluster.kubectl("wait", "--for", "condition=established", "--timeout=60s", "-f", str(VELERO_CRDS))
    cluster.kubectl("apply", "-f", "-", input=backup_policy(namespace, "openshift-adp"))
    st = wait_for(lambda: condition(status(cluster, namespace), "Ready").get("status") == "True"
                  and status(cluster, namespace), timeout=60,
                  message=lambda: f"evaluation; {status(cluster, namespace)}")
    # Velero is there, the storage location is not: the policy says so.
    bk003 = finding(st, "BK-003")
    assert bk003 and bk003["result"] == "fail"
    assert "offsite" in bk003["message"] and "does not exist" in bk003["message"]
    assert finding(st, "BK-001")["result"] == "fail"


def test_a_target_in_a_workload_zone_fails_until_relabelled(cluster, velero, velero_ns, namespace):
    ns = namespace
    cluster.kubectl("apply", "-f", "-", input=workload(ns, "zone-b"))
    cluster.kubectl("apply", "-f", "-", input=storage_location(velero_ns, "zone-b"))
    cluster.kubectl("apply", "-f", "-", input=backup_policy(ns, velero_ns))

    def bk002(result: str):
        def check():
            st = status(cluster, ns)
            f = finding(st, "BK-002")
            if result == "pass":
                return st if st.get("targetZone") == "zone-c" and f is None and st.get("summary") else None
            return st if f and f["result"] == result else None
        return check

    st = wait_for(bk002("fail"), timeout=60, message=lambda: f"BK-002 to fail; {status(cluster, ns)}")
    f = finding(st, "BK-002")
    assert f["severity"] == "critical" and "zone-b" in f["message"]
    assert st["targetZone"] == "zone-b" and st["workloadZones"] == ["zone-b"]
    cluster.kubectl("label", "backupstoragelocation", "offsite", "-n", velero_ns,
                    "topology.kubernetes.io/zone=zone-c", "--overwrite")
    st = wait_for(bk002("pass"), timeout=30, message=lambda: f"BK-002 to clear; {status(cluster, ns)}")
    assert st["target"] == "offsite" and st["targetRegion"] == "eu-fr-paris"


def test_a_backup_older_than_the_rpo_fails_when_the_deadline_passes(cluster, velero, velero_ns, namespace):
    ns = namespace
    cluster.kubectl("apply", "-f", "-", input=workload(ns, "zone-a"))
    cluster.kubectl("apply", "-f", "-", input=storage_location(velero_ns, "zone-c"))
    completed_backup(cluster, velero_ns, "b1", ns, datetime.now(UTC) - timedelta(seconds=60))
    cluster.kubectl("apply", "-f", "-", input=backup_policy(ns, velero_ns, rpo="80s"))
    st = wait_for(lambda: (s := status(cluster, ns)).get("lastBackup") and s, timeout=30,
                  message=lambda: f"a first evaluation; {status(cluster, ns)}")
    assert finding(st, "BK-005") is None, "the backup is younger than the RPO"
    deadline = datetime.fromisoformat(st["nextDeadline"].replace("Z", "+00:00"))
    assert deadline <= datetime.now(UTC) + timedelta(seconds=25)
    rv = cluster.kubectl_json("get", "backuppolicy", "nightly", "-n", ns)["metadata"]["resourceVersion"]
    # Nothing changes in the cluster: only the clock moves, and the operator's timer fires.
    st = wait_for(lambda: (f := finding(s := status(cluster, ns), "BK-005")) and f["result"] == "fail" and s,
                  timeout=60, message=lambda: f"BK-005 after the deadline; {status(cluster, ns)}")
    assert "80s" in finding(st, "BK-005")["message"] or "RPO" in finding(st, "BK-005")["message"]
    assert cluster.kubectl_json("get", "backuppolicy", "nightly", "-n", ns)["metadata"]["resourceVersion"] != rv


def test_enforce_owns_the_schedule_and_runs_a_restore_drill(cluster, velero, velero_ns, namespace):
    ns = namespace
    cluster.kubectl("apply", "-f", "-", input=storage_location(velero_ns, "zone-c"))
    completed_backup(cluster, velero_ns, "b-latest", ns, datetime.now(UTC) - timedelta(minutes=5))
    cluster.kubectl("apply", "-f", "-", input=backup_policy(
        ns, velero_ns, mode="Enforce", extra=", restoreTestInterval: 720h, schedule: '0 3 * * *', ttl: 240h"))

    schedule = wait_for(lambda: next((s for s in cluster.kubectl_json("get", "schedules", "-n", velero_ns)["items"]
                                      if s["metadata"]["labels"].get("app.kubernetes.io/managed-by") == "sncguard"),
                                     None), timeout=30, message="the owned Schedule")
    assert schedule["spec"]["schedule"] == "0 3 * * *"
    assert schedule["spec"]["template"]["includedNamespaces"] == [ns]
    assert schedule["spec"]["template"]["storageLocation"] == "offsite"
    assert schedule["spec"]["template"]["ttl"] == "240h"

    restore = wait_for(lambda: next(iter(cluster.kubectl_json("get", "restores", "-n", velero_ns,
                                                             "-l", "sncguard.io/drill=true")["items"]), None),
                       timeout=30, message="a restore drill")
    assert restore["spec"]["backupName"] == "b-latest"
    (scratch,) = restore["spec"]["namespaceMapping"].values()
    assert restore["spec"]["namespaceMapping"] == {ns: scratch} and scratch.startswith("sncguard-drill-")

    # Velero's part: it creates the scratch namespace, restores, and reports Completed.
    cluster.kubectl("create", "namespace", scratch)
    now = datetime.now(UTC)
    patch = {"status": {"phase": "Completed", "startTimestamp": rfc3339(now - timedelta(seconds=12)),
                        "completionTimestamp": rfc3339(now)}}
    cluster.kubectl("patch", "restore", restore["metadata"]["name"], "-n", velero_ns,
                    "--type=merge", "-p", json.dumps(patch))

    st = wait_for(lambda: (s := status(cluster, ns)).get("lastDrill", {}).get("phase") == "Completed" and s,
                  timeout=30, message=lambda: f"the drill in status; {status(cluster, ns)}")
    assert st["lastDrill"]["restore"] == restore["metadata"]["name"] and st["lastRestoreTest"]
    assert finding(st, "BK-006") is None, "a restore test now exists"
    events = cluster.kubectl_json("get", "events", "-n", ns, "--field-selector", "reason=RestoreDrill")["items"]
    assert events and "b-latest" in events[0]["message"]
    wait_for(lambda: cluster.kubectl("get", "namespace", scratch, check=False).returncode != 0
             or cluster.kubectl_json("get", "namespace", scratch)["status"].get("phase") == "Terminating",
             timeout=30, message="the scratch namespace to go")

    # Deleting the policy removes the Schedule it owned in Velero's namespace.
    cluster.kubectl("delete", "backuppolicy", "nightly", "-n", ns)
    wait_for(lambda: not [s for s in cluster.kubectl_json("get", "schedules", "-n", velero_ns)["items"]
                          if s["metadata"]["labels"].get("app.kubernetes.io/managed-by") == "sncguard"],
             timeout=30, message="the Schedule to be deleted")


def test_unparsable_cron_or_duration_is_refused_by_the_schema(cluster, crds, namespace):
    for spec in ("{schedule: 'at noon'}", "{rpo: 'a day'}", "{ttl: '-5h'}"):
        result = cluster.kubectl("apply", "--dry-run=server", "-f", "-", check=False, input=f"""
apiVersion: sncguard.io/v1alpha1
kind: BackupPolicy
metadata: {{name: bad, namespace: {namespace}}}
spec: {spec}
""")
        assert result.returncode != 0 and "should match" in result.stderr, result.stderr
