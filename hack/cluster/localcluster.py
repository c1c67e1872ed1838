#!/usr/bin/env python3
"""A docker-free local Kubernetes control plane for sncguard development and integration tests.

Runs real, pinned control-plane binaries built by ``build.sh`` as plain processes on loopback:
etcd, kube-apiserver, kube-controller-manager and kube-scheduler, plus ``fake_kubelet.py`` to do
the kubelet's part for a few registered fake nodes (three zones of one region). Nothing needs
root, containers or a VM, and two clusters (say a demo one and the test one) can run side by side.

CLI (use the project's venv python)::

    localcluster.py up     --dir DIR [--name NAME] [--nodes-per-zone N] [--fresh] [--audit]
    localcluster.py down   --dir DIR
    localcluster.py status --dir DIR
    localcluster.py user   --dir DIR --name USER [--group GROUP]...

``up`` writes, in DIR: ``kubeconfig`` (admin, context NAME), ``env`` (``source`` it for KUBECONFIG
and PATH), ``state.json`` (pids, ports, paths), ``pki/``, ``etcd/`` and ``logs/*.log``.
Running ``up`` again on a stopped DIR keeps its certificates and etcd data (``--fresh`` wipes the
data) and reuses its previous ports when they are free.

``--audit`` (off by default) turns on the apiserver's audit log: ``DIR/audit-policy.yaml`` (see
``audit_policy``: Request level for the writes of the users in ``AUDIT_REQUEST_USERS``, Metadata
for every other request, no RequestReceived stage) and JSON lines in ``DIR/logs/audit.log``,
written in blocking mode, so the file holds every completed request when a request returns.

``user`` mints a client certificate signed by the cluster's CA for another identity (CN=USER,
O=GROUP per ``--group``; never system:masters unless asked) and writes ``DIR/USER.kubeconfig``;
it grants nothing: bind the user to roles with RBAC.

Python API (what the pytest fixtures use)::

    cluster = LocalCluster("/tmp/c", name="sncguard-test")
    cluster.start()
    cluster.kubectl("get", "nodes", "-o", "json")  # CompletedProcess, text, raises KubectlError
    cluster.kubeconfig, cluster.env                   # path, environment for subprocesses
    cluster.add_user("sncguard-operator")             # -> DIR/sncguard-operator.kubeconfig
    cluster.stop()

    LocalCluster("/tmp/c", audit=True).start()        # audit log in cluster.audit_log

Ports are taken at random below the kernel's ephemeral range and checked free on 127.0.0.1
(five per cluster: etcd client and peer, apiserver, controller-manager and scheduler secure
ports), so they do not race with outgoing connections and two clusters do not collide.

Every component runs in its own session (process group), so ``down`` signals whole groups:
SIGTERM, up to 30 s of grace (a stopping apiserver can take a while), then SIGKILL, in the
reverse order of start. ``down`` is idempotent, and pids are checked against their recorded start
time so that a recycled pid is never signalled.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import http.client
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
BUILD_SH = HERE / "build.sh"
FAKE_KUBELET = HERE / "fake_kubelet.py"

SERVICE_CIDR = "10.0.0.0/24"
SERVICE_IP = "10.0.0.1"  # first address of SERVICE_CIDR: the `kubernetes` Service
REGION = "eu-fr-paris"
ZONES = ("zone-a", "zone-b", "zone-c")
NODE_ALLOCATABLE = {"cpu": "32", "memory": "128Gi", "pods": "250", "ephemeral-storage": "100Gi"}
# Node addresses are on loopback on purpose: the apiserver dials a node's address for
# logs/exec/port-forward, and nothing may ever be sent to a non-loopback address from here.
NODE_IP_PREFIX = "127.0.10."
PORT_RANGE = (20000, 32000)  # below the usual ephemeral range (32768-60999)
STOP_GRACE_SECONDS = 30.0

# Users whose writes (create, update, patch, delete) the audit log records at Request level (with
# their bodies); every other request is recorded at Metadata level.
AUDIT_REQUEST_USERS = ("sncguard-operator",)

# Start order; `down` stops in reverse (the first three together, they do not depend on each other).
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "fake-kubelet")


class ClusterError(RuntimeError):
    pass


class KubectlError(subprocess.CalledProcessError):
    def __str__(self) -> str:
        return f"{super().__str__()}\nstdout: {self.stdout}\nstderr: {self.stderr}"


# --------------------------------------------------------------------------- processes


def _proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, pgrp, starttime) of a live pid, or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return fields[0], int(fields[2]), int(fields[19])


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _alive(pid: int, start_time: int | None = None) -> bool:
    _reap(pid)
    st = _proc_stat(pid)
    if st is None or st[0] == "Z":
        return False
    return start_time is None or st[2] == start_time


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            pid = int(entry.name)
            if pid == pgid:
                _reap(pid)  # a leader that is our own child stays a zombie until reaped
            st = _proc_stat(pid)
            if st and st[1] == pgid and st[0] != "Z":
                members.append(pid)
    return members


def _stop_groups(procs: list[dict[str, Any]], grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM each recorded process group, wait up to `grace`, then SIGKILL what is left."""
    live = [p for p in procs if _alive(p["pid"], p.get("start_time"))]
    for p in live:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(p["pgid"], signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_group_members(p["pgid"]) for p in live):
        time.sleep(0.1)
    for p in live:
        if _group_members(p["pgid"]):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p["pgid"], signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_group_members(p["pgid"]) for p in live):
        time.sleep(0.05)


def _free_ports(count: int, avoid: Iterable[int] = ()) -> list[int]:
    avoid = set(avoid)
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < count:
            port = random.randrange(*PORT_RANGE)
            if port in avoid or port in ports:
                continue
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                s.close()
                continue
            held.append(s)
            ports.append(port)
    finally:
        for s in held:
            s.close()
    return ports


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


# --------------------------------------------------------------------------- PKI


def _openssl(*args: str, cwd: Path) -> None:
    res = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if res.returncode != 0:
        raise ClusterError(f"openssl {' '.join(args)} failed:\n{res.stderr}")


PKI_VERSION = "2"  # bump when generate_pki makes more or different files
_REQ_CNF = "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = unused\n"


def generate_pki(pki: Path) -> None:
    """CA, apiserver serving cert, client certs and the service-account key pair (idempotent)."""
    pki.mkdir(parents=True, exist_ok=True)
    if (pki / "complete").exists() and (pki / "complete").read_text() == PKI_VERSION:
        return
    (pki / "req.cnf").write_text(_REQ_CNF)

    def ec_key(name: str) -> None:
        _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-out", f"{name}.key", cwd=pki)

    def ca(name: str, cn: str) -> None:
        ec_key(name)
        (pki / f"{name}.cnf").write_text(
            "[req]\ndistinguished_name = dn\nprompt = no\nx509_extensions = v3_ca\n"
            f"[dn]\nCN = {cn}\n"
            "[v3_ca]\nbasicConstraints = critical,CA:TRUE\n"
            "keyUsage = critical,keyCertSign,cRLSign,digitalSignature\n"
            "subjectKeyIdentifier = hash\n"
        )
        _openssl("req", "-x509", "-new", "-key", f"{name}.key", "-config", f"{name}.cnf",
                 "-days", "3650", "-out", f"{name}.crt", cwd=pki)

    def leaf(name: str, subject: str, usage: str, sans: list[str] | None = None,
             issuer: str = "ca") -> None:
        ec_key(name)
        ext = ["basicConstraints = critical,CA:FALSE",
               "keyUsage = critical,digitalSignature,keyEncipherment",
               f"extendedKeyUsage = {usage}",
               "authorityKeyIdentifier = keyid"]
        if sans:
            ext.append("subjectAltName = " + ",".join(sans))
        (pki / f"{name}.ext").write_text("\n".join(ext) + "\n")
        _openssl("req", "-new", "-key", f"{name}.key", "-subj", subject, "-config", "req.cnf",
                 "-out", f"{name}.csr", cwd=pki)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{issuer}.crt",
                 "-CAkey", f"{issuer}.key",
                 "-set_serial", "0x" + secrets.token_hex(16), "-days", "3650",
                 "-extfile", f"{name}.ext", "-out", f"{name}.crt", cwd=pki)

    ca("ca", "sncguard-local-ca")
    # The aggregation layer's own CA: the apiserver authenticates to extension apiservers with
    # front-proxy-client, and components read this CA from extension-apiserver-authentication.
    ca("front-proxy-ca", "sncguard-local-front-proxy-ca")
    leaf("front-proxy-client", "/CN=front-proxy-client", "clientAuth", issuer="front-proxy-ca")
    leaf("apiserver", "/CN=kube-apiserver", "serverAuth", [
        "IP:127.0.0.1", f"IP:{SERVICE_IP}", "DNS:localhost", "DNS:kubernetes",
        "DNS:kubernetes.default", "DNS:kubernetes.default.svc",
        "DNS:kubernetes.default.svc.cluster.local"])
    leaf("admin", "/O=system:masters/CN=admin", "clientAuth")
    leaf("controller-manager", "/CN=system:kube-controller-manager", "clientAuth")
    leaf("scheduler", "/CN=system:kube-scheduler", "clientAuth")
    # Service-account tokens are signed with an RSA key (the apiserver verifies with the public half).
    _openssl("genrsa", "-out", "sa.key", "2048", cwd=pki)
    _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)
    for f in pki.glob("*.key"):
        f.chmod(0o600)
    (pki / "complete").write_text(PKI_VERSION)


def mint_client_cert(pki: Path, stem: str, user: str, groups: Iterable[str] = ()) -> tuple[Path, Path]:
    """A client certificate and key for CN=user, O=group... signed by the cluster CA -> (crt, key)."""
    if not (pki / "ca.key").exists():
        raise ClusterError(f"no CA in {pki}: start the cluster once first")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", stem):
        raise ClusterError(f"{stem!r} cannot name certificate files")
    for value in (user, *groups):
        if not value or any(c in value for c in "/=\\+,\n"):
            raise ClusterError(f"{value!r} cannot be a certificate subject field")
    subject = "".join(f"/O={g}" for g in groups) + f"/CN={user}"
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", f"{stem}.key", cwd=pki)
    (pki / f"{stem}.ext").write_text(
        "basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage = clientAuth\nauthorityKeyIdentifier = keyid\n")
    if not (pki / "req.cnf").exists():
        (pki / "req.cnf").write_text(_REQ_CNF)
    _openssl("req", "-new", "-key", f"{stem}.key", "-subj", subject, "-config", "req.cnf",
             "-out", f"{stem}.csr", cwd=pki)
    _openssl("x509", "-req", "-in", f"{stem}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-set_serial", "0x" + secrets.token_hex(16), "-days", "3650",
             "-extfile", f"{stem}.ext", "-out", f"{stem}.crt", cwd=pki)
    (pki / f"{stem}.key").chmod(0o600)
    return pki / f"{stem}.crt", pki / f"{stem}.key"


def audit_policy(request_users: Iterable[str] = AUDIT_REQUEST_USERS) -> dict[str, Any]:
    """The audit policy of `--audit`: bodies of the given users' writes, metadata of everything else."""
    return {
        "apiVersion": "audit.k8s.io/v1",
        "kind": "Policy",
        "omitStages": ["RequestReceived"],
        "rules": [
            {"level": "Request", "users": list(request_users),
             "verbs": ["create", "update", "patch", "delete", "deletecollection"]},
            {"level": "Metadata"},
        ],
    }


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def write_kubeconfig(path: Path, name: str, server: str, pki: Path, user: str) -> None:
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {
            "server": server, "certificate-authority-data": _b64(pki / "ca.crt")}}],
        "users": [{"name": f"{name}-{user}", "user": {
            "client-certificate-data": _b64(pki / f"{user}.crt"),
            "client-key-data": _b64(pki / f"{user}.key")}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": f"{name}-{user}"}}],
        "current-context": name,
        "preferences": {},
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(cfg, sort_keys=False))
    tmp.chmod(0o600)
    tmp.replace(path)


# --------------------------------------------------------------------------- API access


class Api:
    """A tiny synchronous HTTPS client for the apiserver with the admin client certificate."""

    def __init__(self, port: int, pki: Path):
        self.port = port
        self.ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        self.ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))

    def request(self, method: str, path: str, body: Any = None,
                content_type: str = "application/json", timeout: float = 10) -> tuple[int, Any]:
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=timeout)
        try:
            data = None if body is None else json.dumps(body).encode()
            headers = {"Accept": "application/json"}
            if data is not None:
                headers["Content-Type"] = content_type
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        try:
            return resp.status, json.loads(raw) if raw else None
        except ValueError:
            return resp.status, raw.decode(errors="replace")

    def must(self, method: str, path: str, body: Any = None, ok: Iterable[int] = (200, 201),
             content_type: str = "application/json") -> Any:
        status, data = self.request(method, path, body, content_type)
        if status not in ok:
            raise ClusterError(f"{method} {path}: HTTP {status}: {data}")
        return data


def _https_ok(port: int, path: str, ctx: ssl.SSLContext) -> bool:
    try:
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=2)
        conn.request("GET", path)
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except (OSError, http.client.HTTPException):
        return False


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def node_names(nodes_per_zone: int) -> list[tuple[str, str]]:
    """[(node name, zone)]: node-a, node-b, node-c, or node-a-1, node-a-2, ... when N > 1."""
    out = []
    for zone in ZONES:
        letter = zone.rsplit("-", 1)[1]
        if nodes_per_zone == 1:
            out.append((f"node-{letter}", zone))
        else:
            out.extend((f"node-{letter}-{i}", zone) for i in range(1, nodes_per_zone + 1))
    return out


def register_nodes(api: Api, nodes_per_zone: int, kube_version: str) -> list[str]:
    names = []
    for index, (name, zone) in enumerate(node_names(nodes_per_zone), start=1):
        labels = {
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "topology.kubernetes.io/region": REGION,
            "topology.kubernetes.io/zone": zone,
        }
        node = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "labels": labels}, "spec": {}}
        status, data = api.request("POST", "/api/v1/nodes", node)
        if status == 409:
            api.must("PATCH", f"/api/v1/nodes/{name}", {"metadata": {"labels": labels}},
                     content_type="application/merge-patch+json")
        elif status not in (200, 201):
            raise ClusterError(f"creating node {name}: HTTP {status}: {data}")
        now = _now()
        conditions = [
            {"type": t, "status": "False", "reason": f"Kubelet{r}", "message": m,
             "lastHeartbeatTime": now, "lastTransitionTime": now}
            for t, r, m in (("MemoryPressure", "HasSufficientMemory", "fake node"),
                            ("DiskPressure", "HasNoDiskPressure", "fake node"),
                            ("PIDPressure", "HasSufficientPID", "fake node"))
        ] + [{"type": "Ready", "status": "True", "reason": "KubeletReady",
              "message": "fake kubelet is posting ready status",
              "lastHeartbeatTime": now, "lastTransitionTime": now}]
        node_status = {"status": {
            "capacity": NODE_ALLOCATABLE, "allocatable": NODE_ALLOCATABLE,
            "conditions": conditions,
            "addresses": [{"type": "InternalIP", "address": f"{NODE_IP_PREFIX}{index}"},
                          {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": secrets.token_hex(16), "systemUUID": secrets.token_hex(16),
                "bootID": secrets.token_hex(16), "kernelVersion": "6.0.0-fake",
                "osImage": "sncguard fake node", "containerRuntimeVersion": "fake://1.0.0",
                "kubeletVersion": kube_version, "kubeProxyVersion": "",
                "operatingSystem": "linux", "architecture": "amd64"},
        }}
        api.must("PATCH", f"/api/v1/nodes/{name}/status", node_status,
                 content_type="application/merge-patch+json")
        names.append(name)
    return names


# --------------------------------------------------------------------------- the cluster


def run_build(log_path: Path | None = None) -> tuple[Path, Path]:
    """Run build.sh -> (k8s bin dir, etcd bin dir). About a second when the binaries are cached.

    Runs are serialized with a lock in the binary cache, so clusters started at the same time on
    a fresh machine (tests and a demo) compile once instead of racing on the same files.
    """
    cache = Path(os.environ.get("SNCGUARD_CACHE", Path.home() / ".cache" / "sncguard"))
    cache.mkdir(parents=True, exist_ok=True)
    log_path = log_path or cache / "build.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(cache / "build.lock", "w") as lock, open(log_path, "w") as log:
        fcntl.flock(lock, fcntl.LOCK_EX)
        proc = subprocess.Popen(["bash", str(BUILD_SH)], stdout=subprocess.PIPE, stderr=log,
                                stdin=subprocess.DEVNULL, text=True)
        try:
            out, _ = proc.communicate(timeout=2)
        except subprocess.TimeoutExpired:
            print(f"localcluster: building the pinned binaries (first run, several minutes), "
                  f"log {log_path}", file=sys.stderr, flush=True)
            out, _ = proc.communicate()
    if proc.returncode != 0:
        raise ClusterError(f"build.sh failed ({proc.returncode}):\n{_tail(log_path, 40)}")
    lines = [ln for ln in out.splitlines() if ln.strip()]
    if len(lines) < 2:
        raise ClusterError(f"build.sh printed {out!r}, expected two directories")
    return Path(lines[-2]), Path(lines[-1])


class LocalCluster:
    def __init__(self, directory: str | os.PathLike[str], name: str | None = None,
                 nodes_per_zone: int | None = None, audit: bool | None = None):
        """name (kubeconfig context, default "sncguard"), nodes_per_zone (default 1) and audit
        (the apiserver's audit log, default off) default to those of the cluster that last ran in
        `directory`, if any."""
        self.dir = Path(directory).resolve()
        self.pki = self.dir / "pki"
        self.logs = self.dir / "logs"
        self.kubeconfig = self.dir / "kubeconfig"
        self.state_path = self.dir / "state.json"
        self.state: dict[str, Any] = self._load_state()
        self.name = name or self.state.get("name") or "sncguard"
        self.nodes_per_zone = nodes_per_zone or self.state.get("nodes_per_zone") or 1
        self.audit = bool(self.state.get("audit", False) if audit is None else audit)

    # ---- state

    def _load_state(self) -> dict[str, Any]:
        try:
            return json.loads(self.state_path.read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def _save_state(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=2, sort_keys=True) + "\n")
        tmp.replace(self.state_path)

    @property
    def k8s_bin(self) -> Path:
        return Path(self.state["bin_dirs"]["kubernetes"])

    @property
    def etcd_bin(self) -> Path:
        return Path(self.state["bin_dirs"]["etcd"])

    @property
    def api_port(self) -> int:
        return int(self.state["ports"]["apiserver"])

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    @property
    def env(self) -> dict[str, str]:
        """The current environment plus KUBECONFIG, PATH (kubectl first) and kubectl's cache dir."""
        env = dict(os.environ)
        env["KUBECONFIG"] = str(self.kubeconfig)
        env["PATH"] = f"{self.k8s_bin}{os.pathsep}{env.get('PATH', '')}"
        env["KUBECACHEDIR"] = str(self.dir / "kube-cache")
        return env

    def api(self) -> Api:
        return Api(self.api_port, self.pki)

    @property
    def audit_log(self) -> Path:
        """Where the apiserver writes audit events when the cluster runs with audit=True."""
        return self.logs / "audit.log"

    @property
    def audit_policy_path(self) -> Path:
        return self.dir / "audit-policy.yaml"

    def add_user(self, user: str, groups: Iterable[str] = ()) -> Path:
        """Mint a client certificate for `user` (CN) in `groups` (O) and write DIR/<user>.kubeconfig.

        The user has no permission until RBAC binds it; the cluster must have been started once
        (for its CA and port). Minting again replaces the certificate.
        """
        stem = "user-" + re.sub(r"[^A-Za-z0-9_.-]", "_", user)
        mint_client_cert(self.pki, stem, user, groups)
        path = self.dir / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', user)}.kubeconfig"
        write_kubeconfig(path, self.name, self.server, self.pki, stem)
        return path

    def processes(self) -> dict[str, dict[str, Any]]:
        return dict(self.state.get("processes", {}))

    def component_status(self) -> dict[str, bool]:
        procs = self.processes()
        return {c: c in procs and _alive(procs[c]["pid"], procs[c].get("start_time"))
                for c in (*COMPONENTS, "watchdog") if c in procs or c in COMPONENTS}

    def is_up(self) -> bool:
        if not self.state.get("processes"):
            return False
        if not all(self.component_status()[c] for c in COMPONENTS):
            return False
        ctx = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
        ctx.load_cert_chain(str(self.pki / "admin.crt"), str(self.pki / "admin.key"))
        return _https_ok(self.api_port, "/readyz", ctx)

    # ---- start

    def _spawn(self, component: str, argv: list[str], env: dict[str, str] | None = None) -> int:
        self.logs.mkdir(parents=True, exist_ok=True)
        with open(self.logs / f"{component}.log", "ab") as log:
            log.write(f"\n==== {_now()} {' '.join(argv)}\n".encode())
            log.flush()
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, cwd=self.dir,
                                    start_new_session=True, env=env)
        st = _proc_stat(proc.pid)
        self.state.setdefault("processes", {})[component] = {
            "pid": proc.pid, "pgid": proc.pid, "start_time": st[2] if st else None, "argv": argv}
        self._save_state()
        return proc.pid

    def _wait(self, what: str, component: str, check: Callable[[], bool],
              timeout: float = 60.0, interval: float = 0.1) -> None:
        deadline = time.monotonic() + timeout
        proc = self.state["processes"][component]
        while True:
            if check():
                return
            if not _alive(proc["pid"], proc.get("start_time")):
                raise ClusterError(f"{component} exited while waiting for {what}; "
                                   f"log {self.logs / (component + '.log')}:\n"
                                   f"{_tail(self.logs / (component + '.log'))}")
            if time.monotonic() > deadline:
                raise ClusterError(f"timed out after {timeout:.0f}s waiting for {what}; "
                                   f"log {self.logs / (component + '.log')}:\n"
                                   f"{_tail(self.logs / (component + '.log'))}")
            time.sleep(interval)

    def _pick_ports(self) -> dict[str, int]:
        names = ("etcd_client", "etcd_peer", "apiserver", "controller_manager", "scheduler")
        old = self.state.get("ports") or {}
        if set(names) <= set(old) and all(_port_free(int(old[n])) for n in names):
            return {n: int(old[n]) for n in names}
        return dict(zip(names, _free_ports(len(names)), strict=True))

    def start(self, fresh: bool = False, owner_pid: int | None = None) -> LocalCluster:
        """Bring the cluster up; returns when nodes are registered and controllers are serving.

        owner_pid: also start a watchdog that runs `down` once that process is gone (for tests,
        so that a killed pytest cannot leave a cluster behind).
        """
        t0 = time.monotonic()
        if self.state.get("processes"):
            if self.is_up():
                return self
            self.stop()
        self.dir.mkdir(parents=True, exist_ok=True)
        k8s_bin, etcd_bin = run_build(self.logs / "build.log")
        if fresh and (self.dir / "etcd").exists():
            shutil.rmtree(self.dir / "etcd")
        generate_pki(self.pki)
        self.state = {
            "name": self.name,
            "dir": str(self.dir),
            "kubeconfig": str(self.kubeconfig),
            "env_file": str(self.dir / "env"),
            "bin_dirs": {"kubernetes": str(k8s_bin), "etcd": str(etcd_bin)},
            "ports": self._pick_ports(),
            "nodes_per_zone": self.nodes_per_zone,
            "audit": self.audit,
            "processes": {},
        }
        self._save_state()
        if owner_pid is not None:
            self._start_watchdog(owner_pid)
        try:
            self._start_components()
        except BaseException:
            self.stop()
            raise
        self.state["up_seconds"] = round(time.monotonic() - t0, 2)
        self.state["started_at"] = _now()
        self._save_state()
        return self

    def _start_watchdog(self, owner_pid: int) -> None:
        st = _proc_stat(owner_pid)
        self._spawn("watchdog", [sys.executable, str(Path(__file__).resolve()), "watchdog",
                                 "--dir", str(self.dir), "--owner", str(owner_pid),
                                 "--owner-start-time", str(st[2] if st else 0)])

    def _start_components(self) -> None:
        p = self.state["ports"]
        pki = self.pki
        k8s, etcd_bin = self.k8s_bin, self.etcd_bin
        version = self._kube_version()

        # etcd: a single member; fsync off, this is a throwaway test store.
        peer = f"http://127.0.0.1:{p['etcd_peer']}"
        client = f"http://127.0.0.1:{p['etcd_client']}"
        self._spawn("etcd", [
            str(etcd_bin / "etcd"), "--name", self.name, "--data-dir", str(self.dir / "etcd"),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"{self.name}={peer}", "--initial-cluster-state", "new",
            "--unsafe-no-fsync", "--quota-backend-bytes", str(8 * 1024**3),
            "--log-level", "warn"])

        def etcd_healthy() -> bool:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", p["etcd_client"], timeout=2)
                conn.request("GET", "/health")
                body = conn.getresponse().read()
                conn.close()
                return b'"health":"true"' in body
            except (OSError, http.client.HTTPException):
                return False

        self._wait("etcd /health", "etcd", etcd_healthy, timeout=30)

        audit_flags: list[str] = []
        if self.audit:
            self.logs.mkdir(parents=True, exist_ok=True)
            self.audit_policy_path.write_text(yaml.safe_dump(audit_policy(), sort_keys=False))
            audit_flags = [
                f"--audit-policy-file={self.audit_policy_path}",
                f"--audit-log-path={self.audit_log}",
                "--audit-log-format=json",
                # Blocking: an event is in the file before its request returns, so a reader that
                # made a request sees it. No rotation below 4 GiB (the default rotates at 100 MB).
                "--audit-log-mode=blocking",
                "--audit-log-maxsize=4096", "--audit-log-maxbackup=10",
            ]
        self._spawn("kube-apiserver", [
            str(k8s / "kube-apiserver"),
            f"--etcd-servers={client}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
            f"--secure-port={p['apiserver']}",
            f"--cert-dir={pki}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            "--authorization-mode=Node,RBAC",
            "--anonymous-auth=true",  # only /healthz, /readyz, /livez, /version are public
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            # Nodes are registered Ready and must stay schedulable: no not-ready taint on create.
            "--disable-admission-plugins=TaintNodesByCondition",
            "--allow-privileged=true",
            f"--requestheader-client-ca-file={pki / 'front-proxy-ca.crt'}",
            "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--proxy-client-cert-file={pki / 'front-proxy-client.crt'}",
            f"--proxy-client-key-file={pki / 'front-proxy-client.key'}",
            # The lease reconciler would publish 127.0.0.1 as the `kubernetes` Endpoints, which
            # validation rejects (loopback) every 10 s; nothing in this cluster dials the Service.
            "--endpoint-reconciler-type=none",
            "--kubelet-preferred-address-types=InternalIP",
            "--max-requests-inflight=800", "--max-mutating-requests-inflight=400",
            "--profiling=false",
            # On SIGTERM, end open watches within 2 s: otherwise connected clients (an operator,
            # `kubectl get -w`) hold the shutdown for the whole 60 s request timeout.
            "--shutdown-watch-termination-grace-period=2s",
            *audit_flags,
        ])
        ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        self._wait("kube-apiserver /readyz", "kube-apiserver",
                   lambda: _https_ok(p["apiserver"], "/readyz", ctx), timeout=120, interval=0.2)

        server = self.server
        write_kubeconfig(self.kubeconfig, self.name, server, pki, "admin")
        write_kubeconfig(self.dir / "controller-manager.kubeconfig", self.name, server, pki,
                         "controller-manager")
        write_kubeconfig(self.dir / "scheduler.kubeconfig", self.name, server, pki, "scheduler")
        (self.dir / "env").write_text(
            f"export KUBECONFIG={self.kubeconfig}\n"
            f"export PATH={k8s}:$PATH\n"
            f"export KUBECACHEDIR={self.dir / 'kube-cache'}\n")

        cm_kubeconfig = self.dir / "controller-manager.kubeconfig"
        self._spawn("kube-controller-manager", [
            str(k8s / "kube-controller-manager"),
            f"--kubeconfig={cm_kubeconfig}",
            f"--authentication-kubeconfig={cm_kubeconfig}",
            f"--authorization-kubeconfig={cm_kubeconfig}",
            "--bind-address=127.0.0.1", f"--secure-port={p['controller_manager']}",
            "--leader-elect=false",
            # No kubelet heartbeats: the node-lifecycle controller would mark nodes NotReady.
            "--controllers=*,-nodelifecycle",
            # Each controller gets its own service account (TokenRequest), as in a real cluster:
            # the controller-manager's own identity may read everything but write little.
            "--use-service-account-credentials=true",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--root-ca-file={pki / 'ca.crt'}",
            f"--cluster-name={self.name}",
            "--kube-api-qps=200", "--kube-api-burst=400",
            "--concurrent-replicaset-syncs=10", "--concurrent-deployment-syncs=10",
        ])

        sched_config = self.dir / "scheduler.yaml"
        sched_config.write_text(yaml.safe_dump({
            "apiVersion": "kubescheduler.config.k8s.io/v1",
            "kind": "KubeSchedulerConfiguration",
            "clientConnection": {"kubeconfig": str(self.dir / "scheduler.kubeconfig"),
                                 "qps": 200, "burst": 400},
            "leaderElection": {"leaderElect": False},
        }, sort_keys=False))
        self._spawn("kube-scheduler", [
            str(k8s / "kube-scheduler"),
            f"--config={sched_config}",
            f"--authentication-kubeconfig={self.dir / 'scheduler.kubeconfig'}",
            f"--authorization-kubeconfig={self.dir / 'scheduler.kubeconfig'}",
            "--bind-address=127.0.0.1", f"--secure-port={p['scheduler']}",
        ])

        api = self.api()
        self.state["nodes"] = register_nodes(api, self.nodes_per_zone, version)
        self._save_state()

        self._spawn("fake-kubelet", [
            sys.executable, str(FAKE_KUBELET), "--kubeconfig", str(self.kubeconfig)])

        insecure = ssl.create_default_context()
        insecure.check_hostname = False
        insecure.verify_mode = ssl.CERT_NONE  # self-signed in-memory serving certs
        self._wait("kube-controller-manager /healthz", "kube-controller-manager",
                   lambda: _https_ok(p["controller_manager"], "/healthz", insecure), timeout=60)
        self._wait("kube-scheduler /healthz", "kube-scheduler",
                   lambda: _https_ok(p["scheduler"], "/healthz", insecure), timeout=60)
        # The service-account controller has run once the `default` namespace has its account.
        self._wait("the default service account", "kube-controller-manager",
                   lambda: api.request("GET", "/api/v1/namespaces/default/serviceaccounts/default")[0]
                   == 200, timeout=60)
        self._wait("fake-kubelet", "fake-kubelet",
                   lambda: "synced" in _tail(self.logs / "fake-kubelet.log", 5), timeout=30)

    def _kube_version(self) -> str:
        # The bin dir is named k8s-vX.Y.Z/bin by build.sh.
        parent = self.k8s_bin.parent.name
        return parent[len("k8s-"):] if parent.startswith("k8s-") else "v0.0.0"

    def restart(self, component: str, grace: float = STOP_GRACE_SECONDS) -> None:
        """Stop one component and start it again with the same command line (resilience tests).

        Its clients reconnect by themselves; for kube-apiserver, this returns once /readyz is ok.
        """
        self.state = self._load_state() or self.state
        proc = self.processes().get(component)
        if proc is None:
            raise ClusterError(f"no {component} in {self.state_path}")
        _stop_groups([proc], grace)
        self._spawn(component, proc["argv"])
        if component == "kube-apiserver":
            ctx = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
            ctx.load_cert_chain(str(self.pki / "admin.crt"), str(self.pki / "admin.key"))
            self._wait("kube-apiserver /readyz", component,
                       lambda: _https_ok(self.api_port, "/readyz", ctx), timeout=120, interval=0.2)

    # ---- stop

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Stop every component, in reverse order; a no-op when nothing runs."""
        self.state = self._load_state() or self.state
        procs = self.processes()
        me = os.getpid()
        stages = [["watchdog"], ["fake-kubelet", "kube-scheduler", "kube-controller-manager"],
                  ["kube-apiserver"], ["etcd"]]
        for stage in stages:
            group = [procs[c] for c in stage if c in procs and procs[c]["pid"] != me]
            if group:
                _stop_groups(group, grace)
        if self.state:
            self.state["processes"] = {}  # a watchdog stopping the cluster exits right after
            self.state["stopped_at"] = _now()
            self._save_state()

    # ---- kubectl

    def kubectl(self, *args: str, check: bool = True, input: str | None = None,
                timeout: float = 120) -> subprocess.CompletedProcess[str]:
        res = subprocess.run([str(self.k8s_bin / "kubectl"), *args], env=self.env, input=input,
                             capture_output=True, text=True, timeout=timeout)
        if check and res.returncode != 0:
            raise KubectlError(res.returncode, res.args, res.stdout, res.stderr)
        return res

    def kubectl_json(self, *args: str, **kwargs: Any) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json", **kwargs).stdout)

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------- CLI


def _cmd_up(args: argparse.Namespace) -> int:
    cluster = LocalCluster(args.dir, name=args.name, nodes_per_zone=args.nodes_per_zone,
                           audit=True if args.audit else None)
    if cluster.state.get("processes") and cluster.is_up():
        print(f"{cluster.state.get('name')} already up: {cluster.server} "
              f"(source {cluster.dir / 'env'})")
        return 0
    t0 = time.monotonic()
    try:
        cluster.start(fresh=args.fresh)
    except ClusterError as e:
        print(f"up failed: {e}", file=sys.stderr)
        return 1
    print(f"{cluster.name} up in {time.monotonic() - t0:.1f}s: {cluster.server}, "
          f"{len(cluster.state['nodes'])} nodes, logs {cluster.logs} "
          f"(source {cluster.dir / 'env'})" + (f", audit log {cluster.audit_log}" if cluster.audit else ""))
    return 0


def _cmd_user(args: argparse.Namespace) -> int:
    cluster = LocalCluster(args.dir)
    if not cluster.state.get("ports"):
        print(f"no cluster in {cluster.dir}: run up first", file=sys.stderr)
        return 1
    try:
        path = cluster.add_user(args.name, args.group or ())
    except ClusterError as e:
        print(f"user failed: {e}", file=sys.stderr)
        return 1
    print(path)
    return 0


def _cmd_down(args: argparse.Namespace) -> int:
    cluster = LocalCluster(args.dir)
    was = [c for c, alive in cluster.component_status().items() if alive]
    t0 = time.monotonic()
    cluster.stop()
    print(f"down in {time.monotonic() - t0:.1f}s" + (f" (stopped {', '.join(was)})" if was
                                                      else " (nothing was running)"))
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    cluster = LocalCluster(args.dir)
    if not cluster.state:
        print(f"down (no cluster in {cluster.dir})")
        return 3
    comps = cluster.component_status()
    up = cluster.is_up()
    detail = " ".join(f"{c}={'running' if a else 'stopped'}" for c, a in comps.items())
    where = f" {cluster.server}" if up else ""
    print(f"{'up' if up else 'down'}: {cluster.state.get('name')}{where} {detail}")
    return 0 if up else 3


def _cmd_watchdog(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    owner_start = args.owner_start_time or None
    while _alive(args.owner, owner_start):
        time.sleep(1)
    print(f"{_now()} owner {args.owner} is gone, stopping the cluster", flush=True)
    LocalCluster(args.dir).stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localcluster.py", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start a cluster in DIR")
    up.add_argument("--dir", required=True)
    up.add_argument("--name", help="kubeconfig context name (default: the previous one in DIR, "
                    "else sncguard)")
    up.add_argument("--nodes-per-zone", type=int,
                    help="nodes per zone, three zones (default: the previous value in DIR, else 1)")
    up.add_argument("--fresh", action="store_true", help="wipe etcd data from a previous run")
    up.add_argument("--audit", action="store_true",
                    help="write the apiserver's audit log to DIR/logs/audit.log (default: as the previous "
                    "run in DIR, else off)")
    up.set_defaults(func=_cmd_up)
    down = sub.add_parser("down", help="stop the cluster in DIR (idempotent)")
    down.add_argument("--dir", required=True)
    down.set_defaults(func=_cmd_down)
    status = sub.add_parser("status", help="exit 0 and print 'up' when the cluster runs")
    status.add_argument("--dir", required=True)
    status.set_defaults(func=_cmd_status)
    user = sub.add_parser("user", help="mint a client certificate and DIR/USER.kubeconfig for another user")
    user.add_argument("--dir", required=True)
    user.add_argument("--name", required=True, help="the user name (certificate CN)")
    user.add_argument("--group", action="append", help="a group (certificate O); repeatable")
    user.set_defaults(func=_cmd_user)
    wd = sub.add_parser("watchdog", help=argparse.SUPPRESS)
    wd.add_argument("--dir", required=True)
    wd.add_argument("--owner", type=int, required=True)
    wd.add_argument("--owner-start-time", type=int, default=0)
    wd.set_defaults(func=_cmd_watchdog)
    args = parser.parse_args(argv)
    if getattr(args, "nodes_per_zone", None) is not None and args.nodes_per_zone < 1:
        parser.error("--nodes-per-zone must be at least 1")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
