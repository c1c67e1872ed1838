#!/usr/bin/env bash
# Builds pinned Kubernetes control-plane binaries and etcd from their Go modules, once per version.
#
# `go install k8s.io/kubernetes/cmd/...@v` cannot work: k8s.io/kubernetes replaces its staging
# modules with local paths. A small wrapper module requires k8s.io/kubernetes and maps every
# staging module to its published v0.Y.Z tag instead (the scheduler-plugins pattern).
# Binaries are cached outside the work tree, so only the first run pays for the compile.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.35.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
CACHE="${SNCGUARD_CACHE:-$HOME/.cache/sncguard}"
BIN="$CACHE/k8s-$K8S_VERSION/bin"
ETCD_BIN="$CACHE/etcd-$ETCD_VERSION/bin"

# Newer toolchains enable encoding/json/v2, which makes the apiserver serve malformed OpenAPI.
export GOEXPERIMENT="${GOEXPERIMENT:-nojsonv2}"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
export CGO_ENABLED=0

log() { echo "[build] $*" >&2; }

build_kubernetes() {
  local components=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
  local missing=0
  for c in "${components[@]}"; do [[ -x "$BIN/$c" ]] || missing=1; done
  if [[ $missing == 0 ]]; then log "kubernetes $K8S_VERSION cached in $BIN"; return; fi

  local src="$CACHE/k8s-$K8S_VERSION/src"
  mkdir -p "$src" "$BIN"
  local minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  local staging="v0.${K8S_VERSION#v1.}"
  log "fetching k8s.io/kubernetes $K8S_VERSION"
  local modfile
  modfile=$(cd "$src" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$K8S_VERSION" \
            | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  {
    echo "module sncguard.local/k8s-binaries"
    echo
    echo "go $(sed -n 's/^go \([0-9.]*\)$/\1/p' "$modfile")"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\t\1 => \1 '"$staging"'#p' "$modfile"
    echo ")"
  } > "$src/go.mod"
  {
    echo "//go:build tools"
    echo
    echo "package tools"
    echo
    echo "import ("
    for c in "${components[@]}"; do echo "	_ \"k8s.io/kubernetes/cmd/$c\""; done
    echo ")"
  } > "$src/tools.go"
  (cd "$src" && go mod tidy >/dev/null)
  local pkg=k8s.io/component-base/version
  local ldflags="-s -w -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  # One component per step keeps peak memory near 2 GB on small machines.
  for c in "${components[@]}"; do
    [[ -x "$BIN/$c" ]] && continue
    log "compiling $c $K8S_VERSION (a few minutes the first time)"
    (cd "$src" && go build -trimpath -ldflags "$ldflags" -o "$BIN/$c.tmp" "k8s.io/kubernetes/cmd/$c")
    mv "$BIN/$c.tmp" "$BIN/$c"
  done
}

build_etcd() {
  if [[ -x "$ETCD_BIN/etcd" ]]; then log "etcd $ETCD_VERSION cached in $ETCD_BIN"; return; fi
  local src="$CACHE/etcd-$ETCD_VERSION/src"
  mkdir -p "$src" "$ETCD_BIN"
  log "compiling etcd $ETCD_VERSION"
  cat > "$src/go.mod" <<MOD
module sncguard.local/etcd-binary

go 1.24

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
MOD
  printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' > "$src/tools.go"
  (cd "$src" && go mod tidy >/dev/null && go build -trimpath -ldflags "-s -w" -o "$ETCD_BIN/etcd.tmp" go.etcd.io/etcd/server/v3)
  mv "$ETCD_BIN/etcd.tmp" "$ETCD_BIN/etcd"
}

build_etcd
build_kubernetes
# The directories holding the binaries, for callers to put on PATH.
echo "$BIN"
echo "$ETCD_BIN"
