#!/bin/sh
# Builds the etcd and kube-apiserver used by internal/kubetest
# (backends/kubernetes tests) from the Go module proxy, once, into a cache
# directory outside the repo, and prints their paths, one a line: etcd first,
# then kube-apiserver. Skips a build when its binary is there.
#
#   set -- $(scripts/kube.sh)
#   ETCD_BIN=$1 KUBE_APISERVER_BIN=$2 go test ./backends/kubernetes/...
#
# internal/kubetest also finds them in the cache directory by itself, so
# after one run of this script a plain `go test` uses them.
#
# The recipe (issue 4):
#   etcd 3.6.16: a temp module whose main.go calls etcdmain.Main(os.Args),
#     `go get go.etcd.io/etcd/server/v3@v3.6.16`, `go build -mod=mod`.
#   kube-apiserver v1.36.3: a temp module requiring k8s.io/kubernetes@v1.36.3
#     with every `k8s.io/<m> => ./staging/...` replace of that version's go.mod
#     turned into `k8s.io/<m>=k8s.io/<m>@v0.36.3`, then
#     `go build -mod=mod k8s.io/kubernetes/cmd/kube-apiserver`.
# About 5 minutes for both on 2 cores. Progress goes to stderr; on failure it
# prints nothing and exits non-zero.
#
#   KUBE_CACHE_DIR   where the binaries go (default ~/.cache/hms-mgmt/bin)
#   GO               the go command (default go)
set -eu

ETCD_VERSION=3.6.16
KUBE_VERSION=1.36.3
STAGING_VERSION=v0.36.3
GO="${GO:-go}"

dir="${KUBE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hms-mgmt/bin}"
etcd_bin="$dir/etcd-$ETCD_VERSION"
kube_bin="$dir/kube-apiserver-$KUBE_VERSION"
if [ -x "$etcd_bin" ] && [ -x "$kube_bin" ]; then
	echo "$etcd_bin"
	echo "$kube_bin"
	exit 0
fi

mkdir -p "$dir"
# One build at a time (make test in two shells): wait for the other one.
if command -v flock >/dev/null 2>&1 && [ -z "${KUBE_SH_LOCKED:-}" ]; then
	KUBE_SH_LOCKED=1 exec flock "$dir/.kube-$KUBE_VERSION.lock" "$0" "$@"
fi
tmp="$(mktemp -d "${TMPDIR:-/tmp}/kubebuild.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT INT TERM
export GOFLAGS=-mod=mod GOWORK=off

# install SRC DST: copy next to the target, then rename, so that there is
# never a half-written binary at DST.
install_bin() {
	cp "$1" "$2.partial.$$"
	mv -f "$2.partial.$$" "$2"
}

if [ ! -x "$etcd_bin" ]; then
	start=$(date +%s)
	echo "building etcd $ETCD_VERSION into $etcd_bin…" >&2
	mkdir "$tmp/etcd"
	(
		cd "$tmp/etcd"
		"$GO" mod init etcdbuild >/dev/null 2>&1
		cat >main.go <<-'EOF'
		package main

		import (
			"os"

			"go.etcd.io/etcd/server/v3/etcdmain"
		)

		func main() { etcdmain.Main(os.Args) }
		EOF
		"$GO" get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" >&2
		"$GO" build -mod=mod -o "$tmp/etcd/etcd" . >&2
	)
	"$tmp/etcd/etcd" --version >&2
	install_bin "$tmp/etcd/etcd" "$etcd_bin"
	echo "built etcd $ETCD_VERSION in $(($(date +%s) - start))s" >&2
fi

if [ ! -x "$kube_bin" ]; then
	start=$(date +%s)
	echo "building kube-apiserver v$KUBE_VERSION into $kube_bin…" >&2
	mkdir "$tmp/kube"
	(
		cd "$tmp/kube"
		"$GO" mod init kubebuild >/dev/null 2>&1
		"$GO" mod edit -require "k8s.io/kubernetes@v$KUBE_VERSION"
		gomod="$("$GO" mod download -json "k8s.io/kubernetes@v$KUBE_VERSION" |
			sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')"
		[ -n "$gomod" ] && [ -f "$gomod" ] || {
			echo "kube.sh: no go.mod for k8s.io/kubernetes@v$KUBE_VERSION" >&2
			exit 1
		}
		# Lines like "	k8s.io/api => ./staging/src/k8s.io/api".
		mods="$(sed -n 's/^[[:space:]]*\(k8s\.io\/[^[:space:]]*\)[[:space:]]*=>[[:space:]]*\.\/staging\/.*/\1/p' "$gomod")"
		[ -n "$mods" ] || {
			echo "kube.sh: no staging replaces in $gomod" >&2
			exit 1
		}
		for m in $mods; do
			"$GO" mod edit -replace "$m=$m@$STAGING_VERSION"
		done
		# The version the server reports (/version); without these it says
		# v0.0.0-master.
		v=k8s.io/component-base/version
		minor=${KUBE_VERSION#*.}
		minor=${minor%%.*}
		"$GO" build -mod=mod -o "$tmp/kube/kube-apiserver" \
			-ldflags "-X $v.gitVersion=v$KUBE_VERSION -X $v.gitMajor=${KUBE_VERSION%%.*} -X $v.gitMinor=$minor -X $v.gitTreeState=clean" \
			k8s.io/kubernetes/cmd/kube-apiserver >&2
	)
	"$tmp/kube/kube-apiserver" --version >&2
	install_bin "$tmp/kube/kube-apiserver" "$kube_bin"
	echo "built kube-apiserver v$KUBE_VERSION in $(($(date +%s) - start))s" >&2
fi

echo "$etcd_bin"
echo "$kube_bin"
