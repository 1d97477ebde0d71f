#!/usr/bin/env bash
# CI hook (.ci/run runs every .ci/setup-*.sh before `npm test`): build or reuse the cluster tier's
# servers — kube-apiserver/controller-manager/scheduler, etcd, kwok, fake-gcs-server — cached by
# version under $ONMEMOS_TOOLS. Cold: about 25-35 min on 2 cores; warm: seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v flock >/dev/null || need+=(util-linux)
command -v timeout >/dev/null || need+=(coreutils)
if ((${#need[@]})); then
  echo "setup-cluster: apt-get install ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Debian's golang-go is too old (1.19) for kubernetes 1.37 (go 1.26); this machine kind ships Go in
# /usr/local/go. A Go >= 1.21 would fetch the pinned toolchain itself through the module proxy.
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"
if ! command -v go >/dev/null; then
  echo "setup-cluster: FAILED: no Go toolchain (need Go >= 1.26 at /usr/local/go or on PATH)" >&2
  exit 1
fi
go_minor=$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
if ((go_minor < 26)); then
  if ((go_minor >= 21)); then export GOTOOLCHAIN=go1.26.8; else
    echo "setup-cluster: FAILED: $(go env GOVERSION) is too old and cannot fetch a toolchain (need >= 1.21)" >&2
    exit 1
  fi
fi

t0=$SECONDS
bash test/cluster/tools.sh build
echo "setup-cluster: tools ready in $((SECONDS - t0)) s"
