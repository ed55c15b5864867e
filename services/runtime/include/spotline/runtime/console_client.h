#pragma once
// The console's side of the bus: load a plan, start fractions, follow their events until they
// end, ask rv what it recorded. The same client drives an embedded facility (inproc) and a
// multi-process one (tcp, from endpoints.json).
//
// Lifecycle: one thread (the console's main thread); owns its sockets.

#include <functional>
#include <map>
#include <set>

#include "spotline/plan/plan.h"
#include "spotline/plan/validate.h"
#include "spotline/runtime/service_context.h"

namespace spotline::runtime {

struct InterlockRecord {
  std::string reason;
  std::uint32_t beam = 0, layer = 0, spot = 0;
  double value = 0.0, limit = 0.0;
  std::string detail;
};

struct FractionReport {
  std::string fractionId;
  std::string room;
  std::string planUid;
  std::string status;  // completed, interrupted, aborted, refused
  std::string refusal;
  std::uint32_t spotsPlanned = 0, spotsDelivered = 0, spotsRecorded = 0;
  std::uint32_t layersPlanned = 0, layersCompleted = 0;
  double metersetPlanned = 0.0, metersetDelivered = 0.0;
  std::string metersetUnit = "NP";
  std::vector<InterlockRecord> interlocks;
  double simulatedSeconds = 0.0;
  std::uint32_t spillWaits = 0;
  bool recordedByRv = false;  // rv journaled the fraction's end
};

struct LoadResult {
  bool ok = false;
  std::string contentHash;
  std::vector<plan::Violation> violations;
  std::string error;
};

enum class ClientError : std::uint8_t { Timeout, Refused, Protocol };

class ConsoleClient {
 public:
  ConsoleClient(zmq::context_t& zmq, const bus::Endpoints& endpoints, const WallClock& clock);

  // Waits until every service has said it is ready and this client's own subscription works.
  Result<bool, ClientError> waitForFacility(std::chrono::milliseconds timeout);
  LoadResult loadPlan(const plan::Plan& plan);
  // Returns the fraction id, or a refusal.
  Result<std::string, ClientError> startFraction(const plan::Plan& plan, const std::string& contentHash,
                                                 const std::string& room, std::uint16_t fractionNumber,
                                                 std::uint64_t seed);
  Result<bool, ClientError> command(const std::string& fractionId, wire::Message::Body::Which kind,
                                    const std::string& reason = {});

  using Progress = std::function<void(const std::map<std::string, FractionReport>&)>;
  // Follows the fractions until each has ended and rv has recorded its end; gives up after
  // `silence` without any event.
  std::map<std::string, FractionReport> follow(const std::set<std::string>& fractionIds, const Progress& progress,
                                               std::chrono::milliseconds silence = std::chrono::seconds(30));

 private:
  void apply(const messages::Decoded& msg, std::map<std::string, FractionReport>& reports);
  void queryRv(FractionReport& report);

  zmq::context_t& zmq_;
  const bus::Endpoints& endpoints_;
  const WallClock& clock_;
  bus::Subscriber subscriber_;
  bus::RequestClient plan_;
  bus::RequestClient delivery_;
  bus::RequestClient rv_;
  bus::HeartbeatTracker heard_;
};

}  // namespace spotline::runtime
