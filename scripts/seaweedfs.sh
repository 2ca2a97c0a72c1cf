#!/bin/sh
# Builds SeaweedFS's `weed` (its S3 gateway is the S3-compatible server of
# internal/s3test, for job outputs) from the Go module proxy, once, into a
# cache directory outside the repo, and prints the binary's path. Skips the
# build when the binary is there.
#
#   SEAWEEDFS_BIN="$(scripts/seaweedfs.sh)" go test ./jobs/...
#
# The recipe: SeaweedFS publishes no module versions and its go.mod has a
# replace directive, which `go install pkg@version` refuses; so the module
# at a pinned pseudo-version is downloaded into the module cache and its
# weed command built there as the main module (CGO off), into a temporary
# file, then renamed. About 12 minutes cold on 2 cores. Progress goes to
# stderr; on failure it prints nothing and exits non-zero.
set -eu

VERSION=v0.0.0-20261109003541-7506e5f91cd6
GO="${GO:-go}"

dir="${SEAWEEDFS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hms-mgmt/bin}"
bin="$dir/weed-$VERSION"
if [ -x "$bin" ]; then
	echo "$bin"
	exit 0
fi

mkdir -p "$dir"
# One build at a time (make test in two shells): wait for the other one.
if command -v flock >/dev/null 2>&1 && [ -z "${SEAWEEDFS_SH_LOCKED:-}" ]; then
	SEAWEEDFS_SH_LOCKED=1 exec flock "$dir/.weed-$VERSION.lock" "$0" "$@"
fi
if [ -x "$bin" ]; then
	echo "$bin"
	exit 0
fi
tmp="$dir/weed-tmp.$$"
trap 'rm -rf "$tmp"' EXIT INT TERM
start=$(date +%s)
echo "building SeaweedFS weed $VERSION into $bin…" >&2
mkdir -p "$tmp"
src=$(cd "$dir" && GOWORK=off GOFLAGS= "$GO" mod download -json "github.com/seaweedfs/seaweedfs@$VERSION" |
	sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
if [ -z "$src" ] || [ ! -d "$src/weed" ]; then
	echo "seaweedfs.sh: could not download github.com/seaweedfs/seaweedfs@$VERSION" >&2
	exit 1
fi
(
	cd "$src"
	CGO_ENABLED=0 GOFLAGS= GOWORK=off "$GO" build -o "$tmp/weed" ./weed >&2
)
"$tmp/weed" version >&2 || true
# Move next to the target, then rename: never a half-written binary at $bin.
mv -f "$tmp/weed" "$bin.partial.$$"
mv -f "$bin.partial.$$" "$bin"
echo "built SeaweedFS weed in $(( $(date +%s) - start ))s" >&2
echo "$bin"
