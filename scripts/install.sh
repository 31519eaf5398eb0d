#!/usr/bin/env bash
# Installs nao's toolchain into the project (idempotent; a second run does nothing):
#   node_modules/   forge, anvil, cast 1.7.1 (npm @foundry-rs/*), solc-js, @prb/test, OpenZeppelin, solady
#   .tools/bin/     forge, anvil, cast (native binaries) and solc (scripts/solc in front of solc-js)
#   .tools/py/      a Python venv with the official openai client (tests/openai/requirements.txt)
# Everything comes from the npm registry and PyPI; nothing is downloaded from anywhere else.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bin="$root/.tools/bin"
stamp="$root/.tools/stamp"
# the official openai Python client (PyPI) that tests the prover's OpenAI-compatible API, in its own venv
py="$root/.tools/py"
pywant="$(sha256sum tests/openai/requirements.txt | cut -d' ' -f1)"
if [[ ! -f "$py/stamp" || "$(cat "$py/stamp")" != "$pywant" ]]; then
  command -v python3 >/dev/null || { echo "install.sh: python3 (3.9+) is required for the OpenAI client tests" >&2; exit 1; }
  echo "install.sh: installing the openai Python client from PyPI into $py" >&2
  python3 -m venv "$py"
  "$py/bin/pip" install --quiet --disable-pip-version-check -r tests/openai/requirements.txt >&2
  echo "$pywant" > "$py/stamp"
fi
want="$(cat package.json package-lock.json scripts/solc | sha256sum | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$bin/forge" && -x "$bin/anvil" && -x "$bin/solc" ]]; then
  exit 0
fi
command -v npm >/dev/null || { echo "install.sh: npm is required (Node.js 18+)" >&2; exit 1; }
echo "install.sh: installing the Solidity toolchain from the npm registry into $root/node_modules" >&2
npm ci --no-audit --no-fund --loglevel=error 2>&1 | grep -v "Unknown user config" >&2 || true
mkdir -p "$bin"
for tool in forge anvil cast; do
  native="$root/node_modules/@foundry-rs/$tool-linux-amd64/bin/$tool"
  [[ -x "$native" ]] || { echo "install.sh: $native missing (npm dropped the optional native package?)" >&2; exit 1; }
  ln -sf "$native" "$bin/$tool"
done
ln -sf "$root/scripts/solc" "$bin/solc"
"$bin/forge" --version >/dev/null
"$bin/solc" --version >/dev/null
echo "$want" > "$stamp"
echo "install.sh: toolchain ready in $bin" >&2
