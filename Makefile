# Vigil — developer entry points. `make test` is what CI runs (.ci/run).
SWIFT        ?= swift
SWIFT_FLAGS  ?=

.PHONY: all build test unit etcd demo sim-demo e2e check-purity random golden clean deb package-check shipped

all: build

## build: compile everything with warnings as errors
build:
	$(SWIFT) build $(SWIFT_FLAGS)

## check-purity: the brain imports ClusterModel only
check-purity:
	scripts/check-brain-purity

## format: rewrite the sources as .swift-format says; lint: fail on any difference (run by `make test`)
FORMAT_PATHS = Sources Tests bench/vigil-bench Package.swift
format:
	$(SWIFT) format format -i -r $(FORMAT_PATHS)
lint:
	$(SWIFT) format lint --strict -r $(FORMAT_PATHS)

## test: every tier that runs here (unit, simulation incl. 2,000 random seeds on the release-built
## simulator, store conformance
## against the in-memory store and a real 3-member etcd, etcd failure tests, managed etcd)
test: check-purity lint etcd
	$(SWIFT) build --build-tests $(SWIFT_FLAGS)
	@# Separate passes: the CPU-bound random simulation would starve the real-etcd timings if run together.
	scripts/run-tests --skip RandomRunTests
	VIGIL_SIM_SEEDS=20 scripts/run-tests --filter RandomRunTests
	@# The 2,000 random seeds (+200 without watchdog) on the release-built simulator: ~5x less CPU.
	$(SWIFT) build -c release --product vigil-sim $(SWIFT_FLAGS)
	scripts/random-runs
	$(MAKE) tsan

## tsan: the fence path's and the script runner's concurrency tests under ThreadSanitizer (own build directory)
tsan:
	$(SWIFT) build --build-tests --sanitize=thread --scratch-path .build-tsan $(SWIFT_FLAGS)
	TSAN_OPTIONS="suppressions=$(CURDIR)/scripts/tsan-suppressions.txt halt_on_error=0" \
	  scripts/run-tests --scratch-path .build-tsan --sanitize=thread --filter 'FenceKeeperTests|ScriptRunnerTests|LoginGuardTests|WatchdogTests'

## etcd: Debian's etcd-server, needed by the store tiers (installed if missing; needs root)
etcd:
	@command -v etcd >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server etcd-client; }
	@# The package enables a system etcd on 2379; tests use their own ports, so it may stay or go.
	@etcd --version | head -1

## unit: the fast tiers only (20 random simulation seeds instead of 2,000)
unit: check-purity etcd
	$(SWIFT) build --build-tests $(SWIFT_FLAGS)
	VIGIL_SIM_SEEDS=20 scripts/run-tests --skip RandomRunTests
	VIGIL_SIM_SEEDS=20 scripts/run-tests --filter RandomRunTests

## demo: 3 nodes in network namespaces (root); the node holding the VIP crashes, the VIP moves.
## Keeps running until Ctrl-C; `make demo ONCE=1` exits after the failover.
demo: etcd
	$(SWIFT) build $(SWIFT_FLAGS) --product vigild
	$(SWIFT) build $(SWIFT_FLAGS) --product vigil
	e2e/demo.sh $(if $(ONCE),--once,)

## sim-demo: the same story on the deterministic simulation (no root, no network)
sim-demo:
	$(SWIFT) build $(SWIFT_FLAGS) --product vigil-sim
	$(SWIFT) run --skip-build vigil-sim demo

## e2e: every numbered scenario in e2e/ (root: network namespaces)
e2e: etcd
	$(SWIFT) build $(SWIFT_FLAGS) --product vigild
	$(SWIFT) build $(SWIFT_FLAGS) --product vigil
	e2e/run-all

## random: more random seeds, e.g. make random FROM=10000 COUNT=5000
FROM  ?= 1
COUNT ?= 1000
random:
	$(SWIFT) build -c release --product vigil-sim
	$(SWIFT) run -c release --skip-build vigil-sim random --from $(FROM) --count $(COUNT)

## golden: rewrite the golden scenario files after an intended behaviour change (review the diff!)
golden:
	VIGIL_UPDATE_GOLDEN=1 $(SWIFT) test --filter GoldenScenarioTests

## shipped: vigild and vigil built as the package builds them (release, Swift's runtime linked
## statically: a CLI process starts in about half the time), in .build-static/release: what the
## benchmarks measure (VIGIL_BIN=.build-static/release)
shipped:
	$(SWIFT) build -c release --static-swift-stdlib --scratch-path .build-static --product vigild $(SWIFT_FLAGS)
	$(SWIFT) build -c release --static-swift-stdlib --scratch-path .build-static --product vigil $(SWIFT_FLAGS)

## deb: dist/vigil_<version>_<arch>.deb from a release build (Swift's runtime linked statically)
deb:
	scripts/build-deb

## package-check: lintian, install it, verify the unit, run e2e scenarios on the installed binaries (root)
package-check: deb etcd
	e2e/package-check.sh

clean:
	rm -rf .build .build-static dist
