// dm-registry: wiring only. See README.md beside this file for what the service owns.
#include "dm/service/runtime.hpp"

namespace dm::registry {
const std::vector<dm::db::Migration>& migrations();  // generated from migrations/*.sql
}

int main() {
  dm::service::Runtime runtime({
      .name = "registry",
      .scope = "REGISTRY",
      .schema = "registry",
      .default_port = 8002,
      .migrations = &dm::registry::migrations(),
      .public_api = false,
  });
  // The key signs tokens and derives the key that encrypts stored secrets.
  return runtime.main([](dm::Config& config) { dm::service::read_secret_key(config); }, {});
}
