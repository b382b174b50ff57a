#pragma once

// Escaping text for the self-contained HTML files (report.html, bench.html).

#include <string>
#include <string_view>

namespace orgquake::reports {

/// Text for HTML element content or a quoted attribute. "://" loses its
/// slashes to character references, so that a URL quoted in evidence or an
/// option never appears literally and the file can be checked mechanically
/// for references to anything outside it.
inline std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      case ':':
        if (text.substr(i + 1, 2) == "//") {
          out += ":&#47;&#47;";
          i += 2;
        } else {
          out += c;
        }
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace orgquake::reports
