#pragma once

// The gateway's internal vocabulary: the Beast request type, a reply
// independent of the connection, and the handler signature routes use.
//
// Threading: plain values.

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <nlohmann/json.hpp>

namespace ordo::gateway::detail {

namespace http = boost::beast::http;

using request = http::request<http::string_body>;

/// A reply before it meets a connection: the session adds Content-Type,
/// Content-Length, Server and the keep-alive decision.
struct reply {
  http::status status = http::status::ok;
  /// JSON text.
  std::string body;
  /// Extra header fields (Allow, Retry-After, Location).
  std::vector<std::pair<http::field, std::string>> headers;
  /// Header fields Beast has no name for (Content-Security-Policy,
  /// Referrer-Policy); served by this node only, never forwarded.
  std::vector<std::pair<std::string, std::string>> named_headers;
};

/// A reply whose body is `body` rendered as JSON.
reply json_reply(http::status status, const nlohmann::ordered_json& body);

/// Produces a request's reply; may throw (see errors.hpp).
using reply_maker = std::function<reply()>;

/// Completes one request. Callable from any thread, at most once (later
/// calls are ignored); the maker runs later on the session's strand inside
/// the gateway's single error mapping. Dropping every copy uncalled answers
/// 500 internal.
using respond_fn = std::function<void(reply_maker)>;

} // namespace ordo::gateway::detail
