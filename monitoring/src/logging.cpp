#include "spotline/monitoring/logging.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace spotline::monitoring {

std::shared_ptr<spdlog::logger> makeLogger(const std::string& service, const LogOptions& options) {
  std::vector<spdlog::sink_ptr> sinks;
  auto console = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  console->set_level(options.consoleLevel);
  sinks.push_back(console);
  if (options.file) {
    std::filesystem::create_directories(options.file->parent_path());
    auto file = std::make_shared<spdlog::sinks::basic_file_sink_mt>(options.file->string(), false);
    file->set_level(options.level);
    sinks.push_back(file);
  }
  auto logger = std::make_shared<spdlog::logger>(service, sinks.begin(), sinks.end());
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %n %l %v");
  logger->set_level(std::min(options.level, options.consoleLevel));
  logger->flush_on(spdlog::level::info);
  return logger;
}

std::shared_ptr<spdlog::logger> childLogger(const std::shared_ptr<spdlog::logger>& parent, const std::string& service) {
  auto logger = std::make_shared<spdlog::logger>(service, parent->sinks().begin(), parent->sinks().end());
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %n %l %v");
  logger->set_level(parent->level());
  logger->flush_on(spdlog::level::info);
  return logger;
}

}  // namespace spotline::monitoring
