# syntax=docker/dockerfile:1
# Banyan's container image (docs/deploy.md). Built in Rust's image; run from distroless
# (glibc and CA certificates, no shell, no package manager) as a non-root user. The
# rotki backend is a separate image and a separate container. A second target puts banyan
# into rotki's own image in nginx's place (docs/deploy.md, deploy/rotki-image/).
#
#   docker build -t banyan:0.1.0 .
#   docker build --target rotki-front-door -t rotki-banyan:v1.43.2 .

ARG RUST_VERSION=1.95
# The image the rotki-front-door target builds on; rotki's is Debian 12, as the build stage.
ARG ROTKI_IMAGE=rotki/rotki:v1.43.2

FROM rust:${RUST_VERSION}-slim-bookworm AS build
# SQLCipher's OpenSSL is built from source (rusqlite's vendored OpenSSL): its configure
# script needs perl and make, which the slim image lacks.
RUN apt-get update && apt-get install -y --no-install-recommends perl make && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Cache mounts keep the registry and the build directory between builds, so a change to
# banyan's code does not rebuild its dependencies. `--locked`: exactly Cargo.lock.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin banyan \
    && cp target/release/banyan /banyan \
    && mkdir -p /state

# rotki's own image, banyan its front door. rotki's entrypoint is unchanged: it starts
# `nginx -g "daemon off;"`, and the `nginx` it finds first starts banyan, unless the
# container runs with BANYAN_FRONT_DOOR=nginx (the rollback, no rebuild).
FROM ${ROTKI_IMAGE} AS rotki-front-door
COPY --from=build /banyan /usr/local/bin/banyan
COPY deploy/rotki-image/banyan.toml /etc/banyan/banyan.toml
# Everything to rotki-core to begin with; mount a directory over /etc/banyan/flags to
# manage your own (a directory, not the file: see docs/deploy.md).
COPY deploy/kubernetes/flags.toml /etc/banyan/flags/flags.toml
# Before /usr/sbin on the image's PATH: what the entrypoint's `nginx` runs.
COPY --chmod=0755 deploy/rotki-image/nginx /usr/local/sbin/nginx
# The check rotki's image makes, through banyan now (nginx's port, rotki-core's ping).
HEALTHCHECK CMD ["curl", "--fail", "http://localhost/api/1/ping"]

# The default target, last. Debian 12's glibc, as the build stage links against;
# `nonroot` is uid and gid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /banyan /usr/local/bin/banyan
COPY deploy/docker/banyan.toml /etc/banyan/config/banyan.toml
# A starting flags file that sends everything to legacy: mount a directory over
# /etc/banyan/flags to manage your own (a directory, not the file: see docs/deploy.md).
COPY deploy/kubernetes/flags.toml /etc/banyan/flags/flags.toml
# The audit log's home; a volume, so it outlives the container.
COPY --from=build --chown=65532:65532 /state /var/lib/banyan
USER 65532:65532
EXPOSE 4242 4243
VOLUME ["/var/lib/banyan"]
ENTRYPOINT ["/usr/local/bin/banyan"]
CMD ["serve", "--config", "/etc/banyan/config/banyan.toml"]
