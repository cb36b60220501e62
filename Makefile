# The portal's two commands (see README.md):
#   make run    install what is missing, build the release, serve http://127.0.0.1:3000
#   make test   install what is missing, then every check and test, as CI runs them
# and, for working on it:
#   make watch  build (debug), serve, and rebuild, restart and reload on every change
#   make demo   make run with a simulated fleet of LLM agents feeding it
SHELL := bash
.SHELLFLAGS := -euo pipefail -c

# Builds live outside the clone so fresh clones on the same machine reuse them.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/portal-target
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: run demo test tools build watch

tools:
	@.ci/tools.sh

build:
	@.ci/tools.sh build
	@cargo xtask build --release

run: build
	@PORTAL_SITE_ROOT="$(CARGO_TARGET_DIR)/site" exec "$(CARGO_TARGET_DIR)/release/portal"

# `make run` with a simulated fleet of LLM agents feeding it (6 h of history, then live data).
demo: build
	@PORTAL_DEMO=true PORTAL_SITE_ROOT="$(CARGO_TARGET_DIR)/site" exec "$(CARGO_TARGET_DIR)/release/portal"

watch:
	@.ci/tools.sh build
	@cargo xtask watch

test: tools
	@.ci/test.sh
