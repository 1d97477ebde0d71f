#!/usr/bin/env bash
# Build (or reuse) the real server software the cluster test tier runs against, cached by version:
#   ${ONMEMOS_TOOLS:-~/.cache/onmemos-tools}/<name>-<version>/bin/...
#
#   tools.sh build    build whatever is missing (idempotent; a warm run only checks the markers)
#   tools.sh check    exit 0 when every tool is present, else print what is missing and exit 1
#   tools.sh env      print KEY=path lines for the runner (sourceable)
#
# kube-apiserver/-controller-manager/-scheduler and etcd come from one wrapper module that requires
# k8s.io/kubernetes and replaces each staging module k8s.io/<name> (v0.0.0 in kubernetes' go.mod)
# with its published v0.<minor>.<patch>; etcd's server module is already in that graph
# (kubernetes requires go.etcd.io/etcd/server/v3 indirectly), so the same download builds it.
# kwok/kwokctl and fake-gcs-server have no replace directives: plain `go install`.
set -euo pipefail

K8S_VERSION="${ONMEMOS_K8S_VERSION:-1.37.2}"
KWOK_VERSION="${ONMEMOS_KWOK_VERSION:-0.8.0}"
FAKE_GCS_VERSION="${ONMEMOS_FAKE_GCS_VERSION:-1.55.1}"
TOOLS="${ONMEMOS_TOOLS:-$HOME/.cache/onmemos-tools}"
K8S_MINOR_PATCH="${K8S_VERSION#1.}"                     # 37.2
STAGING="api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider
cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api
cri-client cri-streaming csi-translation-lib dynamic-resource-allocation endpointslice externaljwt
kms kube-aggregator kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics
mount-utils pod-security-admission sample-apiserver streaming"

K8S_DIR="$TOOLS/kubernetes-$K8S_VERSION"
ETCD_DIR="$TOOLS/etcd-k8s-$K8S_VERSION"
KWOK_DIR="$TOOLS/kwok-$KWOK_VERSION"
GCS_DIR="$TOOLS/fake-gcs-server-$FAKE_GCS_VERSION"

# Sensible on a 2-core machine shared with others: two compile jobs, stripped, reproducible paths.
export GOFLAGS="-trimpath -mod=mod"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
GOBUILD=(go build -p 2 -ldflags='-s -w')

log() { printf '[tools %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

ok() { [[ -f "$1/.ok" ]]; }

# Build into a temporary dir and rename, so an interrupted build never looks finished.
finish() { # finish <tmpdir> <dir> <seconds>
  echo "built $(date -u +%FT%TZ) in ${3}s" >"$1/.ok"
  rm -rf "$2"
  mv "$1" "$2"
}

build_fake_gcs() {
  ok "$GCS_DIR" && return 0
  log "building fake-gcs-server v$FAKE_GCS_VERSION"
  local t0=$SECONDS tmp="$GCS_DIR.tmp.$$"
  mkdir -p "$tmp/bin"
  GOBIN="$tmp/bin" go install -p 2 -ldflags='-s -w' "github.com/fsouza/fake-gcs-server@v$FAKE_GCS_VERSION"
  finish "$tmp" "$GCS_DIR" $((SECONDS - t0))
  log "fake-gcs-server done in $((SECONDS - t0)) s"
}

build_kwok() {
  ok "$KWOK_DIR" && return 0
  log "building kwok + kwokctl v$KWOK_VERSION"
  local t0=$SECONDS tmp="$KWOK_DIR.tmp.$$"
  mkdir -p "$tmp/bin"
  GOBIN="$tmp/bin" go install -p 2 -ldflags='-s -w' \
    "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@v$KWOK_VERSION"
  finish "$tmp" "$KWOK_DIR" $((SECONDS - t0))
  log "kwok done in $((SECONDS - t0)) s"
}

wrapper_module() { # the k8s wrapper module dir
  local w="$TOOLS/src/k8s-wrapper-$K8S_VERSION"
  mkdir -p "$w"
  if [[ ! -f "$w/go.mod" ]]; then
    {
      echo "module onmemos.local/k8stools"
      echo
      echo "go 1.26.0"
      echo
      echo "require k8s.io/kubernetes v$K8S_VERSION"
      echo
      echo "replace ("
      for m in $STAGING; do echo "	k8s.io/$m => k8s.io/$m v0.$K8S_MINOR_PATCH"; done
      echo ")"
    } >"$w/go.mod"
    # A tools.go keeps the main packages in the module graph for -mod=mod resolution.
    cat >"$w/tools.go" <<'EOF'
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
EOF
  fi
  echo "$w"
}

build_kubernetes() {
  ok "$K8S_DIR" && return 0
  log "building kube-apiserver, kube-controller-manager, kube-scheduler v$K8S_VERSION (15-25 min cold)"
  local t0=$SECONDS tmp="$K8S_DIR.tmp.$$" w
  w=$(wrapper_module)
  mkdir -p "$tmp/bin"
  (cd "$w" && "${GOBUILD[@]}" -o "$tmp/bin/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler)
  finish "$tmp" "$K8S_DIR" $((SECONDS - t0))
  log "kubernetes done in $((SECONDS - t0)) s"
}

build_etcd() {
  ok "$ETCD_DIR" && return 0
  log "building etcd (the version kubernetes v$K8S_VERSION requires)"
  local t0=$SECONDS tmp="$ETCD_DIR.tmp.$$" w
  w=$(wrapper_module)
  mkdir -p "$tmp/bin"
  (cd "$w" && "${GOBUILD[@]}" -o "$tmp/bin/etcd" go.etcd.io/etcd/server/v3)
  finish "$tmp" "$ETCD_DIR" $((SECONDS - t0))
  log "etcd done in $((SECONDS - t0)) s"
}

paths() {
  echo "ONMEMOS_KUBE_APISERVER=$K8S_DIR/bin/kube-apiserver"
  echo "ONMEMOS_KUBE_CONTROLLER_MANAGER=$K8S_DIR/bin/kube-controller-manager"
  echo "ONMEMOS_KUBE_SCHEDULER=$K8S_DIR/bin/kube-scheduler"
  echo "ONMEMOS_ETCD=$ETCD_DIR/bin/etcd"
  echo "ONMEMOS_KWOK=$KWOK_DIR/bin/kwok"
  echo "ONMEMOS_KWOKCTL=$KWOK_DIR/bin/kwokctl"
  echo "ONMEMOS_FAKE_GCS=$GCS_DIR/bin/fake-gcs-server"
  echo "ONMEMOS_K8S_VERSION=$K8S_VERSION"
}

missing() {
  local m=()
  ok "$K8S_DIR" || m+=("kube-apiserver/controller-manager/scheduler v$K8S_VERSION")
  ok "$ETCD_DIR" || m+=("etcd")
  ok "$KWOK_DIR" || m+=("kwok v$KWOK_VERSION")
  ok "$GCS_DIR" || m+=("fake-gcs-server v$FAKE_GCS_VERSION")
  ((${#m[@]})) && printf '%s\n' "${m[@]}"
  return 0
}

case "${1:-build}" in
  build)
    command -v go >/dev/null || { log "go is not installed (needs Go >= 1.26)"; exit 1; }
    mkdir -p "$TOOLS"
    exec 9>"$TOOLS/.build.lock"
    flock 9 # one builder at a time; a second caller waits and then finds everything cached
    t0=$SECONDS
    build_fake_gcs
    build_kwok
    build_kubernetes
    build_etcd
    log "all tools present in $TOOLS ($((SECONDS - t0)) s this run)"
    ;;
  check)
    m=$(missing)
    if [[ -n $m ]]; then echo "missing in $TOOLS: $(echo "$m" | paste -sd, -)"; exit 1; fi
    ;;
  env) paths ;;
  *) echo "usage: $0 build|check|env" >&2; exit 2 ;;
esac
