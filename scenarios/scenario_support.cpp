#include "scenarios/scenario_support.hpp"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

#include "history/history.hpp"

namespace orgquake::scenarios {

std::vector<engine::WorkerOptions> lookup_fleet(engine::Trial& trial, int workers, int clients,
                                                const std::vector<std::string>& users, int rounds,
                                                int offset_step, std::chrono::milliseconds stagger,
                                                std::string_view kind) {
  std::vector<engine::WorkerOptions> fleet;
  if (users.empty()) return fleet;
  for (int w = 0; w < workers; ++w) {
    engine::WorkerOptions options;
    for (int c = 0; c < clients; ++c) {
      worker::ClientPlan client;
      const auto start = static_cast<std::size_t>((w * clients + c) * offset_step);
      for (int r = 0; r < rounds; ++r) {
        for (std::size_t i = 0; i < users.size(); ++i) {
          client.ops.push_back(trial.operation(kind, users[(start + i) % users.size()]));
        }
      }
      client.start_delay_ms = stagger.count() * c;
      options.clients.push_back(std::move(client));
    }
    fleet.push_back(std::move(options));
  }
  return fleet;
}

std::vector<int> start_fleet(engine::Trial& trial, std::vector<engine::WorkerOptions> fleet) {
  if (fleet.empty()) return {};
  auto started = trial.start_workers(std::move(fleet));
  trial.go(started);
  return started;
}

std::vector<int> start_lookup_fleet(engine::Trial& trial, int workers, int clients,
                                    const std::vector<std::string>& users, int rounds,
                                    int offset_step, std::chrono::milliseconds stagger) {
  return start_fleet(trial,
                     lookup_fleet(trial, workers, clients, users, rounds, offset_step, stagger));
}

std::vector<std::int64_t> first_lookups_of(const std::vector<engine::WorkerOptions>& fleet,
                                           const std::string& user, std::size_t count) {
  std::vector<std::pair<std::size_t, std::int64_t>> firsts;  // (lookups before it, op)
  for (const auto& worker : fleet) {
    for (const auto& client : worker.clients) {
      for (std::size_t i = 0; i < client.ops.size(); ++i) {
        if (client.ops[i].user != user) continue;
        firsts.emplace_back(i, client.ops[i].op);
        break;
      }
    }
  }
  std::stable_sort(firsts.begin(), firsts.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::int64_t> ops;
  for (std::size_t i = 0; i < firsts.size() && i < count; ++i) ops.push_back(firsts[i].second);
  return ops;
}

bool any_fault_counted(const history::History& history, std::string_view kind, const char* field) {
  return std::any_of(history.events().begin(), history.events().end(), [&](const auto& event) {
    return event.type == history::EventType::fault && event.kind == kind &&
           event.value.value(field, 0) > 0;
  });
}

std::vector<std::string> declared(const engine::Trial& trial,
                                  const std::vector<std::string>& candidates) {
  std::vector<std::string> found;
  for (const auto& failpoint : candidates) {
    if (trial.migrator().declares(failpoint)) found.push_back(failpoint);
  }
  return found;
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
