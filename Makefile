# backfill — see README.md. Every target works on a fresh Debian machine
# with Go and mariadb-server installed.
GO ?= go
BIN := bin

.PHONY: all build test test-short test-long lint bench fuzz demo clean bench-dump bench-fetch bench-import

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/...

# The default suite: lint, then every test against the real database and
# the real binaries, the demo end to end, and a short bounded run of every
# fuzz target (a count of inputs rather than a time: see fuzz below).
test: lint
	$(GO) test -count=1 ./...
	$(MAKE) --no-print-directory demo
	$(MAKE) --no-print-directory fuzz FUZZTIME=500x

test-short:
	$(GO) test -count=1 -short ./...

# Slow fault, load and security tests: not part of `make test` (nor of CI,
# which runs `make test`); run them after touching lib/load, lib/fetch,
# lib/httpapi, scripts/bf-pull or the harness.
test-long:
	BACKFILL_LONG=1 $(GO) test -count=1 -timeout 30m ./...

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt wants to rewrite:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# bf-dump against mysqldump --single-transaction --quick | zstd -1 on one
# generated table (scale 1: a million rows), with peak RSS; see the script.
bench-dump:
	sh scripts/bench-dump

# bf-fetch all -j 4 against curl of the same dumps one after another, over
# loopback from a bf-serve of a generated database (scale 1); see the script.
bench-fetch:
	sh scripts/bench-fetch

# bf-import -j 2 against zstd -dc | mariadb, mysqldump | mariadb and
# myloader -t 2 loading the same generated database (scale 1, about 1.3
# million rows), in the same run; see the script.
bench-import:
	sh scripts/bench-import

# backfill end to end in half a minute: a generated "production" database,
# bf-serve, a full pull, a delta pull, bf-status; see the script.
demo:
	sh scripts/demo

# A short bounded fuzz run of every fuzz target (found by grep, so only the
# packages that have one are compiled). A failing target runs once more: Go
# 1.26's fuzzer can end with a bare "context deadline exceeded" on a loaded
# machine (golang/go#75804), while a real failure saves its input under
# testdata/fuzz, which the second run replays and fails on again.
FUZZTIME ?= 10s
fuzz:
	@grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r f; do \
	  dir=$$(dirname "$$f"); \
	  for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$$f"); do \
	    echo "fuzz $$dir $$t ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) "$$dir" || \
	    { echo "fuzz $$t failed; once more (a real failure was saved under testdata/fuzz and fails again)"; \
	      $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) "$$dir"; } || exit 1; \
	  done; \
	done

clean:
	rm -rf $(BIN)
