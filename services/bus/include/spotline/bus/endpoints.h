#pragma once
// Where every socket of a facility lives. Embedded: inproc:// names unique to the process.
// Multi-process: tcp://127.0.0.1:<port>, written by `spotline facility up` to DIR/endpoints.json.

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "spotline/core/result.h"

namespace spotline::bus {

inline const std::vector<std::string>& serviceNames() {
  static const std::vector<std::string> kNames{"bus", "plan", "rv", "dose", "qa", "delivery"};
  return kNames;
}

struct Endpoints {
  std::string busXsub;  // publishers connect here
  std::string busXpub;  // subscribers connect here
  std::string planCommand;
  std::string rvCommand;
  std::string rvStream;
  std::string deliveryCommand;
  std::string rvQuery;                      // journal queries, answered by rv on a thread of their own
  std::map<std::string, int> metricsPorts;  // service -> port; 0 or absent: no metrics endpoint

  static Endpoints inproc(const std::string& tag);
  // tcp on 127.0.0.1 with the given ports in order: xsub, xpub, plan, rv cmd, rv stream, delivery,
  // rv query.
  static Endpoints tcp(const std::vector<int>& ports);

  std::string toJson() const;
};

enum class EndpointsError : std::uint8_t { Unreadable, Malformed };
Result<Endpoints, EndpointsError> readEndpoints(const std::filesystem::path& file);
void writeEndpoints(const std::filesystem::path& file, const Endpoints& endpoints);

// Asks the kernel for a free TCP port on 127.0.0.1 (bind to 0, read back, close).
int freeTcpPort();
// `count` distinct free ports.
std::vector<int> freeTcpPorts(std::size_t count);

}  // namespace spotline::bus
