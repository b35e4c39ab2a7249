# Multi-stage build: compile in the Rust image, ship only the binary on a slim Debian base.
# The build image is pinned to the toolchain the repository is built and tested with (rustc
# 1.95.0, Debian 12 "bookworm"); the runtime is the same Debian release, so the binary's glibc
# matches. See README, "Containers and namespaces", for the `docker run` lines (serve, top,
# --netns/--pid, conntrack) and the capabilities each needs.
FROM rust:1.95.0-slim-bookworm AS build
WORKDIR /src

# Dependencies first, in their own layer: the manifest and the lock file with stand-in sources
# for every target Cargo.toml names (the binary, the library, the benchmarks), built once. The
# layer is reused until Cargo.toml or Cargo.lock changes, so a source change neither refetches
# nor rebuilds a dependency. The stand-ins' own artifacts are removed so the real build below
# cannot mistake them for fresh.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && awk '/^\[\[bench\]\]/ {b = 1; next} /^\[/ {b = 0} \
        b && /^name *=/ {gsub(/^name *= *"|"$/, ""); print "fn main() {}" > ("benches/" $0 ".rs")}' \
        Cargo.toml \
    && cargo build --release --locked --bin conntrend \
    && rm -rf src benches target/release/conntrend target/release/.fingerprint/conntrend-* \
        target/release/deps/conntrend-* target/release/deps/libconntrend-*

# Cargo.toml names the benchmarks, so their sources must be present even though only the binary
# is built.
COPY src ./src
COPY benches ./benches
RUN cargo build --release --locked --bin conntrend

FROM debian:bookworm-slim
# libpcap, which `conntrend rtt` loads when it runs (the build needs no headers: it is not
# linked). Not pinned to a version: the base tag pins the Debian release, whose security updates
# are wanted here, and an exact pin breaks the build as soon as one supersedes it.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpcap0.8 \
    && rm -rf /var/lib/apt/lists/*
# An unprivileged user: sock_diag dumps, the pool sysctls, --conntrack and serve need no
# privilege. Numeric in USER so that Kubernetes' runAsNonRoot can check it.
RUN useradd --system --no-log-init --uid 10001 --user-group --no-create-home \
        --shell /usr/sbin/nologin conntrend
COPY --from=build /src/target/release/conntrend /usr/local/bin/conntrend
USER 10001:10001
# conntrend serve's default port (it listens on 127.0.0.1 unless told --listen 0.0.0.0:9959).
EXPOSE 9959
ENTRYPOINT ["/usr/local/bin/conntrend"]
CMD ["-i", "5", "-d", "60"]
