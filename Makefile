# firebreak developer commands. `make demo` and `make test` work on a fresh Debian machine with
# only the Rust toolchain: they install what is missing first (.ci/deps).

.PHONY: demo test check deps bench bench-proxy release-pgo

demo:
	@./.ci/deps
	cargo run --release -- demo

test:
	@./.ci/deps test
	@./.ci/deps-browser
	@./.ci/deps-deploy
	@./.ci/deps-reliability
	cargo fmt --all -- --check
	cargo clippy --all-targets --features bench-bare -- -D warnings -A clippy::disallowed_methods
	cargo clippy --lib -- -D warnings
	cargo test --all-targets

deps:
	@./.ci/deps test
	@./.ci/deps-browser
	@./.ci/deps-deploy
	@./.ci/deps-reliability

# Criterion benchmarks of the per-request decisions (not part of CI).
bench:
	cargo bench --bench hot_path

# Whole-proxy benchmark: firebreak, bare Pingora, nginx and HAProxy on one core each
# (benches/proxy/README.md; not part of CI). ARGS="--callgrind" etc. pass through.
bench-proxy:
	benches/proxy/run.sh $(ARGS)

# The release build to deploy: optimised with the profile of a production-like training run
# (deploy/pgo/build.sh; about 12 minutes on 2 cores). Prints the binary's path last.
release-pgo:
	deploy/pgo/build.sh
