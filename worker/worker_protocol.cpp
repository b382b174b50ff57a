#include "worker/worker_protocol.hpp"

#include <algorithm>
#include <charconv>
#include <regex>
#include <set>

#include <fmt/format.h>

namespace orgquake::worker {

std::string connection_name(int worker, int client) {
  return fmt::format("orgquake:w{}:c{}", worker, client);
}

std::optional<std::pair<int, int>> parse_connection_name(std::string_view name) {
  constexpr std::string_view prefix = "orgquake:w";
  if (!name.starts_with(prefix)) return std::nullopt;
  name.remove_prefix(prefix.size());
  const auto read = [&](int& out) {
    const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), out);
    if (ec != std::errc() || end == name.data() || out < 0) return false;
    name.remove_prefix(static_cast<std::size_t>(end - name.data()));
    return true;
  };
  int worker = 0, client = 0;
  if (!read(worker) || !name.starts_with(":c")) return std::nullopt;
  name.remove_prefix(2);
  if (!read(client) || !name.empty()) return std::nullopt;
  return std::pair{worker, client};
}

const std::vector<ErrorName>& error_names() {
  static const std::vector<ErrorName> names{
      {"LockTimeout", true},
      {"FencedOut", true},
      {"UnknownUser", true},
      {"VerificationError", false},
      {"RedisUnavailable", false},
      {"MigrationError", false},
      {"InjectedError", false},
      {"PgConnectionError", false},
      {"PgError", false},
      {"HttpError", false},
      {"Error", false},
  };
  return names;
}

const ErrorName* find_error_name(std::string_view name) {
  const auto& names = error_names();
  const auto it =
      std::find_if(names.begin(), names.end(), [&](const ErrorName& e) { return e.name == name; });
  return it == names.end() ? nullptr : &*it;
}

std::string one_line(std::string_view text, std::size_t limit) {
  std::string out;
  for (const char c : text) {
    if (out.size() >= limit) {
      out += "...";
      break;
    }
    const bool control = static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
    if (control && !out.empty() && out.back() == ' ') continue;
    out += control ? ' ' : c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

bool is_protocol_version(const nlohmann::json& value) {
  return value.is_number_integer() && value.get<std::int64_t>() == protocol_version;
}

bool MigratorDescription::declares(std::string_view failpoint) const {
  return std::any_of(failpoints.begin(), failpoints.end(),
                     [&](const DeclaredFailpoint& f) { return f.name == failpoint; });
}

bool MigratorDescription::supports(std::string_view operation) const {
  return operation == op_echo ||
         std::find(operations.begin(), operations.end(), operation) != operations.end();
}

nlohmann::json MigratorDescription::to_json() const {
  nlohmann::json declared = nlohmann::json::array();
  for (const auto& f : failpoints) {
    declared.push_back({{"name", f.name}, {"description", f.description}});
  }
  return {{"t", message::ready},
          {"protocol", protocol_version},
          {"migrator", {{"name", name}, {"language", language}}},
          {"operations", operations},
          {"failpoints", std::move(declared)}};
}

namespace {

const nlohmann::json& field(const nlohmann::json& object, const char* name, const char* where) {
  const auto it = object.find(name);
  if (it == object.end())
    throw ProtocolViolation(fmt::format("sent {} without \"{}\"", where, name));
  return *it;
}

std::string string_field(const nlohmann::json& object, const char* name, const char* where) {
  const auto& value = field(object, name, where);
  if (!value.is_string()) {
    throw ProtocolViolation(fmt::format("sent {} whose \"{}\" is not a string", where, name));
  }
  return value.get<std::string>();
}

}  // namespace

MigratorDescription MigratorDescription::from_ready(const nlohmann::json& ready) {
  const auto& protocol = field(ready, "protocol", "ready");
  if (!is_protocol_version(protocol)) {
    throw ProtocolViolation(fmt::format("speaks protocol version {}; this orgquake speaks {}",
                                        one_line(protocol.dump(), 40), protocol_version));
  }
  MigratorDescription description;
  const auto& migrator = field(ready, "migrator", "ready");
  if (!migrator.is_object())
    throw ProtocolViolation("sent ready whose \"migrator\" is not an object");
  description.name = string_field(migrator, "name", "ready's migrator");
  description.language = string_field(migrator, "language", "ready's migrator");

  const auto& operations = field(ready, "operations", "ready");
  if (!operations.is_array()) {
    throw ProtocolViolation("sent ready whose \"operations\" is not a list");
  }
  for (const auto& kind : operations) {
    if (!kind.is_string())
      throw ProtocolViolation("sent ready with an operation that is not a string");
    description.operations.push_back(kind.get<std::string>());
  }

  static const std::regex failpoint_name("[A-Za-z0-9_]+(\\.[A-Za-z0-9_]+)+");
  const auto& failpoints = field(ready, "failpoints", "ready");
  if (!failpoints.is_array()) {
    throw ProtocolViolation("sent ready whose \"failpoints\" is not a list");
  }
  std::set<std::string> seen;
  for (const auto& entry : failpoints) {
    if (!entry.is_object()) throw ProtocolViolation("declared a failpoint that is not an object");
    DeclaredFailpoint declared{string_field(entry, "name", "a failpoint"),
                               string_field(entry, "description", "a failpoint")};
    if (!std::regex_match(declared.name, failpoint_name)) {
      throw ProtocolViolation(fmt::format(
          "declared the failpoint \"{}\", which is not named area.step", declared.name));
    }
    if (declared.name == echo_failpoint) {
      throw ProtocolViolation(
          fmt::format("declared the reserved failpoint {}", std::string(echo_failpoint)));
    }
    if (!seen.insert(declared.name).second) {
      throw ProtocolViolation(fmt::format("declared the failpoint {} twice", declared.name));
    }
    description.failpoints.push_back(std::move(declared));
  }
  return description;
}

}  // namespace orgquake::worker
