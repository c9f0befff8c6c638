#include "tests/support/http_client.hpp"

#include "gateway/detail/crypto.hpp"

namespace ordo::test {

std::string sign_payment(std::string_view secret, std::string_view body) {
  return gateway::detail::payment_signature(secret, body);
}

} // namespace ordo::test
