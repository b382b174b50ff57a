#include "shrink/shrinker.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <unistd.h>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/interrupt.hpp"
#include "engine/controller_run.hpp"
#include "engine/scenario.hpp"
#include "shrink/ddmin.hpp"
#include "shrink/shrunk_spec.hpp"
#include "shrink/step_order.hpp"
#include "shrink/story.hpp"

namespace orgquake::shrink {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// Replays per candidate for a trial that failed `failures` of `runs`
/// replays: enough that a candidate failing as often as the original is
/// missed with a chance under 5% ((1 - p)^K <= 0.05), at most 5.
int runs_for(int failures, int runs) {
  if (failures >= runs) return 1;
  const double p = static_cast<double>(failures) / runs;
  const int k = static_cast<int>(std::ceil(std::log(0.05) / std::log(1.0 - p)));
  return std::clamp(k, 1, 5);
}

// The shrinker's services, with the session pool used or not as in the run.
services::ServicesOptions as_the_run_did(services::ServicesOptions options, bool session_pool) {
  options.session_pool = session_pool;
  return options;
}

class Shrinker {
 public:
  Shrinker(const ShrinkRequest& request, ShrinkTarget target)
      : request_(request),
        target_(std::move(target)),
        started_(Clock::now()),
        session_({target_.run_seed, target_.spec.users, target_.migrator,
                  as_the_run_did(request.services, target_.session_pool), request.out_dir}),
        terminal_(request.progress && ::isatty(STDOUT_FILENO) == 1) {}

  ShrinkResult run() {
    ShrinkResult result;
    result.target = target_;
    current_.overrides = target_.entry.overrides;
    if (target_.entry.replay) {
      // Shrinking a shrunk trial: start from what it kept.
      const auto& replay = *target_.entry.replay;
      if (replay.faults) current_.faults.emplace(replay.faults->begin(), replay.faults->end());
      if (replay.operations) {
        current_.operations.emplace(replay.operations->begin(), replay.operations->end());
      }
    }
    baseline(result);
    result.before = size_;
    shrink_rounds(result);
    name_interleaving(result);
    result.candidates = candidates_;
    result.after = size_;
    result.elapsed_s = seconds_since(started_);
    result.out_of_budget = out_of_budget_;
    clear_progress();
    // The candidates' worker logs go; the confirming replays' stay.
    fs::remove_all(request_.out_dir / "logs");
    fs::create_directories(request_.out_dir / "logs");
    confirm(result);
    return result;
  }

 private:
  // ---- Replays ---------------------------------------------------------

  /// One replay of `candidate`; each gets its own trial index, so that
  /// Redis keys and worker logs of replays never meet.
  results::TrialResult replay(const Candidate& candidate) {
    throw_if_interrupted();
    const auto entry = entry_for(target_, candidate);
    return session_.run_trial(target_.spec, entry, next_index_++, target_.trial_seed);
  }

  /// Whether `candidate` still fails: the invariant invalid in one of K
  /// replays (stopping at the first that is). The failing replay becomes
  /// the current one.
  bool still_fails(const Candidate& candidate) {
    ++candidates_;
    for (int i = 0; i < runs_; ++i) {
      auto trial = replay(candidate);
      if (breaks(trial, target_.invariant)) {
        current_ = candidate;
        size_ = size_of(trial);
        last_failing_ = std::move(trial);
        progress(true);
        return true;
      }
    }
    progress(false);
    return false;
  }

  bool out_of_budget() {
    if (seconds_since(started_) >= static_cast<double>(request_.budget.count())) {
      out_of_budget_ = true;
    }
    return out_of_budget_;
  }

  void baseline(ShrinkResult& result) {
    result.baseline_runs = request_.baseline_runs;
    for (int i = 0; i < request_.baseline_runs; ++i) {
      auto trial = replay(current_);
      if (i == 0) universe_ = run_operations(trial.history);
      if (breaks(trial, target_.invariant)) {
        ++result.baseline_failures;
        if (!last_failing_) {
          size_ = size_of(trial);
          last_failing_ = std::move(trial);
        }
      }
    }
    if (result.baseline_failures == 0) {
      throw UsageError(fmt::format(
          "{}: trial {} ({}) does not fail on replay: {} was invalid in 0 of {} replays",
          target_.run_dir.string(), target_.trial_index, target_.scenario, target_.invariant,
          result.baseline_runs));
    }
    runs_ =
        request_.runs ? *request_.runs : runs_for(result.baseline_failures, result.baseline_runs);
    result.runs_per_candidate = runs_;
    if (request_.progress) {
      fmt::print(
          "shrink: trial {} ({}, seed {}) breaks {} in {} of {} replays; {}; {} replay{} per "
          "candidate, budget {} s\n",
          target_.trial_index, target_.scenario, target_.trial_seed, target_.invariant,
          result.baseline_failures, result.baseline_runs, size_.text(), runs_,
          runs_ == 1 ? "" : "s", request_.budget.count());
      std::fflush(stdout);
    }
  }

  // ---- The reductions ---------------------------------------------------

  /// ddmin over `groups` (each a set of elements of one dimension): the
  /// groups kept become the candidate `make` builds. Returns whether it
  /// removed any, and whether it ran to the end.
  template <class Element>
  std::pair<bool, bool> reduce(const std::vector<std::vector<Element>>& groups,
                               const std::function<Candidate(const std::set<Element>&)>& make) {
    if (groups.empty()) return {false, true};
    Subset all(groups.size());
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
    const auto elements_of = [&](const Subset& subset) {
      std::set<Element> kept;
      for (const auto i : subset) kept.insert(groups[i].begin(), groups[i].end());
      return kept;
    };
    const auto found = ddmin(
        all, [&](const Subset& subset) { return still_fails(make(elements_of(subset))); },
        [&] { return out_of_budget(); });
    return {found.kept.size() < groups.size(), found.one_minimal};
  }

  std::pair<bool, bool> reduce_faults() {
    const auto& plan = last_failing_->fault_plan;
    std::vector<std::vector<int>> groups;
    for (const int index : fault_entries(plan)) groups.push_back({index});
    const Candidate base = current_;
    return reduce<int>(groups, [&](const std::set<int>& kept) {
      Candidate c = base;
      c.faults = kept;
      return c;
    });
  }

  /// The kept operations grouped by `key` (worker, client, user, itself).
  template <class Key>
  std::pair<bool, bool> reduce_operations(const std::function<Key(const RunOperation&)>& key) {
    std::map<Key, std::vector<std::int64_t>> by_key;
    for (const auto& op : universe_) {
      if (current_.operations && current_.operations->count(op.op) == 0) continue;
      by_key[key(op)].push_back(op.op);
    }
    std::vector<std::vector<std::int64_t>> groups;
    for (auto& [k, ops] : by_key) groups.push_back(std::move(ops));
    const Candidate base = current_;
    return reduce<std::int64_t>(groups, [&](const std::set<std::int64_t>& kept) {
      Candidate c = base;
      c.operations = kept;
      return c;
    });
  }

  /// The scenario's duration options, one at a time, at their defaults.
  std::pair<bool, bool> simplify_options(std::vector<std::string>& changes) {
    const auto* scenario = engine::find_scenario(target_.scenario);
    if (scenario == nullptr) return {false, true};
    const auto declared = engine::declared_options(*scenario);
    const json resolved = last_failing_->options;
    bool changed = false;
    for (const auto& option : declared) {
      if (out_of_budget()) return {changed, false};
      const std::string& name = option.name;
      if (name.size() < 3 || name.compare(name.size() - 3, 3, "_ms") != 0) continue;
      if (!resolved.contains(name) || resolved.at(name) == option.default_value) continue;
      Candidate c = current_;
      c.overrides[name] = option.default_value;
      if (still_fails(c)) {
        changes.push_back(fmt::format("{}: {} -> {}", name, resolved.at(name).dump(),
                                      option.default_value.dump()));
        changed = true;
      }
    }
    return {changed, true};
  }

  void shrink_rounds(ShrinkResult& result) {
    bool complete = false;
    for (int round = 0; !out_of_budget(); ++round) {
      bool changed = false, ran_out = false;
      const auto step = [&](std::pair<bool, bool> outcome) {
        changed = changed || outcome.first;
        ran_out = ran_out || !outcome.second;
      };
      step(reduce_faults());
      step(reduce_operations<int>([](const RunOperation& op) { return op.worker; }));
      step(reduce_operations<std::pair<int, int>>(
          [](const RunOperation& op) { return std::make_pair(op.worker, op.client); }));
      step(reduce_operations<std::string>([](const RunOperation& op) { return op.user; }));
      step(reduce_operations<std::int64_t>([](const RunOperation& op) { return op.op; }));
      step(simplify_options(result.option_changes));
      if (ran_out) break;
      if (!changed) {
        // A whole round in which no single removal still failed.
        complete = true;
        break;
      }
    }
    result.one_minimal = complete && !out_of_budget_;
  }

  /// Whether `candidate` fails in every one of `runs` replays (stopping at
  /// the first that passes): the test of an interleaving, which is kept
  /// only where it makes the failure certain.
  bool fails_every_time(const Candidate& candidate, int runs) {
    ++candidates_;
    std::optional<results::TrialResult> failing;
    for (int i = 0; i < runs; ++i) {
      auto trial = replay(candidate);
      if (!breaks(trial, target_.invariant)) {
        progress(false);
        return false;
      }
      if (!failing) failing = std::move(trial);
    }
    interleaved_failing_[candidate.overrides.value("interleaving", "")] = std::move(*failing);
    progress(true);
    return true;
  }

  /// Where the remaining operations take turns at their failpoints, the
  /// order of the failing replay, enforced, may make the failure certain:
  /// then its pairs are reduced (ddmin) to those the failure needs, and the
  /// shrunk trial enforces them. None is named when one operation is left,
  /// when the trial fails every time without one, or when the replay's
  /// order does not make it fail every time.
  void name_interleaving(ShrinkResult& result) {
    if (out_of_budget() || !last_failing_) return;
    if (!current_.overrides.value("interleaving", "").empty()) {
      result.interleaving = current_.overrides.at("interleaving").get<std::string>();
      result.interleaving_finding = "the trial's own interleaving, kept";
      return;
    }
    std::set<std::int64_t> kept;
    for (const auto& op : run_operations(last_failing_->history)) kept.insert(op.op);
    const auto pairs = turn_pairs(last_failing_->history, kept);
    if (pairs.empty()) {
      result.interleaving_finding = "no interleaving: the remaining operations never took turns";
      return;
    }
    const int runs = std::max(3, runs_);
    const auto with = [&](const Subset& subset) {
      std::vector<engine::HappensBefore> chosen;
      for (const auto i : subset) chosen.push_back(pairs[i]);
      Candidate c = current_;
      if (!chosen.empty()) c.overrides["interleaving"] = interleaving_text(chosen);
      return c;
    };
    Subset all(pairs.size());
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
    if (!fails_every_time(with(all), runs)) {
      result.interleaving_finding = fmt::format(
          "no interleaving: the failing replay's order of {} turns, enforced, did not make it "
          "fail in all of {} replays",
          pairs.size(), runs);
      return;
    }
    const auto found = ddmin(
        all, [&](const Subset& subset) { return fails_every_time(with(subset), runs); },
        [&] { return out_of_budget(); });
    if (found.kept.empty()) {
      result.interleaving_finding =
          fmt::format("no interleaving: it fails in {} of {} replays in any order", runs, runs);
      return;
    }
    const Candidate chosen = with(found.kept);
    result.interleaving = chosen.overrides.at("interleaving").get<std::string>();
    result.interleaving_finding = fmt::format(
        "ordering matters: without an interleaving it passed in some of {} replays; with these "
        "{} of the failing replay's {} turns it failed in all {}{}",
        runs, found.kept.size(), pairs.size(), runs,
        found.one_minimal ? "" : " (the budget ran out: not minimal)");
    current_ = chosen;
    last_failing_ = std::move(interleaved_failing_.at(result.interleaving));
    size_ = size_of(*last_failing_);
  }

  // ---- Progress ---------------------------------------------------------

  void progress(bool reduced) {
    if (!request_.progress) return;
    const auto line = fmt::format("shrink: {} candidates tried, now {}, {:.0f} s", candidates_,
                                  size_.text(), seconds_since(started_));
    if (terminal_) {
      fmt::print("\x1b[2K{}\r", line);
    } else if (reduced || Clock::now() - last_line_ >= std::chrono::seconds(30)) {
      // A log (CI) gets a line per reduction, and one at least every 30 s
      // so that a long search still shows it is alive.
      fmt::print("{}\n", line);
      last_line_ = Clock::now();
    }
    std::fflush(stdout);
  }

  void clear_progress() {
    if (terminal_) fmt::print("\x1b[2K");
  }

  // ---- The result ---------------------------------------------------------

  void confirm(ShrinkResult& result) {
    result.spec_path = request_.out_dir / "spec.toml";
    // The spec is written first and read back: the replays below run what
    // the file says, so the file is known to replay.
    const auto comments = spec_comments(result);
    const std::string text = shrunk_spec_toml(target_, current_, comments);
    {
      std::ofstream out(result.spec_path);
      out << text;
      if (!out) {
        throw EnvironmentError(fmt::format("cannot write {}", result.spec_path.string()));
      }
    }
    const auto spec = engine::load_spec_file(result.spec_path);
    result.confirm_run.suite = spec.name;
    result.confirm_run.seed = target_.run_seed;
    result.confirm_run.migrator = target_.migrator.name;
    result.confirm_run.migrator_declaration = target_.migrator.to_json();
    result.confirm_run.migrator_description = session_.migrator().description.to_json();
    result.confirm_run.users = spec.users;
    result.confirm_run.git_sha = engine::git_sha();
    result.confirm_run.out_dir = request_.out_dir.string();
    result.confirm_run.spec = spec.to_json();
    result.confirm_run.session_pool =
        services::Services::pools_sessions(as_the_run_did(request_.services, target_.session_pool));
    const auto confirm_started = Clock::now();
    result.confirm_runs = request_.confirm_runs;
    std::optional<results::TrialResult> failing;
    for (int i = 0; i < request_.confirm_runs; ++i) {
      throw_if_interrupted();
      auto trial = session_.run_trial(spec, spec.scenarios.front(), i, target_.trial_seed);
      trial.repro_command =
          fmt::format("orgquake run --spec {}{}", result.spec_path.string(), replay_flags(target_));
      if (breaks(trial, target_.invariant)) {
        ++result.confirm_failures;
        if (!failing) failing = trial;
      }
      result.confirm_run.verdict = std::max(result.confirm_run.verdict, trial.verdict);
      result.confirm_run.trials.push_back(std::move(trial));
    }
    result.confirm_run.duration_s = seconds_since(confirm_started);
    result.story = story_of(failing ? *failing : *last_failing_, target_.invariant);
    result.confirm_run.story_title =
        fmt::format("Shrunk from trial {} of {}: {} (was {})", target_.trial_index,
                    target_.run_dir.string(), result.after.text(), result.before.text());
    result.confirm_run.story = summary_lines(result);
    result.confirm_run.story.insert(result.confirm_run.story.end(), result.story.begin(),
                                    result.story.end());
  }

  std::vector<std::string> summary_lines(const ShrinkResult& result) const {
    std::vector<std::string> lines;
    lines.push_back(fmt::format("{} invalid in {} of {} replays of the shrunk trial",
                                target_.invariant, result.confirm_failures, result.confirm_runs));
    lines.push_back(fmt::format(
        "{} candidates in {:.0f} s, {} replay{} each; {}", result.candidates, result.elapsed_s,
        result.runs_per_candidate, result.runs_per_candidate == 1 ? "" : "s",
        result.one_minimal ? "1-minimal: removing any one fault or operation makes it pass"
                           : "not known to be minimal: the budget ran out"));
    for (const auto& change : result.option_changes) lines.push_back("option " + change);
    if (!result.interleaving_finding.empty()) lines.push_back(result.interleaving_finding);
    if (!result.interleaving.empty()) lines.push_back("interleaving = " + result.interleaving);
    return lines;
  }

  std::vector<std::string> spec_comments(const ShrinkResult& result) const {
    std::vector<std::string> lines = {
        fmt::format("Shrunk by `orgquake shrink {} --trial {}` from trial {} ({}, seed {}).",
                    target_.run_dir.string(), target_.trial_index, target_.trial_index,
                    target_.scenario, target_.trial_seed),
        fmt::format("It breaks {}: {} (was {}).", target_.invariant, result.after.text(),
                    result.before.text()),
        fmt::format("Replay it with: orgquake run --spec THIS_FILE{}", replay_flags(target_)),
        result.interleaving_finding,
        "",
        "The story, as the shrink's last failing replay told it:"};
    for (const auto& line : story_of(*last_failing_, target_.invariant, 30)) {
      lines.push_back("  " + line);
    }
    return lines;
  }

  const ShrinkRequest& request_;
  ShrinkTarget target_;
  Clock::time_point started_;
  Clock::time_point last_line_ = Clock::now();
  engine::RunSession session_;
  bool terminal_;
  Candidate current_;
  StorySize size_;
  std::optional<results::TrialResult> last_failing_;
  std::vector<RunOperation> universe_;
  /// A failing replay of each interleaving that failed every time.
  std::map<std::string, results::TrialResult> interleaved_failing_;
  int runs_ = 1;
  int candidates_ = 0;
  int next_index_ = 1000;  // apart from the confirming replays' 0..N-1
  bool out_of_budget_ = false;
};

}  // namespace

ShrinkResult shrink(const ShrinkRequest& request) {
  auto target = load_target(request.run_dir, request.trial, request.invariant);
  ShrinkRequest resolved = request;
  if (resolved.out_dir.empty()) {
    resolved.out_dir = request.run_dir / fmt::format("shrink-trial-{}", target.trial_index);
  }
  // A shrink that stops (a trial that passes on replay, Ctrl-C) leaves no
  // directory of its own behind.
  const bool existed = fs::exists(resolved.out_dir);
  fs::create_directories(resolved.out_dir);
  try {
    Shrinker shrinker(resolved, std::move(target));
    return shrinker.run();
  } catch (...) {
    std::error_code ignored;
    if (!existed) fs::remove_all(resolved.out_dir, ignored);
    throw;
  }
}

}  // namespace orgquake::shrink
