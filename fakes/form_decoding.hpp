#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace orgquake::fakes {

/// A form body or query string that cannot be decoded. `param` names the
/// offending field when there is one, so the fake can answer as Stripe does.
class FormError : public std::runtime_error {
 public:
  FormError(const std::string& message, std::string param)
      : std::runtime_error(message), param_(std::move(param)) {}
  const std::string& param() const { return param_; }

 private:
  std::string param_;
};

/// One field as sent on the wire, decoded: {"metadata[org_id]", "42"}.
struct FormField {
  std::string name;
  std::string value;
};

/// Percent-decodes application/x-www-form-urlencoded text ('+' is a space).
/// Throws FormError on a broken escape such as "%G1" or a trailing "%4".
std::string url_decode(std::string_view text);

/// Percent-encodes everything but unreserved characters (RFC 3986).
std::string url_encode(std::string_view text);

/// Splits "a=1&b=2" into decoded fields, in order. Empty pieces are skipped.
std::vector<FormField> parse_form(std::string_view body);

/// The fields of a form in bracket notation as a tree, the way Stripe reads them:
///   metadata[org_id]=x      -> {metadata: {org_id: x}}
///   items[0][price]=price_1 -> {items: {0: {price: price_1}}}
///   expand[]=a&expand[]=b   -> {expand: {0: a, 1: b}}
/// Children keep the order in which they first appeared.
class FormNode {
 public:
  bool is_leaf() const { return leaf_; }
  const std::string& value() const { return value_; }
  const std::vector<std::pair<std::string, FormNode>>& children() const { return children_; }

  /// The child named `key`, or nullptr.
  const FormNode* find(std::string_view key) const;
  /// The leaf value of child `key`, or nullptr when absent or not a leaf.
  const std::string* leaf(std::string_view key) const;

  /// Builds the tree; throws FormError for unbalanced brackets or a name used
  /// both as a value and as a hash (a=1&a[b]=2).
  static FormNode parse(std::string_view body);

 private:
  FormNode& child(const std::string& key, const std::string& full_name);
  void insert(const std::vector<std::string>& path, std::size_t at, const std::string& value,
              const std::string& full_name);

  bool leaf_ = false;
  std::string value_;
  std::vector<std::pair<std::string, FormNode>> children_;
};

/// "metadata[org_id]" -> {"metadata", "org_id"}; "expand[]" -> {"expand", ""}.
/// Throws FormError for a bracket that is not closed or text after a ']'.
std::vector<std::string> split_bracket_name(std::string_view name);

/// A canonical text of a form's fields (sorted, re-encoded), so that two
/// requests with the same parameters in a different order compare equal.
std::string canonical_form(std::string_view body);

}  // namespace orgquake::fakes
