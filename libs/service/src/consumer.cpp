#include "dm/service/consumer.hpp"

#include <thread>

#include "dm/core/log.hpp"

namespace dm::service {

Result<std::unique_ptr<bus::PullConsumer>> bind_consumer(bus::JetStream& js, std::string_view stream,
                                                         std::string_view durable, std::string_view filter,
                                                         std::chrono::milliseconds patience,
                                                         const std::atomic<bool>* stop) {
  auto until = std::chrono::steady_clock::now() + patience;
  bool said = false;
  for (;;) {
    auto bound = js.pull_subscribe(stream, durable, filter);
    if (bound || bound.error().code != Errc::not_found) return bound;
    if (std::chrono::steady_clock::now() >= until || (stop && stop->load())) return bound;
    if (!said) {
      log::warn("waiting for provisioning to create the consumer (dm-provision)",
                {{"stream", stream}, {"consumer", durable}});
      said = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

}  // namespace dm::service
