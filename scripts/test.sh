#!/usr/bin/env bash
# All tests: unit (pure code, corpus captures and node outputs) and integration (the lab, real sshd, Redis,
# the Slack stand-in). Run scripts/setup.sh once first; this says exactly what is missing if it cannot run.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
[ "$(id -u)" -eq 0 ] || missing+=("root (the lab creates network namespaces): run with sudo")
for tool in ip bridge tcpdump iptables-save nsenter openssl curl kubectl ssh ssh-keygen redis-server redis-cli; do
  command -v "$tool" >/dev/null || missing+=("the $tool command")
done
[ -x /usr/sbin/sshd ] || missing+=("/usr/sbin/sshd (openssh-server)")
[ -d node_modules ] || missing+=("node_modules (npm ci)")
if ! timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/6379 && printf "PING\r\n" >&3 && read -r line <&3 && [[ "$line" == +PONG* ]]' 2>/dev/null; then
  missing+=("a Redis answering on 127.0.0.1:6379")
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "test: cannot run, missing:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  echo "Run: sudo bash scripts/setup.sh" >&2
  exit 1
fi

# shellcheck source=ensure-node.sh
source scripts/ensure-node.sh
npm test
