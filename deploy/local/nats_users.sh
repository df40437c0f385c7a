# shellcheck shell=bash
# NATS users of the local stack (and, through deploy/docker/nats-auth.sh, of compose and
# Kubernetes): one per service, `provision` for stream administration, and `tap`, a read-only
# user for anything that follows the event taps (dashboards, `nats sub`). Sourced by `up`, which
# writes the result into nats.conf (mode 600) with the passwords from $SECRETS.
#
# Identity on the bus is the NATS user, so each may do exactly what its service needs:
# - requests: on dm.rpc.<owner>.<itself> for each owner it calls (libs/contract/src/rpc.cpp
#   says which routes each caller may use; the owner reads the caller from the subject);
# - replies: under its own inbox prefix _INBOX.<itself>.> (nobody else may read them), and it
#   may publish to the inboxes of the services it answers;
# - JetStream: publish to its streams' subjects, and bind to, fetch from and ack its own
#   consumer — never create, change, purge or delete a stream (that is `provision`'s);
# - the taps and invalidations it publishes or follows (proto/README.md).
#
# Answers go to the callers' inboxes by a publish permission, not by `allow_responses`: with
# that option nats-server 2.9 remembers the reply subject of every message it delivers to the
# service (every JetStream message: its $JS.ACK reply) for two minutes, and rescans that whole
# map on each delivery once it holds 4,096 — measured here, webhook accepts fell from ~1,800/s
# to 8/s within 30,000 events, and back to ~4,500/s with this rule.

# A JSON-style list of quoted subjects.
nats_list() {
  local out="" s
  for s in "$@"; do out+="${out:+, }\"$s\""; done
  printf '[%s]' "$out"
}

# What a service needs of its durable consumer <stream> <durable>: bind (info), fetch, ack.
nats_consumer_subjects() {
  printf '%s\n' "\$JS.API.CONSUMER.INFO.$1.$2" "\$JS.API.CONSUMER.MSG.NEXT.$1.$2" "\$JS.ACK.$1.$2.>"
}

# The services <service> answers (their inboxes are where its replies go).
nats_answers_to() {
  case "$1" in
    registry) echo gateway ingest flow-orchestrator function-runner integration-dispatcher ;;
    ingest) echo gateway flow-orchestrator ;;
    function-runner) echo gateway flow-orchestrator registry ;;
    flow-orchestrator | integration-dispatcher) echo gateway ;;
  esac
}

# The services <service> sends requests to.
nats_calls() {
  case "$1" in
    gateway) echo registry ingest flow-orchestrator function-runner integration-dispatcher ;;
    ingest | function-runner | integration-dispatcher) echo registry ;;
    flow-orchestrator) echo registry ingest function-runner ;;
    registry) echo function-runner ;;
  esac
}

# What <service> (or `provision`) may publish (one subject a line).
nats_publish_of() {
  local other
  if [ "$1" = provision ]; then
    printf '%s\n' '$JS.API.>'  # streams and consumers: create, update, inspect
    return
  fi
  for other in $(nats_answers_to "$1"); do printf '%s\n' "_INBOX.$other.>"; done
  for other in $(nats_calls "$1"); do printf '%s\n' "dm.rpc.$other.$1"; done
  case "$1" in
    gateway) printf '%s\n' 'dm.gateway.auth.changed' ;;
    ingest)
      printf '%s\n' 'dm.events.>' 'dm.device.>' 'dm.devstate.>' 'dm.deadletter.device-events'
      nats_consumer_subjects DM_DEVICE_EVENTS ingest-history
      ;;
    registry) printf '%s\n' 'dm.registry.changed.>' 'dm.registry.invalidate' ;;
    flow-orchestrator)
      printf '%s\n' 'dm.fn.exec' 'dm.work.dispatch.>' 'dm.flow.completed.>' 'dm.function.run.>' 'dm.deadletter.uplinks'
      nats_consumer_subjects DM_DEVICE_EVENTS flow-orchestrator
      ;;
    integration-dispatcher)
      printf '%s\n' 'dm.delivery.>' 'dm.deadletter.deliveries' 'dm.work.dispatch.>'
      nats_consumer_subjects DM_DISPATCH integration-dispatcher
      ;;
  esac
}

# What <service> (or `provision`) may subscribe to (one subject a line).
nats_subscribe_of() {
  printf '%s\n' "_INBOX.$1.>"
  case "$1" in gateway | provision) ;; *) printf '%s\n' "dm.rpc.$1.*" ;; esac
  case "$1" in
    # The taps the console's live events follow (services/gateway/event_hub.cpp).
    gateway) printf '%s\n' 'dm.gateway.auth.changed' 'dm.registry.invalidate' 'dm.devstate.>' 'dm.flow.completed.>' \
      'dm.function.run.>' 'dm.delivery.>' 'dm.deadletter.>' 'dm.device.>' 'dm.registry.changed.>' ;;
    registry) printf '%s\n' 'dm.registry.invalidate' ;;
    ingest | flow-orchestrator | integration-dispatcher) printf '%s\n' 'dm.registry.changed.>' ;;
    function-runner) printf '%s\n' 'dm.fn.exec' 'dm.registry.changed.>' ;;
  esac
}

# Subjects the `tap` user may follow: the documented taps, never RPC, replies or work queues.
NATS_TAP_SUBJECTS=('dm.device.>' 'dm.devstate.>' 'dm.registry.changed.>' 'dm.delivery.>' 'dm.function.run.>'
  'dm.flow.completed.>' 'dm.deadletter.>')

# The authorization block. <password_of> is a function printing the password of a user
# (a service name, `provision` or `tap`).
nats_authorization() { # <password_of>
  local s pub sub
  echo "authorization {"
  echo "  users = ["
  for s in "${SERVICES[@]}" provision; do
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
