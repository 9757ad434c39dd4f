# Shared by scripts/start, scripts/test and scripts/bench: installs what lambda-steps and
# its tests need on a Debian/Ubuntu machine. Sourced, not run.

# Where cargo builds: outside the clone, so a fresh clone on the same machine builds warm.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lambda-steps/target}"

as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "lambda-steps: need root (or sudo) to run: $*" >&2
    return 1
  fi
}

# Debian packages: the interpreters of the embedded engine's runtimes, bubblewrap for its
# sandbox, and python3-venv for the test venv. `strict` fails when one cannot be installed.
ensure_packages() {
  local mode="${1:-strict}" need=()
  command -v ruby >/dev/null 2>&1 || need+=(ruby)
  command -v node >/dev/null 2>&1 || need+=(nodejs)
  command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
  { [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import ensurepip' >/dev/null 2>&1; } || need+=(python3 python3-venv)
  [ ${#need[@]} -eq 0 ] && return 0
  echo "lambda-steps: installing ${need[*]}" >&2
  if ! { as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }; then
    if [ "$mode" = strict ]; then
      echo "lambda-steps: could not install ${need[*]}; install them and run again" >&2
      return 1
    fi
    echo "lambda-steps: could not install ${need[*]}; functions of those runtimes will be refused with a message saying so" >&2
  fi
}

# The venv with boto3, awslambdaric, ministack and the AWS CLI. Built from the system
# Python and, when running as root, kept under /opt: user code runs as `nobody` then, and
# the awslambdaric test runs that venv's Python inside the sandbox.
ensure_test_venv() {
  local default="$PWD/.venv"
  [ "$(id -u)" = 0 ] && default=/opt/lambda-steps-test-venv
  export LAMBDA_STEPS_TEST_VENV="${LAMBDA_STEPS_TEST_VENV:-$default}"
  local venv="$LAMBDA_STEPS_TEST_VENV" want
  want="$(sha256sum tests/requirements.txt | cut -d' ' -f1)"
  if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
    echo "lambda-steps: preparing the test venv at $venv" >&2
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r tests/requirements.txt
    echo "$want" >"$venv/.requirements.sha256"
  fi
}

ensure_rust_components() {
  if command -v rustup >/dev/null 2>&1; then
    cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
    cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
  fi
}
