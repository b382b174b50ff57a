#include "scenarios/scenario_support.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "history/history.hpp"

namespace orgquake::scenarios {

std::vector<int> start_lookup_fleet(engine::Trial& trial, int workers, int clients,
                                    const std::vector<std::string>& users, int rounds,
                                    int offset_step, std::chrono::milliseconds stagger) {
  std::vector<int> started;
  if (users.empty()) return started;
  std::vector<engine::WorkerOptions> fleet;
  for (int w = 0; w < workers; ++w) {
    engine::WorkerOptions options;
    for (int c = 0; c < clients; ++c) {
      worker::ClientPlan client;
      const auto start = static_cast<std::size_t>((w * clients + c) * offset_step);
      for (int r = 0; r < rounds; ++r) {
        for (std::size_t i = 0; i < users.size(); ++i) {
          client.ops.push_back(
              trial.operation(history::op_lookup, users[(start + i) % users.size()]));
        }
      }
      client.start_delay_ms = stagger.count() * c;
      options.clients.push_back(std::move(client));
    }
    fleet.push_back(std::move(options));
  }
  started = trial.start_workers(std::move(fleet));
  trial.go(started);
  return started;
}

void wait_for(engine::Trial& trial, const std::vector<int>& workers) {
  const auto timeout = trial.settings().run_timeout;
  if (!trial.wait_done(workers, timeout)) {
    const auto held = trial.held_summary();
    throw std::runtime_error(fmt::format("workers still running after run_timeout_ms = {}{}",
                                         timeout.count(), held.empty() ? "" : " (" + held + ")"));
  }
}

int lookup_once(engine::Trial& trial, const std::vector<std::string>& users,
                std::chrono::milliseconds lock_max_wait) {
  engine::WorkerOptions options;
  options.lock_max_wait = lock_max_wait;
  for (const auto& user : users) {
    worker::ClientPlan client;
    client.ops.push_back(trial.operation(history::op_lookup, user));
    options.clients.push_back(std::move(client));
  }
  return trial.run_worker(std::move(options));
}

std::vector<std::string> users_with(const engine::Trial& trial, world::EdgeCase flag) {
  std::vector<std::string> found;
  for (const auto& user : trial.world().users) {
    if (world::has(user.edge_cases, flag)) found.push_back(user.user_id);
  }
  return found;
}

std::vector<std::string> users_without(const engine::Trial& trial, world::EdgeCase flags) {
  std::vector<std::string> found;
  for (const auto& user : trial.world().users) {
    if ((static_cast<std::uint32_t>(user.edge_cases) & static_cast<std::uint32_t>(flags)) == 0)
      found.push_back(user.user_id);
  }
  return found;
}

}  // namespace orgquake::scenarios
