#pragma once
// One uplink through its device's flows now, outside the stream, for a caller that waits for
// the answer: a replay (new run keys, marked `replay`) or a retried dead letter (the live run
// keys; flows already recorded for the uplink are skipped). The runs are recorded and
// announced like those of the stream's uplinks.
#include <string>
#include <vector>

#include "dm/bus/bus.hpp"
#include "dm/db/db.hpp"
#include "dm/service/dead_letters.hpp"
#include "engine.hpp"
#include "view.hpp"

namespace dm::flow_orchestrator {

struct DirectRun {
  bus::Connection& nats;  // flow-completed taps
  db::Pool& db;
  const View& view;
  Engine& engine;
};

// `replay_id` empty: a live run. Returns the keys of the runs recorded (possibly none);
// unavailable when the flows could not run now (runner, JetStream or PostgreSQL down), and
// then nothing was recorded.
Result<std::vector<std::string>> run_now(const DirectRun& ctx, const Uplink& uplink, const Device* device,
                                         const std::string& replay_id);

// The retry of an uplink dead letter: the stream message it keeps runs now, as it would have
// (live run keys). An uplink that still cannot be read stays a dead letter.
Result<void> retry_uplink(const DirectRun& ctx, const service::StoredDeadLetter& letter);

}  // namespace dm::flow_orchestrator
