#include "reports/history_jsonl.hpp"

#include <algorithm>
#include <vector>

#include "reports/results_json.hpp"

namespace orgquake::reports {

std::vector<const history::Event*> events_in_time_order(const history::History& history) {
  std::vector<const history::Event*> order;
  order.reserve(history.events().size());
  for (const auto& event : history.events()) order.push_back(&event);
  const auto earlier = [](const history::Event* a, const history::Event* b) {
    return a->time_ns < b->time_ns;
  };
  if (!std::is_sorted(order.begin(), order.end(), earlier)) {
    std::stable_sort(order.begin(), order.end(), earlier);
  }
  return order;
}

void write_history_jsonl(const results::RunResult& run, std::ostream& out) {
  for (const auto& trial : run.trials) {
    for (const history::Event* event : events_in_time_order(trial.history)) {
      nlohmann::json line = event->to_json();
      line["trial"] = trial.index;
      line["scenario"] = trial.scenario;
      out << dump_report_json(line) << '\n';
    }
  }
}

}  // namespace orgquake::reports
