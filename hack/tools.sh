#!/usr/bin/env bash
# Builds the linters the deploy tests run (tests/unit/test_deploy.py) from the Go module proxy, once
# per pinned version, and caches them outside the work tree the way hack/cluster/build.sh caches
# the Kubernetes binaries:
#
#   kube-linter       kube-linter lint on `kubectl kustomize deploy/` (deploy/.kube-linter.yaml)
#   dashboard-linter  dashboard-linter lint --strict on the Grafana dashboard (its .lint beside it)
#   promtool          promtool check rules / test rules on the PrometheusRule; Debian's `prometheus`
#                     package provides it (.ci/run installs it), else it is built here
#
# Idempotent: a cached tool is not built again. Prints one line per tool, `name path` or
# `name unavailable`.
#
# A registry that refuses a tool's module or one it needs (403, 404, 410: a proxy that does not
# serve it) is not an error: the refusal is written to `<tool>-<version>.unavailable` beside the
# binary, the tests that need the tool skip with that reason, and later runs do not ask again
# (TOOLS_RETRY=1 does). Any other failure (a compile error, the network down) stops the script.
set -euo pipefail

KUBE_LINTER_VERSION="${KUBE_LINTER_VERSION:-v0.8.3}"
DASHBOARD_LINTER_VERSION="${DASHBOARD_LINTER_VERSION:-v0.2.0}"
# Prometheus publishes its Go module as v0.X.Y for Prometheus 3.X.Y.
PROMETHEUS_VERSION="${PROMETHEUS_VERSION:-v0.316.0}"
CACHE="${SNCGUARD_CACHE:-$HOME/.cache/sncguard}"
BIN="$CACHE/tools/bin"

export GOFLAGS="${GOFLAGS:--buildvcs=false}"
export CGO_ENABLED=0

log() { echo "[tools] $*" >&2; }

# run_go NAME VERSION CMD...: runs a go command; a registry refusal marks NAME-VERSION unavailable
# (status 3), any other failure stops the script.
run_go() {
  local name=$1 version=$2 out status=0
  shift 2
  out=$("$@" 2>&1) || status=$?
  if ((status == 0)); then return 0; fi
  # 403/404/410 from the proxy; after a 404 or 410 the go command tries the origin itself
  # (GOPROXY=...,direct), which fails with git ls-remote or an unrecognized import path.
  local refused='(403|404|410) (Forbidden|Not Found|Gone)|not available|not permitted|unknown revision'
  refused+='|git ls-remote|unrecognized import path'
  if grep -qE "$refused" <<<"$out"; then
    { echo "the Go module proxy refused it ($(date -u +%FT%TZ)):"; tail -n 5 <<<"$out"; } \
      > "$BIN/$name-$version.unavailable"
    log "$name $version cannot be had: $(tail -n 1 <<<"$out")"
    return 3
  fi
  log "$name $version failed to build:"
  echo "$out" >&2
  exit 1
}

# cached NAME VERSION: prints the tool's line and succeeds when there is nothing to do.
cached() {
  local name=$1 version=$2
  if [[ -x "$BIN/$name-$version" ]]; then
    echo "$name $BIN/$name-$version"
    return 0
  fi
  if [[ -f "$BIN/$name-$version.unavailable" && -z "${TOOLS_RETRY:-}" ]]; then
    log "$name $version: unavailable (see $BIN/$name-$version.unavailable; TOOLS_RETRY=1 asks again)"
    echo "$name unavailable"
    return 0
  fi
  rm -f "$BIN/$name-$version.unavailable"
  return 1
}

build_kube_linter() {
  local v=$KUBE_LINTER_VERSION tmp
  cached kube-linter "$v" && return
  log "building kube-linter $v"
  tmp=$(mktemp -d)
  if run_go kube-linter "$v" env GOBIN="$tmp" go install -trimpath \
      -ldflags "-s -w -X golang.stackrox.io/kube-linter/internal/version.version=$v" \
      "golang.stackrox.io/kube-linter/cmd/kube-linter@$v"; then
    mv "$tmp/kube-linter" "$BIN/kube-linter-$v"
    echo "kube-linter $BIN/kube-linter-$v"
  else
    echo "kube-linter unavailable"
  fi
  rm -rf "$tmp"
}

# dashboard-linter's go.mod has a replace directive, which `go install module@version` refuses: a
# small wrapper module requires it and carries the same replace (build.sh does the same for
# Kubernetes).
build_dashboard_linter() {
  local v=$DASHBOARD_LINTER_VERSION src modfile
  cached dashboard-linter "$v" && return
  log "building dashboard-linter $v"
  src="$CACHE/tools/dashboard-linter-$v/src"
  mkdir -p "$src"
  if ! run_go dashboard-linter "$v" bash -c \
      "cd '$src' && GOFLAGS=-mod=mod go mod download -json github.com/grafana/dashboard-linter@$v > download.json"; then
    echo "dashboard-linter unavailable"
    return
  fi
  modfile=$(sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p' "$src/download.json")
  {
    echo "module sncguard.local/dashboard-linter"
    echo
    echo "go $(sed -n 's/^go \([0-9.]*\)$/\1/p' "$modfile")"
    echo
    echo "require github.com/grafana/dashboard-linter $v"
    echo
    grep '^replace ' "$modfile" || true
  } > "$src/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/grafana/dashboard-linter"\n' > "$src/tools.go"
  run_go dashboard-linter "$v" bash -c "cd '$src' && go mod tidy" || { echo "dashboard-linter unavailable"; return; }
  run_go dashboard-linter "$v" bash -c \
    "cd '$src' && go build -trimpath -ldflags '-s -w' -o '$BIN/dashboard-linter-$v.tmp' github.com/grafana/dashboard-linter" \
    || { echo "dashboard-linter unavailable"; return; }
  mv "$BIN/dashboard-linter-$v.tmp" "$BIN/dashboard-linter-$v"
  echo "dashboard-linter $BIN/dashboard-linter-$v"
}

build_promtool() {
  local v=$PROMETHEUS_VERSION tmp
  if command -v promtool >/dev/null; then
    echo "promtool $(command -v promtool)"
    return
  fi
  cached promtool "$v" && return
  log "building promtool from github.com/prometheus/prometheus $v (or: apt-get install prometheus)"
  tmp=$(mktemp -d)
  if run_go promtool "$v" env GOBIN="$tmp" go install -trimpath -ldflags "-s -w" \
      "github.com/prometheus/prometheus/cmd/promtool@$v"; then
    mv "$tmp/promtool" "$BIN/promtool-$v"
    echo "promtool $BIN/promtool-$v"
  else
    echo "promtool unavailable"
  fi
  rm -rf "$tmp"
}

command -v go >/dev/null || { log "needs a Go toolchain"; exit 1; }
mkdir -p "$BIN"
# One build at a time: each is CPU-heavy.
build_kube_linter
build_dashboard_linter
build_promtool
