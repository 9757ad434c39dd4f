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

# The ordinary user the tests run a `serve` process as when they run as root (CI does):
# the escape suite must hold with the engine as an ordinary user too, where user namespaces
# rather than a uid per environment keep environments apart (tests/it/engine/escape).
ensure_ordinary_user() {
  [ "$(id -u)" = 0 ] || return 0
  id lambda-steps-test >/dev/null 2>&1 ||
    useradd --system --user-group --no-create-home --shell /usr/sbin/nologin lambda-steps-test
  # pasta, run by an engine that is not root (this user's, or the container's uid 10001),
  # opens the TUN device itself: 0666 is the mode distributions' udev rules give it, which a
  # machine without udev (a CI VM) may lack.
  if [ -c /dev/net/tun ] && [ "$(stat -c %a /dev/net/tun)" != 666 ]; then
    chmod 0666 /dev/net/tun
  fi
}

# Debian packages: the interpreters of the embedded engine's runtimes, npm and pip for custom
# code's packages, bubblewrap for its sandbox, and python3-venv for the test venv. `strict`
# fails when one cannot be installed.
ensure_packages() {
  local mode="${1:-strict}" need=()
  command -v ruby >/dev/null 2>&1 || need+=(ruby)
  command -v node >/dev/null 2>&1 || need+=(nodejs)
  # npm installs the AWS SDK for JavaScript (`lambda-steps runtimes install`) and custom
  # code's npm `packages` (with scripts off); pip installs its Python `packages` (wheels only).
  command -v npm >/dev/null 2>&1 || need+=(npm)
  command -v pip3 >/dev/null 2>&1 || need+=(python3-pip)
  # The Ruby SDK comes from Debian where rubygems.org may be out of reach: aws-sdk-core
  # (with STS) and aws-sdk-s3, on Ruby's own path.
  if ! ruby -e 'require "aws-sdk-core"; require "aws-sdk-s3"' >/dev/null 2>&1 &&
    apt-cache show ruby-aws-sdk-core >/dev/null 2>&1; then
    need+=(ruby-aws-sdk-core ruby-aws-sdk-s3)
  fi
  command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
  # pasta gives each execution environment its egress under `--network isolated`; the
  # network tests build an "outside" of their own with ip (network namespaces, veth).
  command -v pasta >/dev/null 2>&1 || need+=(passt)
  command -v ip >/dev/null 2>&1 || need+=(iproute2)
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

# Headless Chromium and its WebDriver for the web console's browser tests (scripts/test
# only: the service itself needs no browser). Fails loudly: no browser test may skip.
ensure_browser() {
  if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    return 0
  fi
  echo "lambda-steps: installing chromium chromium-driver for the console's browser tests" >&2
  if ! { as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null; }; then
    echo "lambda-steps: could not install chromium and chromium-driver; the console's browser tests need them" >&2
    return 1
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

# The venv of the orchestrator integrations' tests: Airflow, ansible-core, pytest and `build`
# (tests/it/clients/{airflow,ansible,python_client}.rs), apart from the test venv because
# Airflow pins many packages of its own. Rebuilt when integrations/requirements.txt changes;
# under /opt as root, else in the cache beside the target directory.
ensure_orchestrator_venv() {
  local default="$HOME/.cache/lambda-steps/orchestrator-venv"
  [ "$(id -u)" = 0 ] && default=/opt/lambda-steps-orchestrator-venv
  export LAMBDA_STEPS_ORCHESTRATOR_VENV="${LAMBDA_STEPS_ORCHESTRATOR_VENV:-$default}"
  local venv="$LAMBDA_STEPS_ORCHESTRATOR_VENV" want
  want="$(sha256sum integrations/requirements.txt | cut -d' ' -f1)"
  if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
    echo "lambda-steps: preparing the orchestrator venv at $venv" >&2
    /usr/bin/python3 -m venv --clear "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r integrations/requirements.txt
    echo "$want" >"$venv/.requirements.sha256"
  fi
}

# The runtimes' AWS SDKs for the tests' engines (`lambda-steps runtimes install`), kept
# across runs: under /opt as root (user code runs as `nobody` then and must read them),
# else .runtimes in the checkout. A second run finds them installed and is quick.
ensure_test_runtimes() {
  local default="$PWD/.runtimes"
  [ "$(id -u)" = 0 ] && default=/opt/lambda-steps-runtimes
  export LAMBDA_STEPS_TEST_RUNTIMES_DIR="${LAMBDA_STEPS_TEST_RUNTIMES_DIR:-$default}"
  cargo run --quiet -- runtimes install --runtimes-dir "$LAMBDA_STEPS_TEST_RUNTIMES_DIR"
}

ensure_rust_components() {
  if command -v rustup >/dev/null 2>&1; then
    cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
    cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
  fi
}

# sqlx-cli at the version of the sqlx in Cargo.lock, for `cargo sqlx prepare`: it refreshes
# and checks `.sqlx/`, the query data the build reads instead of a database.
ensure_sqlx_cli() {
  local want
  want="$(awk '$0 == "name = \"sqlx\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
  if [ "$(sqlx --version 2>/dev/null)" != "sqlx-cli $want" ]; then
    echo "lambda-steps: installing sqlx-cli $want" >&2
    cargo install sqlx-cli --version "$want" --no-default-features --features postgres,rustls --locked \
      --target-dir "$CARGO_TARGET_DIR/sqlx-cli"
  fi
}

# mdBook and its link checker, pinned, for the book under docs/ (`mdbook build docs` in
# scripts/test, `mdbook serve docs` to read it). mdbook-linkcheck2 is the maintained fork of
# mdbook-linkcheck that reads mdBook 0.5's books; book.toml runs it as a second backend.
MDBOOK_VERSION=0.5.4
MDBOOK_LINKCHECK2_VERSION=0.13.0
ensure_mdbook() {
  if [ "$(mdbook --version 2>/dev/null)" != "mdbook v$MDBOOK_VERSION" ]; then
    echo "lambda-steps: installing mdbook $MDBOOK_VERSION" >&2
    cargo install mdbook --version "$MDBOOK_VERSION" --locked --target-dir "$CARGO_TARGET_DIR/mdbook"
  fi
  if [ "$(mdbook-linkcheck2 --version 2>/dev/null)" != "mdbook-linkcheck2 $MDBOOK_LINKCHECK2_VERSION" ]; then
    echo "lambda-steps: installing mdbook-linkcheck2 $MDBOOK_LINKCHECK2_VERSION" >&2
    cargo install mdbook-linkcheck2 --version "$MDBOOK_LINKCHECK2_VERSION" --locked --target-dir "$CARGO_TARGET_DIR/mdbook"
  fi
}

# Fails when `.sqlx/` does not match the queries and the migrations: checks them against a
# database migrated from scratch beside DATABASE_URL's (`lambda_steps_sqlx_check_<pid>`, so
# runs sharing a server do not meet), dropped afterwards.
check_sqlx_data() {
  local base="${DATABASE_URL%%\?*}" url status=0
  url="${base%/*}/lambda_steps_sqlx_check_$$${DATABASE_URL#"$base"}"
  sqlx database drop -y -D "$url" >/dev/null
  sqlx database create -D "$url"
  sqlx migrate run -D "$url" >/dev/null
  DATABASE_URL="$url" cargo sqlx prepare --check -- --all-targets || status=$?
  sqlx database drop -y -D "$url" >/dev/null
  return "$status"
}

# Postgres for the service or the tests; exports DATABASE_URL (database $1) unless it is
# set. Tries a local server (socket as this user, then TCP as postgres), starts the
# installed cluster if it is down, installs PostgreSQL if it is missing, and as a last
# resort (not root) starts a private cluster under lambda-steps-data/postgres.
ensure_postgres() {
  local db="$1"
  [ -n "${DATABASE_URL:-}" ] && return 0
  command -v psql >/dev/null 2>&1 || ensure_debian_packages postgresql-client
  if pg_url_works "$db"; then return 0; fi
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    ensure_debian_packages postgresql
  fi
  if [ -d /etc/postgresql ] && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; then
    local version
    version="$(ls /etc/postgresql | sort -V | tail -1)"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1 || true
    for _ in $(seq 1 30); do pg_url_works "$db" && return 0; sleep 0.5; done
    if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null 2>&1; then
      runuser -u postgres -- createuser --superuser "$(id -un)" >/dev/null 2>&1 || true
      pg_url_works "$db" && return 0
    fi
  fi
  if [ "$(id -u)" != 0 ]; then
    private_postgres "$db" && return 0
  fi
  echo "lambda-steps: no Postgres could be reached or started; set DATABASE_URL" >&2
  return 1
}

pg_url_works() {
  local db="$1" url
  for url in "postgres://%2Fvar%2Frun%2Fpostgresql/postgres" "postgres://postgres@127.0.0.1:5432/postgres"; do
    if psql "$url" -Atqc 'select 1' >/dev/null 2>&1; then
      export DATABASE_URL="${url%/postgres}/$db"
      return 0
    fi
  done
  return 1
}

private_postgres() {
  local db="$1" bin dir encoded
  bin="$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")"
  dir="$PWD/lambda-steps-data/postgres"
  if [ ! -f "$dir/PG_VERSION" ]; then
    mkdir -p "$dir"
    "$bin/initdb" -D "$dir" -A trust -U postgres >/dev/null
  fi
  if ! "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -o "-k $dir -c listen_addresses=''" start >/dev/null
  fi
  encoded="$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$dir")"
  export DATABASE_URL="postgres://postgres@$encoded/$db"
  echo "lambda-steps: started a private Postgres in $dir" >&2
}

ensure_debian_packages() {
  echo "lambda-steps: installing $*" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# podman (with runc, as crun refuses cgroup v1 hosts) and podman-compose, mmdebstrap for a
# base image made of Debian's packages, uidmap for podman's user namespaces, and objcopy
# (binutils) to strip the binary that goes into the image: tests/container/run builds and
# runs the image with them.
ensure_container_tools() {
  local need=()
  command -v podman >/dev/null 2>&1 || need+=(podman)
  command -v runc >/dev/null 2>&1 || need+=(runc)
  command -v podman-compose >/dev/null 2>&1 || need+=(podman-compose)
  # Compose's services find each other by name through CNI's dnsname plugin.
  [ -x /usr/lib/cni/dnsname ] || need+=(golang-github-containernetworking-plugin-dnsname)
  command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
  command -v newuidmap >/dev/null 2>&1 || need+=(uidmap)
  command -v objcopy >/dev/null 2>&1 || need+=(binutils)
  [ ${#need[@]} -eq 0 ] && return 0
  ensure_debian_packages "${need[@]}"
}
