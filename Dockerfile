# Multi-stage build of the portal: the same build as `make run` (cargo xtask build --release,
# with wasm-opt and lightningcss from npm), then a slim runtime image with the binary and the
# built UI. docker-compose.yml runs it beside PostgreSQL.

FROM rust:1.95-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
RUN rustup target add wasm32-unknown-unknown
WORKDIR /src
COPY xtask/package.json xtask/package-lock.json xtask/
RUN cd xtask && npm ci --no-audit --no-fund
COPY . .
ENV CARGO_TARGET_DIR=/src/target
RUN cargo xtask build --release

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --user-group --home-dir /var/lib/portal --create-home portal
COPY --from=build /src/target/release/portal /usr/local/bin/portal
COPY --from=build /src/target/site /usr/share/portal/site
ENV PORTAL_LISTEN=0.0.0.0:3000 \
    PORTAL_SITE_ROOT=/usr/share/portal/site \
    PORTAL_DATA_DIR=/var/lib/portal
USER portal
EXPOSE 3000
ENTRYPOINT ["/usr/local/bin/portal"]
