// dm-integration-dispatcher: wiring only. See README.md beside this file for what the service owns.
#include "dm/service/runtime.hpp"

namespace dm::integration_dispatcher {
const std::vector<dm::db::Migration>& migrations();  // generated from migrations/*.sql
}

int main() {
  dm::service::Runtime runtime({
      .name = "integration-dispatcher",
      .scope = "DISPATCHER",
      .schema = "dispatcher",
      .default_port = 8005,
      .migrations = &dm::integration_dispatcher::migrations(),
      .public_api = false,
  });
  return runtime.main({}, {});
}
