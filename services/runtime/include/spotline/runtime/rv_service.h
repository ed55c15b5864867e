#pragma once
// Record and verify. Journals every delivery event from the spot stream (and the dose, QA and
// plan events it hears on the bus) append-only with group commit, acknowledges spots only once
// durable, and refuses beam-on unless the plan's content hash matches the approved plan.
//
// Lifecycle: open() recovers the journal (torn tail) and rebuilds the ledger; run() on one thread
// until the stop token is set. Owns its sockets and the journal writer.

#include <chrono>
#include <memory>
#include <optional>
#include <stop_token>

#include "spotline/bus/spot_stream.h"
#include "spotline/plan/facility.h"
#include "spotline/recorder/journal.h"
#include "spotline/runtime/fraction_ledger.h"
#include "spotline/runtime/service_context.h"

namespace prometheus {
class Counter;
class Histogram;
class Gauge;
}  // namespace prometheus

namespace spotline::runtime {

struct RvOptions {
  std::filesystem::path journalDir;
  // The facility key that signs journal checkpoints; without one the journal is hash-chained but
  // unsigned (a clean cut at its end, or a rewrite with every hash recomputed, goes unseen).
  std::optional<recorder::SigningKey> signingKey;
  std::uint64_t checkpointRecords = 100'000;
  std::chrono::steady_clock::duration checkpointInterval = std::chrono::seconds(10);
  std::size_t segmentBytes = std::size_t{64} << 20;
  std::size_t maxBatch = 16384;           // frames taken from the stream before a group commit
  std::uint32_t queryPageLines = 10'000;  // spot lines per JournalQueryReply at most
};

// Loads the signing key at `file`, or creates it (mode 0600, with file.pub beside it) when there is
// none yet, saying so in the log. The error names the file.
Result<recorder::SigningKey, std::string> loadOrCreateSigningKey(const std::filesystem::path& file,
                                                                 spdlog::logger& log);

// Encodes the journal's own incident record (a torn tail cut, an operator repair).
std::vector<std::byte> encodeIncident(const recorder::RecoveryReport& report, bool checkpoint);

class RvService {
 public:
  // Fails (with the journal's message) when the journal is damaged or locked.
  static Result<std::unique_ptr<RvService>, recorder::JournalError> open(ServiceContext ctx, plan::Facility facility,
                                                                         RvOptions options);
  void run(std::stop_token stop);
  ~RvService();

 private:
  RvService(ServiceContext ctx, plan::Facility facility, RvOptions options,
            std::unique_ptr<recorder::JournalWriter> journal);
  Result<bool, recorder::JournalError> rebuildLedger();
  void handleCommand(const bus::Inbound& in);
  // Answers JournalQuery on the query socket, on a thread of its own: a query reads the journal
  // from disk and never delays the spot stream or a beam-on verification.
  void serveQueries(std::stop_token stop);
  void verify(const bus::Inbound& in, const messages::Decoded& msg);
  void journalFrame(std::span<const std::byte> frame, const messages::Decoded& msg);
  bool commit();

  ServiceContext ctx_;
  plan::Facility facility_;
  RvOptions options_;
  std::unique_ptr<recorder::JournalWriter> journal_;
  bus::ZmqRouter stream_;
  bus::ZmqRouter commands_;
  bus::Publisher publisher_;
  bus::Subscriber subscriber_;
  bus::RequestClient planClient_;
  bus::SpotStreamReceiver receiver_;
  HeartbeatEmitter heartbeat_;
  messages::Encoder encoder_;
  FractionLedger ledger_;
  bool ready_ = false;
  bool healthy_ = true;  // false after a failed commit: nothing more is acknowledged
  WallClock::TimePoint lastCheckpointLook_{};
  prometheus::Counter& records_;
  prometheus::Counter& spots_;
  prometheus::Counter& commits_;
  prometheus::Counter& duplicates_;
  prometheus::Counter& refusals_;
  prometheus::Histogram& commitSeconds_;
  prometheus::Gauge& durable_;
};

}  // namespace spotline::runtime
