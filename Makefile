# go-smtp-source: build, test, benchmark.
GO      ?= go
BIN     := bin
RACE_PKGS := ./protocol/... ./engine/... ./sink/... ./tlsconn/... ./metrics/... ./cluster/... ./e2e/...
# Postfix keeps postconf, postfix and smtp-sink's helpers in sbin.
export PATH := $(PATH):/usr/sbin:/sbin

.PHONY: all build install deps test test-source-lane test-other-lane vet fmt-check race fuzz bench demo clean

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/...

# The two commands and their man pages, under $(DESTDIR)$(PREFIX) (make install PREFIX=$$HOME/.local,
# or DESTDIR=pkgroot for a package).
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
install: build
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(BIN)/go-smtp-source $(BIN)/go-smtp-sink $(DESTDIR)$(BINDIR)/
	install -m 0644 man/go-smtp-source.1 man/go-smtp-sink.1 $(DESTDIR)$(MANDIR)/man1/

# The test peers listed in .ci/peers (Postfix, swaks and the Perl modules it loads, nats-server,
# ss, openssl): installed when missing and run as root on Debian, otherwise named.
deps:
	@./.ci/deps

# The one test command (README, .ci/run): the peers, formatting, vet, all tests, the race detector on
# the packages with concurrency, and a short run of every fuzz target. They run in two lanes
# of one test binary (or one fuzz run) at a time, so that two run at once, each lane about
# as long as the other: cmd/go-smtp-source, the longest package, then the fuzz targets in
# one; every other package, deploy's, then the race run in the other. The timing tests widen
# their bounds by the scheduling delay they measure meanwhile; the capacity searches
# (find-max) measure the server's capacity before and after the search and bound the rate
# found by both; the cluster stop test waits for the sink's sessions to close instead of
# trusting a log line.
test: deps fmt-check vet
	@$(MAKE) --no-print-directory -j2 test-source-lane test-other-lane

SOURCE_PKG := ./cmd/go-smtp-source/
test-source-lane:
	$(GO) test -p 1 -timeout 30m -count=1 $(SOURCE_PKG)
	@$(MAKE) --no-print-directory fuzz FUZZTIME=20000x FUZZMINIMIZE=500x

test-other-lane:
	$(GO) test -p 1 -timeout 30m -count=1 $$($(GO) list ./... | grep -vx '$(shell $(GO) list $(SOURCE_PKG))')
	cd deploy && $(GO) test -p 1 -count=1 ./...
	$(GO) test -p 1 -count=1 -timeout 30m -race $(RACE_PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...
	cd deploy && $(GO) vet ./...

FUZZTIME ?= 30s
FUZZMINIMIZE ?= 60s
# Each parser's fuzz target, with its seed corpus in the package's testdata/.
# make test bounds fuzzing by executions, not time: with a duration Go 1.26's fuzz
# coordinator can fail a clean run with "context deadline exceeded" when the time runs
# out while a worker minimises a new input (go.dev/issue/75804, fixed in Go 1.27).
# Each package's instrumented test binary is built once (go test -c -fuzz) and run for each
# of its targets in the package's folder with go test's fuzz cache, as go test -fuzz would:
# one link per package instead of one per target.
fuzz:
	@bins=$$(mktemp -d) && trap 'rm -rf "$$bins"' EXIT && cache=$$($(GO) env GOCACHE)/fuzz && \
	for dir in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
	  pkg=$$(cd $$dir && $(GO) list .) && bin=$$bins/$$(echo $$pkg | tr / _).test && \
	  $(GO) test -c -fuzz . -o $$bin $$dir || exit 1; \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go | cut -d' ' -f2 | sort); do \
	    echo "fuzz $$dir $$f ($(FUZZTIME))"; \
	    (cd $$dir && $$bin -test.paniconexit0 -test.run '^$$' -test.fuzz "^$$f$$" -test.fuzztime $(FUZZTIME) \
	      -test.fuzzminimizetime $(FUZZMINIMIZE) -test.fuzzcachedir $$cache/$$pkg) || exit 1; \
	  done; \
	done

# Side-by-side with Postfix smtp-source against the same sink; prints the table for the README.
bench: build
	$(GO) test -run '^$$' -bench 'HotPathMessage|ClientMessage|ClientPipelined' -benchmem ./engine/ ./protocol/
	./benchmarks/run.sh
	./benchmarks/sink.sh
	./benchmarks/tls.sh
	./cluster/bench/scale.sh
	$(GO) run ./benchmarks/wire -out benchmarks/out/wire.md

# The main job against a sink the project starts itself; then a short run's HTML report
# (report/demo.sh prints its path).
demo: build
	./benchmarks/demo.sh
	./report/demo.sh

clean:
	rm -rf $(BIN) benchmarks/out
