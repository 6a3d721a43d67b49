# The README's two commands are `make run` and `make test`, as root or with sudo; both run
# the idempotent set-up first. The other targets are their parts.
SHELL := /bin/bash
export PATH := $(PATH):/opt/swift/usr/bin

.PHONY: need-root setup build run test faults install uninstall clean
RELEASE = swift build -c release --static-swift-stdlib

# Installing packages, loading schedulers and writing under /usr and /var need root: say so
# before any of it starts, naming the command to type.
goal = $(or $(MAKECMDGOALS),setup)
need-root:
	@if [ "$$(id -u)" -ne 0 ]; then \
	  echo "make $(goal): needs root (it installs packages and loads schedulers); run it as root, or: sudo make $(goal)" >&2; \
	  exit 1; \
	fi

setup: need-root
	bash scripts/setup.sh

# One self-contained binary: the BPF object is inside, the Swift runtime is linked in.
build: setup
	$(RELEASE) --product swiftland

# The main job: the A/B experiment (swiftland compare), in a sched_ext VM when this kernel has none.
run: build
	bash scripts/experiment.sh

# Unit and host-kernel tests, then the VM suite (one boot).
test: setup
	bash scripts/test.sh

# Everyday use: the binary, man page, completions and the systemd service (scripts/install.sh).
PREFIX ?= /usr/local
install: build
	$(RELEASE) --product generate-manual
	PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) BIN_DIR=$$($(RELEASE) --show-bin-path) bash scripts/install.sh

uninstall: need-root
	PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) BIN_DIR=unused bash scripts/install.sh --uninstall

# The fault suite alone (host checks, then one VM boot); rewrites docs/faults.md.
# SWIFTLAND_FAULTS_LONG=1 for the long variants.
faults: setup
	bash scripts/faults.sh

clean:
	rm -rf .build bpf/generated
