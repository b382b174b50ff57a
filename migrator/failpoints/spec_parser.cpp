#include "migrator/failpoints/spec_parser.hpp"

#include <charconv>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "core/error.hpp"

namespace orgquake::failpoints {
namespace {

// A sleep longer than a day is a typo (seconds for milliseconds, a stray digit),
// and a bound keeps the milliseconds far from overflowing a clock.
constexpr std::uint64_t max_sleep_ms = 24ULL * 60 * 60 * 1000;

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

// Splits at `separator` outside parentheses, so an argument may hold any text
// with balanced parentheses.
std::vector<std::string_view> split_outside_parentheses(std::string_view text,
                                                        std::string_view separator) {
  std::vector<std::string_view> parts;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '(') ++depth;
    if (text[i] == ')' && depth > 0) --depth;
    if (depth == 0 && text.substr(i, separator.size()) == separator) {
      parts.push_back(text.substr(start, i - start));
      start = i + separator.size();
      i = start - 1;
    }
  }
  parts.push_back(text.substr(start));
  return parts;
}

bool parentheses_balance(std::string_view text) {
  int depth = 0;
  for (char c : text) {
    if (c == '(') ++depth;
    if (c == ')' && --depth < 0) return false;
  }
  return depth == 0;
}

class TermParser {
 public:
  TermParser(std::string_view failpoint_name, std::string_view term)
      : failpoint_name_(failpoint_name), term_(term) {}

  Term parse() {
    std::string_view head = term_;
    std::optional<std::string_view> argument;
    if (const auto open = term_.find('('); open != std::string_view::npos) {
      if (term_.back() != ')') {
        fail(term_.find(')', open) == std::string_view::npos ? "missing ')' after the argument"
                                                             : "text after the argument's ')'");
      }
      argument = term_.substr(open + 1, term_.size() - open - 2);
      if (!parentheses_balance(*argument)) fail("unbalanced parentheses in the argument");
      head = term_.substr(0, open);
    } else if (term_.find(')') != std::string_view::npos) {
      fail("')' without '('");
    }

    Term term;
    if (const auto percent_sign = head.find('%'); percent_sign != std::string_view::npos) {
      term.percent = parse_percent(trim(head.substr(0, percent_sign)));
      head = head.substr(percent_sign + 1);
    }
    if (const auto star = head.find('*'); star != std::string_view::npos) {
      term.max_triggers = parse_count(trim(head.substr(0, star)));
      head = head.substr(star + 1);
    }
    term.action = parse_action(trim(head));
    apply_argument(term, argument);
    return term;
  }

 private:
  [[noreturn]] void fail(std::string_view what) const {
    throw UsageError(fmt::format("failpoint {}: term \"{}\": {}", failpoint_name_, term_, what));
  }

  double parse_percent(std::string_view text) const {
    double percent = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), percent);
    if (text.empty() || error != std::errc{} || end != text.data() + text.size() ||
        !std::isfinite(percent)) {
      fail(
          fmt::format("probability \"{}\" is not a number (the form is p%n*action, as in "
                      "50%crash)",
                      text));
    }
    if (percent < 0.0 || percent > 100.0) {
      fail(fmt::format("probability {}% is outside 0% to 100%", text));
    }
    return percent;
  }

  std::uint64_t parse_count(std::string_view text) const {
    std::uint64_t count = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), count);
    if (text.empty() || error != std::errc{} || end != text.data() + text.size()) {
      fail(fmt::format("count \"{}\" is not a whole number (the form is n*action, as in 2*crash)",
                       text));
    }
    return count;
  }

  Action parse_action(std::string_view keyword) const {
    for (Action action : {Action::off, Action::return_error, Action::sleep, Action::yield,
                          Action::pause, Action::crash}) {
      if (keyword == keyword_of(action)) return action;
    }
    if (keyword.empty()) fail("no action (expected off, return, sleep, yield, pause or crash)");
    fail(fmt::format(
        "unknown action \"{}\" (expected off, return(text), sleep(ms), yield, pause or crash)",
        keyword));
  }

  void apply_argument(Term& term, std::optional<std::string_view> argument) const {
    switch (term.action) {
      case Action::return_error:
        // The text is the error message, kept exactly as written.
        if (argument) term.text = std::string(*argument);
        return;
      case Action::sleep: {
        if (!argument) fail("sleep needs a duration in milliseconds, as in sleep(100)");
        const std::string_view text = trim(*argument);
        std::uint64_t ms = 0;
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), ms);
        if (text.empty() || error != std::errc{} || end != text.data() + text.size()) {
          fail(fmt::format("sleep duration \"{}\" is not a whole number of milliseconds", text));
        }
        if (ms > max_sleep_ms) {
          fail(fmt::format("sleep duration {} ms is longer than a day", ms));
        }
        term.duration = std::chrono::milliseconds(static_cast<std::int64_t>(ms));
        return;
      }
      default:
        if (argument) fail(fmt::format("{} takes no argument", keyword_of(term.action)));
        return;
    }
  }

  std::string_view failpoint_name_;
  std::string_view term_;
};

}  // namespace

Spec parse_spec(std::string_view failpoint_name, std::string_view text) {
  text = trim(text);
  if (text.empty()) {
    throw UsageError(fmt::format(
        "failpoint {}: no action given (write off to do nothing, or clear the failpoint)",
        failpoint_name));
  }
  Spec spec;
  for (std::string_view term : split_outside_parentheses(text, "->")) {
    term = trim(term);
    if (term.empty()) {
      throw UsageError(
          fmt::format("failpoint {}: \"{}\" has an empty term (a '->' with nothing "
                      "on one side)",
                      failpoint_name, text));
    }
    spec.terms.push_back(TermParser(failpoint_name, term).parse());
  }
  return spec;
}

std::vector<Setting> parse_configuration(std::string_view text) {
  std::vector<Setting> settings;
  for (std::string_view item : split_outside_parentheses(text, ";")) {
    item = trim(item);
    if (item.empty()) continue;
    const auto equals = item.find('=');
    if (equals == std::string_view::npos) {
      throw UsageError(fmt::format(
          "\"{}\": missing '=' (the form is name=action, as in migrate.after_org_insert=crash)",
          item));
    }
    const std::string_view name = trim(item.substr(0, equals));
    if (name.empty()) {
      throw UsageError(fmt::format("\"{}\": missing failpoint name before '='", item));
    }
    const Failpoint point = require_failpoint(name);
    for (const Setting& earlier : settings) {
      if (earlier.point == point) {
        throw UsageError(fmt::format(
            "failpoint {}: configured twice; give each failpoint one chain joined with '->'",
            name));
      }
    }
    settings.push_back({point, parse_spec(name, item.substr(equals + 1))});
  }
  return settings;
}

}  // namespace orgquake::failpoints
