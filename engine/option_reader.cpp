#include "engine/option_reader.hpp"

#include <limits>
#include <stdexcept>

#include <fmt/format.h>

#include "engine/interleaving.hpp"

namespace orgquake::engine {

const nlohmann::json& OptionReader::take(OptionSpec spec) {
  for (const auto& seen : declared_) {
    if (seen.name == spec.name) {
      throw std::logic_error(fmt::format("option {} is read twice by one scenario", spec.name));
    }
  }
  declared_.push_back(std::move(spec));
  const OptionSpec& taken = declared_.back();
  if (values_ == nullptr) return taken.default_value;
  return values_->value(taken.name);
}

std::int64_t OptionReader::integer(std::string name, std::int64_t default_value, std::int64_t min,
                                   std::int64_t max, std::string description) {
  return take({std::move(name),
               default_value,
               std::move(description),
               static_cast<double>(min),
               static_cast<double>(max),
               {}})
      .get<std::int64_t>();
}

int OptionReader::count(std::string name, int default_value, int min, int max,
                        std::string description) {
  return static_cast<int>(
      integer(std::move(name), default_value, min, max, std::move(description)));
}

std::chrono::milliseconds OptionReader::duration(std::string name, std::int64_t default_ms,
                                                 std::int64_t min_ms, std::int64_t max_ms,
                                                 std::string description) {
  if (!name.ends_with("_ms")) {
    throw std::logic_error(fmt::format("duration option {} must be named ..._ms", name));
  }
  return std::chrono::milliseconds(
      integer(std::move(name), default_ms, min_ms, max_ms, std::move(description)));
}

double OptionReader::number(std::string name, double default_value, double min, double max,
                            std::string description) {
  return take({std::move(name), default_value, std::move(description), min, max, {}}).get<double>();
}

bool OptionReader::flag(std::string name, bool default_value, std::string description) {
  return take({std::move(name),
               default_value,
               std::move(description),
               std::nullopt,
               std::nullopt,
               {}})
      .get<bool>();
}

std::string OptionReader::choice(std::string name, std::string default_value,
                                 std::vector<std::string> choices, std::string description) {
  return take({std::move(name), std::move(default_value), std::move(description), std::nullopt,
               std::nullopt, std::move(choices)})
      .get<std::string>();
}

const nlohmann::json& OptionReader::custom(OptionSpec spec) {
  return take(std::move(spec));
}

int OptionReader::common_count(std::string_view name) {
  const OptionSpec* spec = find_option(common_options(), name);
  if (spec == nullptr || !spec->default_value.is_number_integer()) {
    throw std::logic_error(fmt::format("{} is not a common count option", name));
  }
  return static_cast<int>(take(*spec).get<std::int64_t>());
}

TrialSettings TrialSettings::read(OptionReader& o) {
  TrialSettings s;
  s.strategy = o.choice("strategy", "joined", {"joined", "selectin", "n_plus_one"},
                        "eager-loading strategy of lookups");
  s.fast_path =
      o.flag("fast_path", true, "read without the lock first, lock only unmigrated users");
  s.lock_ttl = o.duration("lock_ttl_ms", 1000, 50, 600000, "lease of the per-user Redis lock");
  s.lock_max_wait =
      o.duration("lock_max_wait_ms", 5000, 10, 600000, "how long a lookup waits for a held lock");
  s.recovery_bound = o.duration("recovery_bound_ms", 2000, 0, 600000,
                                "how long past the TTL a dead holder's user may stay blocked");
  s.liveness_bound = o.duration("liveness_bound_ms", 10000, 100, 600000,
                                "a liveness lookup must come back verified within this");
  s.run_timeout =
      o.duration("run_timeout_ms", 30000, 1000, 3600000, "the run phase is abandoned after this");
  s.interleaving =
      o.custom({"interleaving",
                "",
                "happens-before pairs between failpoints, forced across workers in the run "
                "phase: \"a.x -> b.y; c.z -> d.w\"",
                std::nullopt,
                std::nullopt,
                {},
                [](const nlohmann::json& value) {
                  return check_interleaving(value.get<std::string>());
                }})
          .get<std::string>();
  return s;
}

const std::vector<OptionSpec>& trial_options() {
  static const std::vector<OptionSpec> options = [] {
    OptionReader declaring;
    (void)TrialSettings::read(declaring);
    return std::move(declaring).declared();
  }();
  return options;
}

}  // namespace orgquake::engine
