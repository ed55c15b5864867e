#pragma once
// Runs a command line and captures its standard output and exit code.

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

namespace spotline::systemtest {

struct Run {
  int code = -1;
  std::string out;  // standard output only, so --json output parses
  std::string err;
  std::string text() const { return out + err; }
};

inline std::string bin(const std::string& name) {
  return std::string(SPOTLINE_BIN_DIR) + "/" + name;
}

inline Run run(const std::string& command) {
  Run r;
  static int counter = 0;
  auto errFile = std::filesystem::temp_directory_path() /
                 ("spotline-run-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".err");
  FILE* p = ::popen((command + " 2>'" + errFile.string() + "'").c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (FILE* e = std::fopen(errFile.c_str(), "r")) {
    while ((n = std::fread(buf.data(), 1, buf.size(), e)) > 0) r.err.append(buf.data(), n);
    std::fclose(e);
  }
  std::filesystem::remove(errFile);
  return r;
}

inline std::string quote(const std::filesystem::path& p) {
  return "'" + p.string() + "'";
}

}  // namespace spotline::systemtest
