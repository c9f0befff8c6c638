#include <boost/test/unit_test.hpp>

#include <functional>
#include <string>
#include <vector>

#include "gateway/detail/crypto.hpp"
#include "gateway/detail/errors.hpp"
#include "gateway/detail/validate.hpp"

using namespace ordo::gateway::detail;

namespace {

/// Runs `f`, which must fail; returns the reply it maps to.
template <class F>
reply failure(F f) {
  try {
    f();
  } catch (...) {
    return to_reply(std::current_exception());
  }
  BOOST_FAIL("expected a failure");
  return {};
}

/// Checks that `f` fails with 400 bad_request naming `field`.
template <class F>
void rejects(F f, const std::string& field) {
  reply r = failure(f);
  BOOST_TEST(static_cast<int>(r.status) == 400);
  nlohmann::json j = nlohmann::json::parse(r.body);
  BOOST_TEST(j["error"] == "bad_request");
  auto message = j["message"].get<std::string>();
  BOOST_TEST(message.find(field) != std::string::npos,
             "message '" << message << "' should name " << field);
}

const std::string good_order
  = R"({"user_id":"u1","items":[{"sku":"A","quantity":2}]})";

} // namespace

BOOST_AUTO_TEST_SUITE(validate_suite)

BOOST_AUTO_TEST_CASE(ids_are_short_printable_ascii_without_slash_or_space) {
  BOOST_TEST(valid_id("A"));
  BOOST_TEST(valid_id("o-1_x.y:z~!"));
  BOOST_TEST(valid_id(std::string(128, 'x')));
  BOOST_TEST(!valid_id(""));
  BOOST_TEST(!valid_id(std::string(129, 'x')));
  BOOST_TEST(!valid_id("a/b"));
  BOOST_TEST(!valid_id("a b"));
  BOOST_TEST(!valid_id("a\tb"));
  BOOST_TEST(!valid_id("a\x7f"));
  BOOST_TEST(!valid_id("caf\xc3\xa9"));
}

BOOST_AUTO_TEST_CASE(path_ids_are_checked) {
  params p{{"id", "o1"}};
  BOOST_TEST(path_id(p, "id") == "o1");
  params bad{{"id", "a b"}};
  rejects(
    [&] {
      path_id(bad, "id");
    },
    "id");
}

BOOST_AUTO_TEST_CASE(idempotency_key_is_required_and_bounded) {
  check_idempotency_key("k1");
  check_idempotency_key("a key with spaces");
  check_idempotency_key(std::string(128, 'k'));
  rejects(
    [] {
      check_idempotency_key("");
    },
    "Idempotency-Key");
  rejects(
    [] {
      check_idempotency_key(std::string(129, 'k'));
    },
    "Idempotency-Key");
  rejects(
    [] {
      check_idempotency_key("bad\x01");
    },
    "Idempotency-Key");
}

BOOST_AUTO_TEST_CASE(put_sku_reads_price_stock_and_kind) {
  auto cmd = parse_put_sku(R"({"price":1999,"stock":100,"kind":"service"})");
  BOOST_TEST(cmd.price == 1999);
  BOOST_TEST(cmd.stock == 100);
  BOOST_TEST((cmd.kind == ordo::actors::item_kind::service));
  cmd = parse_put_sku(R"({"price":0,"stock":0})");
  BOOST_TEST((cmd.kind == ordo::actors::item_kind::goods));
  cmd = parse_put_sku(R"({"price":1000000000000,"stock":1000000000})");
  BOOST_TEST(cmd.price == 1'000'000'000'000);
}

BOOST_AUTO_TEST_CASE(put_sku_rejects_bad_bodies) {
  rejects(
    [] {
      parse_put_sku("");
    },
    "JSON object");
  rejects(
    [] {
      parse_put_sku("[1]");
    },
    "JSON object");
  rejects(
    [] {
      parse_put_sku(R"({"stock":1})");
    },
    "price");
  rejects(
    [] {
      parse_put_sku(R"({"price":1})");
    },
    "stock");
  rejects(
    [] {
      parse_put_sku(R"({"price":1.5,"stock":1})");
    },
    "price");
  rejects(
    [] {
      parse_put_sku(R"({"price":1.0,"stock":1})");
    },
    "price");
  rejects(
    [] {
      parse_put_sku(R"({"price":"1","stock":1})");
    },
    "price");
  rejects(
    [] {
      parse_put_sku(R"({"price":true,"stock":1})");
    },
    "price");
  rejects(
    [] {
      parse_put_sku(R"({"price":-1,"stock":1})");
    },
    "price");
  rejects(
    [] {
      parse_put_sku(R"({"price":1000000000001,"stock":1})");
    },
    "price");
  rejects(
    [] {
      parse_put_sku(R"({"price":1,"stock":1000000001})");
    },
    "stock");
  rejects(
    [] {
      parse_put_sku(R"({"price":1,"stock":18446744073709551615})");
    },
    "stock");
  rejects(
    [] {
      parse_put_sku(R"({"price":1,"stock":1,"kind":"food"})");
    },
    "kind");
  rejects(
    [] {
      parse_put_sku(R"({"price":1,"stock":1,"kind":1})");
    },
    "kind");
  rejects(
    [] {
      parse_put_sku(R"({"price":1,"stock":1,"color":"red"})");
    },
    "color");
}

BOOST_AUTO_TEST_CASE(malformed_json_is_a_bad_request) {
  auto r = failure([] {
    parse_put_sku(R"({"price":)");
  });
  BOOST_TEST(static_cast<int>(r.status) == 400);
  BOOST_TEST(nlohmann::json::parse(r.body)["error"] == "bad_request");
  r = failure([] {
    parse_create_order("{\"user_id\":\"\xff\"}");
  });
  BOOST_TEST(static_cast<int>(r.status) == 400);
}

BOOST_AUTO_TEST_CASE(numbers_beyond_a_double_are_bad_requests) {
  const std::string digits(400, '9');
  for (const std::string& n :
       {std::string{"1e400"}, std::string{"-1e400"}, digits, "-" + digits}) {
    std::vector<std::function<void()>> parsers{
      [&] {
        parse_put_sku(R"({"price":)" + n + R"(,"stock":1})");
      },
      [&] {
        parse_put_coupon(R"({"user_id":"u1","discount":)" + n + "}");
      },
      [&] {
        parse_create_order(R"({"user_id":"u1","items":[{"sku":"A","quantity":)"
                           + n + "}]}");
      },
      [&] {
        parse_cancel(R"({"reason":)" + n + "}");
      },
      [&] {
        parse_payment_callback(R"({"txn_id":"t","order_id":"o","amount":)" + n
                               + R"(,"status":"SUCCESS"})");
      },
      [&] {
        parse_object(R"({"probability":)" + n + "}");
      },
    };
    for (const auto& parse : parsers) {
      auto r = failure(parse);
      BOOST_TEST(static_cast<int>(r.status) == 400, n.substr(0, 8));
      BOOST_TEST(nlohmann::json::parse(r.body)["error"] == "bad_request");
      // The number is not quoted back.
      BOOST_TEST(r.body.find(digits.substr(0, 100)) == std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_CASE(lines_of_one_sku_add_up_to_the_quantity_limit) {
  rejects(
    [] {
      parse_create_order(
        R"({"user_id":"u1","items":[{"sku":"A","quantity":600000},)"
        R"({"sku":"B","quantity":1},{"sku":"A","quantity":400001}]})");
    },
    "A");
  auto cmd = parse_create_order(
    R"({"user_id":"u1","items":[{"sku":"A","quantity":600000},)"
    R"({"sku":"A","quantity":400000}]})");
  BOOST_TEST(cmd.items.size() == 2u); // the order merges them
}

BOOST_AUTO_TEST_CASE(create_order_reads_every_field) {
  auto cmd = parse_create_order(
    R"({"user_id":"u1","items":[{"sku":"A","quantity":2},{"sku":"B","quantity":1}],
        "coupon_id":"c1","affiliate_id":"aff1","captcha":{"id":"q1","answer":"7"}})");
  BOOST_TEST(cmd.user_id == "u1");
  BOOST_REQUIRE(cmd.items.size() == 2u);
  BOOST_TEST(cmd.items[0].sku == "A");
  BOOST_TEST(cmd.items[0].quantity == 2);
  BOOST_TEST(cmd.items[1].sku == "B");
  BOOST_TEST(cmd.coupon_id == "c1");
  BOOST_TEST(cmd.affiliate_id == "aff1");
  BOOST_TEST(cmd.token == 0u);
  BOOST_TEST(cmd.fingerprint.size() == 64u);
}

BOOST_AUTO_TEST_CASE(optional_fields_may_be_null) {
  auto cmd = parse_create_order(
    R"({"user_id":"u1","items":[{"sku":"A","quantity":1}],"coupon_id":null,"affiliate_id":null,"captcha":null})");
  BOOST_TEST(cmd.coupon_id.empty());
  BOOST_TEST(cmd.affiliate_id.empty());
}

BOOST_AUTO_TEST_CASE(fingerprint_is_sha256_of_the_canonical_body) {
  auto a = parse_create_order(
    R"({"user_id":"u1","items":[{"sku":"A","quantity":2}]})");
  // Same content, other key order and whitespace: same fingerprint.
  auto b = parse_create_order(
    R"( { "items" : [ { "quantity" : 2, "sku" : "A" } ], "user_id" : "u1" } )");
  BOOST_TEST(a.fingerprint == b.fingerprint);
  BOOST_TEST(
    a.fingerprint
    == sha256_hex(R"({"items":[{"quantity":2,"sku":"A"}],"user_id":"u1"})"));
  auto c = parse_create_order(
    R"({"user_id":"u1","items":[{"sku":"A","quantity":3}]})");
  BOOST_TEST(a.fingerprint != c.fingerprint);
  // A null optional field is the same as an absent one.
  auto d = parse_create_order(
    R"({"user_id":"u1","items":[{"sku":"A","quantity":2}],"coupon_id":null})");
  BOOST_TEST(a.fingerprint == d.fingerprint);
  auto e = parse_create_order(
    R"({"user_id":"u1","items":[{"sku":"A","quantity":2}],"coupon_id":"c1"})");
  BOOST_TEST(a.fingerprint != e.fingerprint);
}

BOOST_AUTO_TEST_CASE(create_order_rejects_bad_bodies) {
  rejects(
    [] {
      parse_create_order(R"({"items":[{"sku":"A","quantity":1}]})");
    },
    "user_id");
  rejects(
    [] {
      parse_create_order(R"({"user_id":7,"items":[]})");
    },
    "user_id");
  rejects(
    [] {
      parse_create_order(R"({"user_id":"a/b","items":[]})");
    },
    "user_id");
  rejects(
    [] {
      parse_create_order(R"({"user_id":"u1"})");
    },
    "items");
  rejects(
    [] {
      parse_create_order(R"({"user_id":"u1","items":{}})");
    },
    "items");
  rejects(
    [] {
      parse_create_order(R"({"user_id":"u1","items":[]})");
    },
    "items");
  rejects(
    [] {
      parse_create_order(R"({"user_id":"u1","items":[1]})");
    },
    "items[0]");
  rejects(
    [] {
      parse_create_order(R"({"user_id":"u1","items":[{"quantity":1}]})");
    },
    "items[0].sku");
  rejects(
    [] {
      parse_create_order(
        R"({"user_id":"u1","items":[{"sku":"A","quantity":1},{"sku":"B","quantity":0}]})");
    },
    "items[1].quantity");
  rejects(
    [] {
      parse_create_order(
        R"({"user_id":"u1","items":[{"sku":"A","quantity":-2}]})");
    },
    "items[0].quantity");
  rejects(
    [] {
      parse_create_order(
        R"({"user_id":"u1","items":[{"sku":"A","quantity":1000001}]})");
    },
    "items[0].quantity");
  rejects(
    [] {
      parse_create_order(
        R"({"user_id":"u1","items":[{"sku":"A","quantity":2.5}]})");
    },
    "items[0].quantity");
  rejects(
    [] {
      parse_create_order(
        R"({"user_id":"u1","items":[{"sku":"A","quantity":"2"}]})");
    },
    "items[0].quantity");
  rejects(
    [] {
      parse_create_order(
        R"({"user_id":"u1","items":[{"sku":"A","quantity":1,"note":"x"}]})");
    },
    "items[0].note");
  rejects(
    [] {
      parse_create_order(
        R"({"user_id":"u1","items":[{"sku":"A","quantity":1}],"coupon_id":5})");
    },
    "coupon_id");
  rejects(
    [] {
      parse_create_order(
        R"({"user_id":"u1","items":[{"sku":"A","quantity":1}],"affiliate_id":""})");
    },
    "affiliate_id");
  rejects(
    [] {
      parse_create_order(
        R"({"user_id":"u1","items":[{"sku":"A","quantity":1}],"captcha":"7"})");
    },
    "captcha");
  rejects(
    [] {
      parse_create_order(
        R"({"user_id":"u1","items":[{"sku":"A","quantity":1}],"captcha":{"id":"q"}})");
    },
    "captcha.answer");
  rejects(
    [] {
      parse_create_order(
        R"({"user_id":"u1","items":[{"sku":"A","quantity":1}],"price":1})");
    },
    "price");
}

BOOST_AUTO_TEST_CASE(items_are_bounded_to_100) {
  auto body = [](int n) {
    nlohmann::json items = nlohmann::json::array();
    for (int i = 0; i < n; ++i) {
      items.push_back({{"sku", "s" + std::to_string(i)}, {"quantity", 1}});
    }
    return nlohmann::json{{"user_id", "u1"}, {"items", items}}.dump();
  };
  BOOST_TEST(parse_create_order(body(100)).items.size() == 100u);
  rejects(
    [&] {
      parse_create_order(body(101));
    },
    "items");
}

BOOST_AUTO_TEST_CASE(cancel_body_is_optional) {
  BOOST_TEST(parse_cancel("").reason.empty());
  BOOST_TEST(parse_cancel("  \r\n").reason.empty());
  BOOST_TEST(parse_cancel("{}").reason.empty());
  BOOST_TEST(parse_cancel(R"({"reason":"changed my mind"})").reason
             == "changed my mind");
  // 256 characters, more bytes: fine.
  std::string wide;
  for (int i = 0; i < 256; ++i) {
    wide += "\xe4\xb8\xad"; // U+4E2D
  }
  BOOST_TEST(parse_cancel(nlohmann::json{{"reason", wide}}.dump()).reason
             == wide);
}

BOOST_AUTO_TEST_CASE(cancel_rejects_bad_reasons) {
  rejects(
    [] {
      parse_cancel(R"({"reason":5})");
    },
    "reason");
  rejects(
    [] {
      parse_cancel(nlohmann::json{{"reason", std::string(257, 'x')}}.dump());
    },
    "reason");
  rejects(
    [] {
      parse_cancel(R"({"reason":"a\u0001b"})");
    },
    "reason");
  rejects(
    [] {
      parse_cancel(R"({"why":"x"})");
    },
    "why");
  rejects(
    [] {
      parse_cancel(R"("x")");
    },
    "JSON object");
}

BOOST_AUTO_TEST_CASE(payment_callback_reads_every_field) {
  auto n = parse_payment_callback(
    R"({"txn_id":"t1","order_id":"o1","amount":3498,"status":"SUCCESS"})");
  BOOST_TEST(n.order_id == "o1");
  BOOST_TEST(n.pay.txn_id == "t1");
  BOOST_TEST(n.pay.amount == 3498);
  BOOST_TEST(n.pay.success);
  n = parse_payment_callback(
    R"({"txn_id":"t1","order_id":"o1","amount":0,"status":"FAILED"})");
  BOOST_TEST(!n.pay.success);
  n = parse_payment_callback(
    R"({"txn_id":"t1","order_id":"o1","amount":1000000000000000,"status":"FAILED"})");
  BOOST_TEST(n.pay.amount == 1'000'000'000'000'000);
}

BOOST_AUTO_TEST_CASE(payment_callback_rejects_bad_bodies) {
  rejects(
    [] {
      parse_payment_callback(
        R"({"order_id":"o1","amount":1,"status":"SUCCESS"})");
    },
    "txn_id");
  rejects(
    [] {
      parse_payment_callback(
        R"({"txn_id":"t1","order_id":"o1","amount":-1,"status":"SUCCESS"})");
    },
    "amount");
  rejects(
    [] {
      parse_payment_callback(
        R"({"txn_id":"t1","order_id":"o1","amount":1000000000000001,"status":"SUCCESS"})");
    },
    "amount");
  rejects(
    [] {
      parse_payment_callback(
        R"({"txn_id":"t1","order_id":"o1","amount":1,"status":"success"})");
    },
    "status");
  rejects(
    [] {
      parse_payment_callback(
        R"({"txn_id":"t1","order_id":"o1","amount":1,"status":"SUCCESS","x":1})");
    },
    "x");
}

BOOST_AUTO_TEST_SUITE_END()
