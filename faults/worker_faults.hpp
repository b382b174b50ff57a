#pragma once

// Faults aimed at a worker process, at a gated failpoint firing inside the
// locked section: a crash (SIGKILL: no destructor runs, sockets close, a
// held lock stays until its TTL) and a pause (SIGSTOP until healed, then
// SIGCONT: the process runs on as if nothing happened, its lease long gone).
// Both name the user whose lookup the worker was running, so that the
// lock-expiry invariant knows whose lock to watch if it was held.

#include <chrono>
#include <optional>
#include <string>

#include "faults/fault.hpp"

namespace orgquake::faults {

class WorkerCrash : public Fault {
 public:
  WorkerCrash(std::string failpoint, std::string user)
      : failpoint_(std::move(failpoint)), user_(std::move(user)) {}
  std::string_view kind() const override { return "crash_at_failpoint"; }
  void inject(FaultTarget& target, const FaultSite& site) override;
  bool needs_site() const override { return true; }
  const std::string& failpoint() const { return failpoint_; }
  const std::string& user() const { return user_; }

 protected:
  nlohmann::json parameters() const override;

 private:
  std::string failpoint_, user_;
};

class WorkerPause : public Fault {
 public:
  /// `stopped_for`: how long the scenario keeps it stopped, when it decides
  /// that (recorded in the plan; the scenario heals it).
  WorkerPause(std::string failpoint, std::string user,
              std::optional<std::chrono::milliseconds> stopped_for = std::nullopt)
      : failpoint_(std::move(failpoint)), user_(std::move(user)), stopped_for_(stopped_for) {}
  std::string_view kind() const override { return "pause_at_failpoint"; }
  void inject(FaultTarget& target, const FaultSite& site) override;
  void heal(FaultTarget& target) override;
  bool lasting() const override { return true; }
  bool needs_site() const override { return true; }
  const std::string& failpoint() const { return failpoint_; }
  const std::string& user() const { return user_; }
  std::optional<std::chrono::milliseconds> stopped_for() const { return stopped_for_; }

 protected:
  nlohmann::json parameters() const override;

 private:
  std::string failpoint_, user_;
  std::optional<std::chrono::milliseconds> stopped_for_;
  int worker_ = -1;  ///< the worker it stopped, until healed
};

}  // namespace orgquake::faults
