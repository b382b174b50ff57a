#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace orgquake::failpoints {

/// Thrown at a call site by a failpoint configured with return(text). The
/// migrator handles it as it handles any error of that step; it is not a crash.
class InjectedError : public std::runtime_error {
 public:
  InjectedError(std::string_view failpoint, std::string_view text)
      : std::runtime_error("failpoint " + std::string(failpoint) + ": " +
                           (text.empty() ? std::string("injected error") : std::string(text))),
        failpoint_(failpoint),
        text_(text) {}

  /// The `area.step` name of the failpoint that threw.
  const std::string& failpoint() const { return failpoint_; }
  /// The argument of return(text), possibly empty.
  const std::string& text() const { return text_; }

 private:
  std::string failpoint_;
  std::string text_;
};

}  // namespace orgquake::failpoints
