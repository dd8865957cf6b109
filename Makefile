# Vigil — developer entry points. `make test` is what CI runs (.ci/run).
SWIFT        ?= swift
SWIFT_FLAGS  ?=

.PHONY: all build test unit demo check-purity random golden clean

all: build

## build: compile everything with warnings as errors
build:
	$(SWIFT) build $(SWIFT_FLAGS)

## check-purity: the brain imports ClusterModel only
check-purity:
	scripts/check-brain-purity

## test: every tier that runs here (unit, simulation incl. 2,000 random seeds, store conformance)
test: check-purity
	$(SWIFT) build --build-tests $(SWIFT_FLAGS)
	$(SWIFT) test --skip-build

## unit: the fast tiers only (no random simulation seeds)
unit: check-purity
	$(SWIFT) build --build-tests $(SWIFT_FLAGS)
	VIGIL_SIM_SEEDS=20 $(SWIFT) test --skip-build

## demo: a simulated 3-node cluster; the node holding the VIP crashes and the VIP moves
demo:
	$(SWIFT) build $(SWIFT_FLAGS) --product vigil-sim
	$(SWIFT) run --skip-build vigil-sim demo

## random: more random seeds, e.g. make random FROM=10000 COUNT=5000
FROM  ?= 1
COUNT ?= 1000
random:
	$(SWIFT) build -c release --product vigil-sim
	$(SWIFT) run -c release --skip-build vigil-sim random --from $(FROM) --count $(COUNT)

## golden: rewrite the golden scenario files after an intended behaviour change (review the diff!)
golden:
	VIGIL_UPDATE_GOLDEN=1 $(SWIFT) test --filter GoldenScenarioTests

clean:
	rm -rf .build
