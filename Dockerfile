# lambda-steps: the service and its embedded Lambda engine.
#
# Built here from source (needs the Rust image):
#   docker build -t lambda-steps .
# Or from a binary built on the host (no Rust image; CI builds it this way with podman):
#   cargo build --release --locked
#   docker build --build-arg BINARY=host -t lambda-steps -f Dockerfile "${CARGO_TARGET_DIR:-target}/release"
# (the build context is the directory holding the `lambda-steps` binary).
# Behind a TLS-inspecting proxy, give its CA bundle to the SDK install below:
#   --secret id=build-ca,src=/etc/ssl/certs/ca-certificates.crt
# Run it: docker compose up (docker-compose.yml), and see the book's Containers pages (docs/src/operations/).

# Which stage the binary comes from: `build` (compiled below) or `host` (the context's).
ARG BINARY=build

FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
# The workspace's other crates: the engine and Lambda's rules the service is built from.
COPY crates crates
# The query data sqlx's macros read instead of a database (SQLX_OFFLINE in .cargo/config.toml).
COPY .cargo .cargo
COPY .sqlx .sqlx
COPY src src
# The web console's files, compiled into the binary.
COPY web web
COPY migrations migrations
# Cargo.toml names the benches and integration tests, so cargo wants them present.
COPY benches benches
COPY tests tests
RUN cargo build --release --locked --bin lambda-steps \
 && cp target/release/lambda-steps /lambda-steps

FROM scratch AS host
COPY lambda-steps /lambda-steps

FROM ${BINARY} AS binary

# npm as the npm registry ships it: one package, its dependencies bundled. Debian's npm
# package brings some 300 packages for building JavaScript (babel, eslint, webpack,
# libssl-dev) that running needs none of. The version is the one Debian bookworm ships.
FROM debian:bookworm-slim AS npm
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates nodejs npm
RUN --mount=type=secret,id=build-ca \
    if [ -f /run/secrets/build-ca ]; then export npm_config_cafile=/run/secrets/build-ca; fi \
 && npm install --global --prefix /opt/npm --no-audit --no-fund npm@9.2.0

# The runtime image: only what running needs. The interpreters the engine runs functions
# with; pip and npm for custom code's `packages`; bubblewrap (the sandbox) and passt
# (pasta, the isolated network's user-mode stack); tini as PID 1, which forwards SIGTERM
# to the service and reaps orphaned processes; Debian's Ruby SDK gems.
FROM debian:bookworm-slim
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates tini bubblewrap passt \
      python3 python3-pip nodejs ruby ruby-aws-sdk-core ruby-aws-sdk-s3 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && useradd --system --uid 10001 --home-dir /var/lib/lambda-steps --create-home lambda-steps
COPY --from=npm /opt/npm /opt/npm
RUN ln -s /opt/npm/bin/npm /usr/local/bin/npm
COPY --from=binary /lambda-steps /usr/local/bin/lambda-steps
# Each runtime's AWS SDK at the versions this binary pins (boto3, the JavaScript v3
# clients; Ruby's from Debian above), baked in where every user can read them. pip's and
# npm's caches stay out of the image.
ENV LAMBDA_STEPS_RUNTIMES_DIR=/opt/lambda-steps-runtimes
RUN --mount=type=secret,id=build-ca \
    if [ -f /run/secrets/build-ca ]; then \
      export SSL_CERT_FILE=/run/secrets/build-ca PIP_CERT=/run/secrets/build-ca \
             npm_config_cafile=/run/secrets/build-ca NODE_EXTRA_CA_CERTS=/run/secrets/build-ca; \
    fi \
 && lambda-steps runtimes install \
 && rm -rf /root/.npm /root/.cache
USER lambda-steps
WORKDIR /var/lib/lambda-steps
ENV LAMBDA_STEPS_LISTEN=0.0.0.0:8080 \
    LAMBDA_STEPS_DATA_DIR=/var/lib/lambda-steps/data \
    RUST_LOG=info
EXPOSE 8080
VOLUME ["/var/lib/lambda-steps/data"]
# Ready means the database answers; the start period covers creating and migrating it.
# It asks the address the service listens on (LAMBDA_STEPS_LISTEN), wherever that is.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 CMD ["python3", "-c", \
  "import os, urllib.request as u; h, _, p = os.environ['LAMBDA_STEPS_LISTEN'].rpartition(':'); u.urlopen('http://%s:%s/readyz' % ('127.0.0.1' if h in ('0.0.0.0', '[::]') else h, p), timeout=2)"]
ENTRYPOINT ["tini", "--", "lambda-steps"]
CMD ["serve"]
