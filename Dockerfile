# Multi-stage build of the portal: the same tool versions as .ci/tools.sh, then a slim runtime
# image with the binary and the built UI. docker-compose.yml runs it beside PostgreSQL.

FROM rust:1.95-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
RUN rustup target add wasm32-unknown-unknown \
 && CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo install cargo-leptos --version 0.3.10 --locked --features no_downloads \
 && cargo install wasm-bindgen-cli --version 0.2.129 --locked
WORKDIR /src
COPY tests/e2e/package.json tests/e2e/package-lock.json tests/e2e/
RUN cd tests/e2e && npm ci --no-audit --no-fund
COPY . .
ENV CARGO_TARGET_DIR=/src/target PATH=/src/tests/e2e/node_modules/.bin:$PATH
RUN cargo leptos build --release

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
