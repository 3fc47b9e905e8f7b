# Deputy: `make run` starts the sandbox demo, `make test` runs every test.
GO ?= go
BENCHTIME ?= 2s

.PHONY: run build install test vet fuzz bench bench-external clean cc-deps browser-deps readme-deps mobile-deps bench-deps pg-deps mobile mobile-package

run:
	$(GO) run . demo

build:
	$(GO) build -buildvcs=auto -o deputy .

# deputy in $(go env GOBIN), or else $(go env GOPATH)/bin: on PATH if that is.
install:
	$(GO) install -buildvcs=auto .

# staticcheck runs from the module proxy at a pinned version (go.mod stays
# free of it); mobile/staticcheck.conf explains the one check it turns off.
# vet and staticcheck compile every dependency in the race detector's build
# mode (the packages' own source is all they read, and no file is built for
# one mode only), so `make test`'s race run reuses those builds instead of
# compiling everything, the companion's GLFW C code included, a second time.
# staticcheck itself is built normally, while vet runs; only the packages it
# loads get -race.
STATICCHECK = honnef.co/go/tools/cmd/staticcheck@v0.8.2
# cgo's C compiler for vet and the tests: clang digests the OpenGL bindings'
# generated C (github.com/go-gl/gl) in about 30 s where gcc takes about 160 s,
# alone on one core at the end of a cold vet.
vet test fuzz: export CC = clang
vet: cc-deps mobile-deps
	@tools=$$(mktemp -d); trap 'rm -rf "$$tools"' EXIT; \
	  GOBIN="$$tools" $(GO) install $(STATICCHECK) & install=$$!; \
	  echo "$(GO) vet -race ./..."; $(GO) vet -race ./...; vet=$$?; \
	  wait $$install || { echo "installing $(STATICCHECK) failed"; exit 1; }; [ $$vet = 0 ] || exit $$vet; \
	  echo "staticcheck ./..."; GOFLAGS=-race "$$tools/staticcheck" ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi

# The store contract runs on bbolt and PostgreSQL in every run; these packages'
# suites run a second time with their test servers on PostgreSQL
# (DEPUTY_TEST_STORE, internal/teststore). withpg starts one throwaway
# PostgreSQL for the whole run (internal/pgtest) and stops it at the end.
PG_PKGS = ./server ./server/client
# The short fuzz runs start first, at the lowest CPU priority, and go on
# beside vet and the race run: they take the time those leave idle (the C
# compiler alone on one core at the end of a cold vet, waits for fsync,
# timers, PostgreSQL); their output follows the tests'. Their build
# instruments every package it compiles, so it shares nothing with vet's.
# The packages only the tests need (Chromium, PostgreSQL, the README's tools)
# install while vet compiles; their output follows vet's. A failed vet stops
# the fuzz runs: make passes SIGTERM on to what it runs. (Not setsid: a new
# session is a new scheduler autogroup, which nice does not reach.)
test: cc-deps mobile-deps
	@depslog=$$(mktemp); fuzzlog=$$(mktemp); trap 'rm -f "$$depslog" "$$fuzzlog"' EXIT; \
	  nice -n 19 $(MAKE) --no-print-directory fuzz FUZZTIME=500x > "$$fuzzlog" 2>&1 & fuzz=$$!; \
	  $(MAKE) --no-print-directory browser-deps readme-deps pg-deps > "$$depslog" 2>&1 & deps=$$!; \
	  $(MAKE) --no-print-directory vet; vetted=$$?; \
	  wait $$deps; installed=$$?; cat "$$depslog"; \
	  if [ $$vetted != 0 ] || [ $$installed != 0 ]; then kill -TERM $$fuzz 2>/dev/null; wait $$fuzz; \
	    [ $$vetted = 0 ] || exit $$vetted; exit $$installed; fi; \
	  echo "$(GO) test -race ./..., then on PostgreSQL $(PG_PKGS); make fuzz at nice 19 beside them"; \
	  $(GO) run -race ./internal/pgtest/withpg sh -c '$(GO) test -race -count=1 ./... && \
	    DEPUTY_TEST_STORE=postgres $(GO) test -race -count=1 $(PG_PKGS)'; tests=$$?; \
	  wait $$fuzz; fuzzed=$$?; echo "make fuzz FUZZTIME=500x:"; cat "$$fuzzlog"; \
	  [ $$tests = 0 ] || exit $$tests; exit $$fuzzed

# apt-install is the shell that installs Debian's packages $(1), as root or
# with sudo; the *-deps targets below call it for what they find missing.
apt-install = sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $(1)

# cgo (the race detector, the companion's GLFW driver) needs a C compiler:
# clang for vet and the tests (see CC above), gcc for builds; install
# Debian's when missing (root, or sudo).
cc-deps:
	@missing=; for c in clang gcc; do command -v $$c >/dev/null 2>&1 || missing="$$missing $$c"; done; \
	  if [ -z "$$missing" ]; then echo "cc-deps: $$(clang --version | head -1), $$(gcc --version | head -1)"; \
	  elif ! command -v apt-get >/dev/null 2>&1; then echo "cc-deps: no apt-get; install$$missing by hand"; exit 1; else \
	  echo "cc-deps: installing Debian's$$missing"; $(call apt-install,$$missing libc6-dev); \
	fi

# TestREADME (readme_test.go) runs the README's walkthroughs, which use curl,
# jq and openssl; install Debian's when missing (root, or sudo).
README_DEPS = curl jq openssl
readme-deps:
	@missing=; for p in $(README_DEPS); do command -v $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -z "$$missing" ]; then echo "readme-deps: curl, jq and openssl installed"; \
	  elif ! command -v apt-get >/dev/null 2>&1; then echo "readme-deps: no apt-get; install$$missing by hand"; exit 1; else \
	    echo "readme-deps: installing$$missing"; $(call apt-install,$$missing); \
	  fi

# PostgreSQL, for the tests of the PostgreSQL store and the suites run on it:
# Debian's server package (only its programs are used: the tests start their
# own throwaway server). Install it when missing (root, or sudo).
pg-deps:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then echo "pg-deps: PostgreSQL installed"; \
	  elif ! command -v apt-get >/dev/null 2>&1; then echo "pg-deps: no apt-get; install PostgreSQL 14 or newer by hand"; exit 1; else \
	    echo "pg-deps: installing Debian's postgresql"; $(call apt-install,postgresql); \
	  fi

# The companion app (mobile/) builds for desktops with Fyne's GLFW driver,
# whose C code needs Debian's OpenGL and X11 headers; `go test ./...` compiles
# it too. Install what is missing (root, or sudo); nothing happens when all
# are there, or on a system without dpkg.
MOBILE_DEPS = libgl1-mesa-dev libxcursor-dev libxrandr-dev libxinerama-dev libxi-dev libxxf86vm-dev
mobile-deps:
	@if ! command -v dpkg >/dev/null 2>&1; then echo "mobile-deps: no dpkg; install the OpenGL and X11 headers Fyne needs by hand"; exit 0; fi; \
	  missing=; for p in $(MOBILE_DEPS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -z "$$missing" ]; then echo "mobile-deps: all installed"; else \
	    echo "mobile-deps: installing$$missing"; $(call apt-install,$$missing); \
	  fi

# The companion's desktop binary; `go run -tags mobile ./mobile` shows the
# phone form factor instead. The first build compiles GLFW (minutes).
mobile: mobile-deps
	$(GO) build -o deputy-companion ./mobile

# A Linux desktop package (deputy-companion.tar.xz) by the fyne tool; see the
# README for Android and iOS.
COMPANION_ID = dev.deputy.companion
mobile-package: mobile
	$(GO) tool fyne package -os linux --exe deputy-companion --name deputy-companion \
	  --app-id $(COMPANION_ID) --icon assets/icon.png --app-version 0.1.0 --app-build 1

# The browser test (server/browsertest) drives Debian's headless Chromium;
# install it when it is missing (root, or sudo).
CHROMIUM ?= /usr/bin/chromium
browser-deps:
	@if [ -x $(CHROMIUM) ]; then echo "browser-deps: $$($(CHROMIUM) --version 2>/dev/null)"; else \
	  echo "browser-deps: installing Debian's chromium for the browser test"; $(call apt-install,chromium); \
	fi

# Each native fuzz target runs briefly; raise FUZZTIME for a longer hunt.
# `make test` counts executions (500x) rather than seconds: a time budget ends
# with a deadline that a busy worker can miss, which Go reports as a failure.
FUZZTIME ?= 30s
# FuzzVerifyBody writes to bbolt, so its coverage varies a little from run to run:
# minimising every "new" input for the default 60s would stall it.
fuzz: cc-deps
	$(GO) test ./server -run '^$$' -fuzz '^FuzzDecodeRequests$$' -fuzztime $(FUZZTIME)
	$(GO) test ./server -run '^$$' -fuzz '^FuzzVerifyBody$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 10x
	$(GO) test ./server -run '^$$' -fuzz '^FuzzPushApproveBody$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 10x
	$(GO) test ./password -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME)
	$(GO) test ./mobile/deeplink -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./core -run '^$$' -fuzz '^FuzzPassword$$' -fuzztime $(FUZZTIME)
	$(GO) test ./core -run '^$$' -fuzz '^FuzzSearchFilter$$' -fuzztime $(FUZZTIME)
	$(GO) test ./core -run '^$$' -fuzz '^FuzzNormaliseOrigin$$' -fuzztime $(FUZZTIME)
	$(GO) test ./server -run '^$$' -fuzz '^FuzzHasNumber$$' -fuzztime $(FUZZTIME)
	$(GO) test ./server/client -run '^$$' -fuzz '^FuzzErrorResponse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./server/client -run '^$$' -fuzz '^FuzzPushStream$$' -fuzztime $(FUZZTIME)
	$(GO) test ./mobile/authenticator -run '^$$' -fuzz '^FuzzDecodeCredentialFile$$' -fuzztime $(FUZZTIME)
	$(GO) test ./mobile/authenticator -run '^$$' -fuzz '^FuzzParseOptions$$' -fuzztime $(FUZZTIME)
	$(GO) test ./kycsig -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME)

# Benchmarks: micro-benchmarks with testing.B, then load runs through the HTTP
# API over loopback: wrk (a load generator in its own process) for the
# authenticated read, internal/loadgen with a fixed number of requests for the
# rest. Load figures come with host-steal-%, the CPU time the hypervisor gave
# other guests meanwhile. The main server benchmarks then run again on a
# throwaway PostgreSQL (fsync off), on one instance and on two replicas.
bench: bench-deps
	$(GO) test ./password -run '^$$' -bench . -benchtime $(BENCHTIME) -benchmem
	$(GO) test ./core/boltstore -run '^$$' -bench . -benchtime $(BENCHTIME) -benchmem
	$(GO) test ./server -run '^$$' -bench '^BenchmarkCorporateGetHandler$$' -benchtime $(BENCHTIME) -cpu 1
	$(GO) test ./server -run '^$$' -bench '^BenchmarkCorporateGet$$' -benchtime 1x
	$(GO) test ./server -run '^$$' -bench '^BenchmarkLogin$$' -benchtime 600x
	$(GO) test ./server -run '^$$' -bench '^BenchmarkOTPVerify$$' -benchtime 10000x
	$(GO) test ./server -run '^$$' -bench '^BenchmarkUserCreate$$' -benchtime 10000x
	$(GO) test ./server -run '^$$' -bench '^BenchmarkUserCreateWebhooks$$' -benchtime 12000x
	$(GO) test ./server -run '^$$' -bench '^BenchmarkUserListFiltered$$' -benchtime 5000x
	$(GO) test ./server -run '^$$' -bench '^BenchmarkPushApprove$$' -benchtime 3000x
	$(GO) test ./server -run '^$$' -bench '^BenchmarkTokenise$$' -benchtime 20000x
	$(GO) test ./server -run '^$$' -bench '^BenchmarkAccessToken$$' -benchtime 20000x
	$(GO) test ./server -run '^$$' -bench '^BenchmarkBulkUserCreate$$' -benchtime 1x
	$(GO) test ./tui -run '^$$' -bench . -benchtime 5x
	$(GO) test ./core -run '^$$' -bench '^BenchmarkAuditExportVerify$$' -benchtime 1x
	$(GO) test ./core -run '^$$' -bench '^BenchmarkWebhookWriteOverhead$$' -benchtime 20x -v
	$(GO) test ./webhook -run '^$$' -bench '^BenchmarkSend$$' -benchtime 20000x
	$(GO) test ./core -run '^$$' -bench '^BenchmarkWebhookDelivery$$' -benchtime 1x
	DEPUTY_TEST_STORE=postgres $(GO) run ./internal/pgtest/withpg $(GO) test ./server -run '^$$' -bench '^BenchmarkCorporateGet$$' -benchtime 1x
	DEPUTY_TEST_STORE=postgres $(GO) run ./internal/pgtest/withpg $(GO) test ./server -run '^$$' -bench '^BenchmarkLogin$$' -benchtime 600x
	DEPUTY_TEST_STORE=postgres $(GO) run ./internal/pgtest/withpg $(GO) test ./server -run '^$$' -bench '^BenchmarkOTPVerify$$' -benchtime 10000x
	DEPUTY_TEST_STORE=postgres $(GO) run ./internal/pgtest/withpg $(GO) test ./server -run '^$$' -bench '^BenchmarkUserCreate$$' -benchtime 10000x
	$(GO) run ./internal/pgtest/withpg $(GO) test ./internal/command -run '^$$' -bench '^BenchmarkPushAcrossReplicas$$' -benchtime 300x
	$(GO) run ./internal/pgtest/withpg $(GO) test ./core/storecopy -run '^$$' -bench '^BenchmarkCopyBoltToPostgres$$' -benchtime 1x
	$(MAKE) bench-external

# Deputy where it is bound, loaded from outside: a real `deputy serve
# --sandbox` process on a bbolt file, and deputyload (internal/loadgen/deputyload)
# in a process of its own; creates and step-ups against the batched-commit
# limit, sign-ins against the raw argon2id rate, each limit measured in the
# same run. Prints a table (a few minutes).
bench-external:
	$(GO) test . -run '^$$' -bench '^BenchmarkExternalLoad$$' -benchtime 1x -timeout 30m

# wrk, the HTTP load generator of BenchmarkCorporateGet (root, or sudo).
bench-deps:
	@if command -v wrk >/dev/null 2>&1; then echo "bench-deps: wrk installed"; else \
	  echo "bench-deps: installing Debian's wrk"; $(call apt-install,wrk); \
	fi

clean:
	rm -f deputy deputy-companion deputy-companion.tar.xz
