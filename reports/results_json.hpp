#pragma once

// results.json: the machine-readable verdict of a run, the file CI tools and
// `orgquake repro` read (DESIGN.md section 3 lists the keys they rely on).

#include <string>

#include <nlohmann/json.hpp>

#include "results/run_result.hpp"

namespace orgquake::reports {

/// The run as JSON:
/// {"seed", "suite", "migrator", "users", "verdict", "duration_s", "git_sha",
///  "started_at", "spec", "trials": [{"index", "scenario", "seed", "verdict",
///  "error" (only when nonempty), "invariants": [{"name", "verdict", "summary",
///  "evidence": [{"symptom", "what", "data"}]}], "stats", "fault_plan", "choices",
///  "failpoint_order", "options", "duration_s", "repro"}]}, and "shard":
/// {"index", "count"} for one shard of a suite. results::run_from_json
/// reads it back.
/// Seeds are unsigned integers, exact over the whole uint64 range. The
/// history is not here: it goes to history.jsonl. "symptom" is the
/// evidence's stable code (results::Evidence); results::Verdict::from_json
/// reads an invariant's entry back, a file without symptoms too.
nlohmann::json results_json(const results::RunResult& run);

/// Serializes JSON for a report file. Strings that are not valid UTF-8 (an
/// error message quoting raw bytes) get U+FFFD instead of failing the report.
std::string dump_report_json(const nlohmann::json& json, int indent = -1);

}  // namespace orgquake::reports
