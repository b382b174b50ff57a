#pragma once

// Faults on the services around the migrator: HTTP faults on a fake, lagged
// Stripe search, a Redis outage, PostgreSQL backends terminated.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "fakes/fault_injector.hpp"
#include "faults/fault.hpp"

namespace orgquake::faults {

/// One HTTP fault on one route of a fake ("stripe" or "litellm"), in force
/// until healed; what it does to a request is the fakes' FaultSpec. Its
/// heal records how many requests it fired on.
class HttpFault : public Fault {
 public:
  HttpFault(std::string service, fakes::FaultSpec spec);
  std::string_view kind() const override { return "http_fault"; }
  void inject(FaultTarget& target, const FaultSite& site) override;
  void heal(FaultTarget& target) override;
  bool lasting() const override { return true; }
  const std::string& service() const { return service_; }
  const fakes::FaultSpec& spec() const { return spec_; }

 protected:
  nlohmann::json parameters() const override;

 private:
  std::string service_;
  fakes::FaultSpec spec_;
  std::optional<std::uint64_t> installed_;
};

/// Stripe's search index lags writes by `lag`, as Stripe documents for its
/// search API: a customer created a moment ago is not found yet.
class StripeSearchLag : public Fault {
 public:
  explicit StripeSearchLag(std::chrono::milliseconds lag) : lag_(lag) {}
  std::string_view kind() const override { return "stripe_search_lag"; }
  void inject(FaultTarget& target, const FaultSite& site) override;
  void heal(FaultTarget& target) override;
  bool lasting() const override { return true; }
  std::chrono::milliseconds lag() const { return lag_; }

 protected:
  nlohmann::json parameters() const override { return {{"lag_ms", lag_.count()}}; }

 private:
  std::chrono::milliseconds lag_;
  bool in_force_ = false;
};

/// Redis stopped, and started again empty when healed (no persistence, as
/// the lock store runs in production). Embedded Redis only: the harness
/// never stops a Redis it did not start, and says so.
class RedisOutage : public Fault {
 public:
  std::string_view kind() const override { return "redis_outage"; }
  void inject(FaultTarget& target, const FaultSite& site) override;
  void heal(FaultTarget& target) override;
  bool lasting() const override { return true; }

 protected:
  nlohmann::json parameters() const override { return nlohmann::json::object(); }

 private:
  bool stopped_ = false;
};

/// Every client backend of the trial database inside a transaction is
/// terminated (pg_terminate_backend): the migrator sees its connection die
/// mid-transaction, and PostgreSQL rolls the transaction back.
class BackendKill : public Fault {
 public:
  std::string_view kind() const override { return "backend_kill"; }
  void inject(FaultTarget& target, const FaultSite& site) override;

 protected:
  nlohmann::json parameters() const override { return nlohmann::json::object(); }
};

}  // namespace orgquake::faults
