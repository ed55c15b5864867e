// spotline facility up | status | down (and the hidden `supervise`, the daemon `up` starts).
//
// Layout of DIR: endpoints.json, pids/<service>.pid, pids/supervisor.pid, logs/<service>.log,
// journal/. The supervisor starts every service process, restarts one that dies (and says so in
// logs/supervisor.log), and on SIGTERM stops them all.

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "console.h"
#include "spotline/bus/endpoints.h"
#include "spotline/runtime/console_client.h"

namespace spotline::console {

namespace fs = std::filesystem;

namespace {

struct FacilityArgs {
  std::string dir;
  bool json = false;
  int readySeconds = 30;
  bool realtime = false;  // the delivery service paces the machine to the wall clock
};

volatile std::sig_atomic_t supervisorStop = 0;
void onStop(int) {
  supervisorStop = 1;
}

fs::path pidFile(const fs::path& dir, const std::string& name) {
  return dir / "pids" / (name + ".pid");
}

int readPid(const fs::path& file) {
  std::ifstream in(file);
  int pid = 0;
  in >> pid;
  return in ? pid : 0;
}

void writePid(const fs::path& file, int pid) {
  auto tmp = file;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << pid << "\n";
  }
  fs::rename(tmp, file);
}

// Alive and really ours: the pid may have been reused by another program since it was written.
bool alive(int pid, const std::string& expect) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string statLine;
  std::getline(stat, statLine);
  auto close = statLine.rfind(')');
  if (close != std::string::npos && close + 2 < statLine.size() && statLine[close + 2] == 'Z') return false;
  std::ifstream cmd("/proc/" + std::to_string(pid) + "/cmdline");
  std::string cmdline((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
  return cmdline.find(expect) != std::string::npos;
}

std::string processName(const std::string& service) {
  return service == "supervisor" ? "spotline" : "spotline-" + service;
}

int alivePid(const fs::path& dir, const std::string& name) {
  int pid = readPid(pidFile(dir, name));
  return alive(pid, processName(name)) ? pid : 0;
}

void log(std::ostream& out, const std::string& message) {
  auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", std::gmtime(&now));
  out << stamp << " supervisor " << message << std::endl;
}

void redirect(const fs::path& file) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) {
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  int null = ::open("/dev/null", O_RDONLY);
  if (null >= 0) {
    ::dup2(null, STDIN_FILENO);
    ::close(null);
  }
}

int spawn(const fs::path& exe, const std::vector<std::string>& args, const fs::path& output, bool newSession) {
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    if (newSession) ::setsid();
    redirect(output);
    std::vector<char*> argv;
    std::string exeStr = exe.string();
    argv.push_back(exeStr.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(exeStr.c_str(), argv.data());
    std::_Exit(127);
  }
  return pid;
}

void ensureEndpoints(const fs::path& dir) {
  auto file = dir / "endpoints.json";
  if (fs::exists(file)) return;
  auto ports = bus::freeTcpPorts(7 + bus::serviceNames().size());
  auto e = bus::Endpoints::tcp(ports);
  std::size_t next = 7;
  for (const auto& s : bus::serviceNames()) {
    if (s != "bus") e.metricsPorts[s] = ports[next++];
  }
  bus::writeEndpoints(file, e);
}

std::vector<std::string> serviceArgs(const fs::path& dir, const std::string& service, bool realtime) {
  std::vector<std::string> a{"--endpoints", (dir / "endpoints.json").string(), "--log",
                             (dir / "logs" / (service + ".log")).string()};
  if (service == "rv") {
    a.push_back("--journal");
    a.push_back((dir / "journal").string());
    a.push_back("--signing-key");
    a.push_back((dir / "keys" / "journal.key").string());
  }
  if (service == "delivery") {
    // Process faults (kill-rv@spot=N ...) kill the service whose pid is in pids/.
    a.push_back("--pids");
    a.push_back((dir / "pids").string());
    a.push_back("--outbox");
    a.push_back((dir / "outbox").string());
    if (realtime) a.push_back("--realtime");
  }
  return a;
}

int supervise(const FacilityArgs& a) {
  fs::path dir = fs::absolute(a.dir);
  std::ofstream out(dir / "logs" / "supervisor.log", std::ios::app);
  writePid(pidFile(dir, "supervisor"), ::getpid());
  std::signal(SIGTERM, onStop);
  std::signal(SIGINT, onStop);
  log(out, "up pid=" + std::to_string(::getpid()) + " dir=" + dir.string());
  std::map<std::string, int> children;
  std::map<std::string, int> starts;
  while (supervisorStop == 0) {
    int status = 0;
    pid_t gone;
    while ((gone = ::waitpid(-1, &status, WNOHANG)) > 0) {
      for (auto& [name, pid] : children) {
        if (pid != gone) continue;
        std::string how = WIFEXITED(status) ? "exited with status " + std::to_string(WEXITSTATUS(status))
                                            : "was killed by signal " + std::to_string(WTERMSIG(status));
        log(out, "service " + name + " pid=" + std::to_string(pid) + " " + how);
        pid = 0;
      }
    }
    for (const auto& name : bus::serviceNames()) {
      if (alivePid(dir, name) != 0) continue;
      if (supervisorStop != 0) break;
      int previous = readPid(pidFile(dir, name));
      int pid = spawn(executableDir() / processName(name), serviceArgs(dir, name, a.realtime),
                      dir / "logs" / (name + ".out"), false);
      children[name] = pid;
      writePid(pidFile(dir, name), pid);
      log(out, (starts[name]++ == 0 && previous == 0 ? "started " : "restarted ") + name + " pid=" +
                   std::to_string(pid) + (previous ? " (previous pid " + std::to_string(previous) + " is gone)" : ""));
      // Give a service that dies at once a moment, so a crash loop does not spin.
      std::this_thread::sleep_for(std::chrono::milliseconds(starts[name] > 3 ? 500 : 20));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  log(out, "stopping services");
  auto names = bus::serviceNames();
  for (auto it = names.rbegin(); it != names.rend(); ++it) {
    int pid = alivePid(dir, *it);
    if (pid == 0) continue;
    ::kill(pid, SIGTERM);
    for (int i = 0; i < 100 && alive(pid, processName(*it)); ++i) {
      ::waitpid(pid, nullptr, WNOHANG);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (alive(pid, processName(*it))) {
      log(out, *it + " did not stop in 5 s; killing");
      ::kill(pid, SIGKILL);
    }
    ::waitpid(pid, nullptr, 0);
    fs::remove(pidFile(dir, *it));
    log(out, "stopped " + *it + " pid=" + std::to_string(pid));
  }
  fs::remove(pidFile(dir, "supervisor"));
  log(out, "down");
  return kExitOk;
}

nlohmann::json statusJson(const fs::path& dir) {
  nlohmann::json services = nlohmann::json::object();
  bool all = true;
  for (const auto& name : bus::serviceNames()) {
    int pid = alivePid(dir, name);
    all &= pid != 0;
    services[name] = {{"pid", pid}, {"running", pid != 0}};
  }
  int sup = alivePid(dir, "supervisor");
  return {{"dir", dir.string()},
          {"running", all && sup != 0},
          {"supervisor", {{"pid", sup}, {"running", sup != 0}}},
          {"services", services}};
}

void printStatus(const nlohmann::json& s) {
  std::cout << "facility " << s["dir"].get<std::string>() << ": "
            << (s["running"].get<bool>() ? "running" : "not running") << "\n";
  std::cout << "  supervisor  "
            << (s["supervisor"]["running"].get<bool>() ? "pid " + std::to_string(s["supervisor"]["pid"].get<int>())
                                                       : "stopped")
            << "\n";
  for (const auto& [name, v] : s["services"].items()) {
    std::cout << "  " << name << std::string(12 - name.size(), ' ')
              << (v["running"].get<bool>() ? "pid " + std::to_string(v["pid"].get<int>()) : "stopped") << "\n";
  }
}

int up(const FacilityArgs& a) {
  fs::path dir = fs::absolute(a.dir);
  for (const char* sub : {"pids", "logs", "journal", "keys"}) fs::create_directories(dir / sub);
  ensureEndpoints(dir);
  std::map<std::string, int> before;
  for (const auto& name : bus::serviceNames()) before[name] = alivePid(dir, name);
  if (alivePid(dir, "supervisor") == 0) {
    std::vector<std::string> supArgs{"facility", "supervise", "--dir", dir.string()};
    if (a.realtime) supArgs.push_back("--realtime");
    spawn(executableDir() / "spotline", supArgs, dir / "logs" / "supervisor.out", true);
  }
  auto endpoints = bus::readEndpoints(dir / "endpoints.json");
  if (!endpoints) return complain("spotline facility up", endpoints.error().message, kExitBadInput);
  zmq::context_t zmq(1);
  SteadyClock clock;
  runtime::ConsoleClient client(zmq, endpoints.value(), clock);
  auto ready = client.waitForFacility(std::chrono::seconds(a.readySeconds));
  auto s = statusJson(dir);
  nlohmann::json started = nlohmann::json::array();
  for (const auto& name : bus::serviceNames()) {
    if (before[name] == 0) started.push_back(name);
  }
  s["started"] = started;
  s["ready"] = ready.ok();
  s["endpoints"] = nlohmann::json::parse(endpoints.value().toJson());
  if (a.json) {
    printJson(s);
  } else {
    printStatus(s);
    std::cout << "  started now: " << (started.empty() ? "nothing (all were running)" : started.dump()) << "\n";
  }
  if (!ready) {
    return complain("spotline facility up", ready.error().message + "; see " + (dir / "logs").string(), kExitInternal);
  }
  return kExitOk;
}

int status(const FacilityArgs& a) {
  auto s = statusJson(fs::absolute(a.dir));
  if (a.json) {
    printJson(s);
  } else {
    printStatus(s);
  }
  return kExitOk;
}

int down(const FacilityArgs& a) {
  fs::path dir = fs::absolute(a.dir);
  int sup = alivePid(dir, "supervisor");
  if (sup != 0) {
    ::kill(sup, SIGTERM);
    for (int i = 0; i < 400 && alive(sup, "spotline"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (alive(sup, "spotline")) ::kill(sup, SIGKILL);
  }
  // Anything the supervisor did not stop (it was killed, or never ran): stop it here.
  for (const auto& name : bus::serviceNames()) {
    int pid = alivePid(dir, name);
    if (pid != 0) {
      ::kill(pid, SIGTERM);
      for (int i = 0; i < 100 && alive(pid, processName(name)); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (alive(pid, processName(name))) ::kill(pid, SIGKILL);
    }
    fs::remove(pidFile(dir, name));
  }
  fs::remove(pidFile(dir, "supervisor"));
  if (a.json) {
    printJson(statusJson(dir));
  } else {
    std::cout << "facility " << dir.string() << ": down\n";
  }
  return kExitOk;
}

}  // namespace

void addFacilityCommands(CLI::App& app, Action& action) {
  auto args = std::make_shared<FacilityArgs>();
  auto* facility =
      app.add_subcommand("facility", "Run the multi-process facility: one process per service on 127.0.0.1");
  facility->require_subcommand(1);
  auto* upCmd = facility->add_subcommand("up", "Start the facility (only what is missing) and wait until it is ready");
  auto* statusCmd = facility->add_subcommand("status", "Show each service's process");
  auto* downCmd = facility->add_subcommand("down", "Stop every process of the facility");
  auto* superviseCmd = facility->add_subcommand("supervise", "(internal) the supervisor daemon started by 'up'");
  superviseCmd->group("");
  for (auto* c : {upCmd, statusCmd, downCmd, superviseCmd}) {
    c->add_option("--dir", args->dir, "facility directory (endpoints.json, pids/, logs/, journal/)")->required();
  }
  for (auto* c : {upCmd, statusCmd, downCmd}) c->add_flag("--json", args->json, "machine-readable output");
  for (auto* c : {upCmd, superviseCmd}) {
    c->add_flag("--realtime", args->realtime, "pace the simulated machine to the wall clock (console, demos)");
  }
  upCmd->add_option("--ready-timeout", args->readySeconds, "seconds to wait for every service to be ready")
      ->capture_default_str();
  upCmd->callback([&action, args] { action = [args] { return up(*args); }; });
  statusCmd->callback([&action, args] { action = [args] { return status(*args); }; });
  downCmd->callback([&action, args] { action = [args] { return down(*args); }; });
  superviseCmd->callback([&action, args] { action = [args] { return supervise(*args); }; });
}

}  // namespace spotline::console
