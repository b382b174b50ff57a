#define BOOST_TEST_MODULE orgquake failpoint gate
#include "engine/failpoint_gate.hpp"

#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "engine/interleaving.hpp"

// The failpoint gate without processes: made-up firings go in, and the test
// reads what the gate answered, in which order, and what it kept for
// results.json. Each case is one rule of the gate or one interleaving.

using namespace orgquake;
using engine::FailpointGate;
using engine::GatedHit;
using worker::HitDecision;

namespace {

struct Answer {
  int worker;
  std::int64_t id;
  std::string failpoint;
  std::string decision;
};

// A gate whose answers are written down.
struct Recorder {
  std::vector<Answer> answers;
  FailpointGate gate{[this](const GatedHit& hit, HitDecision decision) {
    answers.push_back({hit.info.worker, hit.id, hit.info.failpoint, worker::name_of(decision)});
  }};

  void fire(int worker, std::int64_t id, const std::string& failpoint, bool scenario_gated,
            int client = 0) {
    GatedHit hit;
    hit.id = id;
    hit.info.worker = worker;
    hit.info.client = client;
    hit.info.op = id;
    hit.info.user = "user-" + std::to_string(id);
    hit.info.failpoint = failpoint;
    hit.scenario_gated = scenario_gated;
    gate.offer(hit);
  }

  /// The answered firings as "worker/id failpoint decision".
  std::vector<std::string> answered() const {
    std::vector<std::string> out;
    for (const auto& a : answers) {
      out.push_back(std::to_string(a.worker) + "/" + std::to_string(a.id) + " " + a.failpoint +
                    " " + a.decision);
    }
    return out;
  }
};

using Lines = std::vector<std::string>;

}  // namespace

BOOST_AUTO_TEST_CASE(a_scenario_gated_firing_is_decided_by_its_handler_at_once) {
  Recorder r;
  std::vector<std::string> seen;
  r.gate.on_hit("migrate.before_commit", [&](const engine::HitInfo& hit) {
    seen.push_back(hit.user);
    return HitDecision::crash;
  });
  r.fire(0, 1, "migrate.before_commit", true, 3);
  BOOST_TEST(seen == Lines{"user-1"});
  BOOST_TEST(r.answered() == Lines{"0/1 migrate.before_commit crash"});
  BOOST_TEST(r.gate.decisions() == Lines{"w0.c3 op 1 migrate.before_commit#1 -> crash"});
  BOOST_TEST(r.gate.fired("migrate.before_commit") == 1);
  BOOST_TEST(r.gate.fired("lookup.after_load") == 0);
}

// A decision is recorded by what it acts on, not by when: the operation and
// how often that operation reached the failpoint (a key move per key).
BOOST_AUTO_TEST_CASE(decisions_are_keyed_by_operation_and_hit_number) {
  Recorder r;
  r.gate.on_hit("migrate.after_litellm_key_move",
                [](const engine::HitInfo&) { return HitDecision::proceed; });
  r.fire(1, 5, "migrate.after_litellm_key_move", true, 2);
  r.fire(0, 4, "migrate.after_litellm_key_move", true, 0);
  r.fire(1, 5, "migrate.after_litellm_key_move", true, 2);
  BOOST_TEST(
      r.gate.decisions() == (Lines{"w1.c2 op 5 migrate.after_litellm_key_move#1 -> proceed",
                                   "w0.c0 op 4 migrate.after_litellm_key_move#1 -> proceed",
                                   "w1.c2 op 5 migrate.after_litellm_key_move#2 -> proceed"}),
      boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_firing_without_a_handler_proceeds) {
  Recorder r;
  r.fire(1, 7, "migrate.after_journal", true);
  BOOST_TEST(r.answered() == Lines{"1/7 migrate.after_journal proceed"});
  // A handler removed by an empty one no longer decides.
  r.gate.on_hit("migrate.after_journal", [](const engine::HitInfo&) { return HitDecision::crash; });
  r.gate.on_hit("migrate.after_journal", nullptr);
  r.fire(1, 8, "migrate.after_journal", true);
  BOOST_TEST(r.answers.back().decision == "proceed");
}

BOOST_AUTO_TEST_CASE(a_firing_gated_for_the_interleaving_only_never_reaches_the_handler) {
  Recorder r;
  r.gate.interleave({{"lookup.after_load", "lookup.before_release"}});
  int calls = 0;
  r.gate.on_hit("lookup.after_load", [&](const engine::HitInfo&) {
    ++calls;
    return HitDecision::crash;
  });
  r.fire(0, 1, "lookup.after_load", false);
  r.fire(1, 2, "lookup.after_load", false);
  BOOST_TEST(calls == 0);
  BOOST_TEST(r.answered() ==
             (Lines{"0/1 lookup.after_load proceed", "1/2 lookup.after_load proceed"}));
  // Which racing client came first is not the plan's: only the first firing is kept.
  BOOST_TEST(r.gate.decisions() == Lines{"interleaving: lookup.after_load first fired"});
}

// The observer (the trial's faults keyed to a firing) sees every firing
// with its hit number for its operation, before the handler decides; what it
// did joins the decision line, and a firing it let pass leaves no line.
BOOST_AUTO_TEST_CASE(the_observer_sees_every_firing_with_its_hit_number_before_the_handler) {
  Recorder r;
  std::vector<std::string> order;
  r.gate.observe([&](const engine::HitInfo& hit, int nth) -> std::string {
    order.push_back("observe op " + std::to_string(hit.op) + "#" + std::to_string(nth));
    return hit.op == 5 && nth == 2 ? "fault 3 backend_kill" : "";
  });
  r.gate.on_hit("migrate.before_commit", [&](const engine::HitInfo&) {
    order.push_back("handle");
    return HitDecision::proceed;
  });
  r.fire(1, 5, "migrate.after_litellm_key_move", false, 2);
  r.fire(1, 5, "migrate.after_litellm_key_move", false, 2);
  r.fire(0, 4, "migrate.before_commit", true, 1);
  BOOST_TEST(order == (Lines{"observe op 5#1", "observe op 5#2", "observe op 4#1", "handle"}),
             boost::test_tools::per_element());
  BOOST_TEST(r.gate.decisions() ==
                 (Lines{"w1.c2 op 5 migrate.after_litellm_key_move#2 -> fault 3 backend_kill, "
                        "proceed",
                        "w0.c1 op 4 migrate.before_commit#1 -> proceed"}),
             boost::test_tools::per_element());
  BOOST_TEST(r.answers.size() == 3u);
  r.gate.open();  // the heal phase: nothing observes any more
  r.fire(1, 6, "migrate.after_journal", false);
  BOOST_TEST(order.size() == 4u);
}

// A step naming an operation ("failpoint@op") holds only that operation's
// firing, and only until that operation has fired the step before it, or
// has finished without it; the decisions name the steps by operation.
BOOST_AUTO_TEST_CASE(a_pair_of_one_operation_s_steps_holds_only_that_operation) {
  Recorder r;
  r.gate.interleave(engine::parse_interleaving(
      "migrate.after_stripe_customer_create@3 -> migrate.after_journal@5"));
  r.fire(0, 5, "migrate.after_journal", false);                 // op 5: held for op 3
  r.fire(1, 4, "migrate.after_journal", false);                 // op 4: not in any pair
  r.fire(1, 4, "migrate.after_stripe_customer_create", false);  // op 4: not op 3
  BOOST_TEST(r.answered() == (Lines{"1/4 migrate.after_journal proceed",
                                    "1/4 migrate.after_stripe_customer_create proceed"}),
             boost::test_tools::per_element());
  BOOST_TEST(r.gate.held() == 1u);
  BOOST_TEST(r.gate.held_summary() ==
             "1 firing of migrate.after_journal waits for migrate.after_stripe_customer_create@3");
  r.fire(2, 3, "migrate.after_stripe_customer_create", false);
  BOOST_TEST(r.gate.held() == 0u);
  BOOST_TEST(r.answered().back() == "0/5 migrate.after_journal proceed");
  BOOST_TEST(r.gate.decisions().back() ==
             "interleaving: migrate.after_stripe_customer_create@3 fired");

  // An operation that ends without its step frees what waits for it.
  Recorder ended;
  ended.gate.interleave(engine::parse_interleaving("lock.after_acquire@7 -> lookup.after_load@8"));
  ended.fire(0, 8, "lookup.after_load", false);
  BOOST_TEST(ended.gate.held() == 1u);
  ended.gate.operation_ended(6);
  BOOST_TEST(ended.gate.held() == 1u);
  ended.gate.operation_ended(7);
  BOOST_TEST(ended.gate.held() == 0u);
  BOOST_TEST(ended.gate.decisions() == (Lines{"interleaving: lock.after_acquire@7 not reached",
                                              "interleaving: lookup.after_load first fired"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(an_operation_step_names_a_known_failpoint_and_a_whole_operation_id) {
  BOOST_TEST(engine::parse_step("migrate.after_journal@12").op.value() == 12);
  BOOST_TEST(engine::parse_step("migrate.after_journal@12").failpoint == "migrate.after_journal");
  BOOST_TEST(!engine::parse_step("migrate.after_journal").op.has_value());
  for (const char* bad : {"migrate.after_journal@", "migrate.after_journal@x",
                          "migrate.after_journal@-1", "migrate.after_journal@1x"}) {
    const auto complaint = engine::check_interleaving(std::string(bad) + " -> lookup.after_load");
    BOOST_TEST_INFO(bad);
    BOOST_TEST(complaint.has_value());
    if (complaint) BOOST_TEST(complaint->find("operation id") != std::string::npos);
  }
  const auto typo = engine::check_interleaving("migrate.after_journl@3 -> lookup.after_load@4");
  BOOST_TEST(typo.has_value());
  BOOST_TEST(!engine::check_interleaving("migrate.after_journal@3 -> migrate.after_journal@4")
                  .has_value());
}

BOOST_AUTO_TEST_CASE(a_happens_before_pair_holds_the_second_point_until_the_first_fires) {
  Recorder r;
  r.gate.order("migrate.after_commit", "lookup.after_load");
  r.fire(0, 1, "lookup.after_load", false);
  r.fire(1, 2, "lookup.after_load", false);
  BOOST_TEST(r.answers.empty());
  BOOST_TEST(r.gate.held() == 2U);
  BOOST_TEST(r.gate.held_summary() ==
             "2 firings of lookup.after_load wait for migrate.after_commit");
  r.fire(2, 3, "migrate.after_commit", false);
  // The first point, then the held firings in the order they arrived.
  BOOST_TEST(r.answered() ==
             (Lines{"2/3 migrate.after_commit proceed", "0/1 lookup.after_load proceed",
                    "1/2 lookup.after_load proceed"}));
  BOOST_TEST(r.gate.held() == 0U);
  BOOST_TEST(r.gate.held_summary().empty());
  // Once the first point has fired, the second goes at once.
  r.fire(0, 4, "lookup.after_load", false);
  BOOST_TEST(r.answers.back().id == 4);
}

BOOST_AUTO_TEST_CASE(a_held_scenario_firing_is_decided_by_its_handler_when_released) {
  Recorder r;
  r.gate.order("lookup.after_lock_acquire", "migrate.before_commit");
  std::vector<int> decided_while_first_fired;
  r.gate.on_hit("migrate.before_commit", [&](const engine::HitInfo&) {
    decided_while_first_fired.push_back(r.gate.fired("lookup.after_lock_acquire"));
    return HitDecision::error;
  });
  r.fire(0, 1, "migrate.before_commit", true);
  BOOST_TEST(decided_while_first_fired.empty());
  r.fire(1, 2, "lookup.after_lock_acquire", false);
  BOOST_TEST(decided_while_first_fired == std::vector<int>{1});
  BOOST_TEST(r.answered() ==
             (Lines{"1/2 lookup.after_lock_acquire proceed", "0/1 migrate.before_commit error"}));
}

BOOST_AUTO_TEST_CASE(a_chained_interleaving_releases_its_points_in_chain_order) {
  Recorder r;
  r.gate.interleave(engine::parse_interleaving(
      "lookup.after_lock_acquire -> migrate.after_journal -> migrate.after_commit"));
  BOOST_TEST(r.gate.interleaved().size() == 3U);
  // They arrive backwards; they are answered in the chain's order.
  r.fire(2, 30, "migrate.after_commit", false);
  r.fire(1, 20, "migrate.after_journal", false);
  BOOST_TEST(r.answers.empty());
  BOOST_TEST(r.gate.held_summary() ==
             "1 firing of migrate.after_commit waits for migrate.after_journal; 1 firing of "
             "migrate.after_journal waits for lookup.after_lock_acquire");
  r.fire(0, 10, "lookup.after_lock_acquire", false);
  BOOST_TEST(r.answered() ==
             (Lines{"0/10 lookup.after_lock_acquire proceed", "1/20 migrate.after_journal proceed",
                    "2/30 migrate.after_commit proceed"}));
  BOOST_TEST(r.gate.decisions() == (Lines{"interleaving: lookup.after_lock_acquire first fired",
                                          "interleaving: migrate.after_journal first fired",
                                          "interleaving: migrate.after_commit first fired"}));
}

BOOST_AUTO_TEST_CASE(two_pairs_of_a_named_interleaving_race_two_workers_in_the_planned_order) {
  // The stale-read race: worker 1's lookup loads only after worker 0 holds
  // the lock and has journaled, and worker 0 releases only after worker 1
  // has loaded.
  Recorder r;
  r.gate.interleave(engine::parse_interleaving(
      "migrate.after_journal -> lookup.after_load; lookup.after_load -> lock.before_release"));
  r.fire(1, 2, "lookup.after_load", false);
  r.fire(0, 1, "lock.before_release", false);
  BOOST_TEST(r.answers.empty());
  r.fire(0, 1, "migrate.after_journal", false);
  BOOST_TEST(r.answered() ==
             (Lines{"0/1 migrate.after_journal proceed", "1/2 lookup.after_load proceed",
                    "0/1 lock.before_release proceed"}));
}

BOOST_AUTO_TEST_CASE(a_skip_counts_a_point_as_fired_and_releases_what_waits_for_it) {
  Recorder r;
  r.gate.order("migrate.after_commit", "lookup.after_load");
  r.fire(0, 1, "lookup.after_load", false);
  r.gate.skip("migrate.after_commit");
  BOOST_TEST(r.answered() == Lines{"0/1 lookup.after_load proceed"});
  BOOST_TEST(r.gate.fired("migrate.after_commit") == 1);
  BOOST_TEST(r.gate.decisions().front() == "migrate.after_commit -> not reached");
}

BOOST_AUTO_TEST_CASE(a_gone_worker_s_held_firings_are_dropped_unanswered) {
  Recorder r;
  r.gate.order("migrate.after_commit", "lookup.after_load");
  r.fire(0, 1, "lookup.after_load", false);
  r.fire(1, 2, "lookup.after_load", false);
  r.gate.forget_worker(0);
  BOOST_TEST(r.gate.held() == 1U);
  r.fire(2, 3, "migrate.after_commit", false);
  BOOST_TEST(r.answered() ==
             (Lines{"2/3 migrate.after_commit proceed", "1/2 lookup.after_load proceed"}));
}

BOOST_AUTO_TEST_CASE(a_handler_that_kills_a_worker_with_held_firings_leaves_the_gate_sound) {
  // A handler acts on the trial: killing worker 1 makes the fleet call
  // forget_worker(1) while the gate is deciding.
  Recorder r;
  r.gate.order("migrate.after_journal", "lookup.after_load");
  r.gate.on_hit("migrate.after_journal", [&](const engine::HitInfo&) {
    r.gate.forget_worker(1);
    return HitDecision::crash;
  });
  r.fire(1, 10, "lookup.after_load", false);
  r.fire(2, 20, "lookup.after_load", false);
  r.fire(0, 1, "migrate.after_journal", true);
  BOOST_TEST(r.answered() ==
             (Lines{"0/1 migrate.after_journal crash", "2/20 lookup.after_load proceed"}));
  BOOST_TEST(r.gate.held() == 0U);
}

BOOST_AUTO_TEST_CASE(opening_the_gate_releases_everything_and_drops_the_handlers) {
  Recorder r;
  r.gate.interleave(engine::parse_interleaving("migrate.after_commit -> lookup.after_load"));
  int calls = 0;
  r.gate.on_hit("migrate.before_commit", [&](const engine::HitInfo&) {
    ++calls;
    return HitDecision::crash;
  });
  r.fire(0, 1, "lookup.after_load", false);  // its first point never comes
  r.gate.open();
  BOOST_TEST(r.answered() == Lines{"0/1 lookup.after_load proceed"});
  BOOST_TEST(r.gate.interleaved().empty());
  r.fire(0, 2, "migrate.before_commit", true);
  BOOST_TEST(calls == 0);
  BOOST_TEST(r.answers.back().decision == "proceed");
}
