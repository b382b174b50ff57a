#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace orgquake::results {

/// Three-valued, as in Jepsen: a check proves the rule held, proves it broke,
/// or could not decide. Ordered so that the worst has the highest value.
enum class Validity { valid = 0, unknown = 1, invalid = 2 };

const char* name_of(Validity validity);

/// One instance of a broken rule: a stable machine-readable symptom code, a
/// line a person reads, and the rows, ledger entries or history operations
/// that show it.
struct Evidence {
  /// Short snake_case code naming what was seen ("key_left_on_user"), the
  /// same in every run; each invariant's header comment lists its codes. It
  /// is what findings are matched on against the bug catalog. Empty only for
  /// evidence read from a results.json older than the codes.
  std::string symptom;
  std::string what;
  nlohmann::json data;

  /// {"symptom", "what", "data"}.
  nlohmann::json to_json() const;
  /// Reads to_json's shape; a missing "symptom" (older files) or "data"
  /// reads as empty.
  static Evidence from_json(const nlohmann::json& json);
};

struct Verdict {
  Validity validity = Validity::valid;
  std::string summary;  ///< one line
  std::vector<Evidence> evidence;

  static Verdict valid(std::string summary) { return {Validity::valid, std::move(summary), {}}; }
  static Verdict unknown(std::string why) { return {Validity::unknown, std::move(why), {}}; }

  nlohmann::json to_json() const;
  /// Reads to_json's shape back (results.json); evidence without a
  /// "symptom" reads with an empty one.
  static Verdict from_json(const nlohmann::json& json);
};

/// The Validity that name_of names; throws std::invalid_argument otherwise.
Validity validity_from_name(const std::string& name);

/// Collects evidence while a check runs and turns it into a verdict: valid
/// when nothing was found.
class VerdictBuilder {
 public:
  explicit VerdictBuilder(std::string rule) : rule_(std::move(rule)) {}
  /// `symptom` is the evidence's stable code (see Evidence::symptom).
  void violation(std::string symptom, std::string what,
                 nlohmann::json data = nlohmann::json::object());
  /// `checked` names what was looked at ("40 migrated users").
  Verdict finish(const std::string& checked) const;

 private:
  std::string rule_;
  std::vector<Evidence> evidence_;
};

/// Worst wins; evidence of every input is kept.
Verdict merge(const std::vector<Verdict>& verdicts);

}  // namespace orgquake::results
