#include "gateway/detail/errors.hpp"

#include "log/log.hpp"

namespace ordo::gateway::detail {

api_error::api_error(actors::errc code, std::string message)
  : std::runtime_error(std::move(message)), status_(status_of(code)),
    code_(actors::to_string(code)) {}

api_error::api_error(const actors::error& err)
  : api_error(err.code, err.message) {}

api_error::api_error(http::status status, std::string code, std::string message)
  : std::runtime_error(std::move(message)), status_(status),
    code_(std::move(code)) {}

api_error& api_error::with(http::field name, std::string value) {
  headers_.emplace_back(name, std::move(value));
  return *this;
}

api_error& api_error::with_member(std::string key,
                                  nlohmann::ordered_json value) {
  members_[std::move(key)] = std::move(value);
  return *this;
}

void bad_request(std::string message) {
  throw api_error(actors::errc::bad_request, std::move(message));
}

http::status status_of(actors::errc code) noexcept {
  using actors::errc;
  switch (code) {
    case errc::bad_request: return http::status::bad_request;
    case errc::unauthorized: return http::status::unauthorized;
    case errc::not_found: return http::status::not_found;
    case errc::insufficient_stock:
    case errc::coupon_unavailable:
    case errc::already_paid:
    case errc::invalid_transition: return http::status::conflict;
    case errc::idempotency_key_reused:
      return http::status::unprocessable_entity;
    case errc::rate_limited: return http::status::too_many_requests;
    case errc::captcha_required: return http::status::forbidden;
    case errc::unavailable: return http::status::service_unavailable;
    case errc::internal: return http::status::internal_server_error;
  }
  return http::status::internal_server_error;
}

namespace {

reply error_reply(http::status status, const std::string& code,
                  const std::string& message,
                  const nlohmann::ordered_json& members
                  = nlohmann::ordered_json::object()) {
  nlohmann::ordered_json body;
  body["error"] = code;
  body["message"] = message;
  for (const auto& [k, v] : members.items()) {
    body[k] = v;
  }
  // Messages may quote client input; never fail on invalid UTF-8.
  reply r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

} // namespace

reply to_reply(std::exception_ptr e) noexcept {
  try {
    try {
      std::rethrow_exception(e);
    } catch (const api_error& err) {
      reply r
        = error_reply(err.status(), err.code(), err.what(), err.members());
      r.headers = err.headers();
      if (err.status() == http::status::service_unavailable) {
        r.headers.emplace_back(http::field::retry_after, "1");
      }
      return r;
    } catch (const nlohmann::json::parse_error& err) {
      // The parser's message quotes the offending token whole.
      return error_reply(http::status::bad_request, "bad_request",
                         "malformed JSON: " + actors::clip(err.what(), 160));
    } catch (const std::exception& err) {
      log::error("gateway", "internal error: " + actors::clip(err.what()));
    } catch (...) {
      log::error("gateway", "internal error: unknown exception");
    }
    return error_reply(http::status::internal_server_error, "internal",
                       "internal error");
  } catch (...) {
    // Only allocation can fail above.
    reply r;
    r.status = http::status::internal_server_error;
    try {
      r.body = R"({"error":"internal","message":"out of memory"})";
    } catch (...) {
      // An empty body; nothing else can be done.
    }
    return r;
  }
}

reply json_reply(http::status status, const nlohmann::ordered_json& body) {
  reply r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

} // namespace ordo::gateway::detail
