#include "fakes/standalone.hpp"

#include <iostream>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/interrupt.hpp"
#include "fakes/litellm_fake.hpp"
#include "fakes/stripe_fake.hpp"

namespace orgquake::fakes {

int serve_standalone(std::string_view kind, std::uint16_t port, std::uint64_t seed,
                     std::ostream& out) {
  ServerOptions server;
  server.port = port;
  auto serve = [&](auto& fake, std::string_view credential) {
    fake.start();
    out << fmt::format(
               "fake {} listening on {} ({}); faults at {}/__orgquake/faults, ledger at "
               "{}/__orgquake/ledger; Ctrl-C stops it\n",
               kind, fake.url(), credential, fake.url(), fake.url())
        << std::flush;
    wait_for_interrupt();
    fake.stop();
    return static_cast<int>(ExitCode::valid);
  };
  if (kind == "stripe") {
    StripeFake stripe(server, StripeOptions{}, seed);
    return serve(stripe, "secret key " + stripe.secret_key());
  }
  if (kind == "litellm") {
    LitellmFake litellm(server, LitellmOptions{}, seed);
    return serve(litellm, "master key " + litellm.master_key());
  }
  throw UsageError(fmt::format("unknown fake '{}' (use stripe or litellm)", kind));
}

int serve_standalone(std::string_view kind, std::uint16_t port, std::uint64_t seed) {
  return serve_standalone(kind, port, seed, std::cout);
}

}  // namespace orgquake::fakes
