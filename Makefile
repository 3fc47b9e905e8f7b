# Deputy: `make run` starts the sandbox demo, `make test` runs every test.
GO ?= go
BENCHTIME ?= 2s

.PHONY: run build test vet fuzz bench clean browser-deps

run:
	$(GO) run . demo

build:
	$(GO) build -o deputy .

vet:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi

test: vet browser-deps
	$(GO) test -race -count=1 ./...
	$(MAKE) fuzz FUZZTIME=10s

# The browser test (server/browsertest) drives Debian's headless Chromium;
# install it when it is missing (root, or sudo).
CHROMIUM ?= /usr/bin/chromium
browser-deps:
	@if [ -x $(CHROMIUM) ]; then echo "browser-deps: $$($(CHROMIUM) --version 2>/dev/null)"; else \
	  echo "browser-deps: installing Debian's chromium for the browser test"; \
	  sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq chromium; \
	fi

# Each native fuzz target runs briefly; raise FUZZTIME for a longer hunt.
FUZZTIME ?= 30s
# FuzzVerifyBody writes to bbolt, so its coverage varies a little from run to run:
# minimising every "new" input for the default 60s would stall it.
fuzz:
	$(GO) test ./server -run '^$$' -fuzz '^FuzzDecodeRequests$$' -fuzztime $(FUZZTIME)
	$(GO) test ./server -run '^$$' -fuzz '^FuzzVerifyBody$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 10x
	$(GO) test ./server -run '^$$' -fuzz '^FuzzPushApproveBody$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 10x
	$(GO) test ./password -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME)
	$(GO) test ./core -run '^$$' -fuzz '^FuzzPassword$$' -fuzztime $(FUZZTIME)
	$(GO) test ./server -run '^$$' -fuzz '^FuzzNormaliseOrigin$$' -fuzztime $(FUZZTIME)
	$(GO) test ./server/client -run '^$$' -fuzz '^FuzzErrorResponse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./server/client -run '^$$' -fuzz '^FuzzPushStream$$' -fuzztime $(FUZZTIME)
	$(GO) test ./mobile/authenticator -run '^$$' -fuzz '^FuzzDecodeCredentialFile$$' -fuzztime $(FUZZTIME)
	$(GO) test ./mobile/authenticator -run '^$$' -fuzz '^FuzzParseOptions$$' -fuzztime $(FUZZTIME)
	$(GO) test ./kycsig -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME)

# Benchmarks: micro-benchmarks with testing.B, then load runs through the HTTP
# API over loopback (internal/loadgen), each with a fixed number of requests.
bench:
	$(GO) test ./password -run '^$$' -bench . -benchtime $(BENCHTIME) -benchmem
	$(GO) test ./core/boltstore -run '^$$' -bench . -benchtime $(BENCHTIME) -benchmem
	$(GO) test ./server -run '^$$' -bench '^BenchmarkCorporateGet$$' -benchtime 50000x
	$(GO) test ./server -run '^$$' -bench '^BenchmarkLogin$$' -benchtime 400x
	$(GO) test ./server -run '^$$' -bench '^BenchmarkOTPVerify$$' -benchtime 10000x
	$(GO) test ./server -run '^$$' -bench '^BenchmarkUserCreate$$' -benchtime 10000x
	$(GO) test ./server -run '^$$' -bench '^BenchmarkUserListFiltered$$' -benchtime 5000x
	$(GO) test ./server -run '^$$' -bench '^BenchmarkPushApprove$$' -benchtime 3000x
	$(GO) test ./server -run '^$$' -bench '^BenchmarkTokenise$$' -benchtime 20000x

clean:
	rm -f deputy
