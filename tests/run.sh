#!/usr/bin/env bash
# Runs every Frontdesk test on this machine, a fresh one included: installs what the tests
# need (Debian packages, when running as root), then checks formatting and lints and runs the
# whole suite (unit tests, black-box tests, install/systemd checks, benchmarks' smoke runs).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use, keyed by the command that shows they are there.
declare -A packages=(
  [shellcheck]=shellcheck
  [systemd-analyze]=systemd
)
missing=()
for cmd in "${!packages[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${packages[$cmd]}")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -eq 0 ]; then
    echo "tests/run.sh: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "tests/run.sh: missing ${missing[*]}; run: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --all-targets --locked "$@"
