#pragma once

#include <vector>

#include "fakes/ledger.hpp"
#include "fakes/litellm_state.hpp"
#include "fakes/stripe_state.hpp"
#include "history/history.hpp"
#include "migrator/io/pg_connection.hpp"
#include "world/world.hpp"

// Declared only: the fakes' headers bring Boost.Beast, which a header read
// by every invariant should not.
namespace orgquake::fakes {
class LitellmFake;
class StripeFake;
}  // namespace orgquake::fakes

namespace orgquake::invariants {

/// What the Stripe fake held and did when the run ended.
struct StripeSnapshot {
  std::vector<fakes::StripeCustomer> customers;
  std::vector<fakes::StripeSubscription> subscriptions;
  std::vector<fakes::StripeInvoice> invoices;
  fakes::Ledger ledger;
};

/// What the LiteLLM fake held and did when the run ended.
struct LiteLlmSnapshot {
  std::vector<fakes::LlmUser> users;
  std::vector<fakes::LlmTeam> teams;
  std::vector<fakes::LlmVirtualKey> keys;
  fakes::Ledger ledger;
};

StripeSnapshot snapshot(fakes::StripeFake& stripe);
LiteLlmSnapshot snapshot(fakes::LitellmFake& litellm);

/// Everything an invariant judges: the fixture world as it was generated
/// (the "before"), the trial database, the fakes' end state and ledgers, and
/// the trial's history.
struct ObservedWorld {
  const world::World& fixture;
  io::PgConnection& database;
  StripeSnapshot stripe;
  LiteLlmSnapshot litellm;
  /// The operations, faults and phases of the trial, finished (time order).
  /// Null when the caller has no history, e.g. a check of a bare database:
  /// the invariants that judge the history then say unknown. Last, so that
  /// callers without one may leave it out.
  const history::History* history = nullptr;
};

}  // namespace orgquake::invariants
