// Abuse control (DESIGN.md rule 10) as API.md shows it over real HTTP: 429
// rate_limited with Retry-After, 403 captcha_required with a challenge the
// client solves like a person would (by reading the built-in arithmetic
// question), and split orders' manual intervention as a client sees it.

#include <boost/test/unit_test.hpp>

#include <optional>
#include <regex>
#include <string>

#include "tests/integration/server_fixture.hpp"

using namespace ordo;
using namespace ordo::test;

namespace {

/// The default limits of API.md: 5 orders a minute, a captcha after 3.
struct limited_fixture : server_fixture {
  limited_fixture()
    : server_fixture([](gateway::server_options&) {},
                     [](runtime::node_options& o) {
                       o.rate_limit = 5;
                       o.rate_window = 60'000;
                       o.captcha_after = 3;
                     }) {}
};

http_response create(http_client& c, const std::string& user,
                     const std::string& key,
                     std::optional<nlohmann::json> captcha = std::nullopt) {
  nlohmann::json body{{"user_id", user},
                      {"items", {{{"sku", "A"}, {"quantity", 1}}}}};
  if (captcha) {
    body["captcha"] = *captcha;
  }
  return c.post("/v1/orders", body.dump(), {{"Idempotency-Key", key}});
}

/// Solves "What is A + B?" / "What is A * B?".
std::string solve(const std::string& question) {
  std::smatch m;
  static const std::regex form{R"(What is (\d+) ([+*]) (\d+)\?)"};
  BOOST_REQUIRE_MESSAGE(std::regex_match(question, m, form), question);
  auto a = std::stol(m[1]);
  auto b = std::stol(m[3]);
  return std::to_string(m[2] == "+" ? a + b : a * b);
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(abuse_http, limited_fixture)

BOOST_AUTO_TEST_CASE(the_sixth_order_in_a_minute_gets_429_with_retry_after) {
  http_client c{port()};
  BOOST_REQUIRE_EQUAL(put_sku(c, "A", 100).status, 200u);
  for (int i = 0; i < 5; ++i) {
    BOOST_REQUIRE_EQUAL(create(c, "u1", "k" + std::to_string(i)).status, 201u);
  }
  auto sixth = create(c, "u1", "k5");
  BOOST_TEST(sixth.status == 429u);
  BOOST_TEST(sixth.error() == "rate_limited");
  auto retry = sixth.header("Retry-After");
  BOOST_REQUIRE(!retry.empty());
  BOOST_TEST(std::stol(retry) >= 1);
  BOOST_TEST(std::stol(retry) <= 60);
  BOOST_TEST(sixth.json["retry_after_ms"].get<std::int64_t>() > 0);
  // Nothing was reserved for it; a retry of an existing order still works.
  BOOST_TEST(get_sku(c, "A").json["reserved"] == 5);
  BOOST_TEST(create(c, "u1", "k0").status == 200u);
  BOOST_TEST(create(c, "u2", "k0").status == 201u);
  auto metrics = c.get("/metrics").body;
  BOOST_TEST(metrics.find("\nordo_orders_rate_limited_total 1\n")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(refused_creates_do_not_use_up_the_rate_limit) {
  http_client c{port()};
  auto admin = bearer(admin_token);
  BOOST_REQUIRE_EQUAL(put_sku(c, "A", 100).status, 200u);
  BOOST_REQUIRE_EQUAL(
    c.put("/v1/coupons/c2", R"({"user_id":"u2","discount":100})", admin).status,
    200u);
  // Six refusals, more than the five a minute allows: each is answered
  // with its own error, not 429.
  for (int i = 0; i < 3; ++i) {
    auto k = std::to_string(i);
    auto short_of_stock = c.post(
      "/v1/orders", R"({"user_id":"u1","items":[{"sku":"A","quantity":101}]})",
      {{"Idempotency-Key", "s" + k}});
    BOOST_TEST(short_of_stock.status == 409u, short_of_stock.body);
    BOOST_TEST(short_of_stock.error() == "insufficient_stock");
    auto coupon = c.post(
      "/v1/orders",
      R"({"user_id":"u1","items":[{"sku":"A","quantity":1}],"coupon_id":"c2"})",
      {{"Idempotency-Key", "c" + k}});
    BOOST_TEST(coupon.status == 409u, coupon.body);
    BOOST_TEST(coupon.error() == "coupon_unavailable");
  }
  // The five slots are all still there, and the limit still holds.
  for (int i = 0; i < 5; ++i) {
    auto r = create(c, "u1", "k" + std::to_string(i));
    BOOST_TEST(r.status == 201u, r.body);
  }
  BOOST_TEST(create(c, "u1", "k5").status == 429u);
}

BOOST_AUTO_TEST_CASE(
  three_cancels_then_the_captcha_wrong_refused_right_accepted) {
  http_client c{port()};
  BOOST_REQUIRE_EQUAL(put_sku(c, "A", 100).status, 200u);
  for (int i = 0; i < 3; ++i) {
    auto r = create(c, "u1", "c" + std::to_string(i));
    BOOST_REQUIRE_EQUAL(r.status, 201u);
    BOOST_REQUIRE_EQUAL(cancel(c, r.json["order_id"]).status, 200u);
  }
  auto gated = create(c, "u1", "c3");
  BOOST_TEST(gated.status == 403u);
  BOOST_TEST(gated.error() == "captcha_required");
  auto challenge = gated.json["challenge"];
  BOOST_REQUIRE(challenge.is_object());
  BOOST_TEST(challenge.size() == 2u); // id and question: never the answer
  auto id = challenge["id"].get<std::string>();
  auto answer = solve(challenge["question"].get<std::string>());

  auto wrong = create(c, "u1", "c3",
                      nlohmann::json{{"id", id}, {"answer", answer + "1"}});
  BOOST_TEST(wrong.status == 403u);
  BOOST_TEST(wrong.error() == "captcha_required");
  BOOST_TEST(wrong.json["challenge"]["id"] != id);
  // The old challenge died with the wrong answer.
  auto stale
    = create(c, "u1", "c3", nlohmann::json{{"id", id}, {"answer", answer}});
  BOOST_TEST(stale.status == 403u);

  auto next = stale.json["challenge"];
  auto right = create(
    c, "u1", "c3",
    nlohmann::json{{"id", next["id"]}, {"answer", solve(next["question"])}});
  BOOST_TEST(right.status == 201u);
  // The same request again is the same order; the streak is over.
  BOOST_TEST(create(c, "u1", "c3").status == 200u);
  BOOST_TEST(create(c, "u1", "c4").status == 201u);
  auto metrics = c.get("/metrics").body;
  BOOST_TEST(metrics.find("ordo_captcha_total{outcome=\"issued\"} 3")
             != std::string::npos);
  BOOST_TEST(metrics.find("ordo_captcha_total{outcome=\"failed\"} 2")
             != std::string::npos);
  BOOST_TEST(metrics.find("ordo_captcha_total{outcome=\"solved\"} 1")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(malformed_captchas_are_400_and_change_nothing) {
  http_client c{port()};
  BOOST_REQUIRE_EQUAL(put_sku(c, "A", 100).status, 200u);
  for (const auto* bad :
       {R"({"id":"x"})", R"({"answer":"1"})", R"("7")",
        R"({"id":7,"answer":"1"})", R"({"id":"x","answer":"1","extra":1})"}) {
    auto body
      = std::
          string{R"({"user_id":"u1","items":[{"sku":"A","quantity":1}],"captcha":)"}
        + bad + "}";
    auto r = c.post("/v1/orders", body, {{"Idempotency-Key", "m"}});
    BOOST_TEST(r.status == 400u, bad);
    BOOST_TEST(r.error() == "bad_request", bad);
  }
  BOOST_TEST(get_sku(c, "A").json["reserved"] == 0);
  BOOST_TEST(create(c, "u1", "m").status == 201u);
}

BOOST_AUTO_TEST_CASE(a_split_order_needing_a_human_shows_why) {
  http_client c{port()};
  auto admin = bearer(admin_token);
  BOOST_REQUIRE_EQUAL(put_sku(c, "G", 10, 1000).status, 200u);
  BOOST_REQUIRE_EQUAL(put_sku(c, "S", 10, 500, "service").status, 200u);
  auto created = c.post(
    "/v1/orders",
    R"({"user_id":"u9","items":[{"sku":"G","quantity":1},{"sku":"S","quantity":2}]})",
    {{"Idempotency-Key", "split"}});
  BOOST_REQUIRE_EQUAL(created.status, 201u);
  auto parent = created.json["order_id"].get<std::string>();
  BOOST_REQUIRE_EQUAL(created.json["children"].size(), 2u);
  auto service = created.json["children"][1].get<std::string>();
  BOOST_TEST(created.json["child_orders"][1]["kind"] == "service");
  // The children are orders of their own, readable at once.
  auto child = c.get("/v1/orders/" + service);
  BOOST_REQUIRE_EQUAL(child.status, 200u);
  BOOST_TEST(child.json["parent_id"] == parent);
  BOOST_REQUIRE_EQUAL(
    pay(c, service, "t-s", child.json["payable"].get<std::int64_t>()).status,
    200u);
  auto cancelled = cancel(c, parent);
  BOOST_TEST(cancelled.status == 200u);
  BOOST_TEST(cancelled.json["status"] == "MANUAL_INTERVENTION");
  BOOST_TEST(cancelled.json["manual_reason"].get<std::string>().find(service)
             != std::string::npos);
  BOOST_TEST(c.get("/v1/orders/" + parent).json["status"]
             == "MANUAL_INTERVENTION");
  // The list shows it; a second cancel is refused with the reason.
  auto list = c.get("/v1/users/u9/orders");
  BOOST_REQUIRE_EQUAL(list.json["orders"].size(), 1u);
  BOOST_TEST(list.json["orders"][0]["status"] == "MANUAL_INTERVENTION");
  auto again = cancel(c, parent);
  BOOST_TEST(again.status == 409u);
  BOOST_TEST(again.error() == "invalid_transition");
  // The operator sees it in the audit.
  BOOST_REQUIRE(node->quiesce(10'000));
  auto audit = c.get("/v1/admin/audit", admin);
  BOOST_TEST(audit.json["ok"] == false);
  BOOST_TEST(audit.body.find("manual_intervention") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
