// Throughput of the journal's group commit: append N records of 128 bytes, then one commit with
// fdatasync. items_per_second counts records made durable. The journal lives in a fresh directory
// under the system temp dir, removed afterwards; numbers depend on that disk's fdatasync latency.

#include <benchmark/benchmark.h>
#include <unistd.h>

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

}  // namespace

BENCHMARK_MAIN();
