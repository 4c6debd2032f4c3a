# vod-origin: build with the Rust toolchain, run on a slim Debian with CA certificates (for S3).
#   docker build -t vod-origin .
#   docker run -p 8443:8443 vod-origin
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin vod-origin

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/vod-origin --create-home vod
COPY --from=build /src/target/release/vod-origin /usr/local/bin/vod-origin
COPY config/ /etc/vod-origin/
COPY media/ /var/lib/vod-origin/media/
WORKDIR /var/lib/vod-origin
USER vod
# Configuration comes from the environment (VOD_ORIGIN_<SECTION>__<KEY>), optionally on top of
# a file named by VOD_ORIGIN_CONFIG. Without either, the image serves its sample media with a
# development certificate made in /var/lib/vod-origin/certs.
ENV VOD_ORIGIN_SERVER__LISTEN=0.0.0.0:8443 \
    VOD_ORIGIN_PLAIN_HTTP__LISTEN=0.0.0.0:8080 \
    VOD_ORIGIN_ADMIN__LISTEN=0.0.0.0:9090 \
    VOD_ORIGIN_STORAGE__ROOT=/var/lib/vod-origin/media \
    VOD_ORIGIN_LOG__FORMAT=json
EXPOSE 8443 8080 9090
# The binary checks itself (the image has no curl): GET /healthz on the admin listener.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/vod-origin", "probe"]
# SIGTERM starts a graceful drain (server.drain_timeout); keep ECS's stopTimeout above it.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/vod-origin"]
