#!/usr/bin/env bash
# Runs a command on a Node.js that reflector-mesh supports: the machine's `node` when it is one of the
# lines package.json's engines.node names, otherwise the project's pinned release (.node-version),
# installed from the npm registry by scripts/install-node.sh into .cache/node/ and put first on PATH
# (one line on stderr says so). The npm scripts that users run (`npm run setup`, `npm run demo`,
# `npm test`) go through it, so a machine with an old Node needs nothing else.
#
#   bash scripts/with-node.sh npm install
#   RMESH_NODE=pinned bash scripts/with-node.sh node --version   # the pinned release even if the machine's is supported
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
[ $# -gt 0 ] || { echo "usage: bash scripts/with-node.sh COMMAND [ARGS...]" >&2; exit 2; }

# The verdict of cli/node-support.js (the one place that reads engines.node) on the machine's node;
# a node too old even to run that check counts as unsupported.
verdict=unsupported
if [ "${RMESH_NODE:-}" != pinned ] && command -v node >/dev/null; then
  verdict="$(node --input-type=module -e '
    const { pathToFileURL } = await import("node:url");
    const { nodeSupport, projectRange } = await import(pathToFileURL(process.argv[1]).href);
    const { verdict, message } = nodeSupport(process.versions.node, projectRange());
    console.log(verdict); if (message) console.log(message);' "$root/cli/node-support.js" 2>/dev/null || echo unsupported)"
fi
[ "${verdict%%$'\n'*}" = supported ] && exec "$@"

pinned="$(tr -d ' \n' < "$root/.node-version")"
reason="${verdict#*$'\n'}"
[ "$reason" = "$verdict" ] && reason="no usable node on PATH ($(command -v node >/dev/null && node --version 2>/dev/null || echo none))"
[ "${RMESH_NODE:-}" = pinned ] && reason="RMESH_NODE=pinned"
shown="$*"
[ $# -ge 3 ] && [ "$1 $2" = "sh -c" ] && shown="$3"
echo "with-node: $reason; running \`$shown\` on the project's Node.js $pinned (.cache/node/$pinned)" >&2
bin="$(bash "$root/scripts/install-node.sh" "$pinned")"
export PATH="$bin:$PATH"
# What the calling npm exported about its own node, npm and node-gyp belongs to the other Node.
unset NODE npm_node_execpath npm_execpath npm_config_node_gyp npm_config_nodedir npm_config_user_agent npm_config_npm_version
exec "$@"
