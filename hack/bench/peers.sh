#!/usr/bin/env bash
# Installs the peers of `sncguard check` for the benchmark's side-by-side (hack/bench/peers.py):
# checkov from PyPI into its own venv, and the Kyverno CLI built from its Go module. Pinned
# versions; idempotent (a stamp file per tool records what is installed).
#
#   hack/bench/peers.sh checkov|kyverno   installs one, prints the path of its executable
#
# Exits non-zero with the reason on stderr when a tool cannot be had (no registry, no Go, a build
# that fails): the benchmark then records that peer as unavailable and goes on.
set -euo pipefail

CHECKOV_VERSION=3.3.30
KYVERNO_VERSION=v1.19.1
PEERS_DIR=${SNCGUARD_PEERS_DIR:-$HOME/.cache/sncguard/peers}
PYTHON=${PYTHON:-python3}

tool=${1:?usage: peers.sh checkov|kyverno}
mkdir -p "$PEERS_DIR"

case "$tool" in
checkov)
  venv=$PEERS_DIR/checkov-venv
  exe=$venv/bin/checkov
  if [[ -x $exe && "$(cat "$venv/.sncguard-stamp" 2>/dev/null)" == "$CHECKOV_VERSION" ]]; then
    echo "$exe"; exit 0
  fi
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION" >&2
  echo "$CHECKOV_VERSION" > "$venv/.sncguard-stamp"
  echo "$exe"
  ;;
kyverno)
  bin=$PEERS_DIR/bin
  exe=$bin/kubectl-kyverno
  if [[ -x $exe && "$(cat "$bin/.kyverno-stamp" 2>/dev/null)" == "$KYVERNO_VERSION" ]]; then
    echo "$exe"; exit 0
  fi
  command -v go >/dev/null || { echo "peers.sh: no Go toolchain to build the Kyverno CLI" >&2; exit 3; }
  mkdir -p "$bin"
  # Big (several minutes on two cores): run the benchmark under the machine's heavy-work lock.
  # `go install pkg@version` refuses a module whose go.mod has replace directives (Kyverno's has
  # one), so the module is downloaded (from the Go module proxy) and built as the main module.
  src=$(GOFLAGS=-mod=mod go mod download -json "github.com/kyverno/kyverno@$KYVERNO_VERSION" \
        | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -n $src && -d $src ]] || { echo "peers.sh: the Go module proxy did not serve kyverno $KYVERNO_VERSION" >&2; exit 4; }
  work=$(mktemp -d)
  trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
  cp -r "$src/." "$work/"
  chmod -R u+w "$work"
  (cd "$work" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags=-s -o "$exe.tmp" ./cmd/cli/kubectl-kyverno) >&2
  mv "$exe.tmp" "$exe"
  echo "$KYVERNO_VERSION" > "$bin/.kyverno-stamp"
  echo "$exe"
  ;;
*)
  echo "peers.sh: unknown tool $tool (checkov or kyverno)" >&2; exit 2 ;;
esac
