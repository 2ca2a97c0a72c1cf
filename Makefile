# make test   vet and every test with the race detector, real servers included; then
#             the ledger's model-based test on SQLite and PostgreSQL without it, all seeds,
#             and the logship outage test (its RSS bound means nothing under the race detector)
# make bench  the benchmarks, on one core, with allocations
# make lint   gofmt, go vet, staticcheck, import isolation, go mod tidy
# make fuzz   each fuzz target for FUZZTIME (default 30s)

GO         ?= go
STATICCHECK = honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME   ?= 30s
BENCHTIME  ?= 1s

# Domain packages: everything but the backends and the examples.
DOMAIN = $(shell $(GO) list ./... | grep -v -e /backends/ -e /examples/)
# Packages below the domain: internal/ at the top of the module (CEL, HTTP
# errors, the test-server harnesses).
BELOW = $(shell $(GO) list ./internal/...)

.PHONY: all test deps vet bench lint lint-imports lint-layers lint-plugin-imports lint-gen fuzz

all: lint test

test: vet deps
	PYTHON="$$(scripts/python-requests.sh)" NOMAD_BIN="$$(scripts/nomad.sh 2>/dev/null)" VICTORIALOGS_BIN="$$(scripts/victorialogs.sh 2>/dev/null)" SEAWEEDFS_BIN="$$(scripts/seaweedfs.sh 2>/dev/null)" $(GO) test -race -count=1 -timeout 15m ./...
	$(GO) test -count=1 -timeout 10m -run '^TestLedgerConformance$$' ./backends/sqlite/ ./backends/postgres/
	VICTORIALOGS_BIN="$$(scripts/victorialogs.sh 2>/dev/null)" $(GO) test -count=1 -timeout 10m -run '^TestOutage$$' ./backends/bulk/

vet:
	$(GO) vet ./...

# What the tests run: Debian's PostgreSQL (internal/pgtest) and Prometheus
# (internal/promtest), installed when missing and root; a Nomad server built
# once from the Go module proxy into ~/.cache/hms-mgmt/bin (internal/nomadtest;
# about 10 minutes cold), etcd + kube-apiserver likewise (internal/kubetest;
# about 15 minutes cold), VictoriaLogs likewise (internal/vltest; about
# 25 s cold), and SeaweedFS's weed for its S3 gateway (internal/s3test;
# about 12 minutes cold). Never fails: the tests then skip, or fail under
# CI=true.
deps:
	@scripts/debs.sh 'postgresql:initdb,/usr/lib/postgresql/*/bin/initdb' 'prometheus:/usr/bin/prometheus,prometheus' 'redis-server:/usr/bin/redis-server,redis-server'
	@scripts/nomad.sh >/dev/null || echo "Nomad build failed: backends/nomad tests skip (fail under CI=true)" >&2
	@scripts/kube.sh >/dev/null || echo "etcd/kube-apiserver build failed: backends/kubernetes tests skip (fail under CI=true)" >&2
	@scripts/victorialogs.sh >/dev/null || echo "VictoriaLogs build failed: backends/bulk's VictoriaLogs tests skip (fail under CI=true)" >&2
	@scripts/seaweedfs.sh >/dev/null || echo "SeaweedFS build failed: backends/s3 tests skip (fail under CI=true)" >&2

# VictoriaLogs as for make test: backends/bulk's BenchmarkShipVictoriaLogs
# ships 1,000,000 events per op, one op per side at the default BENCHTIME
# (an op takes longer than 1s), and skips without the binary.
bench:
	VICTORIALOGS_BIN="$$(scripts/victorialogs.sh 2>/dev/null)" $(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) -cpu 1 ./...

lint: vet lint-imports lint-layers lint-plugin-imports lint-gen
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) run $(STATICCHECK) ./...
	$(GO) mod tidy -diff

# Domain packages import neither grpc, go-plugin nor backends/.
lint-imports:
	@fail=0; for p in $(DOMAIN); do \
		bad=$$($(GO) list -deps $$p | grep -E '^(google\.golang\.org/grpc|github\.com/hashicorp/go-plugin|github\.com/hms-platform/mgmt/backends)(/|$$)'); \
		if [ -n "$$bad" ]; then echo "$$p imports: $$bad"; fail=1; fi; \
	done; \
	if [ $$fail = 0 ]; then echo "import isolation: ok ($(words $(DOMAIN)) domain packages)"; fi; \
	exit $$fail

# Packages under internal/ sit below the domain: they import the root
# package (shared types) and each other, never a domain package, a backend
# or an example.
lint-layers:
	@fail=0; for p in $(BELOW); do \
		bad=$$($(GO) list -deps $$p | grep '^github\.com/hms-platform/mgmt/' | grep -v '^github\.com/hms-platform/mgmt/internal/'); \
		if [ -n "$$bad" ]; then echo "$$p is below the domain but imports: $$bad"; fail=1; fi; \
	done; \
	if [ $$fail = 0 ]; then echo "layers: ok ($(words $(BELOW)) packages below the domain)"; fi; \
	exit $$fail

fuzz:
	@for p in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$p | grep '^Fuzz'); do \
			echo "== $$p $$f"; $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$p || exit 1; \
		done; \
	done

# Only backends/plugin/... imports grpc, go-plugin or hclog.
lint-plugin-imports:
	@bad=$$($(GO) list -f '{{.ImportPath}}: {{join .Imports " "}}' ./... | grep -v '^github.com/hms-platform/mgmt/backends/plugin' | grep -E ' (google\.golang\.org/grpc|github\.com/hashicorp/go-(plugin|hclog))(/| |$$)'); \
	if [ -n "$$bad" ]; then echo "only backends/plugin may import grpc, go-plugin or hclog:"; echo "$$bad"; exit 1; fi; \
	echo "plugin import isolation: ok"

# The generated protocol code is what go generate produces (pinned tools).
lint-gen:
	$(GO) generate ./backends/plugin/...
	@git diff --exit-code --stat -- backends/plugin/proto && test -z "$$(git status --porcelain backends/plugin/proto)" || { echo "go generate changed backends/plugin/proto: commit the regenerated code"; exit 1; }
