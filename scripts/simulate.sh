#!/usr/bin/env bash
# The main job: `nao simulate` on an embedded anvil chain (installs the toolchain on first use).
# Extra arguments go to `nao simulate` (e.g. --report report.json).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$root"
scripts/install.sh
exec cargo run --quiet --locked -p nao -- simulate "$@"
