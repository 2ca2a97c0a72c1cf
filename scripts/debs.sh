#!/bin/sh
# Installs the Debian packages the tests need, when their programs are
# missing:
#
#   scripts/debs.sh PACKAGE[:CHECK[,CHECK…]] …
#
# A CHECK is a command name looked up on PATH, or an absolute path, which
# may be a glob (/usr/lib/postgresql/*/bin/initdb). A package counts as
# present when any of its checks finds an executable, or, without checks,
# when dpkg has it installed. The missing ones are installed with one
# `apt-get update` and one `apt-get install -y --no-install-recommends`, when
# running as root where apt-get exists; otherwise the script says what to
# install. It reports on stderr and always exits 0: a test that still lacks
# its program skips (or fails under CI=true) and says why.
#
# Example: scripts/debs.sh postgresql:initdb,/usr/lib/postgresql/*/bin/initdb
set -u

say() { echo "debs.sh: $*" >&2; }

present() { # package checks
	pkg=$1 checks=$2
	if [ -z "$checks" ]; then
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'
		return
	fi
	old_ifs=$IFS
	IFS=,
	for c in $checks; do
		IFS=$old_ifs
		case $c in
		/*)
			for f in $c; do # the glob expands here
				[ -x "$f" ] && [ ! -d "$f" ] && return 0
			done
			;;
		*)
			command -v "$c" >/dev/null 2>&1 && return 0
			;;
		esac
	done
	IFS=$old_ifs
	return 1
}

missing=
for arg in "$@"; do
	pkg=${arg%%:*}
	checks=
	case $arg in *:*) checks=${arg#*:} ;; esac
	present "$pkg" "$checks" || missing="$missing $pkg"
done
missing=${missing# }
[ -n "$missing" ] || exit 0

if ! command -v apt-get >/dev/null 2>&1; then
	say "missing: $missing; there is no apt-get here: install them with your package manager"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	say "missing: $missing; not root: run  sudo apt-get install $missing"
	exit 0
fi
say "installing $missing from Debian"
say "+ apt-get update"
if ! apt-get update -qq >&2; then
	say "apt-get update failed; trying the install with the lists at hand"
fi
say "+ apt-get install -y --no-install-recommends $missing"
# shellcheck disable=SC2086 # one word per package
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >&2; then
	say "apt-get install $missing failed; the tests that need them will skip (fail under CI=true)"
fi
exit 0
