# shellcheck shell=bash
# NATS users of the local stack: one per service, each allowed to publish and subscribe
# only on its subjects from proto/README.md, plus `tap`, a read-only user for anything that
# follows the event taps (dashboards, `nats sub`). Sourced by `up`, which writes the result
# into nats.conf (mode 600) with the passwords from $SECRETS.
#
# Every service may: receive replies and answer requests (_INBOX.>), serve its own RPC subject
# dm.rpc.<service>, and follow definition changes (dm.registry.changed.>). JetStream access is
# limited to the streams a service uses ($JS.API.*.*.<stream>..., $JS.ACK.<stream>.>).
#
# Answers go to _INBOX.> by a publish permission, not by `allow_responses`: with that option
# nats-server 2.9 remembers the reply subject of every message it delivers to the service
# (every JetStream message: its $JS.ACK reply) for two minutes, and rescans that whole map on
# each delivery once it holds 4,096 — measured here, webhook accepts fell from ~1,800/s to 8/s
# within 30,000 events, and back to ~4,500/s with this rule. Every service may subscribe to
# _INBOX.> anyway, so allow_responses protected nothing more.

# A JSON-style list of quoted subjects.
nats_list() {
  local out="" s
  for s in "$@"; do out+="${out:+, }\"$s\""; done
  printf '[%s]' "$out"
}

# JetStream API and ack subjects for the named streams.
nats_js_subjects() {
  local s
  [ $# -gt 0 ] || return 0
  printf '%s\n' '$JS.API.INFO' '$JS.API.STREAM.NAMES'
  for s in "$@"; do
    printf '%s\n' "\$JS.API.STREAM.*.$s" "\$JS.API.CONSUMER.*.$s" "\$JS.API.CONSUMER.*.$s.>" \
      "\$JS.API.CONSUMER.*.*.$s.>" "\$JS.ACK.$s.>"
  done
}

# What <service> may publish (one subject a line).
nats_publish_of() {
  printf '%s\n' '_INBOX.>'
  case "$1" in
    gateway) printf '%s\n' 'dm.rpc.>' 'dm.gateway.auth.changed' ;;
    ingest)
      printf '%s\n' 'dm.device.>' 'dm.devstate.>' 'dm.deadletter.device-events' 'dm.rpc.registry'
      nats_js_subjects DM_DEVICE_EVENTS
      ;;
    registry) printf '%s\n' 'dm.registry.changed.>' 'dm.registry.invalidate' 'dm.rpc.function-runner' ;;
    flow-orchestrator)
      printf '%s\n' 'dm.fn.exec' 'dm.work.dispatch.>' 'dm.flow.completed.>' 'dm.function.run.>' \
        'dm.deadletter.uplinks' 'dm.rpc.registry' 'dm.rpc.function-runner' 'dm.rpc.ingest'
      nats_js_subjects DM_DEVICE_EVENTS DM_DISPATCH
      ;;
    function-runner) printf '%s\n' 'dm.rpc.registry' ;;
    integration-dispatcher)
      printf '%s\n' 'dm.delivery.>' 'dm.deadletter.deliveries' 'dm.work.dispatch.>' 'dm.rpc.registry'
      nats_js_subjects DM_DISPATCH
      ;;
  esac
}

# What <service> may subscribe to (one subject a line).
nats_subscribe_of() {
  printf '%s\n' '_INBOX.>' "dm.rpc.$1" 'dm.registry.changed.>'
  case "$1" in
    gateway) printf '%s\n' 'dm.gateway.auth.changed' 'dm.registry.invalidate' 'dm.devstate.>' 'dm.flow.completed.>' 'dm.function.run.>' 'dm.delivery.>' 'dm.deadletter.>' 'dm.device.>' ;; # taps: the console's live events
    registry) printf '%s\n' 'dm.registry.invalidate' ;;
    function-runner) printf '%s\n' 'dm.fn.exec' ;;
  esac
}

# Subjects the `tap` user may follow: the documented taps, never RPC or work queues.
NATS_TAP_SUBJECTS=('dm.device.>' 'dm.devstate.>' 'dm.registry.changed.>' 'dm.delivery.>' 'dm.function.run.>'
  'dm.flow.completed.>' 'dm.deadletter.>' '_INBOX.>')

# The authorization block. <password_of> is a function printing the password of a user
# (a service name or `tap`).
nats_authorization() { # <password_of>
  local s pub sub
  echo "authorization {"
  echo "  users = ["
  for s in "${SERVICES[@]}"; do
    mapfile -t pub < <(nats_publish_of "$s")
    mapfile -t sub < <(nats_subscribe_of "$s")
    echo "    { user: \"$s\", password: \"$("$1" "$s")\","
    echo "      permissions: { publish: $(nats_list "${pub[@]}"),"
    echo "                     subscribe: $(nats_list "${sub[@]}") } }"
  done
  echo "    { user: \"tap\", password: \"$("$1" tap)\","
  echo "      permissions: { publish: { deny: [\">\"] }, subscribe: $(nats_list "${NATS_TAP_SUBJECTS[@]}") } }"
  echo "  ]"
  echo "}"
}
