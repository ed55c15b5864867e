#pragma once
// Loggers are made here and passed in; nothing registers in spdlog's global registry.

#include <spdlog/spdlog.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace spotline::monitoring {

struct LogOptions {
  std::optional<std::filesystem::path> file;                     // append here when set
  spdlog::level::level_enum consoleLevel = spdlog::level::warn;  // stderr
  spdlog::level::level_enum level = spdlog::level::info;
};

// A logger named after the service; lines read "<time> <service> <level> <message>", and
// messages carry room, plan and fraction ids as key=value pairs.
std::shared_ptr<spdlog::logger> makeLogger(const std::string& service, const LogOptions& options);

// Shares sinks with an existing logger (embedded mode: one file, one line per service event).
std::shared_ptr<spdlog::logger> childLogger(const std::shared_ptr<spdlog::logger>& parent, const std::string& service);

}  // namespace spotline::monitoring
