# shellcheck shell=bash
# Shared by the shell tests that run deploy/local on free ports (sourced): after a failure,
# the end of every service log (what went wrong is usually there), then the stack stopped and
# its data folder removed.  stack_teardown <exit code> <log lines>
stack_teardown() {
  local rc="$1" lines="$2" f
  [ -d "$DM_DATA_DIR" ] || return 0
  if [ "$rc" != 0 ] && [ -d "$DM_DATA_DIR/logs" ]; then
    for f in "$DM_DATA_DIR"/logs/*.log; do
      echo "--- $f (last lines) ---" >&2
      tail -n "$lines" "$f" >&2 || true
    done
  fi
  "$DOWN" --purge >/dev/null 2>&1 || echo "warning: down --purge failed" >&2
  rm -rf "$DM_DATA_DIR"
}
