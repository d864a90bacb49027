#!/usr/bin/env bash
# All tests: unit (pure code, corpus captures and node outputs) and integration (the lab, real sshd, Redis,
# the Slack stand-in; needs root). Run scripts/setup.sh once first.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=ensure-node.sh
source scripts/ensure-node.sh
npm test
