# The front door. `make demo` and `make test` install what is missing, configure, build and run.
BUILD ?= build
JOBS ?= $(shell nproc)
WERROR ?= OFF
BUILD_TYPE ?= RelWithDebInfo
SOURCES := $(shell git ls-files '*.cpp' '*.h' 2>/dev/null)

.PHONY: all deps configure build demo test bench soak format format-check lint clean

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DSPOTLINE_WERROR=$(WERROR) >/dev/null

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

demo: build
	$(BUILD)/bin/spotline demo

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS) --timeout 600

# The crash test at length: 300 SIGKILLs per service (rv, dose, delivery) at spot starts and 300 at
# random moments, instead of CI's 20 and 10.
soak: build
	SPOTLINE_CRASH_RUNS=$${SPOTLINE_CRASH_RUNS:-300} SPOTLINE_CRASH_ANYTIME_RUNS=$${SPOTLINE_CRASH_ANYTIME_RUNS:-300} \
	  $(BUILD)/bin/crash_tests

bench: build
	$(BUILD)/bin/spotline bench pipeline --spots 300000
	@if [ -x $(BUILD)/bin/journal_bench ]; then $(BUILD)/bin/journal_bench; fi

format:
	clang-format -i $(SOURCES)

format-check:
	clang-format --dry-run --Werror $(SOURCES)

lint: configure
	clang-tidy -p $(BUILD) --quiet $(filter %.cpp,$(SOURCES))

clean:
	rm -rf $(BUILD)
