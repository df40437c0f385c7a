#include "direct_run.hpp"

#include <unordered_set>

#include "dm/core/log.hpp"
#include "history.hpp"
#include "replay.hpp"

namespace dm::flow_orchestrator {

Result<std::vector<std::string>> run_now(const DirectRun& ctx, const Uplink& uplink, const Device* device,
                                         const std::string& replay_id) {
  static const std::vector<std::string> kNoLabels;
  auto triggers = ctx.view.triggers(uplink.device_id, device ? device->label_ids : kNoLabels);
  std::unordered_set<std::string> done;
  if (replay_id.empty()) {
    std::vector<std::string> live;
    for (const auto& t : triggers) live.push_back(run_key(t.flow->id, uplink.dedup_id));
    DM_TRY(recorded_runs(ctx.db, live, done));
  }
  // The device's flows as they are now, each once (as for a live uplink).
  std::vector<RunJob> jobs;
  std::vector<std::string> keys;
  std::unordered_set<std::string> started;
  for (const auto& t : triggers) {
    if (!started.insert(t.flow->id).second) continue;
    RunJob job;
    job.uplink = &uplink;
    job.flow = t.flow;
    job.trigger = t.node;
    job.key =
        replay_id.empty() ? run_key(t.flow->id, uplink.dedup_id) : replay_key(t.flow->id, uplink.dedup_id, replay_id);
    job.replay = !replay_id.empty();
    if (done.count(job.key)) continue;
    keys.push_back(job.key);
    jobs.push_back(std::move(job));
  }
  ctx.engine.run_all(jobs);
  for (const auto& job : jobs)
    if (job.deferred) return Error(Errc::unavailable, "the flows could not run: " + job.deferred_reason);
  std::vector<const Run*> runs;
  for (const auto& job : jobs) runs.push_back(&job.run);
  DM_TRY(write_runs(ctx.db, runs));
  announce_runs(ctx.nats, runs);
  return keys;
}

Result<void> retry_uplink(const DirectRun& ctx, const service::StoredDeadLetter& letter) {
  DM_ASSIGN_OR_RETURN(auto uplink, read_uplink(letter.payload, ctx.view));
  auto device = ctx.view.device(uplink.dev_eui);
  DM_ASSIGN_OR_RETURN(auto keys, run_now(ctx, uplink, device.get(), ""));
  log::info("dead-lettered uplink ran", {{"dedup_id", uplink.dedup_id}, {"runs", keys.size()}});
  return ok();
}

}  // namespace dm::flow_orchestrator
