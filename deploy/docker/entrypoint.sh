#!/bin/sh
# Selects the program of the Device Manager image by its first argument (see deploy/Dockerfile).
# exec: the service replaces this shell, so tini's SIGTERM reaches it and it drains.
set -eu
cmd="${1:-help}"
[ $# -gt 0 ] && shift
case "$cmd" in
  gateway | ingest | registry | flow-orchestrator | function-runner | integration-dispatcher)
    exec "/usr/local/bin/dm-$cmd" "$@" ;;
  admin) exec /usr/local/bin/dm-admin "$@" ;;
  provision) exec /usr/local/bin/dm-provision "$@" ;;
  help | --help | -h)
    echo "usage: <image> gateway|ingest|registry|flow-orchestrator|function-runner|integration-dispatcher|admin|provision [args]"
    echo "configuration comes from environment variables: see deploy/.env.example"
    exit 0 ;;
  *) echo "unknown program '$cmd' (try: help)" >&2; exit 64 ;;
esac
