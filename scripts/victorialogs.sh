#!/bin/sh
# Builds the VictoriaLogs server used by internal/vltest (backends/bulk
# tests) from the Go module proxy, once, into a cache directory outside the
# repo, and prints the binary's path. Skips the build when the binary is
# there.
#
#   VICTORIALOGS_BIN="$(scripts/victorialogs.sh)" go test ./backends/bulk/...
#
# The recipe: `go install` of app/victoria-logs at a pinned version with cgo
# (its storage uses it), into a temp GOBIN, then a rename. About 25 s warm
# on 2 cores. Progress goes to stderr; on failure it prints nothing and
# exits non-zero.
set -eu

VERSION=1.52.2
GO="${GO:-go}"

dir="${VICTORIALOGS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hms-mgmt/bin}"
bin="$dir/victoria-logs-$VERSION"
if [ -x "$bin" ]; then
	echo "$bin"
	exit 0
fi

mkdir -p "$dir"
# One build at a time (make test in two shells): wait for the other one.
if command -v flock >/dev/null 2>&1 && [ -z "${VICTORIALOGS_SH_LOCKED:-}" ]; then
	VICTORIALOGS_SH_LOCKED=1 exec flock "$dir/.victoria-logs-$VERSION.lock" "$0" "$@"
fi
if [ -x "$bin" ]; then
	echo "$bin"
	exit 0
fi
tmp="$dir/vl-tmp.$$"
trap 'rm -rf "$tmp"' EXIT INT TERM
start=$(date +%s)
echo "building VictoriaLogs $VERSION into $bin…" >&2
(
	cd "$dir"
	GOBIN="$tmp" CGO_ENABLED=1 GOFLAGS=-mod=mod GOWORK=off \
		"$GO" install "github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@v$VERSION" >&2
)
"$tmp/victoria-logs" -version >&2 || true
# Move next to the target, then rename: never a half-written binary at $bin.
mv -f "$tmp/victoria-logs" "$bin.partial.$$"
mv -f "$bin.partial.$$" "$bin"
echo "built VictoriaLogs $VERSION in $(( $(date +%s) - start ))s" >&2
echo "$bin"
