#pragma once
// The dose recorder: accumulates delivered meterset per spot, layer, beam and fraction from the
// delivery events on the bus, and publishes DoseRecorded at each layer's and the fraction's end.
// It notices gaps in a fraction's event sequence (an event it did not hear) and counts them.
//
// Lifecycle: one thread, run() until the stop token is set. Memory: one fraction's spots at a time
// per room; a fraction is forgotten when it ends.

#include <map>
#include <stop_token>

#include "spotline/runtime/service_context.h"

namespace prometheus {
class Counter;
}

namespace spotline::runtime {

struct DoseTotals {
  std::uint32_t spots = 0;
  double planned = 0.0;
  double delivered = 0.0;
};

// The arithmetic, apart from the sockets, so it is tested on its own.
class DoseAccumulator {
 public:
  // One spot record. `partial`: a hold cut the spot; its planned meterset comes with the record
  // that completes it.
  void spot(std::uint32_t beam, std::uint32_t layer, std::uint32_t spot, double planned, double delivered,
            bool partial = false);
  const DoseTotals& layer(std::uint32_t beam, std::uint32_t layer) const;
  const DoseTotals& beam(std::uint32_t beam) const;
  const DoseTotals& fraction() const { return fraction_; }
  const std::map<std::uint32_t, DoseTotals>& beams() const { return beams_; }
  // Delivered meterset of one spot (a repainted spot accumulates).
  double spotDelivered(std::uint32_t beam, std::uint32_t layer, std::uint32_t spot) const;

 private:
  std::map<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>, double> spots_;
  std::map<std::pair<std::uint32_t, std::uint32_t>, DoseTotals> layers_;
  std::map<std::uint32_t, DoseTotals> beams_;
  DoseTotals fraction_;
};

class DoseService {
 public:
  explicit DoseService(ServiceContext ctx);
  void run(std::stop_token stop);

 private:
  struct Active {
    DoseAccumulator dose;
    std::uint64_t lastSequence = 0;
  };
  void handle(const bus::Event& ev);
  void publish(const std::string& fraction, wire::DoseScope scope, std::uint32_t beam, std::uint32_t layer,
               const DoseTotals& totals);

  ServiceContext ctx_;
  bus::Publisher publisher_;
  bus::Subscriber subscriber_;
  HeartbeatEmitter heartbeat_;
  messages::Encoder encoder_;
  std::map<std::string, Active> active_;
  bool ready_ = false;
  prometheus::Counter& spots_;
  prometheus::Counter& gaps_;
  prometheus::Counter& records_;
};

}  // namespace spotline::runtime
