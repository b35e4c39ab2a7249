# Multi-stage build: compile in the Rust image, ship only the binary on a slim Debian base.
# sock_diag needs no privilege, so the final image runs as an unprivileged user. Without
# `--network host` the container sees only its own network namespace (its own sockets and its
# own ip_local_port_range), not the host's.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
# Cargo.toml names the benchmarks, so their sources must be present even though only the binary
# is built.
COPY benches ./benches
RUN cargo build --release --locked --bin conntrend

FROM debian:bookworm-slim
# libpcap, which `conntrend rtt` loads when it runs (the build needs no headers: it is not linked).
RUN apt-get update && apt-get install -y --no-install-recommends libpcap0.8 \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --no-create-home conntrend
COPY --from=build /src/target/release/conntrend /usr/local/bin/conntrend
USER conntrend
ENTRYPOINT ["/usr/local/bin/conntrend"]
CMD ["-i", "5", "-d", "60"]
