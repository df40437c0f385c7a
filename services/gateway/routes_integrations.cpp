#include "routes.hpp"

namespace dm::gateway {

std::vector<RouteSpec> integration_routes() {
  using A = Access;
  const QueryParam type_http_mqtt{"type", "string", "http or mqtt"};
  const QueryParam type_storage{"type", "string", "internal, influxdb or postgresql"};
  return {
      // Integrations: definitions in the registry (secrets masked); deliveries in the dispatcher.
      {"GET", "/api/v1/integrations", "registry", "integrations", "List integrations", A::viewer, nullptr,
       "Integration[]", 200,
       {kSkip, kLimit, kSort, kSearch, type_http_mqtt, {"status", "string", "active, error or paused"}}},
      {"POST", "/api/v1/integrations", "registry", "integrations", "Create an integration", A::editor,
       "IntegrationCreate", "Integration", 201},
      {"GET", "/api/v1/integrations/history", "integration-dispatcher", "integrations",
       "Delivery history of all integrations", A::viewer, nullptr, "IntegrationDelivery[]", 200,
       {kSkip, kLimit, kStatus, kFrom, kTo}},
      {"GET", "/api/v1/integrations/{id}", "registry", "integrations", "Get an integration (secrets masked)",
       A::viewer, nullptr, "Integration"},
      {"PUT", "/api/v1/integrations/{id}", "registry", "integrations",
       "Update an integration (partial bodies accepted; a masked secret sent back keeps the stored one)", A::editor,
       "IntegrationUpdate", "Integration"},
      {"PATCH", "/api/v1/integrations/{id}", "registry", "integrations", "Update some fields of an integration",
       A::editor, "IntegrationUpdate", "Integration"},
      {"DELETE", "/api/v1/integrations/{id}", "registry", "integrations",
       "Delete an integration (409 if an enabled flow uses it)", A::editor, nullptr, nullptr, 204},
      {"GET", "/api/v1/integrations/{id}/history", "integration-dispatcher", "integrations",
       "Delivery history of one integration", A::viewer, nullptr, "IntegrationDelivery[]", 200,
       {kSkip, kLimit, kStatus, kFrom, kTo}},
      {"GET", "/api/v1/integrations/{id}/history/{history_id}", "integration-dispatcher", "integrations",
       "One delivery of an integration, with its attempts", A::viewer, nullptr, "IntegrationDelivery"},
      // Storages: definitions in the registry (secrets masked); writes happen in the dispatcher.
      {"GET", "/api/v1/storages", "registry", "storages", "List storages", A::viewer, nullptr, "Storage[]", 200,
       {kSkip, kLimit, kSort, kSearch, type_storage}},
      {"POST", "/api/v1/storages", "registry", "storages", "Create a storage", A::editor, "StorageCreate", "Storage",
       201},
      {"GET", "/api/v1/storages/{id}", "registry", "storages", "Get a storage (secrets masked)", A::viewer, nullptr,
       "Storage"},
      {"PUT", "/api/v1/storages/{id}", "registry", "storages",
       "Update a storage (partial bodies accepted; a masked secret sent back keeps the stored one)", A::editor,
       "StorageUpdate", "Storage"},
      {"PATCH", "/api/v1/storages/{id}", "registry", "storages", "Update some fields of a storage", A::editor,
       "StorageUpdate", "Storage"},
      {"DELETE", "/api/v1/storages/{id}", "registry", "storages", "Delete a storage (409 if an enabled flow uses it)",
       A::editor, nullptr, nullptr, 204},
      {"POST", "/api/v1/integrations/{id}/test", "integration-dispatcher", "integrations",
       "Send a sample message through an integration and report what happened", A::editor, nullptr,
       "IntegrationTestResult"},
      {"GET", "/api/v1/integrations/{id}/dead-letters", "integration-dispatcher", "integrations",
       "Deliveries that exhausted their attempts", A::viewer, nullptr, "DeadLetter[]", 200, {kSkip, kLimit}},
      {"POST", "/api/v1/integrations/{id}/dead-letters/retry", "integration-dispatcher", "integrations",
       "Retry every dead letter of an integration", A::editor, nullptr, "RetryResult"},
      {"POST", "/api/v1/integrations/{id}/dead-letters/{dead_letter_id}/retry", "integration-dispatcher",
       "integrations", "Retry one dead letter", A::editor, nullptr, "RetryResult"},
      {"GET", "/api/v1/storages/{id}/records", "integration-dispatcher", "storages",
       "Records kept by an internal storage", A::viewer, nullptr, "StorageRecord[]", 200,
       {kSkip, kLimit, kFrom, kTo, {"dev_eui", "string", "Only records of this device"}}},
  };
}

}  // namespace dm::gateway
