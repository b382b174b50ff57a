#include "cli/commands.hpp"
#include "fakes/standalone.hpp"

namespace orgquake::cli {
namespace {

struct FakeOptions {
  std::uint16_t port = 0;
  std::string seed = "0";
};

}  // namespace

void add_fake_command(CLI::App& app, Action& action) {
  auto* fake = app.add_subcommand("fake", "Serve one fake API server standalone, until Ctrl-C");
  fake->require_subcommand(1);
  for (const char* kind : {"stripe", "litellm"}) {
    auto options = std::make_shared<FakeOptions>();
    auto* sub = fake->add_subcommand(
        kind, std::string("The fake ") +
                  (kind == std::string("stripe") ? "Stripe API" : "LiteLLM proxy"));
    sub->add_option("--port", options->port, "Port on 127.0.0.1 (default: a free one)")
        ->check(CLI::Range(0, 65535));
    sub->add_option("--seed", options->seed, "Seed of the ids it issues");
    sub->callback([options, kind, &action] {
      action = [options, kind] {
        return fakes::serve_standalone(kind, options->port, parse_seed(options->seed));
      };
    });
  }
}

}  // namespace orgquake::cli
