#pragma once

// Errors inside the gateway are exceptions; they become API.md error replies
// ({"error": CODE, "message": TEXT}) in exactly one function, to_reply().
// Nothing here crosses a module boundary: the node reports errors as
// actors::result values, which handlers rethrow as api_error.
//
// Threading: plain values and pure functions.

#include <exception>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "actors/errc.hpp"
#include "gateway/detail/http.hpp"

namespace ordo::gateway::detail {

/// An API.md error raised while serving a request.
class api_error : public std::runtime_error {
public:
  /// A domain error; its status is status_of(code).
  api_error(actors::errc code, std::string message);
  /// A node's error reply.
  explicit api_error(const actors::error& err);
  /// A protocol error with no domain code, e.g. 405 "method_not_allowed" or
  /// 413 "payload_too_large".
  api_error(http::status status, std::string code, std::string message);

  /// Adds a header field to the reply (e.g. Allow).
  api_error& with(http::field name, std::string value);
  /// Adds a member to the error body besides "error" and "message" (e.g.
  /// the captcha "challenge").
  api_error& with_member(std::string key, nlohmann::ordered_json value);

  http::status status() const noexcept {
    return status_;
  }
  const std::string& code() const noexcept {
    return code_;
  }
  const std::vector<std::pair<http::field, std::string>>& headers() const {
    return headers_;
  }
  const nlohmann::ordered_json& members() const {
    return members_;
  }

private:
  http::status status_;
  std::string code_;
  std::vector<std::pair<http::field, std::string>> headers_;
  nlohmann::ordered_json members_ = nlohmann::ordered_json::object();
};

/// Throws api_error(bad_request, message).
[[noreturn]] void bad_request(std::string message);

/// The HTTP status of a domain error code (API.md "Errors").
http::status status_of(actors::errc code) noexcept;

/// THE mapping from an exception to a reply: api_error as it says,
/// JSON parse errors as 400 bad_request, anything else as 500 internal (an
/// error in ordo's log, never shown to the client). 503 replies carry
/// Retry-After.
reply to_reply(std::exception_ptr e) noexcept;

} // namespace ordo::gateway::detail
