#include "fakes/form_decoding.hpp"

#include <algorithm>

namespace orgquake::fakes {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string url_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= text.size()) {
        throw FormError(
            "Invalid percent-encoding in request: '%' must be followed by two hex digits", "");
      }
      const int hi = hex_value(text[i + 1]);
      const int lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0) {
        throw FormError(
            "Invalid percent-encoding in request: '%' must be followed by two hex digits", "");
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string url_encode(std::string_view text) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '-' ||
        u == '_' || u == '.' || u == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(digits[u >> 4]);
      out.push_back(digits[u & 15]);
    }
  }
  return out;
}

std::vector<FormField> parse_form(std::string_view body) {
  std::vector<FormField> fields;
  while (!body.empty()) {
    const std::size_t amp = body.find('&');
    const std::string_view piece = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
    if (piece.empty()) continue;
    const std::size_t eq = piece.find('=');
    FormField field;
    field.name = url_decode(piece.substr(0, eq));
    field.value = eq == std::string_view::npos ? std::string{} : url_decode(piece.substr(eq + 1));
    if (field.name.empty()) {
      throw FormError("Invalid request: a form field has an empty name", "");
    }
    fields.push_back(std::move(field));
  }
  return fields;
}

std::vector<std::string> split_bracket_name(std::string_view name) {
  std::vector<std::string> path;
  const std::size_t open = name.find('[');
  path.emplace_back(name.substr(0, open));
  if (path.front().empty()) {
    throw FormError("Invalid array or hash parameter name: " + std::string(name),
                    std::string(name));
  }
  std::size_t at = open;
  while (at != std::string_view::npos && at < name.size()) {
    if (name[at] != '[') {
      throw FormError("Invalid array or hash parameter name: " + std::string(name),
                      std::string(name));
    }
    const std::size_t close = name.find(']', at);
    if (close == std::string_view::npos) {
      throw FormError("Invalid array or hash parameter name (unclosed '['): " + std::string(name),
                      std::string(name));
    }
    path.emplace_back(name.substr(at + 1, close - at - 1));
    at = close + 1;
  }
  return path;
}

const FormNode* FormNode::find(std::string_view key) const {
  for (const auto& [name, node] : children_) {
    if (name == key) return &node;
  }
  return nullptr;
}

const std::string* FormNode::leaf(std::string_view key) const {
  const FormNode* node = find(key);
  return node != nullptr && node->leaf_ ? &node->value_ : nullptr;
}

FormNode& FormNode::child(const std::string& key, const std::string& full_name) {
  if (leaf_) {
    throw FormError("Invalid request: " + full_name + " mixes a value and a hash", full_name);
  }
  for (auto& [name, node] : children_) {
    if (name == key) return node;
  }
  children_.emplace_back(key, FormNode{});
  return children_.back().second;
}

void FormNode::insert(const std::vector<std::string>& path, std::size_t at,
                      const std::string& value, const std::string& full_name) {
  std::string key = path[at];
  if (key.empty()) key = std::to_string(children_.size());  // "expand[]" appends
  FormNode& node = child(key, full_name);
  if (at + 1 == path.size()) {
    if (!node.children_.empty()) {
      throw FormError("Invalid request: " + full_name + " mixes a value and a hash", full_name);
    }
    node.leaf_ = true;
    node.value_ = value;
    return;
  }
  if (node.leaf_) {
    throw FormError("Invalid request: " + full_name + " mixes a value and a hash", full_name);
  }
  node.insert(path, at + 1, value, full_name);
}

FormNode FormNode::parse(std::string_view body) {
  FormNode root;
  for (const FormField& field : parse_form(body)) {
    root.insert(split_bracket_name(field.name), 0, field.value, field.name);
  }
  return root;
}

std::string canonical_form(std::string_view body) {
  std::vector<FormField> fields = parse_form(body);
  std::stable_sort(fields.begin(), fields.end(),
                   [](const FormField& a, const FormField& b) { return a.name < b.name; });
  std::string out;
  for (const FormField& field : fields) {
    if (!out.empty()) out.push_back('&');
    out += url_encode(field.name);
    out.push_back('=');
    out += url_encode(field.value);
  }
  return out;
}

}  // namespace orgquake::fakes
