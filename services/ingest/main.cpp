// dm-ingest: wiring only. See README.md beside this file for what the service owns.
#include "dm/service/runtime.hpp"

namespace dm::ingest {
const std::vector<dm::db::Migration>& migrations();  // generated from migrations/*.sql
}

int main() {
  dm::service::Runtime runtime({
      .name = "ingest",
      .scope = "INGEST",
      .schema = "ingest",
      .default_port = 8001,
      .migrations = &dm::ingest::migrations(),
      .public_api = false,
  });
  return runtime.main({}, {});
}
