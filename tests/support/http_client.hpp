#pragma once

// The tests' HTTP client: the gateway's synchronous client
// (gateway/client.hpp) under the names the tests use, plus payment signing.
// The tests check the gateway's server side; the client is only how they
// reach it, so it may live in the same module.
//
// Threading: one client per thread; distinct clients are independent.

#include <string>
#include <string_view>

#include "gateway/client.hpp"

namespace ordo::test {

using gateway::bearer;
using gateway::header_list;
using http_response = gateway::response;
using http_client = gateway::client;

/// The X-Ordo-Signature value of `body` (gateway::detail::payment_signature).
std::string sign_payment(std::string_view secret, std::string_view body);

} // namespace ordo::test
