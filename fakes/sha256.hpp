#pragma once

#include <string>
#include <string_view>

namespace orgquake::fakes {

/// SHA-256 of `data` as 64 lowercase hex digits. LiteLLM stores a virtual
/// key as the SHA-256 of its text (the "token"); the fake does the same so
/// that clients can address a key by either form.
std::string sha256_hex(std::string_view data);

}  // namespace orgquake::fakes
