#include "spotline/delivery/faults.h"

#include <charconv>
#include <cmath>

namespace spotline::delivery {
namespace {

struct KindInfo {
  FaultKind kind;
  std::string_view name;
  std::vector<FaultTrigger> triggers;
};

const std::vector<KindInfo>& kinds() {
  static const std::vector<KindInfo> all{
      {FaultKind::PositionDrift, "position-drift", {FaultTrigger::Layer, FaultTrigger::Spot}},
      {FaultKind::Monitor2Fail, "monitor2-fail", {FaultTrigger::Spot, FaultTrigger::Layer}},
      {FaultKind::Overshoot, "overshoot", {FaultTrigger::Spot}},
      {FaultKind::SpillAbort, "spill-abort", {FaultTrigger::Spill}},
      {FaultKind::DoorOpen, "door-open", {FaultTrigger::Time, FaultTrigger::Spot}},
      {FaultKind::KillRv, "kill-rv", {FaultTrigger::Spot}},
      {FaultKind::KillDose, "kill-dose", {FaultTrigger::Spot}},
      {FaultKind::KillQa, "kill-qa", {FaultTrigger::Spot}},
      {FaultKind::KillDelivery, "kill-delivery", {FaultTrigger::Spot}},
  };
  return all;
}

std::string_view triggerName(FaultTrigger t) {
  switch (t) {
    case FaultTrigger::Spot: return "spot=N";
    case FaultTrigger::Layer: return "layer=N";
    case FaultTrigger::Spill: return "spill=N";
    case FaultTrigger::Time: return "t=DURATION";
  }
  return "?";
}

Failure<FaultError> bad(std::string_view text, const std::string& why) {
  return fail(FaultError::Invalid, "fault '" + std::string(text) + "': " + why);
}

}  // namespace

std::string_view FaultSpec::victim() const {
  switch (kind) {
    case FaultKind::KillRv: return "rv";
    case FaultKind::KillDose: return "dose";
    case FaultKind::KillQa: return "qa";
    case FaultKind::KillDelivery: return "delivery";
    default: return {};
  }
}

std::string_view toString(FaultKind kind) {
  for (const auto& k : kinds()) {
    if (k.kind == kind) return k.name;
  }
  return "unknown";
}

Result<FaultSpec, FaultError> parseFault(std::string_view text) {
  auto at = text.find('@');
  if (at == std::string_view::npos) return bad(text, "expected KIND@WHERE, e.g. position-drift@layer=3");
  auto kindName = text.substr(0, at);
  auto where = text.substr(at + 1);
  const KindInfo* info = nullptr;
  for (const auto& k : kinds()) {
    if (k.name == kindName) info = &k;
  }
  if (info == nullptr) {
    std::string known;
    for (const auto& k : kinds()) known += (known.empty() ? "" : ", ") + std::string(k.name);
    return bad(text, "unknown kind '" + std::string(kindName) + "' (known: " + known + ")");
  }
  auto eq = where.find('=');
  if (eq == std::string_view::npos) return bad(text, "expected WHERE as key=value after '@'");
  auto key = where.substr(0, eq);
  auto value = where.substr(eq + 1);
  FaultSpec spec{info->kind, FaultTrigger::Spot, 0, SimDuration{0}, std::string(text)};
  if (key == "spot") {
    spec.trigger = FaultTrigger::Spot;
  } else if (key == "layer") {
    spec.trigger = FaultTrigger::Layer;
  } else if (key == "spill") {
    spec.trigger = FaultTrigger::Spill;
  } else if (key == "t") {
    spec.trigger = FaultTrigger::Time;
  } else {
    return bad(text, "unknown key '" + std::string(key) + "' (spot, layer, spill or t)");
  }
  bool allowed = false;
  std::string accepted;
  for (auto t : info->triggers) {
    allowed |= t == spec.trigger;
    accepted += (accepted.empty() ? "" : " or ") + std::string(triggerName(t));
  }
  if (!allowed) return bad(text, std::string(info->name) + " takes " + accepted);

  if (spec.trigger == FaultTrigger::Time) {
    double number = 0.0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
    if (ec != std::errc() || end == value.data()) return bad(text, "t needs a duration such as 30s, 1500ms or 2min");
    std::string_view unit(end, static_cast<std::size_t>(value.data() + value.size() - end));
    double seconds = 0.0;
    if (unit.empty() || unit == "s") {
      seconds = number;
    } else if (unit == "ms") {
      seconds = number / 1000.0;
    } else if (unit == "min") {
      seconds = number * 60.0;
    } else {
      return bad(text, "unknown time unit '" + std::string(unit) + "' (s, ms or min)");
    }
    if (!std::isfinite(seconds) || seconds < 0.0 || seconds > 86400.0) {
      return bad(text, "t must be between 0 and 24 h");
    }
    spec.after = SimDuration(std::llround(seconds * 1e9));
    return spec;
  }
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || end != value.data() + value.size() || n == 0) {
    return bad(text, std::string(key) + " needs a whole number from 1");
  }
  spec.ordinal = n;
  return spec;
}

Result<std::vector<FaultSpec>, FaultError> parseFaults(const std::vector<std::string>& texts) {
  std::vector<FaultSpec> out;
  for (const auto& t : texts) {
    auto f = parseFault(t);
    if (!f) return f.error();
    out.push_back(std::move(f).value());
  }
  return out;
}

}  // namespace spotline::delivery
