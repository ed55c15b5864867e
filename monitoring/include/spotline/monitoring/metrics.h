#pragma once
// The Prometheus endpoint of a service. Registries are made by main and passed to services, which
// keep their metrics in a small probe of their own (names prefixed spotline_, base units).

#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

namespace spotline::monitoring {

class MetricsEndpoint {
 public:
  // port 0: any free port. `host` is the address to listen on: 127.0.0.1 unless the scraper is on
  // another host (0.0.0.0 in a container).
  explicit MetricsEndpoint(int port, const std::string& host = "127.0.0.1");
  void add(const std::shared_ptr<prometheus::Registry>& registry);
  int port() const { return port_; }

 private:
  prometheus::Exposer exposer_;
  int port_;
};

}  // namespace spotline::monitoring
