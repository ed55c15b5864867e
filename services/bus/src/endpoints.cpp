#include "spotline/bus/endpoints.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace spotline::bus {

Endpoints Endpoints::inproc(const std::string& tag) {
  Endpoints e;
  auto p = "inproc://spotline-" + tag + "-";
  e.busXsub = p + "bus-xsub";
  e.busXpub = p + "bus-xpub";
  e.planCommand = p + "plan-cmd";
  e.rvCommand = p + "rv-cmd";
  e.rvStream = p + "rv-stream";
  e.deliveryCommand = p + "delivery-cmd";
  e.rvQuery = p + "rv-query";
  return e;
}

Endpoints Endpoints::tcp(const std::vector<int>& ports) {
  if (ports.size() < 7) throw std::invalid_argument("Endpoints::tcp needs 7 ports");
  auto at = [&](std::size_t i) { return "tcp://127.0.0.1:" + std::to_string(ports[i]); };
  Endpoints e;
  e.busXsub = at(0);
  e.busXpub = at(1);
  e.planCommand = at(2);
  e.rvCommand = at(3);
  e.rvStream = at(4);
  e.deliveryCommand = at(5);
  e.rvQuery = at(6);
  return e;
}

std::string Endpoints::toJson() const {
  nlohmann::json j;
  j["bus_xsub"] = busXsub;
  j["bus_xpub"] = busXpub;
  j["plan_command"] = planCommand;
  j["rv_command"] = rvCommand;
  j["rv_stream"] = rvStream;
  j["delivery_command"] = deliveryCommand;
  j["rv_query"] = rvQuery;
  j["metrics_ports"] = metricsPorts;
  return j.dump(2) + "\n";
}

Result<Endpoints, EndpointsError> readEndpoints(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return fail(EndpointsError::Unreadable, file.string() + ": cannot read (is the facility up?)");
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    auto j = nlohmann::json::parse(ss.str());
    Endpoints e;
    e.busXsub = j.at("bus_xsub").get<std::string>();
    e.busXpub = j.at("bus_xpub").get<std::string>();
    e.planCommand = j.at("plan_command").get<std::string>();
    e.rvCommand = j.at("rv_command").get<std::string>();
    e.rvStream = j.at("rv_stream").get<std::string>();
    e.deliveryCommand = j.at("delivery_command").get<std::string>();
    if (j.contains("rv_query")) e.rvQuery = j.at("rv_query").get<std::string>();  // absent: no journal queries
    if (j.contains("metrics_ports")) e.metricsPorts = j.at("metrics_ports").get<std::map<std::string, int>>();
    return e;
  } catch (const nlohmann::json::exception& ex) {
    return fail(EndpointsError::Malformed, file.string() + ": " + ex.what());
  }
}

void writeEndpoints(const std::filesystem::path& file, const Endpoints& endpoints) {
  auto tmp = file;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << endpoints.toJson();
    if (!out) throw std::runtime_error("cannot write " + tmp.string());
  }
  std::filesystem::rename(tmp, file);
}

std::vector<int> freeTcpPorts(std::size_t count) {
  // Every probe socket stays open until all are bound, so the kernel cannot hand out one port twice.
  std::vector<int> fds;
  std::vector<int> ports;
  auto closeAll = [&] {
    for (int fd : fds) ::close(fd);
  };
  for (std::size_t i = 0; i < count; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
      closeAll();
      throw std::runtime_error("socket() failed");
    }
    fds.push_back(fd);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      closeAll();
      throw std::runtime_error("bind() to 127.0.0.1:0 failed");
    }
    ports.push_back(ntohs(addr.sin_port));
  }
  closeAll();
  return ports;
}

int freeTcpPort() {
  return freeTcpPorts(1).front();
}

}  // namespace spotline::bus
