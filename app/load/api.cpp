#include "app/load/api.hpp"

#include <utility>

#include "gateway/detail/crypto.hpp"

namespace ordo::app::load {

const char* to_string(answer a) {
  switch (a) {
    case answer::none: return "none";
    case answer::captured: return "captured";
    case answer::refunded: return "refunded";
    case answer::duplicate: return "duplicate";
    case answer::cancelled: return "cancelled";
    case answer::already_paid: return "already_paid";
    case answer::other: return "other";
    case answer::unknown: return "unknown";
  }
  return "?";
}

// --- api ---------------------------------------------------------------------

api::api(const load_options& opts, std::string run)
  : host_header_((opts.host.find(':') != std::string::npos
                    ? "[" + opts.host + "]"
                    : opts.host)
                 + ":" + std::to_string(opts.port)),
    admin_token_(opts.admin_token), payment_secret_(opts.payment_secret),
    run_(std::move(run)) {}

std::string api::user(const order_record& rec) const {
  return "load-" + run_ + "-" + std::to_string(rec.n);
}

std::string api::sku_name(std::size_t k) {
  return "load-" + std::to_string(k);
}

std::string api::request(std::string_view method, std::string_view target,
                         std::string_view headers,
                         std::string_view body) const {
  return make_request(method, target, host_header_, headers, body);
}

std::string api::admin_request(std::string_view method, std::string_view target,
                               std::string_view body) const {
  return request(method, target,
                 "Authorization: Bearer " + admin_token_ + "\r\n", body);
}

std::string api::create_request(const order_record& rec) const {
  auto u = user(rec);
  auto body = R"({"user_id":")" + u + R"(","items":[{"sku":")"
              + sku_name(rec.sku) + R"(","quantity":1}]})";
  return request("POST", "/v1/orders", "Idempotency-Key: " + u + "\r\n", body);
}

std::string api::payment_request(const std::string& order_id,
                                 std::int64_t amount) const {
  auto body = R"({"txn_id":"t-)" + order_id + R"(","order_id":")" + order_id
              + R"(","amount":)" + std::to_string(amount)
              + R"(,"status":"SUCCESS"})";
  return request("POST", "/v1/payments/callback",
                 "X-Ordo-Signature: "
                   + gateway::detail::payment_signature(payment_secret_, body)
                   + "\r\n",
                 body);
}

std::string api::cancel_request(const std::string& order_id) const {
  return request("POST", "/v1/orders/" + order_id + "/cancel");
}

// --- reading answers -----------------------------------------------------

json body_of(const reply& r) {
  if (r.status == 0) {
    return json(json::value_t::discarded);
  }
  return json::parse(r.body, nullptr, false);
}

std::optional<std::string> string_at(const json& body, const char* name) {
  if (!body.is_object()) {
    return std::nullopt;
  }
  auto at = body.find(name);
  if (at == body.end() || !at->is_string()) {
    return std::nullopt;
  }
  return at->get<std::string>();
}

std::optional<std::int64_t> int_at(const json& body, const char* name) {
  if (!body.is_object()) {
    return std::nullopt;
  }
  auto at = body.find(name);
  if (at == body.end() || !at->is_number_integer()) {
    return std::nullopt;
  }
  return at->get<std::int64_t>();
}

std::string error_kind(const reply& r, const json& body) {
  if (r.status == 0) {
    return "net " + r.failure;
  }
  auto code = string_at(body, "error");
  return std::to_string(r.status) + (code ? " " + *code : "");
}

std::string error_kind(const reply& r) {
  return error_kind(r, body_of(r));
}

answer payment_answer(const reply& r, const json& body) {
  if (r.status == 0 || r.status >= 500) {
    return answer::unknown;
  }
  if (r.status != 200) {
    return answer::other;
  }
  auto result = string_at(body, "result");
  if (result == "captured") {
    return answer::captured;
  }
  if (result == "refunded") {
    return answer::refunded;
  }
  if (result == "duplicate") {
    return answer::duplicate;
  }
  return answer::other;
}

answer cancel_answer(const reply& r, const json& body) {
  if (r.status == 0 || r.status >= 500) {
    return answer::unknown;
  }
  if (r.status == 200) {
    return string_at(body, "status") == "CANCELLED" ? answer::cancelled
                                                    : answer::other;
  }
  if (r.status == 409 && string_at(body, "error") == "already_paid") {
    return answer::already_paid;
  }
  return answer::other;
}

std::optional<created_order> created(const json& body) {
  auto id = string_at(body, "order_id");
  auto payable = int_at(body, "payable");
  if (!id || !payable) {
    return std::nullopt;
  }
  return created_order{std::move(*id), *payable};
}

std::optional<sku_counts> parse_sku(const std::string& body) {
  auto j = json::parse(body, nullptr, false);
  if (!j.is_object()) {
    return std::nullopt;
  }
  try {
    return sku_counts{j.at("stocked").get<std::int64_t>(),
                      j.at("available").get<std::int64_t>(),
                      j.at("reserved").get<std::int64_t>(),
                      j.at("sold").get<std::int64_t>()};
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

} // namespace ordo::app::load
