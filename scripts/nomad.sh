#!/bin/sh
# Builds the Nomad server used by internal/nomadtest (backends/nomad tests)
# from the Go module proxy, once, into a cache directory outside the repo,
# and prints the binary's path. Skips the build when the binary is there.
#
#   NOMAD_BIN="$(scripts/nomad.sh)" go test ./backends/nomad/...
#
# The recipe (issue 4): an empty temp module, `go get` Nomad v1.10.0, two
# replaces that make it build with today's module graph, `go build -mod=mod`.
# About 5 minutes on 2 cores. Only the server part of this build works; the
# tests run it server-only on loopback. Progress goes to stderr; on failure
# it prints nothing and exits non-zero.
set -eu

VERSION=1.10.0
API=v0.0.0-20260907080526-08ef8f3d26da
HCL=v1.0.1-0.20201016140508-a07e7d50bbee
GO="${GO:-go}"

dir="${NOMAD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hms-mgmt/bin}"
bin="$dir/nomad-$VERSION"
if [ -x "$bin" ]; then
	echo "$bin"
	exit 0
fi

mkdir -p "$dir"
# One build at a time (make test in two shells): wait for the other one.
if command -v flock >/dev/null 2>&1 && [ -z "${NOMAD_SH_LOCKED:-}" ]; then
	NOMAD_SH_LOCKED=1 exec flock "$dir/.nomad-$VERSION.lock" "$0" "$@"
fi
if [ -x "$bin" ]; then
	echo "$bin"
	exit 0
fi
tmp="$(mktemp -d "${TMPDIR:-/tmp}/nomadbuild.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT INT TERM
start=$(date +%s)
echo "building Nomad $VERSION into $bin (about 5 minutes)…" >&2
(
	cd "$tmp"
	export GOFLAGS=-mod=mod GOWORK=off
	"$GO" mod init nomadbuild >/dev/null 2>&1
	"$GO" get "github.com/hashicorp/nomad@v$VERSION" >&2
	"$GO" mod edit \
		-replace "github.com/hashicorp/nomad/api=github.com/hashicorp/nomad/api@$API" \
		-replace "github.com/hashicorp/hcl=github.com/hashicorp/hcl@$HCL"
	"$GO" build -mod=mod -o "$tmp/nomad" github.com/hashicorp/nomad >&2
)
"$tmp/nomad" version >&2
# Copy next to the target, then rename: never a half-written binary at $bin.
cp "$tmp/nomad" "$bin.partial.$$"
mv -f "$bin.partial.$$" "$bin"
echo "built Nomad $VERSION in $(( $(date +%s) - start ))s" >&2
echo "$bin"
