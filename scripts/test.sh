#!/usr/bin/env bash
# Every test: forge (unit, fuzz) and cargo (unit tests and the integration tests against anvil).
# Ends with one summary line, `tests: N passed, M failed`, over both runners.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$root"
scripts/install.sh
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
echo "== forge test" >&2
forge test 2>&1 | tee -a "$log"
echo "== cargo test" >&2
cargo test --workspace --locked 2>&1 | tee -a "$log"
passed=$(( $(grep -oE '[0-9]+ tests passed' "$log" | awk '{s+=$1} END {print s+0}') \
         + $(grep -oE 'test result: [a-z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}') ))
failed=$(( $(grep -oE '[0-9]+ failed, [0-9]+ skipped \([0-9]+ total' "$log" | awk '{s+=$1} END {print s+0}') \
         + $(grep -oE 'passed; [0-9]+ failed' "$log" | awk '{s+=$2} END {print s+0}') ))
echo "tests: $passed passed, $failed failed"
