# conntrend: the two commands a newcomer needs are `make run` and `make test`.
CARGO ?= cargo
ARGS ?= -i 5 -d 60

.PHONY: build run deps test lint fmt bench dbuild drun clean

build:
	$(CARGO) build --release

run:
	$(CARGO) run --release -- $(ARGS)

# The integration tests build socket mixes in private network namespaces. As root they run
# directly; otherwise inside user + network + mount namespaces, where the tests hold the
# capabilities they need and a private /run lets `ip netns add` work.
# What the tests need beyond Rust (iproute2, nftables, jq, ...): installed when root, named when not.
deps:
	@.ci/deps test

test: deps
	$(CARGO) build --tests
	@if [ "$$(id -u)" = 0 ]; then \
		$(CARGO) test; \
	else \
		unshare --user --map-root-user --net --mount \
			sh -c 'mount -t tmpfs tmpfs /run && exec $(CARGO) test --offline'; \
	fi

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

fmt:
	$(CARGO) fmt

# Whole-process cost of one sample at 1k..500k sockets in a private namespace (BENCHMARKS.md),
# then the Criterion benchmark of the fold alone on the committed fixtures.
bench:
	@.ci/deps bench
	@if [ "$$(id -u)" = 0 ]; then \
		$(CARGO) bench --bench sample_cost; \
	else \
		unshare --user --map-root-user --net $(CARGO) bench --offline --bench sample_cost; \
	fi
	$(CARGO) bench --bench fold

dbuild:
	docker build -t conntrend .

drun:
	docker run --rm --network host conntrend -i 5 -d 60

clean:
	$(CARGO) clean
