#include <cstddef>
#include <iterator>
#include <utility>

#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include <fcntl.h>
#include <unistd.h>

#include "gateway/detail/errors.hpp"

using namespace ordo::gateway::detail;
using ordo::actors::errc;

namespace {

template <class E>
reply reply_to(E e) {
  try {
    throw e;
  } catch (...) {
    return to_reply(std::current_exception());
  }
}

nlohmann::json body(const reply& r) {
  return nlohmann::json::parse(r.body);
}

} // namespace

BOOST_AUTO_TEST_SUITE(errors_suite)

BOOST_AUTO_TEST_CASE(every_errc_has_the_api_status) {
  // API.md's status of every code, listed by its position in the enum: a
  // code added without a row here fails the count below.
  const std::pair<errc, int> api[] = {
    {errc::bad_request, 400},        {errc::unauthorized, 401},
    {errc::not_found, 404},          {errc::insufficient_stock, 409},
    {errc::coupon_unavailable, 409}, {errc::already_paid, 409},
    {errc::invalid_transition, 409}, {errc::idempotency_key_reused, 422},
    {errc::rate_limited, 429},       {errc::captcha_required, 403},
    {errc::unavailable, 503},        {errc::internal, 500},
  };
  BOOST_TEST(std::size(api) == static_cast<std::size_t>(errc::internal) + 1);
  for (std::size_t i = 0; i < std::size(api); ++i) {
    auto [code, status] = api[i];
    BOOST_TEST_CONTEXT(ordo::actors::to_string(code)) {
      BOOST_TEST(static_cast<std::size_t>(code) == i);
      BOOST_TEST(static_cast<int>(status_of(code)) == status);
    }
  }
}

BOOST_AUTO_TEST_CASE(domain_error_body_has_code_and_message) {
  auto r = reply_to(api_error(errc::insufficient_stock, "only 3 left of A"));
  BOOST_TEST(static_cast<int>(r.status) == 409);
  BOOST_TEST(body(r)
             == (nlohmann::json{{"error", "insufficient_stock"},
                                {"message", "only 3 left of A"}}));
  BOOST_TEST(r.headers.empty());
}

BOOST_AUTO_TEST_CASE(node_error_converts) {
  auto r = reply_to(
    api_error(ordo::actors::error{errc::idempotency_key_reused, "other body"}));
  BOOST_TEST(static_cast<int>(r.status) == 422);
  BOOST_TEST(body(r)["error"] == "idempotency_key_reused");
}

BOOST_AUTO_TEST_CASE(unavailable_carries_retry_after) {
  auto r = reply_to(api_error(errc::unavailable, "owner unreachable"));
  BOOST_TEST(static_cast<int>(r.status) == 503);
  BOOST_REQUIRE(r.headers.size() == 1u);
  BOOST_TEST(r.headers[0].first == http::field::retry_after);
  BOOST_TEST(r.headers[0].second == "1");
}

BOOST_AUTO_TEST_CASE(protocol_errors_keep_their_code_and_headers) {
  auto r = reply_to(
    api_error(http::status::payload_too_large, "payload_too_large", "too big"));
  BOOST_TEST(static_cast<int>(r.status) == 413);
  BOOST_TEST(body(r)["error"] == "payload_too_large");
  r = reply_to(api_error(http::status::method_not_allowed, "method_not_allowed",
                         "allowed: GET")
                 .with(http::field::allow, "GET"));
  BOOST_TEST(static_cast<int>(r.status) == 405);
  BOOST_TEST(r.headers.at(0).second == "GET");
}

BOOST_AUTO_TEST_CASE(json_parse_errors_are_bad_requests) {
  reply r;
  try {
    auto j = nlohmann::json::parse("{\"a\":");
    BOOST_FAIL("parsed " << j.dump());
  } catch (...) {
    r = to_reply(std::current_exception());
  }
  BOOST_TEST(static_cast<int>(r.status) == 400);
  BOOST_TEST(body(r)["error"] == "bad_request");
  BOOST_TEST(body(r)["message"].get<std::string>().rfind("malformed JSON", 0)
             == 0u);
}

BOOST_AUTO_TEST_CASE(anything_else_is_internal_without_details) {
  auto r = reply_to(std::runtime_error("secret detail"));
  BOOST_TEST(static_cast<int>(r.status) == 500);
  BOOST_TEST(
    body(r)
    == (nlohmann::json{{"error", "internal"}, {"message", "internal error"}}));
  r = reply_to(42);
  BOOST_TEST(static_cast<int>(r.status) == 500);
}

BOOST_AUTO_TEST_CASE(an_internal_error_logs_only_a_prefix_of_its_message) {
  // An exception's message may quote client input whole.
  std::string path = "/tmp/ordo-errors-test-" + std::to_string(::getpid());
  std::fflush(stderr);
  int saved = ::dup(2);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  BOOST_REQUIRE(saved >= 0 && fd >= 0);
  ::dup2(fd, 2);
  ::close(fd);
  auto r = reply_to(std::runtime_error("number " + std::string(100'000, '7')));
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  std::ifstream in(path);
  std::string log((std::istreambuf_iterator<char>(in)),
                  std::istreambuf_iterator<char>());
  std::remove(path.c_str());
  BOOST_TEST(static_cast<int>(r.status) == 500);
  BOOST_TEST(log.find("internal error") != std::string::npos, log);
  BOOST_TEST(log.size() < 300u);
  BOOST_TEST(log.find("...[+") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_malformed_body_is_not_quoted_back_whole) {
  reply r;
  try {
    auto j = nlohmann::json::parse("[\"" + std::string(100'000, 'x'));
    BOOST_FAIL("parsed " << j.dump());
  } catch (...) {
    r = to_reply(std::current_exception());
  }
  BOOST_TEST(static_cast<int>(r.status) == 400);
  BOOST_TEST(r.body.size() < 400u);
}

BOOST_AUTO_TEST_CASE(clip_keeps_a_short_prefix_and_says_how_much_is_cut) {
  using ordo::actors::clip;
  BOOST_TEST(clip("short") == "short");
  BOOST_TEST(clip(std::string(96, 'a')) == std::string(96, 'a'));
  BOOST_TEST(clip(std::string(100, 'a'))
             == std::string(96, 'a') + "...[+4 bytes]");
  BOOST_TEST(clip("abcdef", 2) == "ab...[+4 bytes]");
}

BOOST_AUTO_TEST_CASE(messages_with_invalid_utf8_still_render) {
  auto r = reply_to(api_error(errc::bad_request, "bad \xff byte"));
  BOOST_TEST(static_cast<int>(r.status) == 400);
  BOOST_TEST(body(r)["error"] == "bad_request");
}

BOOST_AUTO_TEST_SUITE_END()
