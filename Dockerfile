# vod-origin's container image. docs/containers.md explains each choice; the short version:
#
#   docker build -t vod-origin .                      # production: the binary, config/, no media
#   docker build --target dev -t vod-origin:dev .     # the same plus the sample media
#   docker run --rm -p 8443:8443 vod-origin:dev
#   docker buildx build --platform linux/arm64 -t vod-origin:arm64 .   # Graviton
#
# Needs BuildKit (the default builder of current Docker) for the cache mounts below.
#
# Base images. Release builds pin them by digest: the multi-platform index digest, so that one
# pin serves amd64 and arm64. Get it where a registry is reachable with
#   docker buildx imagetools inspect debian:bookworm-slim      (the "Digest:" line)
# and pass --build-arg RUNTIME_IMAGE=debian:bookworm-slim@sha256:<digest> (likewise RUST_IMAGE),
# or write it here; Dependabot and Renovate keep such pins current.
ARG RUST_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
# BuildKit cache mounts rather than cargo-chef: no extra tool to install in the image, and the
# cached target directory rebuilds only the crates that changed, where a cargo-chef layer is
# rebuilt whole whenever Cargo.lock changes. The caches live on the builder, not in the image:
# a CI runner that starts empty each time needs a persistent builder to profit from them. Their
# ids carry the platform, so amd64 and arm64 builds never share a target directory.
ARG TARGETPLATFORM
WORKDIR /src
# Only what cargo reads: editing the README, deploy/ or tests/ does not rerun the build.
COPY Cargo.toml Cargo.lock ./
COPY benches/ benches/
COPY src/ src/
RUN --mount=type=cache,id=cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=vod-origin-target-${TARGETPLATFORM},target=/src/target,sharing=locked \
    cargo build --release --locked --bin vod-origin \
 && install -D target/release/vod-origin /out/vod-origin \
 && strip --strip-all /out/vod-origin

# The production image. debian:bookworm-slim rather than distroless/cc: ECS's TLS init container
# (deploy/ecs-task-definition.json) runs /bin/sh from this image to write the certificates, and
# the compose file copies the development CA out with cp; a shell also lets an operator
# `docker exec` in. The binary links glibc dynamically (so not scratch, not Alpine's musl) and is
# built on Debian 12: the same glibc. About 75 MB, against distroless/cc's 25 MB.
FROM ${RUNTIME_IMAGE} AS runtime
# ca-certificates: the S3 client verifies AWS's certificates against the system store.
# A fixed uid and gid (10001:10001), so volumes and ECS's "user" can name them.
# Owned by root, so read-only to the origin: the binary, config/, the media directory (empty:
# mount media or configure S3). Writable by the origin: certs/, where it makes a development
# certificate when none is configured (a tmpfs or a volume under a read-only root).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 vod \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/vod-origin --no-create-home \
        --shell /usr/sbin/nologin vod \
 && install -d -m 0755 /var/lib/vod-origin /var/lib/vod-origin/media \
 && install -d -m 0700 -o 10001 -g 10001 /var/lib/vod-origin/certs
COPY config/ /etc/vod-origin/
COPY --from=build /out/vod-origin /usr/local/bin/vod-origin
WORKDIR /var/lib/vod-origin
USER 10001:10001
# Configuration comes from the environment (VOD_ORIGIN_<SECTION>__<KEY>), optionally on top of
# a file named by VOD_ORIGIN_CONFIG. Without either, the image serves /var/lib/vod-origin/media
# with a development certificate made in /var/lib/vod-origin/certs.
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

# Development: the production image plus the sample media.
FROM runtime AS dev
COPY media/ /var/lib/vod-origin/media/

# The last stage is what a plain `docker build` makes: the production image, without media.
FROM runtime AS production
