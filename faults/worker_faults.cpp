#include "faults/worker_faults.hpp"

#include <stdexcept>

namespace orgquake::faults {
namespace {

// The crash or pause event: the worker and signal, and when the worker held
// the user's lock, what the lock-expiry invariant needs to judge recovery.
FaultRecord worker_record(const char* kind, const char* signal, int worker,
                          const std::string& holds_lock_of, const FaultTarget& target) {
  FaultRecord record{kind, {{"worker", worker}, {"signal", signal}}, holds_lock_of};
  if (!holds_lock_of.empty()) {
    record.value["holds_lock_of"] = holds_lock_of;
    record.value["ttl_ms"] = target.lock_ttl().count();
    record.value["recovery_bound_ms"] = target.recovery_bound().count();
  }
  return record;
}

void require_site(const FaultSite& site, std::string_view kind) {
  if (site.worker < 0) {
    throw std::logic_error(std::string(kind) + " needs the worker to act on");
  }
}

}  // namespace

void WorkerCrash::inject(FaultTarget& target, const FaultSite& site) {
  require_site(site, kind());
  if (target.worker_exited(site.worker)) return;
  const std::string held = target.lock_held(user_) ? user_ : "";
  target.record(worker_record("crash", "SIGKILL", site.worker, held, target));
  target.kill_worker(site.worker);
}

nlohmann::json WorkerCrash::parameters() const {
  return {{"failpoint", failpoint_}, {"user", user_}};
}

void WorkerPause::inject(FaultTarget& target, const FaultSite& site) {
  require_site(site, kind());
  const std::string held = target.lock_held(user_) ? user_ : "";
  if (!target.stop_worker(site.worker)) return;  // exited, or stopped already
  worker_ = site.worker;
  target.record(worker_record("pause", "SIGSTOP", site.worker, held, target));
}

void WorkerPause::heal(FaultTarget& target) {
  if (worker_ < 0) return;
  const int worker = worker_;
  worker_ = -1;
  if (target.continue_worker(worker)) {
    target.record({"resume", {{"worker", worker}, {"signal", "SIGCONT"}}, ""});
  }
}

nlohmann::json WorkerPause::parameters() const {
  nlohmann::json json = {{"failpoint", failpoint_}, {"user", user_}};
  if (stopped_for_) json["stopped_ms"] = stopped_for_->count();
  return json;
}

}  // namespace orgquake::faults
