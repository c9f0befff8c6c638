#include "actors/vocabulary.hpp"

namespace ordo::actors {

const char* to_string(item_kind k) noexcept {
  return k == item_kind::service ? "service" : "goods";
}

std::optional<item_kind> parse_item_kind(const std::string& s) noexcept {
  if (s == "goods") {
    return item_kind::goods;
  }
  if (s == "service") {
    return item_kind::service;
  }
  return std::nullopt;
}

nlohmann::json reply_body(const std::string& from,
                          const std::optional<error>& err,
                          const nlohmann::json& reply) {
  nlohmann::json body = reply.is_object() ? reply : nlohmann::json::object();
  body["from"] = from;
  body["ok"] = !err.has_value();
  if (err) {
    body["error"] = to_string(err->code);
    body["message"] = err->message;
  }
  return body;
}

} // namespace ordo::actors
