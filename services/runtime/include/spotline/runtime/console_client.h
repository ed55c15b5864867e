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
  double beamWaitSeconds = 0.0;      // simulated time spent waiting for a spill
  std::uint32_t spillsToOthers = 0;  // spills the synchrotron gave other rooms while this one waited
  std::string waitingFor;            // while waiting: the room that has the beam (empty otherwise)
  bool held = false;                 // the beam is held now
  bool resumed = false;              // this session continued an interrupted fraction
  std::uint32_t partialSpots = 0;    // spot records cut by a hold
  bool recordedByRv = false;         // rv journaled the fraction's end
};

struct StartOptions {
  std::string resumeFractionId;     // continue this interrupted fraction
  std::vector<std::string> faults;  // KIND@WHERE
  int priority = 0;
  // Checks of rv's verification overridden (rv journals who and why; only some may be).
  std::vector<std::string> overrides;
  std::string overrideReason;
  std::string user;
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
                                                 std::uint64_t seed, const StartOptions& options = {});
  // Pause, resume or abort; `interrupt` closes a held fraction as interrupted (resumable later).
  Result<bool, ClientError> command(const std::string& fractionId, wire::Message::Body::Which kind,
                                    const std::string& reason = {}, bool interrupt = false);

  // Reads events until the fraction has delivered `spots` spots (true) or the timeout (false).
  // The events read here are not seen by a later follow().
  bool awaitSpots(const std::string& fractionId, std::uint32_t spots, std::chrono::milliseconds timeout);

  using Progress = std::function<void(const std::map<std::string, FractionReport>&)>;
  // Follows the fractions until each has ended and rv has recorded its end; gives up after
  // `silence` without any event. With closeOnHold, a fraction held by an interlock (anything but
  // the operator's pause) is closed as interrupted, to be resumed later (--resume).
  std::map<std::string, FractionReport> follow(const std::set<std::string>& fractionIds, const Progress& progress,
                                               std::chrono::milliseconds silence = std::chrono::seconds(30),
                                               bool closeOnHold = true);

 private:
  // Returns the fraction id when the event is an interlock hold of a followed fraction.
  std::string apply(const messages::Decoded& msg, std::map<std::string, FractionReport>& reports);
  void queryRv(FractionReport& report);
  bool hearHeartbeat(const bus::Event& ev);  // true when ev was a heartbeat

  zmq::context_t& zmq_;
  const bus::Endpoints& endpoints_;
  const WallClock& clock_;
  bus::Subscriber subscriber_;
  bus::RequestClient plan_;
  bus::RequestClient delivery_;
  bus::RequestClient rv_;
  bus::HeartbeatTracker heard_;
  // The delivery process seen in heartbeats: another pid means it was restarted, and a session
  // being followed died with the old one (a supervisor restarts faster than a heartbeat times out).
  std::uint32_t deliveryPid_ = 0;
  bool deliveryRestarted_ = false;
};

}  // namespace spotline::runtime
