#include "migrator/failpoints/spec.hpp"

#include <fmt/format.h>

namespace orgquake::failpoints {

std::string_view keyword_of(Action action) {
  switch (action) {
    case Action::off:
      return "off";
    case Action::return_error:
      return "return";
    case Action::sleep:
      return "sleep";
    case Action::yield:
      return "yield";
    case Action::pause:
      return "pause";
    case Action::crash:
      return "crash";
  }
  return "?";
}

std::string argument_of(const Term& term) {
  switch (term.action) {
    case Action::return_error:
      return term.text;
    case Action::sleep:
      return std::to_string(term.duration.count());
    default:
      return {};
  }
}

std::string to_string(const Term& term) {
  std::string text;
  if (term.percent < 100.0) text += fmt::format("{}%", term.percent);
  if (term.max_triggers) text += fmt::format("{}*", *term.max_triggers);
  text += keyword_of(term.action);
  // `return` without text and `return()` mean the same; the shorter form is canonical.
  if (term.action == Action::sleep || !term.text.empty()) text += "(" + argument_of(term) + ")";
  return text;
}

std::string to_string(const Spec& spec) {
  std::string text;
  for (const Term& term : spec.terms) {
    if (!text.empty()) text += "->";
    text += to_string(term);
  }
  return text;
}

}  // namespace orgquake::failpoints
