#!/usr/bin/env bash
# The main job on a fresh machine: local control plane, CRDs, operator, examples, status.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="${1:-.cluster}"
PY=.venv/bin/python

$PY hack/cluster/localcluster.py up --dir "$DIR" --name sncguard-demo
# shellcheck disable=SC1091
source "$DIR/env"

echo "== installing the CRDs"
kubectl apply --server-side -f crds/
kubectl wait --for condition=established --timeout=60s -f crds/ >/dev/null

echo "== starting the operator (log: $DIR/logs/operator.log)"
if [[ -f "$DIR/operator.pid" ]] && kill -0 "$(cat "$DIR/operator.pid")" 2>/dev/null; then
  kill "$(cat "$DIR/operator.pid")"; sleep 1
fi
mkdir -p "$DIR/logs"
port=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
nohup .venv/bin/sncguard run --liveness "http://127.0.0.1:$port/healthz" >"$DIR/logs/operator.log" 2>&1 &
echo $! >"$DIR/operator.pid"

echo "== installing Velero's own v1.16 CRDs and a backup target (Velero itself cannot run here)"
velero_crds=$($PY hack/cluster/reference.py velero)
kubectl apply --server-side -f "$velero_crds" >/dev/null
kubectl wait --for condition=established --timeout=60s -f "$velero_crds" >/dev/null
kubectl apply -f hack/demo/velero.yaml

echo "== applying examples/"
kubectl apply -f examples/

echo "== waiting for every policy to be evaluated"
for _ in $(seq 1 60); do
  pending=$(kubectl get sncguard -A -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.status.observedGeneration}{"\n"}{end}' \
            | awk 'NF < 2' | wc -l)
  [[ "$pending" == 0 ]] && break
  sleep 1
done
sleep 3  # let Enforce mode's rollout settle into three zones

echo
kubectl get zonespreads -A
echo
kubectl get tenantpolicies
echo
kubectl get backuppolicies -A
echo
kubectl get pods -A -o wide --sort-by=.metadata.namespace | awk '{printf "%-10s %-28s %-8s %s\n", $1, $2, $4, $8}'
echo
echo "Findings of ZoneSpread shop/sla:"
kubectl get zonespread sla -n shop -o jsonpath='{range .status.findings[*]}  {.rule} {.severity}: {.message}{"\n"}{end}'
echo "Findings of TenantPolicy acme:"
kubectl get tenantpolicy acme -o jsonpath='{range .status.findings[*]}  {.rule} {.severity}: {.message}{"\n"}{end}'
echo "Findings of BackupPolicy payments/nightly:"
kubectl get backuppolicy nightly -n payments -o jsonpath='{range .status.findings[*]}  {.rule} {.severity}: {.message}{"\n"}{end}'
echo "NetworkPolicies sncguard owns:"
kubectl get networkpolicies -A -l app.kubernetes.io/managed-by=sncguard
echo
echo "== evidence packs: sncguard report --output-dir out/ (one per tenant, and the platform's)"
.venv/bin/sncguard report --output-dir out/
cat <<MSG

The operator and the control plane keep running. Next:
  source $DIR/env && kubectl get sncguard -A      # every sncguard resource
  kubectl describe zonespread sla -n shop
  xdg-open out/acme.html                           # the tenant's evidence pack (out/acme.json: the same, as JSON)
  make cluster-down                                # stop the operator and the control plane
MSG
