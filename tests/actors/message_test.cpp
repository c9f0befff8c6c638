// Tests of typed messages (actors/message.hpp): the codec every message
// between actors goes through, and that what each sender sends is read
// back by its receiver.

#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "actors/attribution.hpp"
#include "actors/coupon.hpp"
#include "actors/dispatcher.hpp"
#include "actors/inventory.hpp"
#include "actors/message.hpp"
#include "actors/notifier.hpp"
#include "actors/order.hpp"
#include "actors/provider.hpp"

using namespace ordo::actors;
using nlohmann::json;

namespace {

struct part {
  std::string name;
  std::int64_t count = 0;

  template <class F>
  void fields(F& f) {
    f("name", name);
    f("n", count);
  }
  const char* invalid() const {
    return name.empty() ? "a part without a name" : nullptr;
  }
  friend bool operator==(const part& a, const part& b) {
    return a.name == b.name && a.count == b.count;
  }
};

/// A message with a field of every kind the codec knows.
struct sample {
  std::string id;
  std::int64_t amount = 0;
  std::uint64_t token = 0;
  bool flag = false;
  item_kind kind = item_kind::goods;
  std::vector<part> parts;
  std::optional<part> spare;
  std::int64_t extra = 0;

  static constexpr const char* type = "sample";
  template <class F>
  void fields(F& f) {
    f("id", id);
    f("amount", amount);
    f("token", token);
    f("flag", flag);
    f("kind", kind);
    f("parts", parts);
    f.optional("spare", spare);
    f.optional("extra", extra);
  }
  const char* invalid() const {
    return amount < 0 ? "a negative amount" : nullptr;
  }
};

sample full() {
  sample m;
  m.id = "o1";
  m.amount = std::numeric_limits<std::int64_t>::max();
  m.token = std::numeric_limits<std::uint64_t>::max();
  m.flag = true;
  m.kind = item_kind::service;
  m.parts = {{"a", 1}, {"b", 2}};
  m.spare = part{"c", 3};
  m.extra = 9;
  return m;
}

/// read_body of `body` as a sample: the error's message, or "" when read.
std::string refusal(const json& body) {
  auto r = read_body<sample>("test", body);
  if (r) {
    return "";
  }
  BOOST_TEST((r.err().code == errc::bad_request));
  return r.err().message;
}

} // namespace

BOOST_AUTO_TEST_SUITE(typed_messages)

BOOST_AUTO_TEST_CASE(a_message_reads_back_what_was_written) {
  auto m = full();
  auto body = body_of(m);
  // Through text too, as an outbox entry or a peer's copy would go.
  auto back = read_body<sample>("test", json::parse(body.dump()));
  BOOST_REQUIRE(back.ok());
  const auto& b = back.value();
  BOOST_TEST(b.id == m.id);
  BOOST_TEST(b.amount == m.amount);
  BOOST_TEST(b.token == m.token);
  BOOST_TEST(b.flag);
  BOOST_TEST((b.kind == item_kind::service));
  BOOST_TEST((b.parts == m.parts));
  BOOST_TEST((b.spare == m.spare));
  BOOST_TEST(b.extra == 9);
  BOOST_TEST(body["kind"] == "service");
  BOOST_TEST(body["parts"][1] == (json{{"name", "b"}, {"n", 2}}));
}

BOOST_AUTO_TEST_CASE(an_optional_field_at_its_default_is_left_out) {
  sample m;
  m.id = "o1";
  auto body = body_of(m);
  BOOST_TEST(!body.contains("spare"));
  BOOST_TEST(!body.contains("extra"));
  BOOST_TEST(body.contains("amount")); // required: written even when 0
  auto back = read_body<sample>("test", body);
  BOOST_REQUIRE(back.ok());
  BOOST_TEST(!back.value().spare.has_value());
  // Null stands for absent.
  body["spare"] = nullptr;
  body["extra"] = nullptr;
  BOOST_TEST(refusal(body) == "");
}

BOOST_AUTO_TEST_CASE(a_bad_field_is_refused_by_name) {
  auto good = body_of(full());
  BOOST_TEST(refusal(good) == "");
  auto without = [&](const char* key) {
    auto b = good;
    b.erase(key);
    return b;
  };
  auto with = [&](const char* key, json v) {
    auto b = good;
    b[key] = std::move(v);
    return b;
  };
  BOOST_TEST(refusal(without("token"))
             == "test cannot decode 'sample': missing or malformed 'token'");
  BOOST_TEST(refusal(with("token", -1)).find("'token'") != std::string::npos);
  BOOST_TEST(refusal(with("token", "7")).find("'token'") != std::string::npos);
  BOOST_TEST(refusal(with("amount", 1.5)).find("'amount'")
             != std::string::npos);
  BOOST_TEST(refusal(with("amount", std::numeric_limits<std::uint64_t>::max()))
               .find("'amount'")
             != std::string::npos);
  BOOST_TEST(refusal(with("flag", 1)).find("'flag'") != std::string::npos);
  BOOST_TEST(refusal(with("kind", "gadget")).find("'kind'")
             != std::string::npos);
  BOOST_TEST(refusal(with("parts", json::object())).find("'parts'")
             != std::string::npos);
  // A nested struct is checked too.
  BOOST_TEST(refusal(with("parts", json::array({{{"name", ""}, {"n", 1}}})))
               .find("'parts'")
             != std::string::npos);
  BOOST_TEST(refusal(with("spare", "c")).find("'spare'") != std::string::npos);
  BOOST_TEST(refusal(with("extra", "9")).find("'extra'") != std::string::npos);
  // The message's own check.
  BOOST_TEST(refusal(with("amount", -1))
             == "test cannot decode 'sample': a negative amount");
  BOOST_TEST(refusal(json::array()).find("not an object") != std::string::npos);
  BOOST_TEST(refusal(json()).find("not an object") != std::string::npos);
  // Fields it does not know are ignored (a newer sender may add some).
  BOOST_TEST(refusal(with("later", 1)) == "");
}

BOOST_AUTO_TEST_CASE(decode_one_of_picks_the_message_by_type) {
  using input = std::variant<part, sample>;
  auto env = envelope_to(address{"test", "x"}, full());
  BOOST_TEST(env.type == "sample");
  BOOST_TEST(env.id.empty());
  auto in = decode_one_of<input, sample>("test", env);
  BOOST_REQUIRE(in.has_value());
  BOOST_REQUIRE(in->ok());
  BOOST_TEST(std::get<sample>(in->value()).id == "o1");
  env.type = "other";
  BOOST_TEST(!(decode_one_of<input, sample>("test", env).has_value()));
  env.type = "sample";
  env.body.erase("id");
  in = decode_one_of<input, sample>("test", env);
  BOOST_REQUIRE(in.has_value());
  BOOST_TEST(!in->ok());
}

// Every message an order's life sends goes to a receiver that reads it: a
// sender and a receiver that disagree on a field would fail here (and no
// longer compile, as both use the receiver's struct).
BOOST_AUTO_TEST_CASE(what_an_order_sends_its_receivers_read) {
  constexpr millis t0 = 1'700'000'000'000;
  const order::config cfg{};
  auto at = [&](millis t) {
    return order::context{t, &cfg};
  };
  std::vector<envelope> sent;
  auto keep = [&](const outcome& o) {
    sent.insert(sent.end(), o.outbox.begin(), o.outbox.end());
    sent.insert(sent.end(), o.requests.begin(), o.requests.end());
  };

  // Answers every request of a create the way an SKU or a coupon that
  // takes it would (an SKU of "S..." sells a service).
  auto create = [&](order::state& s, const order::create& c) {
    std::vector<envelope> asked;
    auto o = order::handle(s, c, at(t0));
    keep(o);
    asked = o.requests;
    while (!asked.empty()) {
      auto req = asked.front();
      asked.erase(asked.begin());
      if (req.to.kind == inventory::kind) {
        auto kind = req.to.id[0] == 'S' ? item_kind::service : item_kind::goods;
        o = order::handle(s,
                          order::reserved{req.to.id, std::nullopt, 1000, kind,
                                          req.type == inventory::quote::type},
                          at(t0));
      } else {
        order::coupon_locked free;
        free.coupon_id = req.to.id;
        free.discount = 100;
        free.check = req.type == coupon::check::type;
        o = order::handle(s, free, at(t0));
      }
      keep(o);
      asked.insert(asked.end(), o.requests.begin(), o.requests.end());
    }
    BOOST_REQUIRE(s.st == order::status::pending_payment);
  };

  // A parent of a goods and a service line, with a coupon and an affiliate:
  // split in two children, paid, then refunded.
  order::state s;
  s.order_id = "o1";
  order::create c;
  c.user_id = "u1";
  c.items = {{"A", 2}, {"S", 1}};
  c.coupon_id = "c1";
  c.affiliate_id = "f1";
  c.fingerprint = "fp";
  c.token = 7;
  create(s, c);
  BOOST_REQUIRE_EQUAL(s.children.size(), 2u);
  keep(order::handle(s, order::pay{"t1", s.payable, true}, at(t0 + 1000)));
  BOOST_REQUIRE(s.st == order::status::paid);

  // The children, adopted and paid, tell their parent and their SKUs.
  for (const auto& e : std::vector<envelope>(sent)) {
    if (e.to.kind == order::kind && e.type == order::adopt::type) {
      order::state child;
      child.order_id = e.to.id;
      auto a = order::decode(e);
      BOOST_REQUIRE(a.ok());
      keep(order::handle(child, a.value(), at(t0)));
      auto paid = order::parent_paid{"t1", child.payable};
      keep(order::handle(child, paid, at(t0 + 1000)));
      keep(order::handle(child, order::refund{}, at(t0 + 2000)));
    }
  }
  // An order of one line with a coupon, cancelled, then paid too late.
  order::state other;
  other.order_id = "o2";
  c.items = {{"A", 1}};
  c.coupon_id = "c2";
  create(other, c);
  keep(order::handle(other, order::cancel{}, at(t0 + 1000)));
  keep(
    order::handle(other, order::pay{"t9", other.payable, true}, at(t0 + 2000)));

  std::set<std::string> seen;
  for (const auto& e : sent) {
    bool ok = false;
    std::string why;
    auto check = [&](const auto& r) {
      ok = r.ok();
      why = ok ? "" : r.err().message;
    };
    const auto& k = e.to.kind;
    if (k == inventory::kind) {
      check(inventory::decode(e));
    } else if (k == coupon::kind) {
      check(coupon::decode(e));
    } else if (k == attribution::kind) {
      check(attribution::decode(e));
    } else if (k == dispatcher::kind) {
      check(dispatcher::decode(e));
    } else if (k == order::kind) {
      check(order::decode(e));
    } else if (k == provider::kind) {
      check(provider::decode(e));
    } else if (k == "sms") {
      check(read_body<notifier::sms>("sms", e.body));
    } else {
      BOOST_FAIL("a message to an unknown kind " + k);
    }
    BOOST_TEST(ok, k << " " << e.type << " " << e.body.dump() << ": " << why);
    seen.insert(k + " " + e.type);
  }
  // The walk reached every kind of message it means to.
  for (const char* m :
       {"sku quote", "sku reserve", "sku confirm", "sku restock", "sku release",
        "coupon check", "coupon lock", "coupon consume", "coupon release",
        "affiliate pending", "affiliate invalidate", "dispatcher order_paid",
        "dispatcher order_refunded", "order adopt", "order parent_paid",
        "order child_status", "payment close", "payment refund"}) {
    BOOST_TEST(seen.count(m) == 1u, m);
  }
}

BOOST_AUTO_TEST_SUITE_END()
