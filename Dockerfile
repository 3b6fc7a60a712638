# syntax=docker/dockerfile:1
#
# One image with the controller binaries, static (musl) and run as non-root:
#   /usr/local/bin/ferroflux-source-controller
#   /usr/local/bin/ferroflux-kustomize-controller
#   /usr/local/bin/ferroflux-helm-controller
#   /usr/local/bin/ferroflux-notification-controller
#   /usr/local/bin/ferroflux-source-watcher (an extra component, off in the chart by default)
# There is no entrypoint: the chart (charts/ferroflux) runs each binary as its container command.
#
#   docker build -t ghcr.io/ferroflux/ferroflux:0.1.0 .
#
# The image is linux/amd64 only (the musl target below is x86_64); on other hosts Docker builds it
# under emulation.
#
# The runtime base is Debian slim rather than distroless: the source-controller clones ssh://
# GitRepositories by running `ssh` through `sh` (gix's core.sshCommand), so the image carries
# openssh-client and a shell, and CA certificates for rustls.

FROM --platform=linux/amd64 rust:1-bookworm AS build
# musl-gcc compiles ring's C and assembly for the musl target; TLS is rustls with ring, the rest
# is pure Rust.
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/*
RUN rustup target add x86_64-unknown-linux-musl
ENV CC_x86_64_unknown_linux_musl=musl-gcc \
    CARGO_PROFILE_RELEASE_STRIP=symbols
WORKDIR /src
# The whole workspace: cargo loads every member (crates/* and e2e) even to build five of them.
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
COPY e2e ./e2e
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --target x86_64-unknown-linux-musl \
      -p ferroflux-source-controller \
      -p ferroflux-kustomize-controller \
      -p ferroflux-helm-controller \
      -p ferroflux-notification-controller \
      -p ferroflux-source-watcher \
      --bins \
 && mkdir -p /out \
 && for c in source kustomize helm notification; do \
      cp "target/x86_64-unknown-linux-musl/release/ferroflux-$c-controller" /out/; \
    done \
 && cp target/x86_64-unknown-linux-musl/release/ferroflux-source-watcher /out/

# CA certificates, ssh for ssh:// sources, and the nobody user (65534) the chart runs as.
FROM --platform=linux/amd64 debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates openssh-client \
 && rm -rf /var/lib/apt/lists/*
LABEL org.opencontainers.image.title="ferroflux" \
      org.opencontainers.image.description="Ferroflux: Flux v2 GitOps controllers in Rust" \
      org.opencontainers.image.source="https://github.com/ferroflux/ferroflux" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/ /usr/local/bin/
# nobody, as the chart's securityContext runs it.
USER 65534:65534
