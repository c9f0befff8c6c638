#include "actors/turn.hpp"

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

nlohmann::json reply_body(const std::string& from, const outcome& o) {
  nlohmann::json body
    = o.reply.is_object() ? o.reply : nlohmann::json::object();
  body["from"] = from;
  body["ok"] = !o.err.has_value();
  if (o.err) {
    body["error"] = to_string(o.err->code);
    body["message"] = o.err->message;
  }
  return body;
}

} // namespace ordo::actors
