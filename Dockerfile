# syntax=docker/dockerfile:1
#
# avisa container image.
#
#   docker build -t avisa .
#   docker run -d --name avisa -p 8080:8080 -v avisa_data:/data \
#     -e WASENDER_API_KEY=... -e WASENDER_WEBHOOK_SECRET=... avisa
#
# One-off commands use the same image, e.g.
#   docker run --rm -v avisa_data:/data avisa migrate
#   docker run --rm -v avisa_data:/data -v "$PWD":/in:ro avisa import /in/clientes.csv

############################ builder ############################
FROM rust:1.95-bookworm AS builder
WORKDIR /build

# 1. Dependency cache: build all dependencies against a dummy crate, so this
#    layer is reused until Cargo.toml / Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
# Guard: the crate may grow a benches/ directory referenced by [[bench]]
# entries in Cargo.toml; cargo refuses to load the manifest if such a path is
# missing. COPY cannot be made conditional, so copy it through a bind mount of
# the build context only if it exists (needs BuildKit, the default builder).
# (tests/ is not needed: `cargo build` never compiles test targets, and
# Cargo.toml declares no [[test]] entries.)
RUN --mount=type=bind,target=/ctx \
    if [ -d /ctx/benches ]; then cp -r /ctx/benches ./benches; fi
RUN mkdir -p src \
    && echo 'fn main() {}' > src/main.rs \
    && : > src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src

# 2. The real build. sqlx::migrate! and include_str! embed migrations/,
#    templates/ and flows/ into the binary at compile time, so they must be
#    present here. (Each directory is copied separately: `COPY a/ b/ ./`
#    would flatten their contents into one directory.)
COPY src ./src
COPY migrations ./migrations
COPY templates ./templates
COPY flows ./flows
COPY examples ./examples
# COPY keeps the files' original mtimes, which may be older than the dummy
# build; drop the dummy crate's artifacts so cargo really rebuilds avisa.
RUN rm -rf target/release/.fingerprint/avisa-* \
           target/release/deps/avisa-* \
           target/release/deps/libavisa-* \
    && touch src/main.rs src/lib.rs \
    && cargo build --release --locked \
    && install -m 0755 target/release/avisa /avisa

############################ runtime ############################
FROM debian:bookworm-slim

# ca-certificates: HTTPS to WaSender. tzdata: AVISA_TIMEZONE (IANA names).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/*

# Non-root user. /data is created and owned by it before VOLUME, so a fresh
# Docker named volume inherits that ownership (Fly.io mounts volumes for the
# image's USER as well).
RUN groupadd --system --gid 10001 avisa \
    && useradd --system --uid 10001 --gid avisa --home-dir /data \
       --no-create-home --shell /usr/sbin/nologin avisa \
    && mkdir -p /data \
    && chown avisa:avisa /data

COPY --from=builder /avisa /usr/local/bin/avisa

USER avisa
WORKDIR /data
VOLUME /data

ENV DATABASE_URL=sqlite:///data/avisa.db \
    AVISA_LISTEN=0.0.0.0:8080 \
    AVISA_TIMEZONE=America/Guayaquil

EXPOSE 8080

# No HEALTHCHECK: bookworm-slim has no curl/wget, and installing one only for
# this would grow the image. Orchestrators probe GET /healthz themselves
# (see fly.toml [[http_service.checks]]).

ENTRYPOINT ["/usr/local/bin/avisa"]
CMD ["serve"]
