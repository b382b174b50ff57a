#pragma once

// report.html: one self-contained page a person opens from a CI artifact to
// see what a run did and why a trial failed. Everything is inline (CSS,
// script, data, SVG); the page fetches nothing, so it works offline and its
// Content-Security-Policy forbids any fetch.

#include <string>

#include "results/run_result.hpp"

namespace orgquake::reports {

/// The page: the run's header (suite, migrator, seed, verdict, duration, git
/// sha, start time); a table of trials (verdict, key stats, repro command);
/// per trial the invariants with their evidence, a timeline (a lane per
/// worker with a row per client, and one for the controller: operations as
/// bars from invoke to completion, faults as markers, failpoint firings as
/// ticks, phases as vertical lines, details on hover, drag to zoom) and a
/// histogram of lookup latency on a log scale. The timeline is drawn on a
/// canvas by inline script from JSON embedded in the page, so a history of
/// tens of thousands of events costs no DOM nodes; the rest is plain HTML and
/// SVG. Every text from the run is escaped, including "://", so that no URL
/// appears literally in the file.
std::string report_html(const results::RunResult& run);

}  // namespace orgquake::reports
