#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "console.h"

namespace spotline::console {

std::filesystem::path executableDir() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::current_path() : self.parent_path();
}

std::filesystem::path examplesDir() {
  if (const char* env = std::getenv("SPOTLINE_EXAMPLES")) return env;
  return std::filesystem::path(SPOTLINE_SOURCE_DIR) / "examples" / "plans";
}

void printJson(const nlohmann::json& j) {
  std::cout << j.dump(2) << std::endl;
}

int complain(const std::string& command, const std::string& message, int code) {
  std::cerr << command << ": " << message << std::endl;
  return code;
}

}  // namespace spotline::console
