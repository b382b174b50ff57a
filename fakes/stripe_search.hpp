#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "fakes/stripe_state.hpp"

namespace orgquake::fakes {

/// A search query Stripe would reject; the message says what was wrong.
class SearchQueryError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One `field:'value'` term. `key` is the metadata key for metadata['k'].
struct SearchClause {
  std::string field;  ///< "email", "name", "phone", "description" or "metadata"
  std::string key;
  char op = ':';  ///< ':' exact, '~' substring (both case-insensitive, as Stripe's)
  std::string value;
  bool negated = false;
};

/// Stripe's customer search grammar, the subset migrations use:
///   email:'a@b.c' AND metadata['org_id']:'42'
/// Values are quoted with ' or "; clauses join by AND or by OR, never both.
struct SearchQuery {
  std::vector<SearchClause> clauses;
  bool any = false;  ///< joined by OR

  /// Throws SearchQueryError for text outside the grammar.
  static SearchQuery parse(std::string_view text);
  bool matches(const StripeCustomer& customer) const;
};

}  // namespace orgquake::fakes
