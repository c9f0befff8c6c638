#include <boost/test/unit_test.hpp>

#include "gateway/detail/errors.hpp"
#include "gateway/detail/router.hpp"

using namespace ordo::gateway::detail;

namespace {

router sample() {
  router r;
  auto none = [](const request&, const params&, const respond_fn&) {};
  r.add(http::verb::get, "/healthz", none);
  r.add(http::verb::put, "/v1/skus/{sku}", none);
  r.add(http::verb::get, "/v1/skus/{sku}", none);
  r.add(http::verb::get, "/v1/orders/{id}", none);
  r.add(http::verb::post, "/v1/orders/{id}/cancel", none);
  r.add(http::verb::get, "/v1/orders/special", none);
  return r;
}

/// The error a lookup throws, as its reply.
reply failure(const router& r, http::verb m, std::string_view target) {
  try {
    r.find(m, target);
  } catch (...) {
    return to_reply(std::current_exception());
  }
  BOOST_FAIL("expected an error for " << target);
  return {};
}

} // namespace

BOOST_AUTO_TEST_SUITE(router_suite)

BOOST_AUTO_TEST_CASE(literal_and_param_routes_match) {
  auto r = sample();
  auto m = r.find(http::verb::get, "/healthz");
  BOOST_TEST(m.found->pattern == "/healthz");
  m = r.find(http::verb::get, "/v1/orders/o-17");
  BOOST_TEST(m.found->pattern == "/v1/orders/{id}");
  BOOST_TEST(m.args.at("id") == "o-17");
  m = r.find(http::verb::post, "/v1/orders/o-17/cancel");
  BOOST_TEST(m.found->pattern == "/v1/orders/{id}/cancel");
  BOOST_TEST(m.args.at("id") == "o-17");
}

BOOST_AUTO_TEST_CASE(method_selects_among_routes_of_one_path) {
  auto r = sample();
  BOOST_TEST(r.find(http::verb::put, "/v1/skus/A").found->method
             == http::verb::put);
  BOOST_TEST(r.find(http::verb::get, "/v1/skus/A").found->method
             == http::verb::get);
}

BOOST_AUTO_TEST_CASE(more_literal_pattern_wins) {
  auto r = sample();
  BOOST_TEST(r.find(http::verb::get, "/v1/orders/special").found->pattern
             == "/v1/orders/special");
}

BOOST_AUTO_TEST_CASE(query_string_is_ignored) {
  auto r = sample();
  auto m = r.find(http::verb::get, "/v1/orders/o1?verbose=1");
  BOOST_TEST(m.args.at("id") == "o1");
}

BOOST_AUTO_TEST_CASE(params_are_percent_decoded) {
  auto r = sample();
  auto m = r.find(http::verb::get, "/v1/skus/a%2Db%20c");
  BOOST_TEST(m.args.at("sku") == "a-b c");
}

BOOST_AUTO_TEST_CASE(unknown_path_is_404) {
  auto r = sample();
  for (auto target : {"/", "/v1", "/v1/orders", "/v1/orders/", "/v1/skus/A/x",
                      "/nope", "*", "http://x/healthz"}) {
    auto rep = failure(r, http::verb::get, target);
    BOOST_TEST(static_cast<int>(rep.status) == 404, target);
    BOOST_TEST(nlohmann::json::parse(rep.body)["error"] == "not_found");
  }
}

BOOST_AUTO_TEST_CASE(wrong_method_is_405_with_allow) {
  auto r = sample();
  auto rep = failure(r, http::verb::delete_, "/v1/skus/A");
  BOOST_TEST(static_cast<int>(rep.status) == 405);
  BOOST_TEST(nlohmann::json::parse(rep.body)["error"] == "method_not_allowed");
  BOOST_REQUIRE(rep.headers.size() == 1u);
  BOOST_TEST(rep.headers[0].first == http::field::allow);
  BOOST_TEST(rep.headers[0].second == "PUT, GET");

  rep = failure(r, http::verb::get, "/v1/orders/o1/cancel");
  BOOST_TEST(static_cast<int>(rep.status) == 405);
  BOOST_TEST(rep.headers[0].second == "POST");
}

BOOST_AUTO_TEST_CASE(malformed_escape_is_400) {
  auto r = sample();
  auto rep = failure(r, http::verb::get, "/v1/orders/a%zz");
  BOOST_TEST(static_cast<int>(rep.status) == 400);
  rep = failure(r, http::verb::get, "/v1/orders/a%2");
  BOOST_TEST(static_cast<int>(rep.status) == 400);
}

BOOST_AUTO_TEST_CASE(query_parameters_are_split_and_decoded) {
  auto q = query_of("/v1/notifications?order_id=o%2D1&x=a+b&&y=");
  BOOST_TEST(q.size() == 3u);
  BOOST_TEST(q.at("order_id") == "o-1");
  BOOST_TEST(q.at("x") == "a b");
  BOOST_TEST(q.at("y") == "");
  BOOST_TEST(query_of("/v1/notifications").empty());
  BOOST_TEST(query_of("/v1/notifications?").empty());
  for (auto bad : {"/a?x", "/a?=1", "/a?x=1&x=2", "/a?x=%4", "/a?x=%zz"}) {
    BOOST_CHECK_THROW(query_of(bad), api_error);
  }
}

BOOST_AUTO_TEST_SUITE_END()
