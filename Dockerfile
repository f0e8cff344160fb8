# Depot in a container: the release binary, the ONNX Runtime library taken from the onnxruntime
# wheel, nothing else. Build: docker build -t depot .
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p depot

FROM python:3.12-slim-bookworm AS onnxruntime
RUN pip download --no-deps --only-binary=:all: --dest /wheels onnxruntime==1.31.0 \
 && python -c "import zipfile,glob; z=zipfile.ZipFile(glob.glob('/wheels/onnxruntime-*.whl')[0]); open('/libonnxruntime.so.1.31.0','wb').write(z.read('onnxruntime/capi/libonnxruntime.so.1.31.0'))"

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libstdc++6 \
 && rm -rf /var/lib/apt/lists/* && useradd --system --home /var/lib/depot depot \
 && mkdir -p /var/lib/depot/artifacts && chown -R depot /var/lib/depot
COPY --from=build /src/target/release/depot /usr/local/bin/depot
COPY --from=onnxruntime /libonnxruntime.so.1.31.0 /usr/local/lib/libonnxruntime.so.1.31.0
USER depot
WORKDIR /var/lib/depot
ENV DEPOT_SERVER__LISTEN=0.0.0.0:8080 \
    DEPOT_STORAGE__URL=/var/lib/depot/artifacts \
    DEPOT_RUNTIME__LIBRARY_PATH=/usr/local/lib/libonnxruntime.so.1.31.0 \
    DEPOT_LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT ["depot"]
CMD ["serve"]
