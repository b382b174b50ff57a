// The migration guide's checklist, expand then contract, applied to the live
// database while requests keep coming (each step with a wave of requests
// in flight):
//
//   1. add a nullable org_id to the legacy table (user_settings), while a
//      long report query holds the table: the ALTER must not queue behind
//      it, with every request queued behind the ALTER, so it waits at most
//      lock_timeout_ms and tries again;
//   2. the org tables (0002_org_model.sql is already in the template), and
//      the index the org path needs, built CONCURRENTLY;
//   3. the dual-path code deployed with its flag off;
//   4. the backfill in batches: each batch's users migrated by a backfill
//      job, then their org_id filled in; halfway, an attempt to make org_id
//      required, which must refuse while unbackfilled rows remain;
//   5. enabled for test users, 6. widened to 50 % and 100 %;
//   7. org_id made required by a CHECK constraint added NOT VALID and then
//      validated (no long lock for the scan);
//   8. the legacy path off: everyone on the org path, the allow list gone.
//
// The rollout invariants judge the requests: none may fail or change its
// answer because of a step (non_breaking_rollout), none may be served
// against the flag (gradual_rollout).
#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "engine/scenario.hpp"
#include "history/operations.hpp"
#include "scenarios/scenario_support.hpp"

namespace orgquake::scenarios {
namespace {

struct ExpandContractSettings {
  int users, clients, requests, batch, test_users;
  std::chrono::milliseconds lock_timeout;
};

constexpr const char* unbackfilled = "SELECT count(*) FROM user_settings WHERE org_id IS NULL";

class ExpandContract : public engine::ScenarioOf<ExpandContractSettings> {
 public:
  std::string_view name() const override { return "expand_contract"; }
  std::string_view description() const override {
    return "the expand/contract checklist's schema steps applied to the live database under "
           "requests, with bounded lock waits";
  }
  ExpandContractSettings read(engine::OptionReader& o) const override {
    return {o.common_count("users"),
            o.count("clients", 8, 1, 1000, "clients serving requests during each step"),
            o.count("requests", 6, 1, 100000, "requests each client serves during each step"),
            o.count("batch", 100, 1, 1000000, "users per backfill batch"),
            o.count("test_users", 2, 0, 100, "users allow-listed at step 5"),
            o.duration("lock_timeout_ms", 100, 1, 60000,
                       "how long a schema step waits for a table lock before it tries again")};
  }

  void run(engine::Trial& trial, const ExpandContractSettings& s) const override {
    const auto pool = trial.choose_users(s.users, "users");
    const std::vector<std::string> test_users(
        pool.begin(), pool.begin() + std::min<std::ptrdiff_t>(s.test_users, pool.size()));
    std::vector<std::string> everyone;
    for (const auto& user : trial.world().users) everyone.push_back(user.user_id);
    trial.note_choice({{"kind", "expand_contract"},
                       {"users", pool},
                       {"test_users", test_users},
                       {"batch", s.batch}});
    const auto step = [&](std::string name, std::vector<std::string> statements) {
      engine::SchemaStep schema;
      schema.name = std::move(name);
      schema.statements = std::move(statements);
      schema.lock_timeout = s.lock_timeout;
      return schema;
    };
    int refused = 0, lock_timeouts_under_report = 0;
    std::vector<std::string> not_applied;
    const auto require_applied = [&](const engine::SchemaStepOutcome& outcome,
                                     const std::string& name) {
      if (!outcome.applied) not_applied.push_back(name);
    };

    // 1. Expand, under a report query that holds the table (taken first:
    // connecting takes longer than a wave may last).
    {
      auto report =
          std::make_unique<engine::TableLockHolder>(trial.database().url(), "user_settings");
      const auto requests = start_wave(trial, pool, s, "step 1");
      const auto outcome = trial.schema_step(
          step("add nullable org_id", {"ALTER TABLE user_settings ADD COLUMN org_id uuid"}),
          [&](int timeouts) {
            if (timeouts >= 3) report.reset();  // the report finishes
          });
      lock_timeouts_under_report = outcome.lock_timeouts;
      require_applied(outcome, "add nullable org_id");
      wait_for(trial, requests);
    }
    // 2. The org tables are the template's; the org path's index, concurrently.
    {
      const auto requests = start_wave(trial, pool, s, "step 2");
      auto index = step("index for the org path",
                        {"CREATE INDEX CONCURRENTLY IF NOT EXISTS user_settings_org_id "
                         "ON user_settings (org_id)"});
      index.in_transaction = false;
      require_applied(trial.schema_step(index), "index for the org path");
      wait_for(trial, requests);
    }
    // 3. The dual-path code, flag off.
    trial.set_rollout_flag(0, {});
    // 4. The backfill in batches; halfway, making org_id required must refuse.
    const std::size_t batches = (everyone.size() + static_cast<std::size_t>(s.batch) - 1) /
                                static_cast<std::size_t>(s.batch);
    for (std::size_t b = 0; b < batches; ++b) {
      const auto first = everyone.begin() + static_cast<std::ptrdiff_t>(b) * s.batch;
      const auto last = std::min(first + s.batch, everyone.end());
      const std::vector<std::string> batch(first, last);
      // The batch's users migrated by a backfill job, requests beside it.
      engine::WorkerOptions backfill;
      backfill.clients.resize(std::min<std::size_t>(8, batch.size()));
      for (std::size_t i = 0; i < batch.size(); ++i) {
        backfill.clients[i % backfill.clients.size()].ops.push_back(
            trial.operation(history::op_migrate, batch[i]));
      }
      wait_for(trial, start_fleet(trial, {std::move(backfill),
                                          wave(trial, pool, s, fmt::format("batch {}", b))}));
      // Then their org_id filled in, under a fresh wave of requests.
      const auto requests = start_wave(trial, pool, s, fmt::format("batch {} fill", b));
      require_applied(
          trial.schema_step(
              step(fmt::format("backfill org_id, batch {} of {}", b + 1, batches),
                   {"UPDATE user_settings s SET org_id = u.current_org_id FROM app_user u "
                    "WHERE u.legacy_user_id = s.user_id AND s.org_id IS NULL AND s.user_id = ANY(" +
                    array_literal(batch) + ")"})),
          "backfill");
      if (b + 1 == (batches + 1) / 2 && b + 1 < batches) {
        auto early = make_required(step);
        refused += trial.schema_step(early).refused;
      }
      wait_for(trial, requests);
    }
    // 5, 6. Enabled for test users, then widened.
    for (const auto& [percentage, allow] : std::vector<std::pair<int, std::vector<std::string>>>{
             {0, test_users}, {50, test_users}, {100, test_users}}) {
      trial.set_rollout_flag(percentage, allow);
      wait_for(trial, start_wave(trial, pool, s, fmt::format("{} %", percentage)));
    }
    // 7. Contract: org_id required.
    {
      const auto requests = start_wave(trial, pool, s, "step 7");
      require_applied(trial.schema_step(make_required(step)), "make org_id required");
      wait_for(trial, requests);
    }
    // 8. The legacy path off.
    trial.set_rollout_flag(100, {});
    wait_for(trial, start_wave(trial, pool, s, "step 8"));

    if (const auto alone = steps_without_requests(trial.history()); !alone.empty()) {
      trial.not_exercised(fmt::format("no request was in flight during the schema steps: {}",
                                      fmt::join(alone, ", ")));
    }
    if (!not_applied.empty()) {
      trial.not_exercised(fmt::format("schema steps not applied within their attempts: {}",
                                      fmt::join(not_applied, ", ")));
    }
    if (lock_timeouts_under_report == 0) {
      trial.not_exercised("adding the column never waited for the report's lock");
    }
    if (batches > 1 && refused == 0) {
      trial.not_exercised("making org_id required did not refuse halfway through the backfill");
    }
  }

 private:
  template <class Step>
  static engine::SchemaStep make_required(const Step& step) {
    auto required =
        step("make org_id required",
             {"ALTER TABLE user_settings ADD CONSTRAINT user_settings_org_id_required "
              "CHECK (org_id IS NOT NULL) NOT VALID",
              "ALTER TABLE user_settings VALIDATE CONSTRAINT user_settings_org_id_required"});
    required.refuse_while = unbackfilled;
    return required;
  }

  /// The applied schema steps during which no request was in flight.
  static std::vector<std::string> steps_without_requests(const history::History& history) {
    std::vector<std::pair<std::int64_t, std::int64_t>> requests;  // invoke, completion
    for (const auto& op : history::operations_of(history)) {
      if (op.first().kind != history::op_serve || op.invoke == nullptr) continue;
      requests.emplace_back(op.invoke->time_ns, op.completion != nullptr
                                                    ? op.completion->time_ns
                                                    : std::numeric_limits<std::int64_t>::max());
    }
    std::vector<std::string> alone;
    for (const auto& e : history.events()) {
      if (e.type != history::EventType::rollout || e.kind != "schema" ||
          !e.value.value("applied", false)) {
        continue;
      }
      const auto started = e.value.value("started_ns", e.time_ns);
      const bool overlapped = std::any_of(requests.begin(), requests.end(), [&](const auto& r) {
        return r.first < e.time_ns && r.second > started;
      });
      if (!overlapped) alone.push_back(history::string_field(e.value, "step"));
    }
    return alone;
  }

  /// ARRAY['a','b']: the ids are UUIDs of the fixture world, quoted anyway.
  static std::string array_literal(const std::vector<std::string>& ids) {
    std::string out = "ARRAY[";
    for (std::size_t i = 0; i < ids.size(); ++i) {
      std::string quoted;
      for (const char c : ids[i]) quoted += c == '\'' ? std::string("''") : std::string(1, c);
      out += (i == 0 ? "'" : ",'") + quoted + "'";
    }
    return out + "]::text[]";
  }

  /// A wave of requests: one worker of `clients` clients serving
  /// `requests` random users of the pool each.
  static engine::WorkerOptions wave(engine::Trial& trial, const std::vector<std::string>& pool,
                                    const ExpandContractSettings& s, std::string_view label) {
    Rng pick = trial.rng(label);
    engine::WorkerOptions requests;
    requests.clients.resize(static_cast<std::size_t>(s.clients));
    for (auto& client : requests.clients) {
      for (int i = 0; i < s.requests; ++i) {
        client.ops.push_back(trial.operation(history::op_serve, pool[pick.below(pool.size())]));
      }
    }
    return requests;
  }

  /// A wave of requests, going: returned once the first of them is in
  /// flight, so that the schema step started next meets the wave rather than
  /// racing the go message to the worker (a quick step could be done first).
  static std::vector<int> start_wave(engine::Trial& trial, const std::vector<std::string>& pool,
                                     const ExpandContractSettings& s, std::string_view label) {
    const auto first_op = trial.next_operation_id();
    auto workers = start_fleet(trial, {wave(trial, pool, s, label)});
    const auto flowing = [&] {
      const auto& events = trial.history().events();
      return std::any_of(events.rbegin(), events.rend(), [&](const history::Event& e) {
        return e.type == history::EventType::invoke && e.op >= first_op;
      });
    };
    trial.wait_until(flowing, trial.settings().run_timeout);
    return workers;
  }
};

}  // namespace

ORGQUAKE_REGISTER_SCENARIO(ExpandContract);

}  // namespace orgquake::scenarios
