#include "fakes/stripe_search.hpp"

#include <algorithm>
#include <cctype>
#include <optional>

#include <fmt/format.h>

namespace orgquake::fakes {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  SearchQuery parse() {
    SearchQuery query;
    skip_space();
    if (at_end()) throw SearchQueryError("Search query must not be empty");
    query.clauses.push_back(clause());
    std::optional<bool> any;
    for (;;) {
      const bool had_space = skip_space();
      if (at_end()) break;
      if (!had_space) fail("expected whitespace between clauses");
      bool this_any = false;
      if (consume_word("AND")) {
        this_any = false;
      } else if (consume_word("OR")) {
        this_any = true;
      } else {
        fail("expected AND or OR between clauses");
      }
      if (any && *any != this_any) {
        throw SearchQueryError("Search query cannot combine AND and OR");
      }
      any = this_any;
      if (!skip_space()) fail("expected whitespace after the connective");
      query.clauses.push_back(clause());
    }
    query.any = any.value_or(false);
    return query;
  }

 private:
  SearchClause clause() {
    SearchClause c;
    if (peek() == '-') {
      c.negated = true;
      ++pos_;
    }
    const std::size_t start = pos_;
    while (!at_end() && (std::isalnum(static_cast<unsigned char>(peek())) || peek() == '_')) ++pos_;
    c.field = std::string(text_.substr(start, pos_ - start));
    if (c.field.empty()) fail("expected a field name");
    if (c.field == "metadata") {
      if (peek() != '[') fail("expected [ after metadata");
      ++pos_;
      c.key = quoted();
      if (peek() != ']') fail("expected ] after the metadata key");
      ++pos_;
    } else if (c.field != "email" && c.field != "name" && c.field != "phone" &&
               c.field != "description") {
      throw SearchQueryError(
          fmt::format("Field '{}' is an unsupported search field for resource `customers`. See "
                      "https://stripe.com/docs/search#query-fields-for-customers for a list of "
                      "supported fields",
                      c.field));
    }
    if (peek() != ':' && peek() != '~') fail("expected : or ~ after the field");
    c.op = peek();
    ++pos_;
    c.value = quoted();
    if (c.op == '~' && c.value.size() < 3) {
      throw SearchQueryError("Substring search (~) needs at least 3 characters");
    }
    return c;
  }

  std::string quoted() {
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted value");
    ++pos_;
    std::string out;
    while (!at_end() && peek() != quote) {
      if (peek() == '\\' && pos_ + 1 < text_.size()) ++pos_;
      out.push_back(text_[pos_++]);
    }
    if (at_end()) fail("unterminated quoted value");
    ++pos_;
    return out;
  }

  bool consume_word(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  bool skip_space() {
    const std::size_t start = pos_;
    while (!at_end() && std::isspace(static_cast<unsigned char>(peek()))) ++pos_;
    return pos_ != start;
  }

  [[noreturn]] void fail(std::string_view what) const {
    throw SearchQueryError(
        fmt::format("Invalid search query at character {}: {} (example: email:'a@example.com' AND "
                    "metadata['org_id']:'42')",
                    pos_, what));
  }

  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }

  std::string_view text_;
  std::size_t pos_ = 0;
};

bool clause_matches(const SearchClause& c, const StripeCustomer& customer) {
  std::optional<std::string> actual;
  if (c.field == "email") actual = customer.email;
  if (c.field == "name") actual = customer.name;
  if (c.field == "phone") actual = customer.phone;
  if (c.field == "description") actual = customer.description;
  if (c.field == "metadata") {
    const auto it = customer.metadata.find(c.key);
    if (it != customer.metadata.end()) actual = it->second;
  }
  bool match = false;
  if (actual) {
    const std::string have = lower(*actual);
    const std::string want = lower(c.value);
    match = c.op == ':' ? have == want : have.find(want) != std::string::npos;
  }
  return c.negated ? !match : match;
}

}  // namespace

SearchQuery SearchQuery::parse(std::string_view text) {
  return Parser(text).parse();
}

bool SearchQuery::matches(const StripeCustomer& customer) const {
  if (any) {
    return std::any_of(clauses.begin(), clauses.end(),
                       [&](const SearchClause& c) { return clause_matches(c, customer); });
  }
  return std::all_of(clauses.begin(), clauses.end(),
                     [&](const SearchClause& c) { return clause_matches(c, customer); });
}

}  // namespace orgquake::fakes
