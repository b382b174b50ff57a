#pragma once

// history.jsonl: every event of every trial, one JSON object per line, for
// tools that replay or grep a history (jq, a Jepsen-style checker, a diff of
// two runs).

#include <ostream>
#include <string>
#include <vector>

#include "results/run_result.hpp"

namespace orgquake::reports {

/// Writes one line per history event: trials in order, each trial's events
/// in time order (ties keep the order they were recorded in). A line is
/// Event::to_json() plus "trial" (the trial's index) and "scenario", e.g.
///   {"kind":"lookup","op":7,"scenario":"redis_outage","time_ns":1200,"trial":0,
///    "type":"invoke","user":"u12","worker":1,...}
/// Stream errors are left in the stream's state for the caller to check.
void write_history_jsonl(const results::RunResult& run, std::ostream& out);

/// One line of history.jsonl, without its newline: the same text as
/// dump_report_json of Event::to_json() with "trial" and "scenario" added.
std::string history_jsonl_line(const history::Event& event, int trial, const std::string& scenario);

/// A trial's events in time order, ties in the order they were recorded: as
/// History::finish() sorts them, for a history that was never finished (a
/// trial cut short by a harness error). The other reports read in this order.
std::vector<const history::Event*> events_in_time_order(const history::History& history);

}  // namespace orgquake::reports
