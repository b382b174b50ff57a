#define BOOST_TEST_MODULE orgquake invariants
#include <chrono>
#include <functional>

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "engine/lock_observer.hpp"
#include "history/history.hpp"
#include "invariants/invariant.hpp"
#include "migrator/io/http_client.hpp"
#include "tests/migrator/migration_fixture.hpp"
#include "tests/support/shared_services.hpp"

using namespace orgquake;
using world::EdgeCase;

namespace {

// A world migrated by the reference migrator, but for one user left unmigrated,
// with the history of those lookups (and of a liveness phase that looks each
// migrated user up again) recorded as the engine records it, so that the
// history-based invariants judge real lookups too.
struct MigratedWorld {
  test::MigrationFixture fixture{12, 404};
  const world::LegacyUser* unmigrated = nullptr;
  history::History history;
  MigratedWorld() {
    auto client = fixture.connect();
    auto ctx = client->context(1);
    auto migrator = migrator::make_reference_migrator();
    const auto start = std::chrono::steady_clock::now();
    // Redis watched as a trial watches it, so that the lock invariants
    // judge the reference's real lock commands.
    engine::LockObserver observer(test::shared_services().redis_url(),
                                  test::MigrationFixture::short_lock().key_prefix, start);
    const auto now = [&] {
      return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                                  start)
          .count();
    };
    std::int64_t next_op = 0;
    const auto lookup = [&](const std::string& user_id, std::string_view phase) {
      history::Event invoke{.type = history::EventType::invoke,
                            .time_ns = now(),
                            .worker = 0,
                            .client = 0,
                            .op = next_op++,
                            .kind = std::string(history::op_lookup),
                            .user = user_id,
                            .phase = std::string(phase)};
      const int migrations = ctx.stats.migrations;
      const auto loaded = migrator->get_user_verified(ctx, user_id, {});
      BOOST_REQUIRE(loaded.personal_org);
      auto ok = invoke;
      ok.type = history::EventType::ok;
      ok.time_ns = now();
      ok.value = {{"org_id", loaded.personal_org->id},
                  {"verified", true},
                  {"lock_waits", 0},
                  {"migrated_here", ctx.stats.migrations > migrations}};
      history.add(std::move(invoke));
      history.add(std::move(ok));
    };
    const auto phase = [&](std::string_view name, nlohmann::json value) {
      history::Event event;
      event.type = history::EventType::phase;
      event.time_ns = now();
      event.kind = name;
      event.value = std::move(value);
      history.add(std::move(event));
    };

    phase(history::phase_run, nlohmann::json::object());
    std::vector<std::string> migrated_ids;
    for (const auto& user : fixture.world().users) {
      if (unmigrated == nullptr && user.edge_cases == EdgeCase::none) {
        unmigrated = &user;
        continue;
      }
      lookup(user.user_id, history::phase_run);
      migrated_ids.push_back(user.user_id);
    }
    if (unmigrated == nullptr) unmigrated = &fixture.world().users.back();
    phase(history::phase_heal, nlohmann::json::object());
    phase(history::phase_liveness, {{"users", migrated_ids}, {"bound_ms", 10000}});
    for (const auto& user_id : migrated_ids) lookup(user_id, history::phase_liveness);
    for (auto& event : observer.finish()) history.add(std::move(event));
    history.finish();
  }
  const world::LegacyUser& migrated(EdgeCase flag = EdgeCase::subscription) const {
    return fixture.user_with(flag);
  }
  results::Verdict check(std::string_view name) {
    const auto* invariant = invariants::find_invariant(name);
    BOOST_REQUIRE_MESSAGE(invariant != nullptr, "no invariant " << name);
    invariants::ObservedWorld observed{fixture.world(), fixture.pg(),
                                       invariants::snapshot(fixture.stripe()),
                                       invariants::snapshot(fixture.litellm()), &history};
    return invariant->check(observed);
  }
  // A request to a fake, as some other service (or a bug) would make it.
  void post(std::uint16_t port, const std::string& auth, const std::string& path,
            const std::string& body, const std::string& type) {
    io::HttpClient http("127.0.0.1", port);
    const auto r = http.send(
        {"POST", path, {{"Authorization", "Bearer " + auth}, {"Content-Type", type}}, body});
    BOOST_REQUIRE_MESSAGE(r.status == 200, path << " answered " << r.status << ": " << r.body);
  }
};

struct Plant {
  std::string invariant;
  std::string evidence;  ///< a phrase the evidence must contain
  std::string symptom;   ///< the symptom code of the evidence that names it
  std::function<void(MigratedWorld&)> plant;
  friend std::ostream& operator<<(std::ostream& out, const Plant& p) { return out << p.invariant; }
};

std::vector<Plant> plants() {
  return {
      {"one_personal_org_per_user", "owns 2 personal orgs", "several_personal_orgs",
       [](MigratedWorld& w) {
         w.fixture.pg().exec("DROP INDEX org_one_personal_per_owner");
         w.fixture.pg().exec(
             "INSERT INTO org (id, name, kind, owner_user_id) VALUES "
             "('00000000-0000-4000-8000-0000000000aa', 'second', 'personal', $1)",
             {w.migrated().user_id});
       }},
      {"complete_ownership", "has role member in its personal org", "org_role_not_owner",
       [](MigratedWorld& w) {
         w.fixture.pg().exec(
             "UPDATE org_member SET role_id = (SELECT id FROM role WHERE name = 'member') "
             "WHERE org_id = $1",
             {w.migrated().user_id});
       }},
      {"no_partial_migration", "already has a personal org", "unmigrated_has_org",
       [](MigratedWorld& w) {
         w.fixture.pg().exec(
             "INSERT INTO org (id, name, kind, owner_user_id) VALUES ($1::uuid, 'half', "
             "'personal', $1::text)",
             {w.unmigrated->user_id});
       }},
      {"no_double_billing", "stripe_customers rows", "duplicate_billing_rows",
       [](MigratedWorld& w) {
         const auto& user = w.migrated();
         w.fixture.pg().exec(
             "INSERT INTO stripe_customers (user_id, org_id, stripe_customer_id) VALUES ($1::text, "
             "$1::uuid, $2)",
             {user.user_id, *user.stripe_customer_id});
       }},
      {"no_double_billing", "an invoice was created", "invoice_created",
       [](MigratedWorld& w) {
         w.post(w.fixture.stripe().port(), w.fixture.stripe().secret_key(), "/v1/invoices",
                "customer=" + *w.migrated().stripe_customer_id,
                "application/x-www-form-urlencoded");
       }},
      {"billing_follows_org", "not its org", "customer_metadata_on_user",
       [](MigratedWorld& w) {
         w.post(w.fixture.stripe().port(), w.fixture.stripe().secret_key(),
                "/v1/customers/" + *w.migrated().stripe_customer_id, "metadata[org_id]=elsewhere",
                "application/x-www-form-urlencoded");
       }},
      {"litellm_migrated_once", "was not moved to its team", "key_left_on_user",
       [](MigratedWorld& w) {
         w.post(w.fixture.litellm().port(), w.fixture.litellm().master_key(), "/key/update",
                nlohmann::json{{"key", w.migrated().keys.front().key}, {"team_id", nullptr}}.dump(),
                "application/json");
       }},
      {"litellm_migrated_once", "but the user had", "team_budget_unlimited",
       [](MigratedWorld& w) {
         w.post(w.fixture.litellm().port(), w.fixture.litellm().master_key(), "/team/update",
                nlohmann::json{{"team_id", w.migrated().user_id}, {"max_budget", nullptr}}.dump(),
                "application/json");
       }},
      {"cross_system_reconciliation", "which PostgreSQL does not have", "stripe_names_unknown_org",
       [](MigratedWorld& w) {
         w.post(w.fixture.stripe().port(), w.fixture.stripe().secret_key(),
                "/v1/customers/" + *w.migrated().stripe_customer_id,
                "metadata[org_id]=00000000-0000-4000-8000-0000000000cc",
                "application/x-www-form-urlencoded");
       }},
      {"cross_system_reconciliation", "is no org in PostgreSQL", "team_without_org",
       [](MigratedWorld& w) {
         w.post(w.fixture.litellm().port(), w.fixture.litellm().master_key(), "/team/new",
                nlohmann::json{{"team_id", "00000000-0000-4000-8000-0000000000dd"}}.dump(),
                "application/json");
       }},
      // An org committed in PostgreSQL whose external calls never happened
      // (or were rolled back in the services but not in the database).
      {"cross_system_reconciliation", "has no LiteLLM team", "org_without_team",
       [](MigratedWorld& w) {
         w.fixture.pg().exec(
             "INSERT INTO org (id, name, kind, owner_user_id) VALUES ($1::uuid, 'lonely', "
             "'personal', $1::text)",
             {w.unmigrated->user_id});
       }},
      {"cross_system_reconciliation", "is named by no Stripe customer", "org_without_customer",
       [](MigratedWorld& w) {
         w.fixture.pg().exec(
             "INSERT INTO org (id, name, kind, owner_user_id) VALUES ($1::uuid, 'unbilled', "
             "'personal', $1::text)",
             {w.unmigrated->user_id});
       }},
      {"legacy_read_path", "changed: username", "legacy_fields_changed",
       [](MigratedWorld& w) {
         w.fixture.pg().exec(
             "UPDATE user_settings SET username = username || '!' WHERE user_id = $1",
             {w.migrated().user_id});
       }},
  };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(invariants_judge,
                      *boost::unit_test::label("migrator") *
                          boost::unit_test::precondition(test::services_available()))

BOOST_AUTO_TEST_CASE(every_invariant_holds_after_reference_migrations) {
  MigratedWorld world;
  // Every invariant by name: one dropped from the registry, or one added
  // without a place in this list, fails here.
  std::vector<std::string> names;
  for (const auto& invariant : invariants::all_invariants()) names.emplace_back(invariant->name());
  const std::vector<std::string> expected{"billing_follows_org",
                                          "complete_ownership",
                                          "cross_system_reconciliation",
                                          "gradual_rollout",
                                          "legacy_read_path",
                                          "litellm_migrated_once",
                                          "liveness",
                                          "lock_expiry_recovery",
                                          "lock_mutual_exclusion",
                                          "lock_wait_bounded",
                                          "migration_under_lease",
                                          "no_double_billing",
                                          "no_partial_migration",
                                          "non_breaking_rollout",
                                          "one_personal_org_per_user",
                                          "reversible_rollout",
                                          "same_org_per_lookup"};
  BOOST_TEST(names == expected, boost::test_tools::per_element());
  for (const auto& invariant : invariants::all_invariants()) {
    const auto verdict = world.check(invariant->name());
    BOOST_TEST((verdict.validity == results::Validity::valid), invariant->name()
                                                                   << ": " << verdict.summary);
  }
}

BOOST_DATA_TEST_CASE(a_planted_violation_is_invalid_with_evidence_that_names_it,
                     boost::unit_test::data::make(plants()), plant) {
  MigratedWorld world;
  plant.plant(world);
  const auto verdict = world.check(plant.invariant);
  BOOST_TEST((verdict.validity == results::Validity::invalid), verdict.summary);
  bool named = false, coded = false;
  for (const auto& e : verdict.evidence) {
    if (e.what.find(plant.evidence) == std::string::npos) continue;
    named = true;
    coded |= e.symptom == plant.symptom;
  }
  BOOST_TEST(named,
             "no evidence mentions '" << plant.evidence << "'; summary: " << verdict.summary);
  BOOST_TEST(coded,
             "no evidence that mentions '" << plant.evidence << "' has symptom " << plant.symptom);
  for (const auto& e : verdict.evidence) BOOST_TEST(!e.symptom.empty(), e.what);
  BOOST_TEST(verdict.to_json()["verdict"] == "invalid");
}

BOOST_AUTO_TEST_CASE(merging_verdicts_keeps_the_worst_and_all_evidence) {
  using results::Validity;
  const results::Verdict bad{Validity::invalid, "bad", {{"x_seen", "x", {}}}};
  const auto merged =
      results::merge({results::Verdict::valid("ok"), results::Verdict::unknown("?"), bad});
  BOOST_TEST((merged.validity == Validity::invalid));
  BOOST_TEST(merged.evidence.size() == 1u);
  BOOST_TEST(merged.evidence.front().symptom == "x_seen");
  BOOST_TEST(
      (results::merge({results::Verdict::valid("a"), results::Verdict::unknown("b")}).validity ==
       Validity::unknown));
}

BOOST_AUTO_TEST_SUITE_END()
