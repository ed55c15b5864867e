#include "spotline/monitoring/metrics.h"

namespace spotline::monitoring {

MetricsEndpoint::MetricsEndpoint(int port, const std::string& host)
    : exposer_(host + ":" + std::to_string(port), /*num_threads=*/1), port_(port) {
  auto ports = exposer_.GetListeningPorts();
  if (!ports.empty()) port_ = ports.front();
}

void MetricsEndpoint::add(const std::shared_ptr<prometheus::Registry>& registry) {
  exposer_.RegisterCollectable(registry);
}

}  // namespace spotline::monitoring
