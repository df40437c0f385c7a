// dm-gateway: wiring only. See README.md beside this file for what the service owns.
#include "dm/service/runtime.hpp"

namespace dm::gateway {
const std::vector<dm::db::Migration>& migrations();  // generated from migrations/*.sql
}

int main() {
  dm::service::Runtime runtime({
      .name = "gateway",
      .scope = "GATEWAY",
      .schema = "gateway",
      .default_port = 8000,
      .migrations = &dm::gateway::migrations(),
      .public_api = true,
  });
  // The key signs tokens and derives the key that encrypts stored secrets.
  return runtime.main([](dm::Config& config) { dm::service::read_secret_key(config); }, {});
}
