#include "reports/history_jsonl.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
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

namespace {

/// `text` as a JSON string, as dump_report_json writes it: plain ASCII as
/// is, anything to escape (quotes, control characters, bytes past ASCII)
/// by nlohmann's own serializer.
void append_string(std::string& out, std::string_view text) {
  const bool plain = std::all_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte >= 0x20 && byte < 0x80 && c != '"' && c != '\\';
  });
  if (!plain) {
    out += dump_report_json(nlohmann::json(std::string(text)));
    return;
  }
  out += '"';
  out += text;
  out += '"';
}

void append_field(std::string& out, std::string_view key, bool& first) {
  out += first ? "{\"" : ",\"";
  first = false;
  out += key;
  out += "\":";
}

void append_text_field(std::string& out, std::string_view key, std::string_view value,
                       bool& first) {
  append_field(out, key, first);
  append_string(out, value);
}

void append_number_field(std::string& out, std::string_view key, std::int64_t value, bool& first) {
  append_field(out, key, first);
  out += std::to_string(value);
}

}  // namespace

std::string history_jsonl_line(const history::Event& event, int trial,
                               const std::string& scenario) {
  // The keys of Event::to_json() and the two added, in the sorted order
  // nlohmann's objects dump them; written directly, as a run's history is
  // tens of thousands of events and building an object for each cost a
  // quarter of a second at the end of every run.
  std::string out;
  out.reserve(256);
  bool first = true;
  if (event.client >= 0) append_number_field(out, "client", event.client, first);
  if (!event.kind.empty()) append_text_field(out, "kind", event.kind, first);
  if (event.op >= 0) append_number_field(out, "op", event.op, first);
  if (!event.phase.empty()) append_text_field(out, "phase", event.phase, first);
  append_text_field(out, "scenario", scenario, first);
  append_number_field(out, "time_ns", event.time_ns, first);
  append_number_field(out, "trial", trial, first);
  append_text_field(out, "type", history::name_of(event.type), first);
  if (!event.user.empty()) append_text_field(out, "user", event.user, first);
  if (!event.value.empty()) {
    append_field(out, "value", first);
    out += dump_report_json(event.value);
  }
  append_number_field(out, "worker", event.worker, first);
  out += '}';
  return out;
}

void write_history_jsonl(const results::RunResult& run, std::ostream& out) {
  for (const auto& trial : run.trials) {
    for (const history::Event* event : events_in_time_order(trial.history)) {
      out << history_jsonl_line(*event, trial.index, trial.scenario) << '\n';
    }
  }
}

}  // namespace orgquake::reports
