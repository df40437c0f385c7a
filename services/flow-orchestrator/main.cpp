// dm-flow-orchestrator: wiring only. See README.md beside this file for what the service owns.
#include "dm/service/runtime.hpp"

namespace dm::flow_orchestrator {
const std::vector<dm::db::Migration>& migrations();  // generated from migrations/*.sql
}

int main() {
  dm::service::Runtime runtime({
      .name = "flow-orchestrator",
      .scope = "ORCHESTRATOR",
      .schema = "orchestrator",
      .default_port = 8003,
      .migrations = &dm::flow_orchestrator::migrations(),
      .public_api = false,
  });
  return runtime.main({}, {});
}
