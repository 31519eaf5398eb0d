# Sourced by the scripts: the project's toolchain first on PATH, forge pointed at solc-js.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$root/.tools/bin:$PATH"
export FOUNDRY_SOLC="$root/.tools/bin/solc"
export NAO_TOOLS="$root/.tools/bin"
