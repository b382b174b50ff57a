#include "invariants/observed_world.hpp"

#include "fakes/litellm_fake.hpp"
#include "fakes/stripe_fake.hpp"

namespace orgquake::invariants {

StripeSnapshot snapshot(fakes::StripeFake& stripe) {
  return {stripe.customers(), stripe.subscriptions(), stripe.invoices(), stripe.ledger()};
}

LiteLlmSnapshot snapshot(fakes::LitellmFake& litellm) {
  return {litellm.users(), litellm.teams(), litellm.keys(), litellm.ledger()};
}

}  // namespace orgquake::invariants
