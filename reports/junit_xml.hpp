#pragma once

// junit.xml: the run as CI systems (GitLab, Jenkins, GitHub test reporters)
// show test results, so that a failing trial appears as a failing test with
// its evidence and the command that replays it.

#include <string>

#include "results/run_result.hpp"

namespace orgquake::reports {

/// One <testsuites name="orgquake.<suite>">; in it one
/// <testsuite name="orgquake.<suite>.<scenario>"> per scenario, in the order
/// the scenarios first ran; in each, one
/// <testcase classname="orgquake.<scenario>" name="seed <seed>"> per trial.
/// An invalid trial carries <failure type="invalid">, an unknown one
/// <error type="unknown">; the text lists the invariants' summaries, their
/// evidence lines and the repro command. Every testcase has a <system-out>
/// with its stats and repro command. Text from the run is escaped, and
/// characters XML 1.0 cannot carry (control characters, invalid UTF-8) are
/// dropped or replaced by U+FFFD.
std::string junit_xml(const results::RunResult& run);

}  // namespace orgquake::reports
