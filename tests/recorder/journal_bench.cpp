// Throughput of the journal's group commit: append N records of 128 bytes, then one commit with
// fdatasync. items_per_second counts records made durable. The journal lives in a fresh directory
// under the system temp dir, removed afterwards; numbers depend on that disk's fdatasync latency.

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "spotline/recorder/journal.h"

namespace {

namespace fs = std::filesystem;
using spotline::recorder::JournalOptions;
using spotline::recorder::JournalWriter;

void appendAndCommit(benchmark::State& state) {
  const auto group = static_cast<std::size_t>(state.range(0));
  std::random_device rd;
  const fs::path dir =
      fs::temp_directory_path() / ("spotline-journal-bench-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
  JournalOptions options;
  options.dir = dir;
  options.sync = true;
  auto opened = JournalWriter::open(options);
  if (!opened.ok()) {
    state.SkipWithError(opened.error().message.c_str());
    return;
  }
  auto writer = std::move(opened).value();
  std::vector<std::byte> payload(128);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::byte>(i * 31);

  for (auto _ : state) {
    for (std::size_t i = 0; i < group; ++i) {
      payload[0] = static_cast<std::byte>(i);
      benchmark::DoNotOptimize(writer->append(payload));
    }
    auto committed = writer->commit();
    if (!committed.ok()) {
      state.SkipWithError(committed.error().message.c_str());
      break;
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(group));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(group) * 128);
  state.counters["segments"] =
      static_cast<double>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) - 1);
  writer.reset();
  std::error_code ec;
  fs::remove_all(dir, ec);
}

BENCHMARK(appendAndCommit)->Arg(1)->Arg(64)->Arg(1024)->Arg(8192)->UseRealTime();

// Spot-to-durable latency at a clinical rate: spot events (256 bytes, the size of a journaled
// SpotDelivered frame) arrive at `rate` per second, paced by the clock; the writer loop appends
// whatever has arrived and commits, as rv does. A record's latency runs from its arrival to the end
// of the commit that made it durable. Counters: p50_us, p99_us, max_us over the run.
void pacedLatency(benchmark::State& state) {
  const double rate = static_cast<double>(state.range(0));
  std::random_device rd;
  const fs::path dir =
      fs::temp_directory_path() / ("spotline-journal-lat-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
  JournalOptions options;
  options.dir = dir;
  auto opened = JournalWriter::open(options);
  if (!opened.ok()) {
    state.SkipWithError(opened.error().message.c_str());
    return;
  }
  auto writer = std::move(opened).value();
  std::vector<std::byte> payload(256, std::byte{0x5a});
  std::vector<double> latencies;
  using Clock = std::chrono::steady_clock;
  for (auto _ : state) {
    const auto start = Clock::now();
    const auto duration = std::chrono::seconds(2);
    std::uint64_t arrived = 0;
    std::vector<Clock::time_point> pending;
    while (Clock::now() - start < duration) {
      const auto now = Clock::now();
      const auto due = static_cast<std::uint64_t>(std::chrono::duration<double>(now - start).count() * rate);
      for (; arrived < due; ++arrived) {
        pending.push_back(start + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(static_cast<double>(arrived) / rate)));
        writer->append(payload);
      }
      if (pending.empty()) continue;
      if (!writer->commit().ok()) {
        state.SkipWithError("commit failed");
        return;
      }
      const auto durable = Clock::now();
      for (const auto& at : pending)
        latencies.push_back(std::chrono::duration<double, std::micro>(durable - at).count());
      pending.clear();
    }
  }
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double p) {
    return latencies.empty()
               ? 0.0
               : latencies[std::min(latencies.size() - 1, static_cast<std::size_t>(p * latencies.size()))];
  };
  state.counters["p50_us"] = pct(0.50);
  state.counters["p99_us"] = pct(0.99);
  state.counters["max_us"] = latencies.empty() ? 0.0 : latencies.back();
  state.SetItemsProcessed(static_cast<std::int64_t>(latencies.size()));
  writer.reset();
  std::error_code ec;
  fs::remove_all(dir, ec);
}

BENCHMARK(pacedLatency)->Arg(30000)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
