# Depot's container image: the release binary and the ONNX Runtime library on Debian
# bookworm-slim, run as the fixed non-root user depot (uid 10001, gid 10001), the ids
# deploy/kubernetes/base/deployment.yaml runs it as.
#
#   docker build -t REGISTRY/depot:TAG .
#
# Not built on the project's own machines: they have no container engine. Each stage runs only
# what those machines do run (`cargo build --release --locked`, scripts/fetch-onnxruntime.sh) and
# reaches only crates.io, PyPI and Debian's package mirrors.

# ---------------------------------------------------------------- build
# The toolchain of rust-toolchain.toml.
FROM rust:1.95.0-bookworm AS build
# rust-toolchain.toml also lists rustfmt and clippy, which rustup would fetch from
# static.rust-lang.org; naming the image's own toolchain builds without them.
ENV RUSTUP_TOOLCHAIN=1.95.0 \
    CARGO_TERM_COLOR=never
# pip for scripts/fetch-onnxruntime.sh (a `pip download`, which installs nothing).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-pip \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The onnxruntime 1.31.0 wheel from PyPI, its libonnxruntime.so.1.31.0 extracted to .depot/lib/.
# Before the sources, so that a code change does not fetch it again.
COPY scripts/fetch-onnxruntime.sh scripts/fetch-onnxruntime.sh
RUN PYTHON=python3 scripts/fetch-onnxruntime.sh
# Only what the build reads, so a checkout's target/, .venv/ and .depot/ stay out of the image.
COPY Cargo.toml Cargo.lock rust-toolchain.toml ./
COPY crates crates
COPY tests tests
COPY migrations migrations
RUN cargo build --release --locked -p depot

# ---------------------------------------------------------------- runtime
FROM debian:bookworm-slim
# ca-certificates: TLS to S3 and PostgreSQL. libstdc++6: ONNX Runtime's only need beyond glibc.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libstdc++6 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 depot \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/depot --shell /usr/sbin/nologin depot \
 && install -d -o depot -g depot -m 0750 /var/lib/depot
COPY --from=build /src/target/release/depot /usr/local/bin/depot
COPY --from=build /src/.depot/lib/libonnxruntime.so.1.31.0 /usr/local/lib/libonnxruntime.so.1.31.0
# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
# Where Depot writes: the first start's admin token (./.depot/admin-token by default) and, with
# no storage configured, the artifacts. Kubernetes mounts an emptyDir here and keeps the root
# filesystem read-only; docker-compose.yml reads the token from here.
WORKDIR /var/lib/depot
ENV DEPOT_SERVER__LISTEN=0.0.0.0:8080 \
    DEPOT_GRPC__LISTEN=0.0.0.0:8001 \
    DEPOT_STORAGE__URL=/var/lib/depot/artifacts \
    DEPOT_RUNTIME__LIBRARY_PATH=/usr/local/lib/libonnxruntime.so.1.31.0 \
    DEPOT_LOG_FORMAT=json
# 8080: the API; 8001: the Open Inference Protocol over gRPC. Metrics without a token on 9464
# when DEPOT_METRICS__LISTEN=0.0.0.0:9464.
EXPOSE 8080 8001 9464
# Depot drains on SIGTERM by itself (deploy/kubernetes/README.md, "Shutdown").
ENTRYPOINT ["depot"]
CMD ["serve"]
