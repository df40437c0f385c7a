// dm-function-runner: wiring only. See README.md beside this file for what the service owns.
#include "dm/service/runtime.hpp"

namespace dm::function_runner {
const std::vector<dm::db::Migration>& migrations();  // generated from migrations/*.sql
}

int main() {
  dm::service::Runtime runtime({
      .name = "function-runner",
      .scope = "RUNNER",
      .schema = "runner",
      .default_port = 8004,
      .migrations = &dm::function_runner::migrations(),
      .public_api = false,
  });
  return runtime.main({}, {});
}
