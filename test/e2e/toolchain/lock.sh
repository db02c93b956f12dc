# One build of a thing at a time, for build.sh (a lock per tool) and images.sh (one for the images);
# sourced by both, which define `log`. The tests run these scripts while prepare.sh may be running them
# in the background for the same caches: a second run waits for the first, then finds its results
# cached instead of building them again beside it.
#
# The lock is file descriptor 9 of the shell that takes it, held until that shell (a script, or the
# subshell build.sh takes a tool's lock in) exits. Whatever it starts to outlive it (dockerd) must be
# started with `9>&-`, or that would hold the lock after the script is gone.

# hold_lock FILE WHAT: takes FILE's lock; while another process holds it, says every minute
# (RMESH_E2E_LOCK_REPORT_SECONDS) what that one is and the last line of its output (the holder writes
# both into FILE).
hold_lock() {
  local file="$1" what="$2" every="${RMESH_E2E_LOCK_REPORT_SECONDS:-60}"
  # Checked before the lock is tried, so a bad value fails every run, not only one that has to wait.
  # (10#: a leading zero is decimal, not octal; 0 or 00 would make the wait below a busy loop.)
  if ! [[ "$every" =~ ^[0-9]+$ ]] || ((10#$every == 0)); then
    log "RMESH_E2E_LOCK_REPORT_SECONDS must be a whole number of seconds above 0 (how often a waiter reports), not '$every'"
    exit 2
  fi
  exec 9>>"$file"
  if ! flock -n 9; then
    log "waiting for another $what, $(head -n 1 "$file")"
    local waited=0
    until flock -w "$every" 9; do
      waited=$((waited + every))
      log "  still waiting for the other $what ($((waited / 60)) min $((waited % 60)) s): $(holder_progress "$file")"
    done
  fi
  # Who holds it now, and where its output goes: prepare.sh names its log, a script run from a
  # terminal has none a waiter could read.
  printf 'pid %s, output in %s\n%s\n' "$$" "${RMESH_E2E_PREPARE_LOG:-its terminal}" "${RMESH_E2E_PREPARE_LOG:-}" >"$file"
}

# The last line the holder of FILE wrote to its log, when it has one a waiter can read.
holder_progress() {
  local holder_log
  holder_log="$(sed -n 2p "$1")"
  if [ -n "$holder_log" ] && [ -f "$holder_log" ]; then tail -n 1 "$holder_log"; else echo "(its output is not in a file)"; fi
}
