#!/usr/bin/env bash
# Runs every Frontdesk test on this machine, a fresh one included: installs what the tests
# need (Debian packages, when running as root), then checks formatting and lints and runs the
# whole suite (unit tests, black-box tests against a real PostgreSQL, install/systemd checks,
# benchmarks' smoke runs).
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
# The sync tests start a real PostgreSQL; Debian keeps its server binaries off PATH
# (/usr/lib/postgresql/<version>/bin), where tests/api/postgres.rs looks for them.
if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && ! command -v initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
if ((${#missing[@]})); then
  if [ "$(id -u)" -eq 0 ]; then
    echo "tests/run.sh: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    if [[ " ${missing[*]} " == *" postgresql "* ]]; then
      # The tests run their own servers; the package need not create and start a system one.
      mkdir -p /etc/postgresql-common/createcluster.d
      echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/frontdesk-tests.conf
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # Only this install was to skip the system cluster; a later one made by hand should not.
    rm -f /etc/postgresql-common/createcluster.d/frontdesk-tests.conf
  else
    # postgresql-common creates and starts a system cluster unless told not to; the tests
    # only need the server binaries.
    echo "tests/run.sh: missing ${missing[*]}; run: sudo apt-get install ${missing[*]}" \
      "(to keep postgresql from creating a system cluster, first:" \
      "echo 'create_main_cluster = false' | sudo tee /etc/postgresql-common/createcluster.d/no-main.conf)" >&2
    exit 1
  fi
fi

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --all-targets --locked "$@"
