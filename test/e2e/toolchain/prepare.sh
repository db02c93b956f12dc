#!/usr/bin/env bash
# Builds everything the e2e tests need before they need it: the toolchain (build.sh), then the images of
# the real-node cluster (images.sh). Both are cached, so on a prepared machine this takes seconds.
#
#   bash test/e2e/toolchain/prepare.sh               # in the foreground, progress on the terminal
#   bash test/e2e/toolchain/prepare.sh --background  # what the e2e global setup and .ci/run start
#
# With --background it runs at a lower CPU priority (nice 10), so the unit and integration tests that
# run meanwhile keep the CPUs they ask for, and writes its output to RMESH_E2E_PREPARE_LOG (default
# prepare.log in the e2e cache), which a test waiting for it reports from (lock.sh). A second
# --background run while one is under way does nothing. The tests never rely on it having run: build.sh
# and images.sh wait for a run in progress, then build whatever is still missing themselves.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cache="${RMESH_E2E_CACHE:-$root/.cache/e2e-cluster}"
mkdir -p "$cache"

log() { printf '[e2e-prepare] %s\n' "$*" >&2; }

case "${1:-}" in
  "") ;;
  --background)
    exec 8>>"$cache/prepare.lock"
    flock -n 8 || { log "another preparation is under way"; exit 0; }
    export RMESH_E2E_PREPARE_LOG="${RMESH_E2E_PREPARE_LOG:-$cache/prepare.log}"
    log "building the e2e toolchain and images in the background; output in $RMESH_E2E_PREPARE_LOG"
    exec >"$RMESH_E2E_PREPARE_LOG" 2>&1 </dev/null
    renice -n 10 -p $$ >/dev/null
    ;;
  *) log "unknown argument '$1' (expected nothing or --background)"; exit 2 ;;
esac

started=$SECONDS
# Their children must not hold this script's lock (fd 8) should they outlive it.
bash "$here/build.sh" >/dev/null 8>&-
log "toolchain ready after $((SECONDS - started))s"
step=$SECONDS
bash "$here/images.sh" >/dev/null 8>&-
log "images ready after $((SECONDS - step))s; all prepared in $((SECONDS - started))s"
