#pragma once
// Shared by the bridge tests (mock cluster and real broker): a journal of synthetic delivery events,
// and the exactly-once check of what the spotline.* topics hold against it.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "spotline/bridge/kafka_reader.h"
#include "spotline/bridge/topics.h"
#include "spotline/messages/codec.h"
#include "spotline/recorder/journal.h"

namespace spotline::bridge::testing {

// Appends `fractions` fractions of `spots` spot events each (with start, layer, dose, QA, a hold and
// an end), interleaved between fractions as rooms interleave, to the journal in `dir`. Returns the
// frames in journal order (appended after whatever the journal held: `first` is the first index).
inline std::vector<messages::Frame> writeJournal(const std::filesystem::path& dir, int fractions, int spots,
                                                 std::uint64_t seed, std::uint64_t* first = nullptr) {
  recorder::JournalOptions o{.dir = dir};
  o.sync = false;
  auto w = recorder::JournalWriter::open(o);
  EXPECT_TRUE(w.ok()) << (w.ok() ? "" : w.error().message);
  if (first != nullptr) *first = w.value()->nextIndex();
  messages::Encoder enc;
  std::vector<messages::Frame> frames;
  std::mt19937_64 rng(seed);
  std::vector<int> left(static_cast<std::size_t>(fractions), spots);
  std::vector<std::uint64_t> seq(static_cast<std::size_t>(fractions), 1);
  auto id = [](int f) { return "F" + std::to_string(f + 1) + "-synthetic"; };
  auto add = [&](std::string_view source, std::uint64_t s) {
    // Now, not a fixed date: Kafka's time-based retention deletes records by their timestamp.
    const auto wall =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    return enc.start({.source = source, .sequence = s, .wallTimeNs = wall});
  };
  auto push = [&] {
    frames.push_back(enc.finish());
    w.value()->append(frames.back());
  };
  {
    auto b = add("plan", 0);
    b.initPlanLoaded().setPlanUid("1.2.826.0.1.3680043.10.1234.synthetic");
    push();
  }
  for (int f = 0; f < fractions; ++f) {
    add("delivery", seq[f]++).initFractionStarted().setFractionId(id(f));
    push();
  }
  std::vector<int> open;
  for (int f = 0; f < fractions; ++f) open.push_back(f);
  while (!open.empty()) {
    const std::size_t pick = std::uniform_int_distribution<std::size_t>(0, open.size() - 1)(rng);
    const int f = open[pick];
    const auto fi = static_cast<std::size_t>(f);
    auto s = add("delivery", seq[fi]++).initSpotDelivered();
    s.setFractionId(id(f));
    s.setSpot(static_cast<std::uint32_t>(spots - left[fi]));
    s.setPlanned(1.0);
    s.setDelivered(std::uniform_real_distribution<double>(0.97, 1.03)(rng));
    push();
    if (--left[fi] % 97 == 0) {
      auto d = add("dose", seq[fi]).initDoseRecorded();
      d.setFractionId(id(f));
      push();
      auto q = add("qa", seq[fi]).initQaEvent();
      q.setFractionId(id(f));
      push();
    }
    if (left[fi] == spots / 2) {
      auto h = add("delivery", seq[fi]++).initBeamHold();
      h.setFractionId(id(f));
      push();
    }
    if (left[fi] == 0) {
      auto e = add("delivery", seq[fi]++).initFractionEnded();
      e.setFractionId(id(f));
      e.setOutcome(wire::FractionOutcome::COMPLETED);
      push();
      open.erase(open.begin() + static_cast<std::ptrdiff_t>(pick));
    }
  }
  auto c = w.value()->commit();
  EXPECT_TRUE(c.ok());
  return frames;
}

struct Seen {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::string key;
  std::vector<std::byte> value;
};

// Every record of the journal in `dir`, in order.
inline std::vector<messages::Frame> readJournal(const std::filesystem::path& dir) {
  std::vector<messages::Frame> frames;
  auto reader = recorder::JournalReader::open(dir);
  EXPECT_TRUE(reader.ok());
  if (!reader.ok()) return frames;
  while (true) {
    auto rec = reader.value()->next();
    EXPECT_TRUE(rec.ok());
    if (!rec.ok() || !rec.value()) break;
    frames.push_back(std::move(rec.value()->payload));
  }
  return frames;
}

// Every record of the six topics, by journal sequence; a sequence seen twice fails the test.
inline std::map<std::uint64_t, Seen> readTopics(const std::string& brokers, std::uint64_t* duplicates = nullptr,
                                                const std::string& prefix = "spotline.") {
  KafkaReaderOptions o{.brokers = brokers, .stopAtEnd = true};
  for (Topic t : kTopics) o.topics.push_back(prefix + std::string(topicSuffix(t)));
  auto reader = KafkaReader::open(o);
  EXPECT_TRUE(reader.ok()) << (reader.ok() ? "" : reader.error().message);
  std::map<std::uint64_t, Seen> seen;
  std::map<std::pair<std::string, std::int32_t>, std::uint64_t> lastInPartition;
  if (!reader.ok()) return seen;
  while (true) {
    auto r = reader.value()->next(std::chrono::seconds(30));
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    if (!r.ok() || !r.value()) break;
    auto& rec = *r.value();
    EXPECT_TRUE(rec.sequence.has_value()) << rec.topic << "@" << rec.offset;
    if (!rec.sequence) continue;
    auto part = std::make_pair(rec.topic, rec.partition);
    if (auto it = lastInPartition.find(part); it != lastInPartition.end()) {
      EXPECT_GT(*rec.sequence, it->second) << "journal order broken in " << rec.topic << "/" << rec.partition;
    }
    lastInPartition[part] = *rec.sequence;
    auto [it, fresh] = seen.emplace(*rec.sequence, Seen{rec.topic, rec.partition, rec.offset, rec.key, rec.value});
    if (!fresh) {
      if (duplicates != nullptr) ++*duplicates;
      ADD_FAILURE() << "sequence " << *rec.sequence << " twice: " << it->second.topic << "@" << it->second.offset
                    << " and " << rec.topic << "@" << rec.offset;
    }
  }
  EXPECT_TRUE(reader.value()->atEnd());
  return seen;
}

// Kafka holds exactly the journal: every record once, on its topic, with its bytes and key.
inline void expectExactlyOnce(const std::vector<messages::Frame>& journal, const std::map<std::uint64_t, Seen>& seen,
                              std::uint64_t first = 0, const std::string& prefix = "spotline.") {
  if (seen.size() < journal.size()) {
    for (std::size_t i = 0, shown = 0; i < journal.size() && shown < 10; ++i) {
      if (seen.contains(first + i)) continue;
      auto d = messages::decode(journal[i]);
      ADD_FAILURE() << "journal record " << first + i << " ("
                    << (d.ok() ? std::string(messages::bodyName(d.value()->body().which())) : "?") << ", key "
                    << (d.ok() ? keyOf(d.value()->body()) : "?") << ") is not in Kafka";
      ++shown;
    }
  }
  ASSERT_EQ(seen.size(), journal.size()) << "Kafka holds " << seen.size() << " records, the journal " << journal.size();
  std::uint64_t mismatched = 0;
  for (std::size_t i = 0; i < journal.size(); ++i) {
    auto it = seen.find(first + i);
    if (it == seen.end()) {
      ADD_FAILURE() << "journal record " << first + i << " is not in Kafka";
      continue;
    }
    auto decoded = messages::decode(journal[i]);
    ASSERT_TRUE(decoded.ok());
    const std::string topic = prefix + std::string(topicSuffix(topicOf(decoded.value()->body())));
    if (it->second.topic != topic || it->second.value != journal[i] ||
        it->second.key != keyOf(decoded.value()->body())) {
      if (++mismatched < 5) ADD_FAILURE() << "record " << first + i << " differs in " << it->second.topic;
    }
  }
  EXPECT_EQ(mismatched, 0u);
}

}  // namespace spotline::bridge::testing
