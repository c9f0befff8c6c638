// Tests of the admin SMS notifier (DESIGN.md rule 8): delay, double-check,
// send; suppress, expire; cancel notices only after the new-order notice.

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "actors/notifier.hpp"

using namespace ordo::actors;
using nlohmann::json;

namespace ordo::actors::notifier {
// Lets BOOST_TEST print statuses on failure.
std::ostream& operator<<(std::ostream& os, status st) {
  return os << to_string(st);
}
} // namespace ordo::actors::notifier

namespace {

constexpr millis t0 = 1'700'000'000'000;
constexpr millis second = 1000;

const notifier::config ncfg{};
const millis delay = ncfg.notify_delay;
const millis ttl = ncfg.notify_ttl;
const millis recheck = ncfg.recheck_delay;

std::string dump(const notifier::state& s) {
  json j;
  notifier::to_json(j, s);
  return j.dump();
}

/// Runs `in` and checks the bookkeeping every turn must keep.
outcome turn(notifier::state& s, const notifier::input& in, millis now) {
  auto before = dump(s);
  auto version = s.version;
  auto o = notifier::handle(s, in, notifier::context{now, &ncfg});
  if (o.event.empty()) {
    BOOST_TEST(dump(s) == before);
    BOOST_TEST(o.outbox.empty());
    BOOST_TEST(o.requests.empty());
  } else {
    BOOST_TEST(s.version == version + 1);
    BOOST_TEST(s.updated_at == now);
  }
  return o;
}

notifier::state fresh() {
  notifier::state s;
  s.order_id = "o1";
  return s;
}

/// Order o1 created at t0; the new_order notice waits for its timer.
notifier::state created() {
  auto s = fresh();
  auto o = turn(s, notifier::order_created{"o1", t0}, t0);
  BOOST_REQUIRE(o.event == "new_order_pending");
  return s;
}

outcome fire(notifier::state& s, millis now) {
  return turn(s, notifier::check{}, now);
}

outcome answer(notifier::state& s, const std::string& status, millis now) {
  return turn(s, notifier::status_reply{std::nullopt, status}, now);
}

outcome fail(notifier::state& s, errc code, millis now) {
  return turn(s, notifier::status_reply{error{code, "no"}, ""}, now);
}

std::vector<envelope> sms_of(const outcome& o) {
  std::vector<envelope> r;
  for (const auto& e : o.outbox) {
    BOOST_TEST(e.to.kind == "sms");
    BOOST_TEST(e.to.id == "");
    BOOST_TEST(e.type == "sms");
    r.push_back(e);
  }
  return r;
}

int count(const outcome& o, const std::string& signal) {
  return static_cast<int>(
    std::count(o.signals.begin(), o.signals.end(), signal));
}

/// created(), checked at t0 + delay: the order answered `status`.
notifier::state checked(const std::string& status, outcome* last = nullptr) {
  auto s = created();
  auto o = fire(s, t0 + delay);
  BOOST_REQUIRE(o.event == "checking");
  o = answer(s, status, t0 + delay + 1);
  if (last != nullptr) {
    *last = o;
  }
  return s;
}

const std::string new_id = "o1:new_order";
const std::string cancel_id = "o1:order_cancelled";

} // namespace

BOOST_AUTO_TEST_SUITE(notifier_state_machine)

BOOST_AUTO_TEST_CASE(status_names_and_ids_match_the_api) {
  using notifier::status;
  BOOST_TEST(notifier::to_string(status::pending) == "PENDING");
  BOOST_TEST(notifier::to_string(status::sent) == "SENT");
  BOOST_TEST(notifier::to_string(status::suppressed) == "SUPPRESSED");
  BOOST_TEST(notifier::to_string(status::expired) == "EXPIRED");
  BOOST_TEST((notifier::parse_status("EXPIRED") == status::expired));
  BOOST_TEST(!notifier::parse_status("sent"));
  BOOST_TEST(notifier::notification_id("o1", "new_order") == new_id);
  BOOST_TEST(notifier::notification_id("o1", "order_cancelled") == cancel_id);
}

BOOST_AUTO_TEST_CASE(order_created_arms_the_cooling_timer) {
  auto s = fresh();
  auto o = turn(s, notifier::order_created{"o1", t0}, t0 + 20);
  BOOST_TEST(o.event == "new_order_pending");
  BOOST_TEST(o.outbox.empty());
  BOOST_TEST(o.requests.empty());
  BOOST_REQUIRE(s.new_order);
  BOOST_TEST(s.new_order->notification_id == new_id);
  BOOST_TEST(s.new_order->template_name == "new_order");
  BOOST_TEST(s.new_order->st == notifier::status::pending);
  BOOST_TEST(s.new_order->created_at == t0);
  BOOST_TEST(!s.new_order->in_flight);
  BOOST_REQUIRE_EQUAL(o.timers.size(), 1u);
  BOOST_TEST(o.timers[0].name == "new_order");
  BOOST_TEST(o.timers[0].due == t0 + delay);
  BOOST_TEST(s.due == t0 + delay);
  // A repeat changes nothing.
  o = turn(s, notifier::order_created{"o1", t0}, t0 + 30);
  BOOST_TEST(o.event.empty());
  BOOST_TEST(o.timers.empty());
}

BOOST_AUTO_TEST_CASE(the_timer_asks_the_order_for_its_status) {
  auto s = created();
  auto o = fire(s, t0 + delay);
  BOOST_TEST(o.event == "checking");
  BOOST_TEST(o.outbox.empty());
  BOOST_REQUIRE_EQUAL(o.requests.size(), 1u);
  const auto& r = o.requests[0];
  BOOST_TEST(r.to.kind == "order");
  BOOST_TEST(r.to.id == "o1");
  BOOST_TEST(r.type == "status");
  BOOST_TEST(r.body == json::object());
  BOOST_TEST(r.id == "notifier/o1#" + std::to_string(s.version) + ".req.0");
  BOOST_TEST(s.checking);
  // The timer stays armed in case the answer is lost.
  BOOST_REQUIRE_EQUAL(o.timers.size(), 1u);
  BOOST_TEST(o.timers[0].due == t0 + delay + recheck);
}

BOOST_AUTO_TEST_CASE(a_live_order_gets_exactly_one_new_order_sms) {
  outcome o;
  auto s = checked("PENDING_PAYMENT", &o);
  BOOST_TEST(o.event == "sms_requested");
  auto sms = sms_of(o);
  BOOST_REQUIRE_EQUAL(sms.size(), 1u);
  BOOST_TEST(sms[0].body["notification_id"] == new_id);
  BOOST_TEST(sms[0].body["order_id"] == "o1");
  BOOST_TEST(sms[0].body["template"] == "new_order");
  BOOST_TEST(sms[0].body["text"].get<std::string>().find("o1")
             != std::string::npos);
  BOOST_TEST(sms[0].id == "notifier/o1#" + std::to_string(s.version) + ".0");
  BOOST_TEST(s.new_order->st == notifier::status::pending);
  BOOST_TEST(s.new_order->in_flight);
  BOOST_TEST(!s.checking);
  BOOST_REQUIRE_EQUAL(o.timers.size(), 1u);
  BOOST_TEST(o.timers[0].due == 0); // disarmed
  // Repeated answers and late timers send nothing more.
  for (int i = 0; i < 3; ++i) {
    BOOST_TEST(answer(s, "PAID", t0 + delay + 2).outbox.empty());
    BOOST_TEST(fire(s, t0 + delay + recheck).event.empty());
  }
  o = turn(s, notifier::sms_sent{new_id}, t0 + delay + 5);
  BOOST_TEST(o.event == "new_order_sent");
  BOOST_TEST(count(o, "sms_sent") == 1);
  BOOST_TEST(s.new_order->st == notifier::status::sent);
  BOOST_TEST(s.new_order->sent_at == t0 + delay + 5);
  BOOST_TEST(!s.new_order->in_flight);
  o = turn(s, notifier::sms_sent{new_id}, t0 + delay + 6);
  BOOST_TEST(o.event.empty());
  BOOST_TEST(o.signals.empty());
  BOOST_TEST(!s.cancel_notice);
}

BOOST_AUTO_TEST_CASE(paid_dispatched_and_completed_orders_are_notified) {
  for (const char* st : {"PAID", "DISPATCHED", "COMPLETED"}) {
    outcome o;
    checked(st, &o);
    BOOST_TEST(sms_of(o).size() == 1u, st);
  }
}

BOOST_AUTO_TEST_CASE(a_flash_cancel_suppresses_without_any_sms) {
  auto s = created();
  auto o = turn(s, notifier::order_cancelled{"o1", t0 + 5 * second},
                t0 + 5 * second);
  BOOST_TEST(o.event == "suppressed");
  BOOST_TEST(count(o, "sms_suppressed") == 1);
  BOOST_TEST(o.outbox.empty());
  BOOST_REQUIRE_EQUAL(o.timers.size(), 1u);
  BOOST_TEST(o.timers[0].due == 0);
  BOOST_TEST(s.new_order->st == notifier::status::suppressed);
  BOOST_TEST(!s.cancel_notice); // never a cancel notice
  // Whatever arrives afterwards, nothing is ever sent.
  for (const auto& in :
       {notifier::input{notifier::check{}},
        notifier::input{notifier::status_reply{std::nullopt, "PAID"}},
        notifier::input{notifier::order_cancelled{"o1", t0}},
        notifier::input{notifier::order_created{"o1", t0}},
        notifier::input{notifier::sms_sent{new_id}}}) {
    o = turn(s, in, t0 + delay + 1);
    BOOST_TEST(o.event.empty());
    BOOST_TEST(o.signals.empty());
  }
}

BOOST_AUTO_TEST_CASE(a_cancel_seen_only_by_the_double_check_suppresses) {
  for (const char* st : {"CANCELLED", "REFUNDED", "MANUAL_INTERVENTION", "NONE",
                         "SOMETHING_NEW"}) {
    outcome o;
    auto s = checked(st, &o);
    BOOST_TEST(o.event == "suppressed", st);
    BOOST_TEST(o.outbox.empty());
    BOOST_TEST(count(o, "sms_suppressed") == 1);
    BOOST_TEST(s.new_order->st == notifier::status::suppressed);
    // The cancel message arriving later adds no cancel notice.
    o = turn(s, notifier::order_cancelled{"o1", t0 + 1}, t0 + delay + 9);
    BOOST_TEST(o.outbox.empty());
    BOOST_TEST(!s.cancel_notice);
  }
}

BOOST_AUTO_TEST_CASE(an_order_that_does_not_exist_is_suppressed) {
  auto s = created();
  fire(s, t0 + delay);
  auto o = fail(s, errc::not_found, t0 + delay + 1);
  BOOST_TEST(o.event == "suppressed");
  BOOST_TEST(s.new_order->st == notifier::status::suppressed);
}

BOOST_AUTO_TEST_CASE(a_packed_state_unpacks_to_the_same_state) {
  // Every state an order's SMS passes through, packed as the order keeps
  // it and unpacked, reads back whole: statuses, in-flight marks, times.
  std::vector<notifier::state> seen{fresh()};
  auto s = created();
  seen.push_back(s);
  fire(s, t0 + delay);
  seen.push_back(s); // checking
  answer(s, "PAID", t0 + delay + 1);
  seen.push_back(s); // new_order in flight
  auto cancel_at = t0 + delay + 2;
  turn(s, notifier::order_cancelled{"o1", cancel_at}, cancel_at);
  seen.push_back(s); // cancel notice queued
  turn(s, notifier::sms_sent{new_id}, cancel_at + 3);
  seen.push_back(s); // new_order sent, cancel notice in flight
  turn(s, notifier::sms_sent{cancel_id}, cancel_at + 4);
  seen.push_back(s); // both sent
  auto flash = created();
  turn(flash, notifier::order_cancelled{"o1", t0 + 1}, t0 + 1);
  seen.push_back(flash); // suppressed
  auto late = created();
  fire(late, t0 + ttl + 1);
  seen.push_back(late); // expired
  for (const auto& one : seen) {
    auto back = notifier::unpack(notifier::pack(one), "o1", t0);
    BOOST_TEST(dump(back) == dump(one));
  }
  static_assert(sizeof(notifier::packed) <= 48,
                "a resident order carries its packed SMS");
}

BOOST_AUTO_TEST_CASE(cancel_after_sent_sends_the_cancel_notice_after_it) {
  outcome o;
  auto s = checked("PENDING_PAYMENT", &o);
  turn(s, notifier::sms_sent{new_id}, t0 + delay + 2);
  auto cancel_at = t0 + delay + 30 * second;
  o = turn(s, notifier::order_cancelled{"o1", cancel_at}, cancel_at + 1);
  BOOST_TEST(o.event == "cancel_notice_requested");
  auto sms = sms_of(o);
  BOOST_REQUIRE_EQUAL(sms.size(), 1u);
  BOOST_TEST(sms[0].body["notification_id"] == cancel_id);
  BOOST_TEST(sms[0].body["template"] == "order_cancelled");
  BOOST_REQUIRE(s.cancel_notice);
  BOOST_TEST(s.cancel_notice->created_at == cancel_at);
  BOOST_TEST(s.cancel_notice->in_flight);
  // Repeats of the cancel send nothing more.
  BOOST_TEST(turn(s, notifier::order_cancelled{"o1", cancel_at}, cancel_at + 2)
               .event.empty());
  o = turn(s, notifier::sms_sent{cancel_id}, cancel_at + 3);
  BOOST_TEST(o.event == "order_cancelled_sent");
  BOOST_TEST(count(o, "sms_sent") == 1);
  BOOST_TEST(s.cancel_notice->st == notifier::status::sent);
  BOOST_TEST(
    turn(s, notifier::sms_sent{cancel_id}, cancel_at + 4).event.empty());
}

BOOST_AUTO_TEST_CASE(cancel_while_new_order_is_in_flight_waits_for_its_ack) {
  outcome o;
  auto s = checked("PENDING_PAYMENT", &o); // new_order handed to the adapter
  auto cancel_at = t0 + delay + 2;
  o = turn(s, notifier::order_cancelled{"o1", cancel_at}, cancel_at);
  BOOST_TEST(o.event == "cancel_notice_queued");
  BOOST_TEST(o.outbox.empty()); // not before new_order went out
  BOOST_REQUIRE(s.cancel_notice);
  BOOST_TEST(s.cancel_notice->st == notifier::status::pending);
  BOOST_TEST(!s.cancel_notice->in_flight);
  BOOST_TEST(s.new_order->st == notifier::status::pending);
  o = turn(s, notifier::sms_sent{new_id}, cancel_at + 5 * second);
  BOOST_TEST(o.event == "new_order_sent+cancel_notice_requested");
  BOOST_TEST(s.new_order->st == notifier::status::sent);
  auto sms = sms_of(o);
  BOOST_REQUIRE_EQUAL(sms.size(), 1u);
  BOOST_TEST(sms[0].body["notification_id"] == cancel_id);
  BOOST_TEST(s.cancel_notice->in_flight);
  // A stray ack of the cancel notice before it was sent would have been
  // ignored; now it completes it.
  o = turn(s, notifier::sms_sent{cancel_id}, cancel_at + 6 * second);
  BOOST_TEST(s.cancel_notice->st == notifier::status::sent);
}

BOOST_AUTO_TEST_CASE(an_ack_for_a_notice_not_in_flight_is_ignored) {
  auto s = created();
  auto o = turn(s, notifier::sms_sent{new_id}, t0 + 1);
  BOOST_TEST(o.event.empty());
  o = turn(s, notifier::sms_sent{"o1:whatever"}, t0 + 1);
  BOOST_TEST(o.event.empty());
  BOOST_TEST(s.new_order->st == notifier::status::pending);
}

BOOST_AUTO_TEST_CASE(a_notice_older_than_its_ttl_expires) {
  // The timer fires late (node down): no check, EXPIRED.
  auto s = created();
  auto o = fire(s, t0 + ttl + 1);
  BOOST_TEST(o.event == "expired");
  BOOST_TEST(o.requests.empty());
  BOOST_TEST(count(o, "sms_expired") == 1);
  BOOST_TEST(s.new_order->st == notifier::status::expired);
  BOOST_TEST(fire(s, t0 + ttl + 2).event.empty());
  // The answer arrives after the TTL: EXPIRED, nothing sent.
  s = created();
  fire(s, t0 + ttl - 1);
  o = answer(s, "PAID", t0 + ttl + 1);
  BOOST_TEST(o.event == "expired");
  BOOST_TEST(o.outbox.empty());
  BOOST_TEST(count(o, "sms_expired") == 1);
  // Exactly at the TTL it still goes out.
  s = created();
  fire(s, t0 + delay);
  o = answer(s, "PAID", t0 + ttl);
  BOOST_TEST(sms_of(o).size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_late_order_created_expires_at_its_first_check) {
  auto s = fresh();
  auto o = turn(s, notifier::order_created{"o1", t0}, t0 + ttl + 5);
  BOOST_REQUIRE_EQUAL(o.timers.size(), 1u);
  BOOST_TEST(o.timers[0].due == t0 + delay); // already due
  o = fire(s, t0 + ttl + 6);
  BOOST_TEST(o.event == "expired");
}

BOOST_AUTO_TEST_CASE(a_queued_cancel_notice_expires_with_its_ttl) {
  outcome o;
  auto s = checked("PAID", &o);
  auto cancel_at = t0 + delay + 2;
  turn(s, notifier::order_cancelled{"o1", cancel_at}, cancel_at);
  o = turn(s, notifier::sms_sent{new_id}, cancel_at + ttl + 1);
  BOOST_TEST(o.event == "new_order_sent+cancel_notice_expired");
  BOOST_TEST(o.outbox.empty());
  BOOST_TEST(count(o, "sms_sent") == 1);
  BOOST_TEST(count(o, "sms_expired") == 1);
  BOOST_TEST(s.cancel_notice->st == notifier::status::expired);
}

BOOST_AUTO_TEST_CASE(an_unreachable_order_is_checked_again) {
  auto s = created();
  fire(s, t0 + delay);
  auto o = fail(s, errc::unavailable, t0 + delay + 1);
  BOOST_TEST(o.event == "check_failed");
  BOOST_TEST(o.outbox.empty());
  BOOST_TEST(!s.checking);
  BOOST_REQUIRE_EQUAL(o.timers.size(), 1u);
  BOOST_TEST(o.timers[0].due == t0 + delay + 1 + recheck);
  // An early (stale) firing does nothing; the due one checks again.
  BOOST_TEST(fire(s, t0 + delay + 2).event.empty());
  o = fire(s, t0 + delay + 1 + recheck);
  BOOST_TEST(o.event == "checking");
  BOOST_TEST(o.requests.size() == 1u);
  o = answer(s, "PENDING_PAYMENT", t0 + delay + 2 + recheck);
  BOOST_TEST(sms_of(o).size() == 1u);
  // Unreachable until the TTL passed: EXPIRED.
  s = created();
  fire(s, t0 + delay);
  o = fail(s, errc::internal, t0 + ttl + 1);
  BOOST_TEST(o.event == "expired");
  BOOST_TEST(count(o, "sms_expired") == 1);
}

BOOST_AUTO_TEST_CASE(a_lost_answer_is_retried_by_the_armed_timer) {
  auto s = created();
  fire(s, t0 + delay);
  auto o = fire(s, t0 + delay + recheck); // no answer came
  BOOST_TEST(o.event == "rechecking");
  BOOST_REQUIRE_EQUAL(o.requests.size(), 1u);
  BOOST_TEST(o.requests[0].type == "status");
  // Two answers may now arrive: only the first counts.
  o = answer(s, "PAID", t0 + delay + recheck + 1);
  BOOST_TEST(sms_of(o).size() == 1u);
  o = answer(s, "PAID", t0 + delay + recheck + 2);
  BOOST_TEST(o.event.empty());
}

BOOST_AUTO_TEST_CASE(a_cancel_that_overtakes_the_create_suppresses_on_arrival) {
  auto s = fresh();
  auto o = turn(s, notifier::order_cancelled{"o1", t0 + 1}, t0 + 2);
  BOOST_TEST(o.event == "cancel_noted");
  BOOST_TEST(o.timers.empty());
  o = turn(s, notifier::order_created{"o1", t0}, t0 + 3);
  BOOST_TEST(o.event == "suppressed");
  BOOST_TEST(o.timers.empty());
  BOOST_TEST(count(o, "sms_suppressed") == 1);
  BOOST_TEST(s.new_order->st == notifier::status::suppressed);
}

BOOST_AUTO_TEST_CASE(a_cancel_after_expiry_only_takes_note) {
  auto s = created();
  fire(s, t0 + ttl + 1);
  auto o = turn(s, notifier::order_cancelled{"o1", t0 + ttl + 2}, t0 + ttl + 2);
  BOOST_TEST(o.event == "cancel_noted");
  BOOST_TEST(o.outbox.empty());
  BOOST_TEST(!s.cancel_notice);
  BOOST_TEST(s.new_order->st == notifier::status::expired);
}

BOOST_AUTO_TEST_CASE(a_message_about_another_order_is_refused) {
  auto s = created();
  auto before = dump(s);
  auto o = turn(s, notifier::order_cancelled{"o2", t0}, t0 + 1);
  BOOST_REQUIRE(o.err);
  BOOST_TEST((o.err->code == errc::bad_request));
  BOOST_TEST(dump(s) == before);
}

BOOST_AUTO_TEST_CASE(decode_reads_every_message_type) {
  auto r = notifier::decode(envelope{"x",
                                     {"notifier", "o1"},
                                     "order_created",
                                     json{{"order_id", "o1"}, {"at", t0}}});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(std::get<notifier::order_created>(r.value()).at == t0);
  r = notifier::decode(envelope{
    "x", {"notifier", "o1"}, "order_cancelled", json{{"order_id", "o1"}}});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(std::get<notifier::order_cancelled>(r.value()).at == 0);
  r = notifier::decode(envelope{
    "x", {"notifier", "o1"}, "timer", json{{"name", "new_order"}, {"due", 5}}});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(std::holds_alternative<notifier::check>(r.value()));
  r = notifier::decode(envelope{
    "x", {"notifier", "o1"}, "sms_sent", json{{"notification_id", new_id}}});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(std::get<notifier::sms_sent>(r.value()).notification_id == new_id);

  // status.reply, in the format of reply_body().
  outcome answered;
  answered.reply = json{{"status", "PAID"}};
  r = notifier::decode(envelope{
    "x", {"notifier", "o1"}, "status.reply", reply_body("o1", answered)});
  BOOST_REQUIRE(r.ok());
  auto sr = std::get<notifier::status_reply>(r.value());
  BOOST_TEST(!sr.err);
  BOOST_TEST(sr.status == "PAID");
  r = notifier::decode(
    envelope{"x",
             {"notifier", "o1"},
             "status.reply",
             reply_body("o1", outcome::fail(errc::not_found, "gone"))});
  BOOST_REQUIRE(r.ok());
  sr = std::get<notifier::status_reply>(r.value());
  BOOST_REQUIRE(sr.err);
  BOOST_TEST((sr.err->code == errc::not_found));
  BOOST_TEST(sr.err->message == "gone");
  // A garbled answer is a failed answer (retried), not a dropped one.
  for (const auto& body :
       {json{{"from", "o1"}}, json{{"ok", "yes"}}, json{{"ok", true}},
        json{{"ok", true}, {"status", ""}}, json{{"ok", false}},
        json{{"ok", false}, {"error", "weird"}}}) {
    r = notifier::decode(
      envelope{"x", {"notifier", "o1"}, "status.reply", body});
    BOOST_REQUIRE_MESSAGE(r.ok(), body.dump());
    sr = std::get<notifier::status_reply>(r.value());
    BOOST_REQUIRE(sr.err);
    BOOST_TEST((sr.err->code == errc::internal), body.dump());
  }
}

BOOST_AUTO_TEST_CASE(decode_rejects_garbage_as_bad_request) {
  std::vector<envelope> garbage{
    {"x", {"notifier", "o1"}, "order_created", json::object()},
    {"x", {"notifier", "o1"}, "order_created", json{{"order_id", ""}}},
    {"x",
     {"notifier", "o1"},
     "order_created",
     json{{"order_id", "o1"}, {"at", -1}}},
    {"x",
     {"notifier", "o1"},
     "order_cancelled",
     json{{"order_id", "o1"}, {"at", "now"}}},
    {"x", {"notifier", "o1"}, "timer", json{{"name", "dispatch"}}},
    {"x", {"notifier", "o1"}, "sms_sent", json{{"notification_id", ""}}},
    {"x", {"notifier", "o1"}, "sms_sent", json::object()},
    {"x", {"notifier", "o1"}, "status.reply", json::array()},
    {"x", {"notifier", "o1"}, "sms", json{{"order_id", "o1"}}},
    {"x", {"notifier", "o1"}, "order_created", json()},
  };
  for (const auto& e : garbage) {
    auto r = notifier::decode(e);
    BOOST_REQUIRE_MESSAGE(!r.ok(), e.type << " " << e.body.dump());
    BOOST_TEST((r.err().code == errc::bad_request));
  }
}

BOOST_AUTO_TEST_CASE(state_json_round_trips) {
  outcome o;
  auto s = checked("PAID", &o);
  turn(s, notifier::order_cancelled{"o1", t0 + delay + 2}, t0 + delay + 2);
  json j;
  notifier::to_json(j, s);
  notifier::state back;
  notifier::from_json(json::parse(j.dump()), back);
  BOOST_TEST(dump(back) == j.dump());
  BOOST_TEST(back.order_id == "o1");
  BOOST_TEST(back.version == s.version);
  BOOST_TEST(back.cancelled);
  BOOST_REQUIRE(back.new_order);
  BOOST_TEST(back.new_order->in_flight);
  BOOST_REQUIRE(back.cancel_notice);
  BOOST_TEST(back.cancel_notice->template_name == "order_cancelled");
  BOOST_TEST(back.cancel_notice->created_at == t0 + delay + 2);

  auto c = created();
  fire(c, t0 + delay);
  notifier::to_json(j, c);
  notifier::from_json(json::parse(j.dump()), back);
  BOOST_TEST(back.checking);
  BOOST_TEST(back.due == t0 + delay + recheck);
  BOOST_TEST(!back.cancel_notice);

  notifier::state partial;
  notifier::from_json(json{{"order", "o9"}}, partial);
  BOOST_TEST(partial.order_id == "o9");
  BOOST_TEST(!partial.new_order);
}

// -- message storm -----------------------------------------------------------

namespace {

/// One order's notifier against a simulated order, timer service and SMS
/// adapter. Every message waits in `pool` and is delivered in random order,
/// some twice; status answers are computed when the order handles the
/// request and may be lost or fail.
struct notifier_world {
  explicit notifier_world(std::mt19937& r) : rng(r) {}

  std::mt19937& rng;
  notifier::config cfg;
  notifier::state s = fresh();
  millis now = t0;
  /// When the order is cancelled (nullopt: never).
  std::optional<millis> cancel_at;
  std::vector<notifier::input> pool;
  millis timer_due = 0;
  bool cancel_posted = false;
  std::map<std::string, int> sms_count;
  std::map<std::string, int> signals;

  int pick(int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng);
  }

  std::string order_status() const {
    return cancel_at && now >= *cancel_at ? "CANCELLED" : "PENDING_PAYMENT";
  }

  void run(const notifier::input& in) {
    auto before = dump(s);
    auto version = s.version;
    bool new_order_sent_before
      = s.new_order && s.new_order->st == notifier::status::sent;
    auto o = notifier::handle(s, in, notifier::context{now, &cfg});
    BOOST_REQUIRE(!o.err);
    if (o.event.empty()) {
      BOOST_REQUIRE(dump(s) == before);
    } else {
      BOOST_REQUIRE_EQUAL(s.version, version + 1);
    }
    for (const auto& sig : o.signals) {
      ++signals[sig];
    }
    for (const auto& t : o.timers) {
      BOOST_REQUIRE_EQUAL(t.name, "new_order");
      timer_due = t.due;
    }
    for (const auto& e : o.outbox) {
      auto id = e.body["notification_id"].get<std::string>();
      ++sms_count[id];
      if (id == cancel_id) {
        // Never before new_order went out (acknowledged).
        BOOST_REQUIRE(s.new_order->st == notifier::status::sent);
        BOOST_REQUIRE(std::holds_alternative<notifier::sms_sent>(in)
                      || new_order_sent_before);
      }
      pool.push_back(notifier::sms_sent{id}); // the adapter's ack
    }
    for (const auto& r : o.requests) {
      BOOST_REQUIRE_EQUAL(r.type, "status");
      switch (pick(0, 9)) {
        case 0: break; // lost
        case 1:
          pool.push_back(notifier::status_reply{
            error{errc::unavailable, "no reply (stopped)"}, ""});
          break;
        default:
          pool.push_back(notifier::status_reply{std::nullopt, order_status()});
      }
    }
  }

  void play() {
    pool.push_back(notifier::order_created{"o1", t0});
    for (int step = 0; step < 2000; ++step) {
      if (cancel_at && now >= *cancel_at && !cancel_posted) {
        cancel_posted = true;
        pool.push_back(notifier::order_cancelled{"o1", *cancel_at});
      }
      if (timer_due > 0 && now >= timer_due) {
        timer_due = 0;
        pool.emplace_back(std::in_place_type<notifier::check>);
      }
      if (pick(0, 19) == 0) {
        // A stale firing. In place: moving a check{} temporary into the
        // variant makes GCC 12 -O3 warn falsely (-Wmaybe-uninitialized).
        pool.emplace_back(std::in_place_type<notifier::check>);
      }
      if (!pool.empty() && pick(0, 2) != 0) {
        auto i = static_cast<std::size_t>(
          pick(0, static_cast<int>(pool.size()) - 1));
        auto in = pool[i];
        if (pick(0, 3) != 0) {
          pool.erase(pool.begin() + static_cast<std::ptrdiff_t>(i));
        } // else: delivered again later
        run(in);
      }
      bool quiet
        = pool.empty() && timer_due == 0 && (!cancel_at || cancel_posted);
      if (quiet && now > t0 + cfg.notify_ttl) {
        return;
      }
      now += pick(0, 15) * second;
    }
    BOOST_FAIL("the notifier never settled");
  }
};

} // namespace

BOOST_AUTO_TEST_CASE(message_storm_sends_each_notice_at_most_once_in_order) {
  std::mt19937 rng(424242);
  int flash = 0, live = 0, sent_then_cancelled = 0, expired = 0;
  for (int round = 0; round < 600; ++round) {
    notifier_world w(rng);
    switch (round % 3) {
      case 0: break; // never cancelled
      case 1: w.cancel_at = t0 + w.pick(0, 170) * second; break; // flash
      default: w.cancel_at = t0 + w.pick(0, 600) * second; break;
    }
    w.play();
    const auto& s = w.s;
    BOOST_REQUIRE(s.new_order);
    for (const auto& [id, n] : w.sms_count) {
      BOOST_REQUIRE_EQUAL(n, 1); // each notice handed over at most once
    }
    // Every notice handed over was acknowledged, so ended SENT.
    auto n_sent = 0;
    for (const auto* n : {&s.new_order, &s.cancel_notice}) {
      if (*n && (*n)->st == notifier::status::sent) {
        ++n_sent;
        BOOST_REQUIRE_EQUAL(w.sms_count[(*n)->notification_id], 1);
      }
      if (*n) {
        BOOST_REQUIRE(!(*n)->in_flight);
        BOOST_REQUIRE((*n)->st != notifier::status::pending);
      }
    }
    BOOST_REQUIRE_EQUAL(static_cast<int>(w.sms_count.size()), n_sent);
    BOOST_REQUIRE_EQUAL(w.signals["sms_sent"], n_sent);
    BOOST_REQUIRE(w.signals["sms_suppressed"] <= 1);
    bool flash_cancel = w.cancel_at && *w.cancel_at < t0 + w.cfg.notify_delay;
    if (flash_cancel) {
      // Cancelled before the cooling period ended: nothing, ever.
      BOOST_REQUIRE(w.sms_count.empty());
      BOOST_REQUIRE(s.new_order->st != notifier::status::sent);
      ++flash;
    }
    if (!w.cancel_at) {
      BOOST_REQUIRE(!s.cancel_notice);
      BOOST_REQUIRE(s.new_order->st == notifier::status::sent
                    || s.new_order->st == notifier::status::expired);
      ++live;
    }
    if (s.cancel_notice) {
      BOOST_REQUIRE(w.cancel_at);
      BOOST_REQUIRE(s.new_order->st == notifier::status::sent);
      ++sent_then_cancelled;
    } else if (w.cancel_at && s.new_order->st == notifier::status::sent) {
      BOOST_FAIL("a cancelled order whose new_order went out got no notice");
    }
    expired += s.new_order->st == notifier::status::expired ? 1 : 0;
  }
  BOOST_TEST_MESSAGE("notifier storm: " << flash << " flash cancels, " << live
                                        << " live, " << sent_then_cancelled
                                        << " cancel notices, " << expired
                                        << " expired");
  BOOST_TEST(flash > 100);
  BOOST_TEST(sent_then_cancelled > 20);
}

BOOST_AUTO_TEST_SUITE_END()
