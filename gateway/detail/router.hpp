#pragma once

// Routes: method + path pattern ("/v1/orders/{id}/cancel") → handler. Every
// route of the gateway is registered in one place, routes.cpp.
//
// Threading: filled before the server starts, read-only afterwards.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/detail/http.hpp"

namespace ordo::gateway::detail {

/// Path parameters by name, percent-decoded ({"id": "o-1"}).
using params = std::map<std::string, std::string, std::less<>>;

/// Serves one request: validates, calls the node, answers through
/// `respond`. May throw before calling `respond` (see errors.hpp).
using handler
  = std::function<void(const request&, const params&, const respond_fn&)>;

class router {
public:
  struct route {
    http::verb method;
    std::string pattern;
    /// The pattern's segments; "{name}" matches any non-empty segment.
    std::vector<std::string> segments;
    handler serve;
  };

  struct match {
    const route* found = nullptr;
    params args;
  };

  /// Registers `serve` for `method` on `pattern`, which starts with '/' and
  /// whose segments are literals or "{name}".
  void add(http::verb method, std::string pattern, handler serve);

  /// The route for `method` and request target `target` (a query string is
  /// ignored). Where several patterns match, the one with more literal
  /// segments wins. Throws api_error: 404 not_found for an unknown path,
  /// 405 method_not_allowed (with Allow) for a known path and another
  /// method, 400 bad_request for a malformed percent-escape.
  match find(http::verb method, std::string_view target) const;

  /// Every route, in the order added (the OpenAPI document is checked
  /// against it).
  const std::vector<route>& routes() const noexcept {
    return routes_;
  }

private:
  std::vector<route> routes_;
};

/// The path of a request target: "/a/b?x=1" → "/a/b".
std::string_view path_of(std::string_view target) noexcept;

/// Decodes %XX escapes; throws api_error(bad_request) on a malformed one.
std::string percent_decode(std::string_view s);

/// The query of a request target, name → percent-decoded value ("+" is a
/// space): "/a?x=1&y=b%2Fc" → {"x": "1", "y": "b/c"}. Throws
/// api_error(bad_request) on a malformed escape, a parameter without '='
/// or with an empty name, or a name given twice.
params query_of(std::string_view target);

} // namespace ordo::gateway::detail
