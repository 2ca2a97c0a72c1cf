#!/bin/sh
# Prints the path of a python3 that can `import requests, yaml` (the seed's
# Python snippets are run by the HTTP API tests), installing Debian's
# python3-requests and python3-yaml when no python3 on the machine has them. Prints nothing
# when none can be found or installed; the test then fails under CI=true and
# skips otherwise.
set -u
find_python() {
	for p in "${PYTHON:-}" python3 /usr/bin/python3; do
		[ -n "$p" ] || continue
		if "$p" -c 'import requests, yaml' >/dev/null 2>&1; then
			command -v "$p"
			return 0
		fi
	done
	return 1
}
find_python && exit 0
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
	echo "installing python3-requests and python3-yaml from Debian…" >&2
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-requests python3-yaml; } >&2 || true
fi
find_python || true
