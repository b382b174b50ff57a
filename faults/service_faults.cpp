#include "faults/service_faults.hpp"

#include <stdexcept>

#include <fmt/format.h>

namespace orgquake::faults {

HttpFault::HttpFault(std::string service, fakes::FaultSpec spec)
    : service_(std::move(service)), spec_(std::move(spec)) {
  if (service_ != "stripe" && service_ != "litellm") {
    throw std::invalid_argument("no fake named " + service_ + " (there are stripe and litellm)");
  }
}

void HttpFault::inject(FaultTarget& target, const FaultSite&) {
  target.record({"http_fault", {{"service", service_}, {"fault", fakes::to_json(spec_)}}, ""});
  installed_ = target.add_http_fault(service_, spec_);
}

void HttpFault::heal(FaultTarget& target) {
  if (!installed_) return;
  const auto fired = target.remove_http_fault(service_, *installed_);
  target.record({"http_fault_healed",
                 {{"service", service_}, {"fault", fakes::to_json(spec_)}, {"fired", fired}},
                 ""});
  installed_.reset();
}

nlohmann::json HttpFault::parameters() const {
  return {{"service", service_}, {"fault", fakes::to_json(spec_)}};
}

void StripeSearchLag::inject(FaultTarget& target, const FaultSite&) {
  target.record({"stripe_search_lag", {{"lag_ms", lag_.count()}}, ""});
  target.set_stripe_search_lag(lag_);
  in_force_ = true;
}

void StripeSearchLag::heal(FaultTarget& target) {
  if (!in_force_) return;
  target.set_stripe_search_lag(std::chrono::milliseconds(0));
  target.record({"stripe_search_lag", {{"lag_ms", 0}}, ""});
  in_force_ = false;
}

void RedisOutage::inject(FaultTarget& target, const FaultSite&) {
  if (!target.redis_embedded()) {
    throw std::runtime_error(
        "a Redis outage needs the embedded Redis: the harness never stops an external one");
  }
  if (!target.redis_running()) return;
  target.record({"redis_stop", nlohmann::json::object(), ""});
  target.stop_redis();
  stopped_ = true;
}

void RedisOutage::heal(FaultTarget& target) {
  if (!stopped_) return;
  stopped_ = false;
  if (target.redis_running()) return;
  target.start_redis();
  target.record({"redis_start", nlohmann::json::object(), ""});
}

void BackendKill::inject(FaultTarget& target, const FaultSite& site) {
  nlohmann::json value = nlohmann::json::object();
  if (site.worker >= 0) value["at"] = fmt::format("w{}.c{}", site.worker, site.client);
  value["terminated"] = target.terminate_backends(site);
  target.record({"backend_kill", std::move(value), ""});
}

}  // namespace orgquake::faults
