#include "gateway/detail/assets.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>

namespace ordo::gateway::detail {

namespace {

std::string_view content_type_of(std::string_view name) {
  auto ends = [name](std::string_view ext) {
    return name.size() >= ext.size()
           && name.substr(name.size() - ext.size()) == ext;
  };
  if (ends(".html")) {
    return "text/html; charset=utf-8";
  }
  if (ends(".js")) {
    return "text/javascript; charset=utf-8";
  }
  if (ends(".css")) {
    return "text/css; charset=utf-8";
  }
  if (ends(".json")) {
    return "application/json";
  }
  if (ends(".svg")) {
    return "image/svg+xml";
  }
  if (ends(".png")) {
    return "image/png";
  }
  return "application/octet-stream";
}

bool plain_file_name(std::string_view name) {
  return !name.empty() && name.size() <= 128 && name.front() != '.'
         && std::all_of(name.begin(), name.end(), [](char c) {
              return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                     || (c >= '0' && c <= '9') || c == '.' || c == '_'
                     || c == '-';
            });
}

const embedded_file* find_embedded(std::string_view name) {
  for (const auto& f : embedded_files()) {
    if (f.name == name) {
      return &f;
    }
  }
  return nullptr;
}

} // namespace

std::optional<static_file> console_file(const std::string& dir,
                                        std::string_view name) {
  if (!plain_file_name(name)) {
    return std::nullopt;
  }
  static_file f;
  f.content_type = std::string{content_type_of(name)};
  if (!dir.empty()) {
    std::ifstream in(dir + "/" + std::string{name}, std::ios::binary);
    if (!in) {
      return std::nullopt;
    }
    f.body.assign(std::istreambuf_iterator<char>(in),
                  std::istreambuf_iterator<char>());
    return f;
  }
  const auto* e = find_embedded("console/" + std::string{name});
  if (e == nullptr) {
    return std::nullopt;
  }
  f.body = std::string{e->body};
  return f;
}

const static_file& openapi_document() {
  static const static_file doc = [] {
    const auto* e = find_embedded("openapi.json");
    return static_file{e != nullptr ? std::string{e->body} : std::string{"{}"},
                       "application/json"};
  }();
  return doc;
}

} // namespace ordo::gateway::detail
