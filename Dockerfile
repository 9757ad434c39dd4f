# lambda-steps: the service and its embedded Lambda engine.
# Build: docker build -t lambda-steps .   Run with Postgres: docker compose up

FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
# The query data sqlx's macros read instead of a database (SQLX_OFFLINE in .cargo/config.toml).
COPY .cargo .cargo
COPY .sqlx .sqlx
COPY src src
# The web console's files, compiled into the binary.
COPY web web
COPY migrations migrations
COPY benches benches
COPY tests tests
RUN cargo build --release --locked --bin lambda-steps

# The runtime image carries the interpreters the engine runs functions with, and each
# runtime's AWS SDK (boto3, the JavaScript v3 clients, Debian's Ruby gems) baked in.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3 python3-venv nodejs npm ruby \
      ruby-aws-sdk-core ruby-aws-sdk-s3 bubblewrap passt \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/lambda-steps --create-home lambda-steps
COPY --from=build /src/target/release/lambda-steps /usr/local/bin/lambda-steps
ENV LAMBDA_STEPS_RUNTIMES_DIR=/opt/lambda-steps-runtimes
RUN lambda-steps runtimes install
USER lambda-steps
WORKDIR /var/lib/lambda-steps
ENV LAMBDA_STEPS_LISTEN=0.0.0.0:8080 \
    LAMBDA_STEPS_DATA_DIR=/var/lib/lambda-steps/data \
    RUST_LOG=info
EXPOSE 8080
VOLUME ["/var/lib/lambda-steps/data"]
HEALTHCHECK --interval=10s --timeout=3s CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/readyz')"]
ENTRYPOINT ["lambda-steps"]
CMD ["serve"]
