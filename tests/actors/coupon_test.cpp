// Tests of the coupon state machine (DESIGN.md rule 6).

#include <algorithm>
#include <map>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "actors/coupon.hpp"

using namespace ordo::actors;
using nlohmann::json;

namespace ordo::actors::coupon {
// Lets BOOST_TEST print statuses on failure.
std::ostream& operator<<(std::ostream& os, status st) {
  return os << to_string(st);
}
} // namespace ordo::actors::coupon

namespace {

constexpr millis t0 = 1'700'000'000'000;
constexpr millis minute = 60 * 1000;

const coupon::config ccfg{};

coupon::context at(millis t) {
  return coupon::context{t, &ccfg};
}

/// Coupon "c1" of user u1: 500 off orders of at least 1000.
coupon::state available() {
  coupon::state s;
  s.coupon_id = "c1";
  auto o = coupon::handle(s, coupon::put{"u1", 500, 1000}, at(t0));
  BOOST_REQUIRE(!o.err);
  return s;
}

/// available(), locked by order o1 (token 7) at t0.
coupon::state locked() {
  auto s = available();
  auto o = coupon::handle(s, coupon::lock{"o1", "u1", 7}, at(t0));
  BOOST_REQUIRE(!o.err);
  return s;
}

std::string dump(const coupon::state& s) {
  json j;
  coupon::to_json(j, s);
  return j.dump();
}

/// Runs `in` and checks the bookkeeping every turn must keep: a version bump
/// exactly when there is an event, and no silent state change.
outcome turn(coupon::state& s, const coupon::input& in, millis now) {
  auto before = dump(s);
  auto version = s.version;
  auto o = coupon::handle(s, in, at(now));
  BOOST_TEST(coupon::consistent(s));
  if (o.event.empty()) {
    BOOST_TEST(dump(s) == before);
  } else {
    BOOST_TEST(s.version == version + 1);
    BOOST_TEST(s.updated_at == now);
  }
  return o;
}

bool has_signal(const outcome& o, const std::string& name) {
  return std::find(o.signals.begin(), o.signals.end(), name) != o.signals.end();
}

} // namespace

BOOST_AUTO_TEST_SUITE(coupon_state_machine)

BOOST_AUTO_TEST_CASE(status_names_match_the_api) {
  BOOST_TEST(coupon::to_string(coupon::status::available) == "AVAILABLE");
  BOOST_TEST(coupon::to_string(coupon::status::locked) == "LOCKED");
  BOOST_TEST(coupon::to_string(coupon::status::used) == "USED");
  BOOST_TEST((coupon::parse_status("USED") == coupon::status::used));
  BOOST_TEST(!coupon::parse_status("used"));
}

BOOST_AUTO_TEST_CASE(put_creates_then_changes_an_available_coupon) {
  coupon::state s;
  s.coupon_id = "c1";
  auto o = turn(s, coupon::put{"u1", 500, 1000}, t0);
  BOOST_TEST(!o.err);
  BOOST_TEST(o.event == "put");
  BOOST_TEST(s.exists);
  BOOST_TEST(s.version == 1u);
  BOOST_TEST(s.user_id == "u1");
  BOOST_TEST(s.discount == 500);
  BOOST_TEST(s.min_amount == 1000);
  BOOST_TEST(s.st == coupon::status::available);
  o = turn(s, coupon::put{"u1", 500, 1000}, t0 + 1);
  BOOST_TEST(!o.err);
  BOOST_TEST(o.event.empty()); // same values: idempotent
  o = turn(s, coupon::put{"u2", 700, 0}, t0 + 2);
  BOOST_TEST(o.event == "updated");
  BOOST_TEST(s.user_id == "u2");
  BOOST_TEST(s.discount == 700);
  BOOST_TEST(s.min_amount == 0);
}

BOOST_AUTO_TEST_CASE(put_rejects_bad_terms_without_change) {
  for (const auto& p : {coupon::put{"", 500, 0}, coupon::put{"u1", 0, 0},
                        coupon::put{"u1", -5, 0}, coupon::put{"u1", 500, -1}}) {
    auto s = available();
    auto before = dump(s);
    auto o = turn(s, p, t0 + 1);
    BOOST_REQUIRE(o.err);
    BOOST_TEST((o.err->code == errc::bad_request));
    BOOST_TEST(dump(s) == before);
  }
}

BOOST_AUTO_TEST_CASE(put_on_a_locked_or_used_coupon_is_an_invalid_transition) {
  auto s = locked();
  auto o = turn(s, coupon::put{"u1", 900, 0}, t0 + 1);
  BOOST_REQUIRE(o.err);
  BOOST_TEST((o.err->code == errc::invalid_transition));
  BOOST_TEST(s.discount == 500);
  turn(s, coupon::consume{"o1"}, t0 + 2);
  o = turn(s, coupon::put{"u1", 900, 0}, t0 + 3);
  BOOST_REQUIRE(o.err);
  BOOST_TEST((o.err->code == errc::invalid_transition));
}

BOOST_AUTO_TEST_CASE(lock_replies_the_terms_and_arms_the_expiry) {
  auto s = available();
  auto o = turn(s, coupon::lock{"o1", "u1", 7}, t0 + 10);
  BOOST_TEST(!o.err);
  BOOST_TEST(o.event == "locked");
  BOOST_TEST(o.reply == (json{{"discount", 500}, {"min_amount", 1000}}));
  BOOST_TEST(s.st == coupon::status::locked);
  BOOST_TEST(s.order_id == "o1");
  BOOST_TEST(s.token == 7u);
  BOOST_TEST(s.lock_expires_at == t0 + 10 + ccfg.lock_ttl);
  BOOST_REQUIRE_EQUAL(o.timers.size(), 1u);
  BOOST_TEST(o.timers[0].name == "lock");
  BOOST_TEST(o.timers[0].due == s.lock_expires_at);
  BOOST_TEST(o.outbox.empty());
  auto body = reply_body("c1", o);
  BOOST_TEST(
    body
    == (json{
      {"from", "c1"}, {"ok", true}, {"discount", 500}, {"min_amount", 1000}}));
}

BOOST_AUTO_TEST_CASE(a_check_answers_like_a_lock_and_changes_nothing) {
  auto s = available();
  auto before = dump(s);
  auto o = coupon::handle(s, coupon::check{"o1", "u1"}, at(t0));
  BOOST_TEST(!o.err);
  BOOST_TEST(o.reply == (json{{"discount", 500}, {"min_amount", 1000}}));
  BOOST_TEST(o.event.empty());
  BOOST_TEST(o.timers.empty());
  BOOST_TEST(dump(s) == before);
  o = coupon::handle(s, coupon::check{"o1", "u2"}, at(t0));
  BOOST_REQUIRE(o.err);
  BOOST_TEST((o.err->code == errc::coupon_unavailable));
  auto held = locked();
  before = dump(held);
  o = coupon::handle(held, coupon::check{"o2", "u1"}, at(t0 + 1));
  BOOST_REQUIRE(o.err);
  BOOST_TEST((o.err->code == errc::coupon_unavailable));
  o = coupon::handle(held, coupon::check{"o1", "u1"}, at(t0 + 1));
  BOOST_TEST(!o.err); // the order's own lock
  BOOST_TEST(dump(held) == before);
  coupon::state none;
  none.coupon_id = "c9";
  o = coupon::handle(none, coupon::check{"o1", "u1"}, at(t0));
  BOOST_REQUIRE(o.err);
  BOOST_TEST((o.err->code == errc::not_found));
  auto in
    = coupon::decode(envelope{"x",
                              {"coupon", "c1"},
                              "check",
                              json{{"order_id", "o1"}, {"user_id", "u1"}}});
  BOOST_REQUIRE(in.ok());
  BOOST_TEST(std::get<coupon::check>(in.value()).user_id == "u1");
  BOOST_TEST(
    !coupon::decode(
       envelope{"x", {"coupon", "c1"}, "check", json{{"order_id", "o1"}}})
       .ok());
}

BOOST_AUTO_TEST_CASE(lock_repeated_by_the_same_attempt_changes_nothing) {
  auto s = locked();
  auto before = dump(s);
  for (int i = 0; i < 3; ++i) {
    auto o = turn(s, coupon::lock{"o1", "u1", 7}, t0 + minute);
    BOOST_TEST(!o.err);
    BOOST_TEST(o.event.empty());
    BOOST_TEST(o.timers.empty());
    BOOST_TEST(o.reply["discount"] == 500);
  }
  BOOST_TEST(dump(s) == before);
}

BOOST_AUTO_TEST_CASE(a_new_attempt_of_the_same_order_relocks) {
  auto s = locked();
  auto o = turn(s, coupon::lock{"o1", "u1", 8}, t0 + minute);
  BOOST_TEST(!o.err);
  BOOST_TEST(o.event == "relocked");
  BOOST_TEST(s.token == 8u);
  BOOST_TEST(s.lock_expires_at == t0 + minute + ccfg.lock_ttl);
  BOOST_REQUIRE_EQUAL(o.timers.size(), 1u);
  BOOST_TEST(o.timers[0].due == s.lock_expires_at);
  // The older attempt's release cannot return the newer lock.
  o = turn(s, coupon::release{"o1", 7}, t0 + minute + 1);
  BOOST_TEST(o.event.empty());
  BOOST_TEST(s.st == coupon::status::locked);
}

BOOST_AUTO_TEST_CASE(foreign_or_unknown_coupon_cannot_be_locked) {
  auto s = available();
  auto o = turn(s, coupon::lock{"o1", "u2", 7}, t0);
  BOOST_REQUIRE(o.err);
  BOOST_TEST((o.err->code == errc::coupon_unavailable));
  BOOST_TEST(s.st == coupon::status::available);
  BOOST_TEST(reply_body("c1", o)["error"] == "coupon_unavailable");

  coupon::state none;
  none.coupon_id = "zz";
  o = turn(none, coupon::lock{"o1", "u1", 7}, t0);
  BOOST_REQUIRE(o.err);
  BOOST_TEST((o.err->code == errc::not_found));
}

BOOST_AUTO_TEST_CASE(a_coupon_held_by_another_order_is_unavailable) {
  auto s = locked();
  auto o = turn(s, coupon::lock{"o2", "u1", 1}, t0 + minute);
  BOOST_REQUIRE(o.err);
  BOOST_TEST((o.err->code == errc::coupon_unavailable));
  BOOST_TEST(s.order_id == "o1");
  turn(s, coupon::consume{"o1"}, t0 + minute);
  for (const char* order : {"o1", "o2"}) {
    o = turn(s, coupon::lock{order, "u1", 9}, t0 + 2 * minute);
    BOOST_REQUIRE(o.err);
    BOOST_TEST((o.err->code == errc::coupon_unavailable));
  }
  BOOST_TEST(s.st == coupon::status::used);
}

BOOST_AUTO_TEST_CASE(release_returns_the_coupon_exactly_once) {
  auto s = locked();
  auto o = turn(s, coupon::release{"o1", 7}, t0 + minute);
  BOOST_TEST(o.event == "released");
  BOOST_TEST(s.st == coupon::status::available);
  BOOST_TEST(s.order_id.empty());
  BOOST_REQUIRE_EQUAL(o.timers.size(), 1u);
  BOOST_TEST(o.timers[0].name == "lock");
  BOOST_TEST(o.timers[0].due == 0);
  for (int i = 0; i < 3; ++i) {
    o = turn(s, coupon::release{"o1", 7}, t0 + minute + i);
    BOOST_TEST(!o.err);
    BOOST_TEST(o.event.empty());
  }
}

BOOST_AUTO_TEST_CASE(release_by_another_order_changes_nothing) {
  auto s = locked();
  auto before = dump(s);
  auto o = turn(s, coupon::release{"o2", 7}, t0 + 1);
  BOOST_TEST(!o.err);
  BOOST_TEST(o.event.empty());
  BOOST_TEST(dump(s) == before);
}

BOOST_AUTO_TEST_CASE(returned_coupon_can_be_reused) {
  auto s = locked();
  turn(s, coupon::release{"o1", 7}, t0 + minute);
  auto o = turn(s, coupon::lock{"o2", "u1", 3}, t0 + 2 * minute);
  BOOST_TEST(!o.err);
  BOOST_TEST(o.event == "locked");
  BOOST_TEST(s.order_id == "o2");
  o = turn(s, coupon::consume{"o2"}, t0 + 3 * minute);
  BOOST_TEST(o.event == "consumed");
  BOOST_TEST(s.st == coupon::status::used);
  BOOST_TEST(s.order_id == "o2");
  // o1's late release is nobody's business now.
  o = turn(s, coupon::release{"o1", 7}, t0 + 4 * minute);
  BOOST_TEST(o.event.empty());
}

BOOST_AUTO_TEST_CASE(consume_uses_the_lock_exactly_once) {
  auto s = locked();
  auto o = turn(s, coupon::consume{"o1"}, t0 + minute);
  BOOST_TEST(o.event == "consumed");
  BOOST_TEST(s.st == coupon::status::used);
  BOOST_TEST(s.order_id == "o1");
  BOOST_TEST(s.token == 0u);
  BOOST_TEST(s.lock_expires_at == 0);
  BOOST_REQUIRE_EQUAL(o.timers.size(), 1u);
  BOOST_TEST(o.timers[0].due == 0);
  BOOST_TEST(o.outbox.empty());
  for (int i = 0; i < 3; ++i) {
    o = turn(s, coupon::consume{"o1"}, t0 + 2 * minute);
    BOOST_TEST(!o.err);
    BOOST_TEST(o.event.empty());
    BOOST_TEST(o.outbox.empty());
  }
  // Neither a release nor the stale timer give it back.
  BOOST_TEST(turn(s, coupon::release{"o1", 7}, t0 + 3 * minute).event.empty());
  BOOST_TEST(
    turn(s, coupon::expire{}, t0 + ccfg.lock_ttl + minute).event.empty());
  BOOST_TEST(s.st == coupon::status::used);
}

BOOST_AUTO_TEST_CASE(an_orphaned_lock_expires_on_its_timer) {
  auto s = locked();
  auto before = dump(s);
  auto o = turn(s, coupon::expire{}, t0 + ccfg.lock_ttl - 1);
  BOOST_TEST(o.event.empty()); // early: a stale firing
  BOOST_TEST(dump(s) == before);
  o = turn(s, coupon::expire{}, t0 + ccfg.lock_ttl);
  BOOST_TEST(o.event == "lock_expired");
  BOOST_TEST(has_signal(o, "coupon_lock_expired"));
  BOOST_TEST(s.st == coupon::status::available);
  BOOST_TEST(s.order_id.empty());
  o = turn(s, coupon::expire{}, t0 + ccfg.lock_ttl + 1);
  BOOST_TEST(o.event.empty());
  // Anyone of the user may lock it again.
  o = turn(s, coupon::lock{"o2", "u1", 1}, t0 + ccfg.lock_ttl + 2);
  BOOST_TEST(!o.err);
}

BOOST_AUTO_TEST_CASE(consume_after_expiry_takes_the_available_coupon) {
  auto s = locked();
  turn(s, coupon::expire{}, t0 + ccfg.lock_ttl);
  auto o = turn(s, coupon::consume{"o1"}, t0 + ccfg.lock_ttl + 1);
  BOOST_TEST(o.event == "consumed_after_expiry");
  BOOST_TEST(o.outbox.empty());
  BOOST_TEST(s.st == coupon::status::used);
  BOOST_TEST(s.order_id == "o1");
  o = turn(s, coupon::consume{"o1"}, t0 + ccfg.lock_ttl + 2);
  BOOST_TEST(o.event.empty());
}

BOOST_AUTO_TEST_CASE(a_lapsed_lock_counts_as_expired_before_its_timer_fires) {
  auto s = locked();
  auto late = t0 + ccfg.lock_ttl + 5;
  auto o = turn(s, coupon::lock{"o2", "u1", 1}, late);
  BOOST_TEST(!o.err);
  BOOST_TEST(o.event == "locked_after_expiry");
  BOOST_TEST(s.order_id == "o2");
  BOOST_REQUIRE_EQUAL(o.timers.size(), 1u);
  BOOST_TEST(o.timers[0].due == late + ccfg.lock_ttl);
  // The same for a paid order whose own lock lapsed: it takes the coupon.
  auto s2 = locked();
  o = turn(s2, coupon::consume{"o9"}, late);
  BOOST_TEST(o.event == "consumed_after_expiry");
  BOOST_TEST(s2.order_id == "o9");
  BOOST_REQUIRE_EQUAL(o.timers.size(), 1u);
  BOOST_TEST(o.timers[0].due == 0);
}

BOOST_AUTO_TEST_CASE(
  consume_of_a_coupon_another_order_holds_sends_one_conflict) {
  // o1's lock expired, o2 (same user) locked it, then o1's payment came.
  auto s = locked();
  turn(s, coupon::expire{}, t0 + ccfg.lock_ttl);
  turn(s, coupon::lock{"o2", "u1", 1}, t0 + ccfg.lock_ttl + 1);
  auto o = turn(s, coupon::consume{"o1"}, t0 + ccfg.lock_ttl + 2);
  BOOST_TEST(o.event == "conflict");
  BOOST_TEST(has_signal(o, "coupon_conflict"));
  BOOST_TEST(s.st == coupon::status::locked);
  BOOST_TEST(s.order_id == "o2");
  BOOST_TEST(s.conflicts.count("o1") == 1u);
  BOOST_REQUIRE_EQUAL(o.outbox.size(), 1u);
  const auto& e = o.outbox[0];
  BOOST_TEST(e.to.kind == "order");
  BOOST_TEST(e.to.id == "o1");
  BOOST_TEST(e.type == "coupon_conflict");
  BOOST_TEST(e.body == (json{{"coupon_id", "c1"}}));
  BOOST_TEST(e.id == "coupon/c1#" + std::to_string(s.version) + ".0");
  // A repeat tells nobody again.
  o = turn(s, coupon::consume{"o1"}, t0 + ccfg.lock_ttl + 3);
  BOOST_TEST(o.event.empty());
  BOOST_TEST(o.outbox.empty());
  // o2 pays: USED by o2; o1 still told only once.
  o = turn(s, coupon::consume{"o2"}, t0 + ccfg.lock_ttl + 4);
  BOOST_TEST(o.event == "consumed");
  o = turn(s, coupon::consume{"o1"}, t0 + ccfg.lock_ttl + 5);
  BOOST_TEST(o.outbox.empty());
  // A third order paying against the USED coupon hears it once too.
  o = turn(s, coupon::consume{"o3"}, t0 + ccfg.lock_ttl + 6);
  BOOST_REQUIRE_EQUAL(o.outbox.size(), 1u);
  BOOST_TEST(o.outbox[0].to.id == "o3");
  BOOST_TEST(s.order_id == "o2");
}

BOOST_AUTO_TEST_CASE(an_order_told_of_a_conflict_never_takes_the_coupon) {
  auto s = locked();
  turn(s, coupon::consume{"o2"}, t0 + 1); // conflict: o1 holds it
  turn(s, coupon::release{"o1", 7}, t0 + 2);
  BOOST_TEST(s.st == coupon::status::available);
  auto o = turn(s, coupon::consume{"o2"}, t0 + 3);
  BOOST_TEST(o.event.empty());
  BOOST_TEST(o.outbox.empty());
  BOOST_TEST(s.st == coupon::status::available);
}

BOOST_AUTO_TEST_CASE(messages_for_an_unknown_coupon_change_nothing) {
  coupon::state none;
  none.coupon_id = "zz";
  auto before = dump(none);
  for (const auto& in : {coupon::input{coupon::release{"o1", 1}},
                         coupon::input{coupon::consume{"o1"}},
                         coupon::input{coupon::expire{}}}) {
    auto o = turn(none, in, t0);
    BOOST_TEST(!o.err);
    BOOST_TEST(o.event.empty());
    BOOST_TEST(o.outbox.empty());
  }
  BOOST_TEST(dump(none) == before);
}

BOOST_AUTO_TEST_CASE(consistent_detects_broken_states) {
  auto s = locked();
  BOOST_TEST(coupon::consistent(s));
  auto broken = s;
  broken.order_id.clear();
  BOOST_TEST(!coupon::consistent(broken));
  broken = s;
  broken.st = coupon::status::available;
  BOOST_TEST(!coupon::consistent(broken));
  broken = s;
  broken.st = coupon::status::used;
  BOOST_TEST(!coupon::consistent(broken)); // a USED coupon has no lock
}

BOOST_AUTO_TEST_CASE(decode_reads_what_orders_send) {
  auto r = coupon::decode(
    envelope{"x",
             {"coupon", "c1"},
             "lock",
             json{{"order_id", "o1"}, {"user_id", "u1"}, {"token", 7}}});
  BOOST_REQUIRE(r.ok());
  auto l = std::get<coupon::lock>(r.value());
  BOOST_TEST(l.order_id == "o1");
  BOOST_TEST(l.user_id == "u1");
  BOOST_TEST(l.token == 7u);

  r = coupon::decode(envelope{
    "x", {"coupon", "c1"}, "release", json{{"order_id", "o1"}, {"token", 7}}});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(std::get<coupon::release>(r.value()).token == 7u);

  r = coupon::decode(
    envelope{"x", {"coupon", "c1"}, "consume", json{{"order_id", "o1"}}});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(std::get<coupon::consume>(r.value()).order_id == "o1");

  r = coupon::decode(envelope{
    "x", {"coupon", "c1"}, "timer", json{{"name", "lock"}, {"due", t0}}});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(std::holds_alternative<coupon::expire>(r.value()));

  auto big = json::parse(R"({"order_id":"o1","token":18446744073709551615})");
  r = coupon::decode(envelope{"x", {"coupon", "c1"}, "release", big});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(std::get<coupon::release>(r.value()).token
             == 18446744073709551615ull);
}

BOOST_AUTO_TEST_CASE(decode_rejects_garbage_as_bad_request) {
  std::vector<envelope> garbage{
    {"x", {"coupon", "c1"}, "put", json{{"user_id", "u1"}, {"discount", 1}}},
    {"x", {"coupon", "c1"}, "lock", json{{"order_id", "o1"}, {"token", 1}}},
    {"x",
     {"coupon", "c1"},
     "lock",
     json{{"order_id", "o1"}, {"user_id", ""}, {"token", 1}}},
    {"x", {"coupon", "c1"}, "lock", json{{"order_id", "o1"}, {"user_id", "u"}}},
    {"x",
     {"coupon", "c1"},
     "lock",
     json{{"order_id", "o1"}, {"user_id", "u"}, {"token", -1}}},
    {"x",
     {"coupon", "c1"},
     "lock",
     json{{"order_id", "o1"}, {"user_id", 5}, {"token", 1}}},
    {"x", {"coupon", "c1"}, "release", json{{"order_id", "o1"}}},
    {"x",
     {"coupon", "c1"},
     "release",
     json{{"order_id", "o1"}, {"token", "7"}}},
    {"x", {"coupon", "c1"}, "consume", json{{"order_id", ""}}},
    {"x", {"coupon", "c1"}, "consume", json{{"order_id", 1}}},
    {"x", {"coupon", "c1"}, "consume", json::object()},
    {"x", {"coupon", "c1"}, "timer", json{{"name", "deadline"}}},
    {"x", {"coupon", "c1"}, "timer", json::object()},
    {"x", {"coupon", "c1"}, "consume", json::array({1})},
    {"x", {"coupon", "c1"}, "consume", json()},
    {"x", {"coupon", "c1"}, "", json{{"order_id", "o1"}}},
  };
  for (const auto& e : garbage) {
    auto r = coupon::decode(e);
    BOOST_REQUIRE_MESSAGE(!r.ok(), e.type << " " << e.body.dump());
    BOOST_TEST((r.err().code == errc::bad_request));
  }
}

BOOST_AUTO_TEST_CASE(state_json_round_trips) {
  auto s = locked();
  turn(s, coupon::consume{"o9"}, t0 + 1); // a conflict recorded
  json j;
  coupon::to_json(j, s);
  coupon::state back;
  coupon::from_json(json::parse(j.dump()), back);
  BOOST_TEST(dump(back) == j.dump());
  BOOST_TEST(back.coupon_id == "c1");
  BOOST_TEST(back.exists);
  BOOST_TEST(back.st == coupon::status::locked);
  BOOST_TEST(back.order_id == "o1");
  BOOST_TEST(back.token == 7u);
  BOOST_TEST(back.lock_expires_at == s.lock_expires_at);
  BOOST_TEST(back.conflicts == s.conflicts);
  BOOST_TEST(back.version == s.version);

  coupon::state partial;
  coupon::from_json(json{{"id", "c2"}, {"st", "bogus"}}, partial);
  BOOST_TEST(partial.coupon_id == "c2");
  BOOST_TEST(!partial.exists);
  BOOST_TEST(partial.st == coupon::status::available);
  BOOST_TEST(coupon::consistent(partial));
}

BOOST_AUTO_TEST_CASE(message_storm_keeps_one_holder_and_each_step_once) {
  // Orders o0..o4 of u1 (and some of u2) lock, release, consume, repeat and
  // race with the expiry timer, over many short episodes. An order pays
  // only after a lock of it succeeded. Invariants: the coupon is consumed at
  // most once and never changes holder once USED; every paying order is
  // either the holder or hears of the conflict exactly once (and then never
  // holds it); nothing changes silently.
  std::mt19937 rng(20240601);
  auto pick = [&rng](int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng);
  };
  coupon::config cfg;
  cfg.lock_ttl = 5 * minute;
  int episodes_used = 0;
  int conflicts = 0;
  for (int episode = 0; episode < 400; ++episode) {
    auto s = available();
    millis now = t0;
    std::map<std::string, std::uint64_t> token_of; // last successful lock
    std::set<std::string> paid;
    std::map<std::string, int> conflicts_heard;
    int consumed = 0;
    std::string holder;
    for (int step = 0; step < 80; ++step) {
      now += pick(0, 90) * 1000;
      auto order = "o" + std::to_string(pick(0, 4));
      coupon::input in;
      switch (pick(0, 9)) {
        case 0:
        case 1:
        case 2: {
          auto user = pick(0, 9) == 0 ? "u2" : "u1";
          in
            = coupon::lock{order, user, static_cast<std::uint64_t>(pick(1, 3))};
          break;
        }
        case 3:
        case 4: {
          auto t = token_of.count(order) != 0 && pick(0, 3) != 0
                     ? token_of[order]
                     : static_cast<std::uint64_t>(pick(1, 3));
          in = coupon::release{order, t};
          break;
        }
        case 5:
        case 6:
          if (token_of.count(order) == 0) {
            continue;
          }
          paid.insert(order);
          in = coupon::consume{order};
          break;
        default: in = coupon::expire{}; break;
      }
      auto before = dump(s);
      auto version = s.version;
      auto o = coupon::handle(s, in, coupon::context{now, &cfg});
      BOOST_REQUIRE_MESSAGE(coupon::consistent(s),
                            "episode " << episode << " step " << step);
      if (o.event.empty()) {
        BOOST_REQUIRE_MESSAGE(dump(s) == before,
                              "silent change at " << episode << "/" << step);
      } else {
        BOOST_REQUIRE_EQUAL(s.version, version + 1);
      }
      if (auto* l = std::get_if<coupon::lock>(&in); l != nullptr && !o.err) {
        token_of[l->order_id] = l->token;
        BOOST_REQUIRE(s.order_id == l->order_id);
      }
      if (o.event == "consumed" || o.event == "consumed_after_expiry") {
        ++consumed;
        holder = s.order_id;
      }
      if (!holder.empty()) {
        BOOST_REQUIRE(s.st == coupon::status::used);
        BOOST_REQUIRE_EQUAL(s.order_id, holder);
      }
      for (const auto& e : o.outbox) {
        BOOST_REQUIRE_EQUAL(e.type, "coupon_conflict");
        ++conflicts_heard[e.to.id];
        BOOST_REQUIRE_NE(e.to.id, s.order_id);
      }
    }
    BOOST_REQUIRE(consumed <= 1);
    for (const auto& [order, n] : conflicts_heard) {
      BOOST_REQUIRE_EQUAL(n, 1);
      BOOST_REQUIRE_NE(order, holder); // a refunded order never holds it
    }
    for (const auto& order : paid) {
      bool holds = s.st == coupon::status::used && s.order_id == order;
      BOOST_REQUIRE_MESSAGE(holds || conflicts_heard[order] == 1,
                            "episode " << episode << ": " << order);
    }
    episodes_used += consumed;
    conflicts += static_cast<int>(conflicts_heard.size());
  }
  BOOST_TEST_MESSAGE("coupon storm: used in "
                     << episodes_used << " of 400 episodes, " << conflicts
                     << " conflicts");
  BOOST_TEST(episodes_used > 100);
  BOOST_TEST(conflicts > 20);
}

BOOST_AUTO_TEST_SUITE_END()
