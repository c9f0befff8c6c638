// Bad requests get their API.md error and change nothing (non-negotiable 3).

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "tests/integration/server_fixture.hpp"

using namespace ordo;
using namespace ordo::test;

namespace {

struct bad_request {
  std::string name;
  std::string method;
  std::string target;
  std::string body;
  header_list headers;
  unsigned status;
  std::string error;
};

/// Everything a client can observe of the state the battery might touch.
nlohmann::json observe(http_client& c, const std::string& order_id,
                       const std::string& coupon_order_id) {
  auto admin = bearer(admin_token);
  return {
    {"sku", get_sku(c, "A").json},
    {"order", c.get("/v1/orders/" + order_id).json},
    {"coupon_order", c.get("/v1/orders/" + coupon_order_id).json},
    {"coupons",
     {c.get("/v1/coupons/c1", admin).json,
      c.get("/v1/coupons/c2", admin).json}},
    {"notifications", c.get("/v1/notifications?order_id=" + order_id).json},
    {"commissions", c.get("/v1/affiliates/aff1/commissions").json},
    {"calls", c.get("/v1/admin/sandbox/calls", admin).json}};
}

header_list signed_callback(const std::string& body) {
  return {{"X-Ordo-Signature", sign_payment(payment_secret, body)}};
}

/// Everything written to stderr (fd 2) while it lives goes to a file
/// instead; text() reads it back.
class stderr_capture {
public:
  explicit stderr_capture(const std::string& path) : path_(path) {
    std::fflush(stderr);
    saved_ = ::dup(2);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    BOOST_REQUIRE(saved_ >= 0 && fd >= 0);
    ::dup2(fd, 2);
    ::close(fd);
  }
  ~stderr_capture() {
    restore();
  }
  void restore() {
    if (saved_ >= 0) {
      std::fflush(stderr);
      ::dup2(saved_, 2);
      ::close(saved_);
      saved_ = -1;
    }
  }
  std::string text() const {
    std::ifstream in(path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

private:
  std::string path_;
  int saved_ = -1;
};

/// The longest line of `text`.
std::size_t longest_line(const std::string& text) {
  std::size_t longest = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    longest = std::max(longest, line.size());
  }
  return longest;
}

/// POST /v1/orders with `items` ({sku, quantity} pairs) and an optional
/// coupon.
http_response
create_lines(http_client& c, const std::string& key, const std::string& user,
             const std::vector<std::pair<std::string, std::int64_t>>& items,
             const std::string& coupon = "") {
  nlohmann::json body{{"user_id", user}, {"items", nlohmann::json::array()}};
  for (const auto& [sku, q] : items) {
    body["items"].push_back({{"sku", sku}, {"quantity", q}});
  }
  if (!coupon.empty()) {
    body["coupon_id"] = coupon;
  }
  return c.post("/v1/orders", body.dump(), {{"Idempotency-Key", key}});
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(bad_input, server_fixture)

BOOST_AUTO_TEST_CASE(every_bad_request_gets_its_error_and_changes_nothing) {
  http_client c{port()};
  BOOST_REQUIRE_EQUAL(put_sku(c, "A", 10, 500).status, 200u);
  auto created = create_order(c, "k-good", "u1", "A", 2);
  BOOST_REQUIRE_EQUAL(created.status, 201u);
  std::string id = created.json["order_id"];
  auto admin = bearer(admin_token);
  BOOST_REQUIRE_EQUAL(
    c.put("/v1/coupons/c1", R"({"user_id":"u1","discount":100})", admin).status,
    200u);
  BOOST_REQUIRE_EQUAL(c.put("/v1/coupons/c2",
                            R"({"user_id":"u2","discount":100,"min_amount":0})",
                            admin)
                        .status,
                      200u);
  auto with_coupon = c.post(
    "/v1/orders",
    R"({"user_id":"u1","items":[{"sku":"A","quantity":1}],"coupon_id":"c1","affiliate_id":"aff1"})",
    {{"Idempotency-Key", "k-coupon"}});
  BOOST_REQUIRE_EQUAL(with_coupon.status, 201u);
  std::string coupon_order = with_coupon.json["order_id"];
  BOOST_REQUIRE(node->quiesce(10'000));
  auto before = observe(c, id, coupon_order);

  const header_list key{{"Idempotency-Key", "k-bad"}};
  auto order_body = [](const std::string& items) {
    return R"({"user_id":"u1","items":)" + items + "}";
  };
  const std::string huge(1024 * 1024 + 1, 'x');
  const std::string unknown_order_cb
    = R"({"txn_id":"t1","order_id":"o0000-ffffffffffffffff","amount":1000,"status":"SUCCESS"})";
  const std::string bad_status_cb = R"({"txn_id":"t1","order_id":")" + id
                                    + R"(","amount":1000,"status":"MAYBE"})";
  const std::string negative_cb = R"({"txn_id":"t1","order_id":")" + id
                                  + R"(","amount":-5,"status":"SUCCESS"})";
  const std::string good_cb = R"({"txn_id":"t1","order_id":")" + id
                              + R"(","amount":1000,"status":"SUCCESS"})";
  std::vector<bad_request> battery{
    {"malformed json", "POST", "/v1/orders", R"({"user_id":)", key, 400,
     "bad_request"},
    {"not an object", "POST", "/v1/orders", "[]", key, 400, "bad_request"},
    {"empty body", "POST", "/v1/orders", "", key, 400, "bad_request"},
    {"missing user", "POST", "/v1/orders",
     R"({"items":[{"sku":"A","quantity":1}]})", key, 400, "bad_request"},
    {"user of wrong type", "POST", "/v1/orders",
     R"({"user_id":5,"items":[{"sku":"A","quantity":1}]})", key, 400,
     "bad_request"},
    {"empty items", "POST", "/v1/orders", order_body("[]"), key, 400,
     "bad_request"},
    {"zero quantity", "POST", "/v1/orders",
     order_body(R"([{"sku":"A","quantity":0}])"), key, 400, "bad_request"},
    {"negative quantity", "POST", "/v1/orders",
     order_body(R"([{"sku":"A","quantity":-3}])"), key, 400, "bad_request"},
    {"fractional quantity", "POST", "/v1/orders",
     order_body(R"([{"sku":"A","quantity":1.5}])"), key, 400, "bad_request"},
    {"quantity as string", "POST", "/v1/orders",
     order_body(R"([{"sku":"A","quantity":"2"}])"), key, 400, "bad_request"},
    {"huge quantity", "POST", "/v1/orders",
     order_body(R"([{"sku":"A","quantity":99999999999999999999}])"), key, 400,
     "bad_request"},
    {"unknown field", "POST", "/v1/orders",
     R"({"user_id":"u1","items":[{"sku":"A","quantity":1}],"vip":true})", key,
     400, "bad_request"},
    {"missing idempotency key",
     "POST",
     "/v1/orders",
     order_body(R"([{"sku":"A","quantity":1}])"),
     {},
     400,
     "bad_request"},
    {"idempotency key too long",
     "POST",
     "/v1/orders",
     order_body(R"([{"sku":"A","quantity":1}])"),
     {{"Idempotency-Key", std::string(129, 'k')}},
     400,
     "bad_request"},
    {"same key, other body",
     "POST",
     "/v1/orders",
     order_body(R"([{"sku":"A","quantity":3}])"),
     {{"Idempotency-Key", "k-good"}},
     422,
     "idempotency_key_reused"},
    {"more than in stock", "POST", "/v1/orders",
     order_body(R"([{"sku":"A","quantity":9}])"), key, 409,
     "insufficient_stock"},
    {"unknown sku", "POST", "/v1/orders",
     order_body(R"([{"sku":"nope","quantity":1}])"), key, 404, "not_found"},
    {"oversized body", "POST", "/v1/orders", huge, key, 413,
     "payload_too_large"},
    {"unknown order",
     "GET",
     "/v1/orders/o0000-ffffffffffffffff",
     "",
     {},
     404,
     "not_found"},
    {"cancel unknown order",
     "POST",
     "/v1/orders/o0000-ffffffffffffffff/cancel",
     "",
     {},
     404,
     "not_found"},
    {"cancel with bad body",
     "POST",
     "/v1/orders/" + id + "/cancel",
     R"({"reason":7})",
     {},
     400,
     "bad_request"},
    {"callback without signature",
     "POST",
     "/v1/payments/callback",
     good_cb,
     {},
     401,
     "unauthorized"},
    {"callback with bad signature",
     "POST",
     "/v1/payments/callback",
     good_cb,
     {{"X-Ordo-Signature", sign_payment("wrong-secret", good_cb)}},
     401,
     "unauthorized"},
    {"callback for unknown order", "POST", "/v1/payments/callback",
     unknown_order_cb, signed_callback(unknown_order_cb), 404, "not_found"},
    {"callback with unknown status", "POST", "/v1/payments/callback",
     bad_status_cb, signed_callback(bad_status_cb), 400, "bad_request"},
    {"callback with negative amount", "POST", "/v1/payments/callback",
     negative_cb, signed_callback(negative_cb), 400, "bad_request"},
    {"callback malformed", "POST", "/v1/payments/callback", "{",
     signed_callback("{"), 400, "bad_request"},
    {"sku without token",
     "PUT",
     "/v1/skus/A",
     R"({"price":1,"stock":1})",
     {},
     401,
     "unauthorized"},
    {"sku with wrong token", "PUT", "/v1/skus/A", R"({"price":1,"stock":1})",
     bearer("nope"), 401, "unauthorized"},
    {"sku read without token",
     "GET",
     "/v1/skus/A",
     "",
     {},
     401,
     "unauthorized"},
    {"negative stock", "PUT", "/v1/skus/A", R"({"price":1,"stock":-1})",
     bearer(admin_token), 400, "bad_request"},
    {"price as string", "PUT", "/v1/skus/A", R"({"price":"1","stock":1})",
     bearer(admin_token), 400, "bad_request"},
    {"huge stock", "PUT", "/v1/skus/A", R"({"price":1,"stock":1e13})",
     bearer(admin_token), 400, "bad_request"},
    {"unknown kind", "PUT", "/v1/skus/A",
     R"({"price":1,"stock":1,"kind":"gift"})", bearer(admin_token), 400,
     "bad_request"},
    {"stock below reserved", "PUT", "/v1/skus/A", R"({"price":500,"stock":1})",
     bearer(admin_token), 409, "insufficient_stock"},
    {"complete without token",
     "POST",
     "/v1/orders/" + id + "/complete",
     "",
     {},
     401,
     "unauthorized"},
    {"refund without token",
     "POST",
     "/v1/orders/" + id + "/refund",
     "",
     {},
     401,
     "unauthorized"},
    {"complete unpaid order", "POST", "/v1/orders/" + id + "/complete", "",
     bearer(admin_token), 409, "invalid_transition"},
    {"unknown route", "GET", "/v1/nothing", "", {}, 404, "not_found"},
    {"coupon without token",
     "PUT",
     "/v1/coupons/c9",
     R"({"user_id":"u1","discount":1})",
     {},
     401,
     "unauthorized"},
    {"coupon read without token",
     "GET",
     "/v1/coupons/c1",
     "",
     {},
     401,
     "unauthorized"},
    {"coupon without user", "PUT", "/v1/coupons/c9", R"({"discount":1})", admin,
     400, "bad_request"},
    {"coupon with zero discount", "PUT", "/v1/coupons/c9",
     R"({"user_id":"u1","discount":0})", admin, 400, "bad_request"},
    {"coupon with negative minimum", "PUT", "/v1/coupons/c9",
     R"({"user_id":"u1","discount":5,"min_amount":-1})", admin, 400,
     "bad_request"},
    {"coupon with discount as string", "PUT", "/v1/coupons/c9",
     R"({"user_id":"u1","discount":"5"})", admin, 400, "bad_request"},
    {"coupon with huge discount", "PUT", "/v1/coupons/c9",
     R"({"user_id":"u1","discount":10000000000000000})", admin, 400,
     "bad_request"},
    {"coupon with unknown field", "PUT", "/v1/coupons/c9",
     R"({"user_id":"u1","discount":5,"percent":true})", admin, 400,
     "bad_request"},
    {"changing a locked coupon", "PUT", "/v1/coupons/c1",
     R"({"user_id":"u1","discount":999})", admin, 409, "invalid_transition"},
    {"unknown coupon", "GET", "/v1/coupons/c9", "", admin, 404, "not_found"},
    {"order with a locked coupon", "POST", "/v1/orders",
     R"({"user_id":"u1","items":[{"sku":"A","quantity":1}],"coupon_id":"c1"})",
     key, 409, "coupon_unavailable"},
    {"order with another user's coupon", "POST", "/v1/orders",
     R"({"user_id":"u1","items":[{"sku":"A","quantity":1}],"coupon_id":"c2"})",
     key, 409, "coupon_unavailable"},
    {"order with an unknown coupon", "POST", "/v1/orders",
     R"({"user_id":"u1","items":[{"sku":"A","quantity":1}],"coupon_id":"c9"})",
     key, 409, "coupon_unavailable"},
    {"order with a coupon id of the wrong type", "POST", "/v1/orders",
     R"({"user_id":"u1","items":[{"sku":"A","quantity":1}],"coupon_id":7})",
     key, 400, "bad_request"},
    {"notifications without order_id",
     "GET",
     "/v1/notifications",
     "",
     {},
     400,
     "bad_request"},
    {"notifications with an unknown parameter",
     "GET",
     "/v1/notifications?order_id=" + id + "&all=1",
     "",
     {},
     400,
     "bad_request"},
    {"notifications with order_id twice",
     "GET",
     "/v1/notifications?order_id=" + id + "&order_id=" + id,
     "",
     {},
     400,
     "bad_request"},
    {"notifications with a bad escape",
     "GET",
     "/v1/notifications?order_id=%zz",
     "",
     {},
     400,
     "bad_request"},
    {"notifications of an unknown order",
     "GET",
     "/v1/notifications?order_id=o0000-ffffffffffffffff",
     "",
     {},
     404,
     "not_found"},
    {"dispatches with an empty order_id",
     "GET",
     "/v1/dispatches?order_id=",
     "",
     {},
     400,
     "bad_request"},
    {"dispatches of an unknown order",
     "GET",
     "/v1/dispatches?order_id=o0000-ffffffffffffffff",
     "",
     {},
     404,
     "not_found"},
    {"commissions with a too long id",
     "GET",
     "/v1/affiliates/" + std::string(200, 'a') + "/commissions",
     "",
     {},
     400,
     "bad_request"},
    {"id too long",
     "GET",
     "/v1/orders/" + std::string(200, 'o'),
     "",
     {},
     400,
     "bad_request"},
  };
  for (auto& b : battery) {
    auto r = c.request(b.method, b.target, b.body, b.headers);
    BOOST_CHECK_MESSAGE(r.status == b.status && r.error() == b.error,
                        b.name << ": got " << r.status << " " << r.body);
    BOOST_CHECK_MESSAGE(r.json.contains("message"),
                        b.name << ": error without message");
  }
  BOOST_REQUIRE(node->quiesce(10'000));
  http_client fresh{port()};
  BOOST_CHECK_EQUAL(fresh.get("/healthz").status, 200u);
  auto after = observe(fresh, id, coupon_order);
  BOOST_CHECK_MESSAGE(after == before, "state changed:\nbefore "
                                         << before.dump() << "\nafter  "
                                         << after.dump());
}

BOOST_AUTO_TEST_CASE(numbers_beyond_a_double_are_400_and_never_logged_whole) {
  http_client c{port()};
  auto admin = bearer(admin_token);
  BOOST_REQUIRE_EQUAL(put_sku(c, "A", 10, 500).status, 200u);
  auto created = create_order(c, "k-good", "u1", "A", 2);
  BOOST_REQUIRE_EQUAL(created.status, 201u);
  std::string id = created.json["order_id"];
  BOOST_REQUIRE(node->quiesce(10'000));
  auto sku_before = get_sku(c, "A").json;
  auto order_before = c.get("/v1/orders/" + id).json;

  // A number a double cannot hold, a 400-digit integer, and one of 100,000
  // digits (a client trying to grow the log).
  const std::string digits(400, '7');
  const std::string long_digits = "9" + std::string(100'000, '0');
  int cases = 0;
  stderr_capture log(dir.sub("stderr.txt"));
  for (const std::string& n : {std::string{"1e400"}, std::string{"-1e400"},
                               digits, "-" + digits, long_digits}) {
    struct sent {
      std::string name;
      std::string method;
      std::string target;
      std::string body;
      header_list headers;
    };
    const std::string cb = R"({"txn_id":"t1","order_id":")" + id
                           + R"(","amount":)" + n + R"(,"status":"SUCCESS"})";
    std::vector<sent> battery{
      {"quantity",
       "POST",
       "/v1/orders",
       R"({"user_id":"u1","items":[{"sku":"A","quantity":)" + n + "}]}",
       {{"Idempotency-Key", "k-n"}}},
      {"price", "PUT", "/v1/skus/A", R"({"price":)" + n + R"(,"stock":10})",
       admin},
      {"stock", "PUT", "/v1/skus/A", R"({"price":500,"stock":)" + n + "}",
       admin},
      {"discount", "PUT", "/v1/coupons/c1",
       R"({"user_id":"u1","discount":)" + n + "}", admin},
      {"min_amount", "PUT", "/v1/coupons/c1",
       R"({"user_id":"u1","discount":1,"min_amount":)" + n + "}", admin},
      {"amount", "POST", "/v1/payments/callback", cb, signed_callback(cb)},
      {"reason",
       "POST",
       "/v1/orders/" + id + "/cancel",
       R"({"reason":)" + n + "}",
       {}},
      {"probability", "POST", "/v1/admin/faults",
       R"({"point":"store.before_commit","action":"error","probability":)" + n
         + "}",
       admin},
    };
    for (const auto& b : battery) {
      auto r = c.request(b.method, b.target, b.body, b.headers);
      BOOST_CHECK_MESSAGE(r.status == 400u && r.error() == "bad_request",
                          b.name << " = " << n.substr(0, 10) << "...: got "
                                 << r.status << " " << r.body.substr(0, 200));
      BOOST_CHECK_MESSAGE(r.body.size() < 1000,
                          b.name << ": the reply echoes the number whole");
      ++cases;
    }
  }
  BOOST_REQUIRE(node->quiesce(10'000));
  log.restore();
  BOOST_TEST(cases == 40);
  auto text = log.text();
  BOOST_TEST(text.find(std::string(200, '0')) == std::string::npos);
  BOOST_TEST(text.find(std::string(200, '7')) == std::string::npos);
  BOOST_TEST(longest_line(text) < 400u, text.substr(0, 400));
  BOOST_TEST(c.get("/v1/admin/faults", admin).json["faults"].empty());
  BOOST_TEST(get_sku(c, "A").json == sku_before);
  BOOST_TEST(c.get("/v1/orders/" + id).json == order_before);
  BOOST_TEST(c.get("/v1/coupons/c1", admin).status == 404u);
}

BOOST_AUTO_TEST_CASE(repeating_a_line_does_not_bypass_the_quantity_limit) {
  http_client c{port()};
  BOOST_REQUIRE_EQUAL(put_sku(c, "A", 1'000'000'000, 1).status, 200u);
  // 100 lines of 10^6: each line within the limit, the SKU's 10^8 not.
  std::vector<std::pair<std::string, std::int64_t>> hundred(100,
                                                            {"A", 1'000'000});
  auto r = create_lines(c, "k-100", "u1", hundred);
  BOOST_TEST(r.status == 400u, r.body);
  BOOST_TEST(r.error() == "bad_request");
  auto two = create_lines(c, "k-2", "u1", {{"A", 600'000}, {"A", 400'001}});
  BOOST_TEST(two.status == 400u, two.body);
  BOOST_TEST(two.error() == "bad_request");
  BOOST_REQUIRE(node->quiesce(10'000));
  BOOST_TEST(get_sku(c, "A").json["reserved"] == 0);
  BOOST_TEST(c.get("/v1/users/u1/orders").json["orders"].empty());
  // Lines that add up to the limit are one line at the limit.
  auto at_limit
    = create_lines(c, "k-ok", "u1", {{"A", 600'000}, {"A", 400'000}});
  BOOST_REQUIRE_EQUAL(at_limit.status, 201u);
  BOOST_TEST(at_limit.json["items"].size() == 1u);
  BOOST_TEST(at_limit.json["items"][0]["quantity"] == 1'000'000);
}

BOOST_AUTO_TEST_CASE(a_refused_create_has_released_its_stock_when_answered) {
  http_client c{port()};
  auto admin = bearer(admin_token);
  BOOST_REQUIRE_EQUAL(put_sku(c, "A", 10, 1000).status, 200u);
  BOOST_REQUIRE_EQUAL(put_sku(c, "B", 5, 1000).status, 200u);
  // 1001 x 10^12 cents: over the 10^15 an order may total.
  BOOST_REQUIRE_EQUAL(put_sku(c, "P", 1'000'000, 1'000'000'000'000).status,
                      200u);
  BOOST_REQUIRE_EQUAL(
    c.put("/v1/coupons/c2", R"({"user_id":"u2","discount":100})", admin).status,
    200u);
  BOOST_REQUIRE_EQUAL(c.put("/v1/coupons/c3",
                            R"({"user_id":"u1","discount":100,)"
                            R"("min_amount":1000000000})",
                            admin)
                        .status,
                      200u);
  struct refused {
    std::string name;
    std::vector<std::pair<std::string, std::int64_t>> items;
    std::string coupon;
    unsigned status;
    std::string error;
  };
  std::vector<refused> cases{
    {"unknown sku", {{"A", 10}, {"nope", 1}}, "", 404, "not_found"},
    {"one line short", {{"A", 10}, {"B", 6}}, "", 409, "insufficient_stock"},
    {"total over 10^15", {{"A", 10}, {"P", 1001}}, "", 400, "bad_request"},
    {"someone else's coupon", {{"A", 10}}, "c2", 409, "coupon_unavailable"},
    {"coupon minimum not met", {{"A", 10}}, "c3", 409, "coupon_unavailable"},
  };
  int tries = 0;
  for (int round = 0; round < 10; ++round) {
    for (const auto& k : cases) {
      auto key = "r" + std::to_string(tries++);
      auto r = create_lines(c, key, "u1", k.items, k.coupon);
      BOOST_REQUIRE_MESSAGE(r.status == k.status && r.error() == k.error,
                            k.name << ": got " << r.status << " " << r.body);
      // Read right behind the answer: nothing may still be held.
      for (const auto& [sku, q] : k.items) {
        if (sku != "nope") {
          auto s = get_sku(c, sku);
          BOOST_CHECK_MESSAGE(s.json["reserved"] == 0,
                              k.name << ": " << sku << " still reserved "
                                     << s.json["reserved"] << " after the "
                                     << r.status);
        }
      }
      auto coupon = c.get("/v1/coupons/c3", admin).json;
      BOOST_CHECK_MESSAGE(coupon["status"] == "AVAILABLE",
                          k.name << ": coupon " << coupon.dump());
    }
  }
  BOOST_TEST(tries == 50);
  BOOST_TEST(create_lines(c, "valid", "u1", {{"A", 10}}).status == 201u);
}

BOOST_AUTO_TEST_CASE(a_flood_of_refused_creates_never_fails_a_valid_one) {
  // Each round puts an SKU with exactly one unit; a valid create of that
  // unit must succeed while two clients flood creates of the same unit
  // next to an unknown SKU.
  constexpr int rounds = 30;
  std::atomic<int> round{0};
  std::atomic<bool> stop{false};
  std::atomic<int> flooded{0};
  std::atomic<int> wrong{0};
  auto flood = [&](int who) {
    try {
      http_client f{port()};
      for (int n = 0; !stop.load(); ++n) {
        auto sku = "F" + std::to_string(round.load());
        auto key = "f" + std::to_string(who) + "-" + std::to_string(n);
        auto r = create_lines(f, key, "flooder" + std::to_string(who),
                              {{sku, 1}, {"nope", 1}});
        if (r.status == 404u || r.status == 409u) {
          ++flooded;
        } else {
          ++wrong;
        }
      }
    } catch (const std::exception&) {
      ++wrong;
      stop = true;
    }
  };
  http_client c{port()};
  BOOST_REQUIRE_EQUAL(put_sku(c, "F0", 1).status, 200u);
  std::thread f1(flood, 1);
  std::thread f2(flood, 2);
  int failed = 0;
  for (int i = 0; i < rounds; ++i) {
    auto sku = "F" + std::to_string(i);
    if (i > 0) {
      BOOST_REQUIRE_EQUAL(put_sku(c, sku, 1).status, 200u);
      round = i;
    }
    // Let the flood reach this SKU before buying its unit.
    int seen = flooded.load();
    while (flooded.load() < seen + 4 && !stop.load()) {
      std::this_thread::yield();
    }
    auto r = create_lines(c, "buy" + std::to_string(i), "buyer", {{sku, 1}});
    if (r.status != 201u) {
      ++failed;
      BOOST_TEST_MESSAGE("round " << i << ": " << r.status << " " << r.body);
    }
  }
  stop = true;
  f1.join();
  f2.join();
  BOOST_TEST(failed == 0);
  BOOST_TEST(wrong.load() == 0);
  BOOST_TEST(flooded.load() >= rounds * 4);
}

BOOST_AUTO_TEST_SUITE_END()
