#!/usr/bin/env bash
# Every test: forge (unit, fuzz) and cargo (unit tests and the integration tests against anvil).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$root"
scripts/install.sh
echo "== forge test" >&2
forge test
echo "== cargo test" >&2
cargo test --workspace --locked
