# The portal's two commands (see README.md):
#   make run    install what is missing, build the release, serve http://127.0.0.1:3000
#   make test   install what is missing, then every check and test, as CI runs them
SHELL := bash
.SHELLFLAGS := -euo pipefail -c

# Builds live outside the clone so fresh clones on the same machine reuse them.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/portal-target
export PATH := $(HOME)/.cargo/bin:$(CURDIR)/tests/e2e/node_modules/.bin:$(PATH)

.PHONY: run demo test tools build

tools:
	@.ci/tools.sh

build: tools
	cargo leptos build --release

run: build
	@PORTAL_SITE_ROOT="$(CARGO_TARGET_DIR)/site" exec "$(CARGO_TARGET_DIR)/release/portal"

# `make run` with a simulated fleet of LLM agents feeding it (6 h of history, then live data).
demo: build
	@PORTAL_DEMO=true PORTAL_SITE_ROOT="$(CARGO_TARGET_DIR)/site" exec "$(CARGO_TARGET_DIR)/release/portal"

test: tools
	@.ci/test.sh
