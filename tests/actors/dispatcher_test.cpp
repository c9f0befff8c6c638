// Tests of O2O auto-dispatch (DESIGN.md rule 8): the per-order dispatcher
// and the technicians pool.

#include <algorithm>
#include <map>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "actors/dispatcher.hpp"

using namespace ordo::actors;
using nlohmann::json;

namespace ordo::actors::dispatcher {
// Lets BOOST_TEST print statuses on failure.
std::ostream& operator<<(std::ostream& os, status st) {
  return os << to_string(st);
}
} // namespace ordo::actors::dispatcher

namespace {

constexpr millis t0 = 1'700'000'000'000;
constexpr millis second = 1000;

const dispatcher::config dcfg{};
const millis delay = dcfg.dispatch_delay;
const millis recheck = dcfg.recheck_delay;

std::string dump(const dispatcher::state& s) {
  json j;
  dispatcher::to_json(j, s);
  return j.dump();
}

std::string dump(const technicians::state& s) {
  json j;
  technicians::to_json(j, s);
  return j.dump();
}

/// Runs `in` and checks the bookkeeping every turn must keep.
outcome turn(dispatcher::state& s, const dispatcher::input& in, millis now) {
  auto before = dump(s);
  auto version = s.version;
  auto o = dispatcher::handle(s, in, dispatcher::context{now, &dcfg});
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

outcome turn(technicians::state& s, const technicians::input& in,
             const technicians::config& cfg, millis now = t0) {
  auto before = dump(s);
  auto version = s.version;
  auto o = technicians::handle(s, in, technicians::context{now, &cfg});
  BOOST_TEST(technicians::balanced(s));
  BOOST_TEST(o.outbox.empty());
  if (o.event.empty()) {
    BOOST_TEST(dump(s) == before);
  } else {
    BOOST_TEST(s.version == version + 1);
  }
  return o;
}

dispatcher::state fresh() {
  dispatcher::state s;
  s.order_id = "o1";
  return s;
}

/// Order o1 paid at t0; the dispatch waits for its timer.
dispatcher::state paid() {
  auto s = fresh();
  auto o = turn(s, dispatcher::order_paid{"o1", t0}, t0);
  BOOST_REQUIRE(o.event == "dispatch_pending");
  return s;
}

outcome fire(dispatcher::state& s, millis now) {
  return turn(s, dispatcher::check{}, now);
}

outcome status_is(dispatcher::state& s, const std::string& st, millis now) {
  return turn(s, dispatcher::status_reply{std::nullopt, st}, now);
}

outcome assigned_to(dispatcher::state& s, const std::string& name, millis now) {
  return turn(s, dispatcher::assign_reply{std::nullopt, name}, now);
}

/// paid(), checked (PAID), the assign request out.
dispatcher::state assigning() {
  auto s = paid();
  fire(s, t0 + delay);
  auto o = status_is(s, "PAID", t0 + delay + 1);
  BOOST_REQUIRE(o.event == "assigning");
  return s;
}

/// assigning(), answered "ann".
dispatcher::state assigned() {
  auto s = assigning();
  auto o = assigned_to(s, "ann", t0 + delay + 2);
  BOOST_REQUIRE(o.event == "assigned");
  return s;
}

int count(const outcome& o, const std::string& signal) {
  return static_cast<int>(
    std::count(o.signals.begin(), o.signals.end(), signal));
}

const technicians::config three{{"ann", "bob", "cy"}};

} // namespace

BOOST_AUTO_TEST_SUITE(dispatcher_state_machine)

BOOST_AUTO_TEST_CASE(status_names_and_ids_match_the_api) {
  using dispatcher::status;
  BOOST_TEST(dispatcher::to_string(status::pending) == "PENDING");
  BOOST_TEST(dispatcher::to_string(status::assigned) == "ASSIGNED");
  BOOST_TEST(dispatcher::to_string(status::suppressed) == "SUPPRESSED");
  BOOST_TEST(dispatcher::to_string(status::recalled) == "RECALLED");
  BOOST_TEST((dispatcher::parse_status("RECALLED") == status::recalled));
  BOOST_TEST(!dispatcher::parse_status("x"));
  BOOST_TEST(dispatcher::dispatch_id("o1") == "o1:dispatch");
}

BOOST_AUTO_TEST_CASE(order_paid_arms_the_dispatch_timer) {
  auto s = fresh();
  auto o = turn(s, dispatcher::order_paid{"o1", t0}, t0 + 7);
  BOOST_TEST(o.event == "dispatch_pending");
  BOOST_TEST(s.exists);
  BOOST_TEST(s.dispatch_id == "o1:dispatch");
  BOOST_TEST(s.st == dispatcher::status::pending);
  BOOST_TEST(s.paid_at == t0);
  BOOST_REQUIRE_EQUAL(o.timers.size(), 1u);
  BOOST_TEST(o.timers[0].name == "dispatch");
  BOOST_TEST(o.timers[0].due == t0 + delay);
  BOOST_TEST(o.requests.empty());
  BOOST_TEST(turn(s, dispatcher::order_paid{"o1", t0}, t0 + 8).event.empty());
}

BOOST_AUTO_TEST_CASE(the_timer_asks_the_order_for_its_status) {
  auto s = paid();
  BOOST_TEST(fire(s, t0 + delay - 1).event.empty()); // early: stale
  auto o = fire(s, t0 + delay);
  BOOST_TEST(o.event == "checking");
  BOOST_REQUIRE_EQUAL(o.requests.size(), 1u);
  BOOST_TEST(o.requests[0].to.kind == "order");
  BOOST_TEST(o.requests[0].to.id == "o1");
  BOOST_TEST(o.requests[0].type == "status");
  BOOST_TEST(o.requests[0].body == json::object());
  BOOST_TEST(o.requests[0].id
             == "dispatcher/o1#" + std::to_string(s.version) + ".req.0");
  BOOST_TEST((s.waiting == dispatcher::step::status));
  BOOST_REQUIRE_EQUAL(o.timers.size(), 1u);
  BOOST_TEST(o.timers[0].due == t0 + delay + recheck);
}

BOOST_AUTO_TEST_CASE(a_paid_order_is_assigned_once) {
  auto s = paid();
  fire(s, t0 + delay);
  auto o = status_is(s, "PAID", t0 + delay + 1);
  BOOST_TEST(o.event == "assigning");
  BOOST_REQUIRE_EQUAL(o.requests.size(), 1u);
  BOOST_TEST(o.requests[0].to.kind == "technicians");
  BOOST_TEST(o.requests[0].to.id == "all");
  BOOST_TEST(o.requests[0].type == "assign");
  BOOST_TEST(o.requests[0].body == (json{{"dispatch_id", "o1:dispatch"}}));
  BOOST_TEST(s.assign_requested);
  o = assigned_to(s, "ann", t0 + delay + 2);
  BOOST_TEST(o.event == "assigned");
  BOOST_TEST(count(o, "dispatch_assigned") == 1);
  BOOST_TEST(s.st == dispatcher::status::assigned);
  BOOST_TEST(s.technician == "ann");
  BOOST_REQUIRE_EQUAL(o.outbox.size(), 1u);
  const auto& e = o.outbox[0];
  BOOST_TEST(e.to.kind == "order");
  BOOST_TEST(e.to.id == "o1");
  BOOST_TEST(e.type == "dispatched");
  BOOST_TEST(e.body
             == (json{{"dispatch_id", "o1:dispatch"}, {"technician", "ann"}}));
  BOOST_TEST(e.id == "dispatcher/o1#" + std::to_string(s.version) + ".0");
  BOOST_REQUIRE_EQUAL(o.timers.size(), 1u);
  BOOST_TEST(o.timers[0].due == 0);
  // Repeats of everything change nothing.
  for (const auto& in :
       {dispatcher::input{dispatcher::check{}},
        dispatcher::input{dispatcher::assign_reply{std::nullopt, "bob"}},
        dispatcher::input{dispatcher::status_reply{std::nullopt, "PAID"}},
        dispatcher::input{dispatcher::order_paid{"o1", t0}}}) {
    o = turn(s, in, t0 + delay + recheck + 5);
    BOOST_TEST(o.event.empty());
  }
  BOOST_TEST(s.technician == "ann");
}

BOOST_AUTO_TEST_CASE(a_dispatched_order_is_still_assigned) {
  auto s = paid();
  fire(s, t0 + delay);
  auto o = status_is(s, "DISPATCHED", t0 + delay + 1);
  BOOST_TEST(o.event == "assigning");
}

BOOST_AUTO_TEST_CASE(refund_before_the_delay_suppresses_without_requests) {
  auto s = paid();
  auto o = turn(s, dispatcher::order_refunded{"o1"}, t0 + 10 * second);
  BOOST_TEST(o.event == "suppressed");
  BOOST_TEST(count(o, "dispatch_suppressed") == 1);
  BOOST_TEST(o.outbox.empty()); // no assign went out: nothing to recall
  BOOST_REQUIRE_EQUAL(o.timers.size(), 1u);
  BOOST_TEST(o.timers[0].due == 0);
  BOOST_TEST(s.st == dispatcher::status::suppressed);
  for (const auto& in :
       {dispatcher::input{dispatcher::check{}},
        dispatcher::input{dispatcher::status_reply{std::nullopt, "PAID"}},
        dispatcher::input{dispatcher::order_refunded{"o1"}}}) {
    o = turn(s, in, t0 + delay);
    BOOST_TEST(o.event.empty());
  }
}

BOOST_AUTO_TEST_CASE(cancelled_or_refunded_at_the_check_suppresses) {
  for (const char* st :
       {"CANCELLED", "REFUNDED", "COMPLETED", "PENDING_PAYMENT", "NONE"}) {
    auto s = paid();
    fire(s, t0 + delay);
    auto o = status_is(s, st, t0 + delay + 1);
    BOOST_TEST(o.event == "suppressed", st);
    BOOST_TEST(o.requests.empty());
    BOOST_TEST(o.outbox.empty());
    BOOST_TEST(s.st == dispatcher::status::suppressed);
  }
  auto s = paid();
  fire(s, t0 + delay);
  auto o = turn(s, dispatcher::status_reply{error{errc::not_found, "?"}, ""},
                t0 + delay + 1);
  BOOST_TEST(o.event == "suppressed");
}

BOOST_AUTO_TEST_CASE(refund_after_assignment_recalls_exactly_once) {
  auto s = assigned();
  auto o = turn(s, dispatcher::order_refunded{"o1"}, t0 + 10 * delay);
  BOOST_TEST(o.event == "recalled");
  BOOST_TEST(count(o, "dispatch_recalled") == 1);
  BOOST_TEST(s.st == dispatcher::status::recalled);
  BOOST_REQUIRE_EQUAL(o.outbox.size(), 1u);
  const auto& e = o.outbox[0];
  BOOST_TEST(e.to.kind == "technicians");
  BOOST_TEST(e.to.id == "all");
  BOOST_TEST(e.type == "recall");
  BOOST_TEST(e.body == (json{{"dispatch_id", "o1:dispatch"}}));
  for (int i = 0; i < 3; ++i) {
    o = turn(s, dispatcher::order_refunded{"o1"}, t0 + 11 * delay);
    BOOST_TEST(o.event.empty());
  }
}

BOOST_AUTO_TEST_CASE(refund_while_assigning_recalls_whoever_may_be_assigned) {
  auto s = assigning();
  auto o = turn(s, dispatcher::order_refunded{"o1"}, t0 + delay + 2);
  BOOST_TEST(o.event == "suppressed");
  BOOST_REQUIRE_EQUAL(o.outbox.size(), 1u);
  BOOST_TEST(o.outbox[0].type == "recall");
  BOOST_TEST(o.outbox[0].body["dispatch_id"] == "o1:dispatch");
  // The assign answer arriving late changes nothing: the recall frees the
  // technician (or blocks the assign) at the pool.
  o = assigned_to(s, "ann", t0 + delay + 3);
  BOOST_TEST(o.event.empty());
  BOOST_TEST(s.st == dispatcher::status::suppressed);
  BOOST_TEST(s.technician.empty());
}

BOOST_AUTO_TEST_CASE(no_technician_available_tries_again_later) {
  auto s = assigning();
  auto o
    = turn(s, dispatcher::assign_reply{error{errc::unavailable, "nobody"}, ""},
           t0 + delay + 2);
  BOOST_TEST(o.event == "no_technician");
  BOOST_TEST(count(o, "dispatch_no_technician") == 1);
  BOOST_TEST(s.st == dispatcher::status::pending);
  BOOST_TEST((s.waiting == dispatcher::step::timer));
  BOOST_REQUIRE_EQUAL(o.timers.size(), 1u);
  BOOST_TEST(o.timers[0].due == t0 + delay + 2 + recheck);
  // The next round double-checks the order again before assigning.
  o = fire(s, t0 + delay + 2 + recheck);
  BOOST_TEST(o.event == "checking");
  BOOST_TEST(o.requests[0].type == "status");
  o = status_is(s, "PAID", t0 + delay + 3 + recheck);
  BOOST_TEST(o.requests[0].type == "assign");
  o = assigned_to(s, "bob", t0 + delay + 4 + recheck);
  BOOST_TEST(s.st == dispatcher::status::assigned);
}

BOOST_AUTO_TEST_CASE(failures_in_a_row_back_off_up_to_the_cap) {
  auto s = assigning();
  auto now = t0 + delay + 2;
  millis wait = recheck;
  for (int round = 0; round < 12; ++round) {
    auto o = turn(
      s, dispatcher::assign_reply{error{errc::unavailable, "nobody"}, ""}, now);
    BOOST_REQUIRE_EQUAL(o.timers.size(), 1u);
    BOOST_TEST(o.timers[0].due == now + wait);
    now += wait;
    fire(s, now);
    status_is(s, "PAID", now);
    wait = std::min(wait * 2, dcfg.max_recheck_delay);
  }
  BOOST_TEST(wait == dcfg.max_recheck_delay); // reached and held
  // Success resets the back-off for whatever comes next.
  assigned_to(s, "bob", now);
  BOOST_TEST(s.retries == 0u);
}

BOOST_AUTO_TEST_CASE(an_unreachable_order_is_checked_again) {
  auto s = paid();
  fire(s, t0 + delay);
  auto o = turn(s, dispatcher::status_reply{error{errc::unavailable, "?"}, ""},
                t0 + delay + 1);
  BOOST_TEST(o.event == "check_failed");
  BOOST_TEST(s.st == dispatcher::status::pending);
  BOOST_REQUIRE_EQUAL(o.timers.size(), 1u);
  BOOST_TEST(o.timers[0].due == t0 + delay + 1 + recheck);
  BOOST_TEST(fire(s, t0 + delay + 1 + recheck).event == "checking");
}

BOOST_AUTO_TEST_CASE(lost_answers_are_retried_by_the_armed_timer) {
  auto s = paid();
  fire(s, t0 + delay);
  auto o = fire(s, t0 + delay + recheck); // the status answer was lost
  BOOST_TEST(o.event == "rechecking");
  BOOST_REQUIRE_EQUAL(o.requests.size(), 1u);
  BOOST_TEST(o.requests[0].type == "status");
  status_is(s, "PAID", t0 + delay + recheck + 1);
  o = fire(s, t0 + delay + 2 * recheck + 1); // the assign answer was lost
  BOOST_TEST(o.event == "rechecking");
  BOOST_TEST(o.requests[0].type == "status");
  // A late answer to the lost assign is ignored while re-checking...
  BOOST_TEST(assigned_to(s, "ann", t0 + delay + 2 * recheck + 2).event.empty());
  // ...and the pool answers the repeated assign with the same technician.
  status_is(s, "PAID", t0 + delay + 2 * recheck + 3);
  o = assigned_to(s, "ann", t0 + delay + 2 * recheck + 4);
  BOOST_TEST(o.event == "assigned");
}

BOOST_AUTO_TEST_CASE(a_refund_that_overtakes_the_payment_suppresses_it) {
  auto s = fresh();
  auto o = turn(s, dispatcher::order_refunded{"o1"}, t0 + 1);
  BOOST_TEST(o.event == "refund_noted");
  BOOST_TEST(!s.exists);
  o = turn(s, dispatcher::order_paid{"o1", t0}, t0 + 2);
  BOOST_TEST(o.event == "suppressed");
  BOOST_TEST(o.timers.empty());
  BOOST_TEST(s.st == dispatcher::status::suppressed);
  BOOST_TEST(s.dispatch_id == "o1:dispatch");
}

BOOST_AUTO_TEST_CASE(a_message_about_another_order_is_refused) {
  auto s = paid();
  auto o = turn(s, dispatcher::order_refunded{"o2"}, t0 + 1);
  BOOST_REQUIRE(o.err);
  BOOST_TEST((o.err->code == errc::bad_request));
  BOOST_TEST(s.st == dispatcher::status::pending);
}

BOOST_AUTO_TEST_CASE(decode_reads_every_message_type) {
  auto r = dispatcher::decode(envelope{"x",
                                       {"dispatcher", "o1"},
                                       "order_paid",
                                       json{{"order_id", "o1"}, {"at", t0}}});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(std::get<dispatcher::order_paid>(r.value()).at == t0);
  r = dispatcher::decode(envelope{
    "x", {"dispatcher", "o1"}, "order_refunded", json{{"order_id", "o1"}}});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(std::get<dispatcher::order_refunded>(r.value()).order_id == "o1");
  r = dispatcher::decode(
    envelope{"x", {"dispatcher", "o1"}, "timer", json{{"name", "dispatch"}}});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(std::holds_alternative<dispatcher::check>(r.value()));

  outcome ok;
  ok.reply = json{{"status", "PAID"}};
  r = dispatcher::decode(
    envelope{"x", {"dispatcher", "o1"}, "status.reply", reply_body("o1", ok)});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(std::get<dispatcher::status_reply>(r.value()).status == "PAID");

  // The pool's real answers, through reply_body().
  technicians::state pool;
  pool.id = "all";
  auto answer = technicians::handle(pool, technicians::assign{"o1:dispatch"},
                                    technicians::context{t0, &three});
  r = dispatcher::decode(envelope{
    "x", {"dispatcher", "o1"}, "assign.reply", reply_body("all", answer)});
  BOOST_REQUIRE(r.ok());
  auto ar = std::get<dispatcher::assign_reply>(r.value());
  BOOST_TEST(!ar.err);
  BOOST_TEST(ar.technician == "ann");
  technicians::config none;
  technicians::state empty;
  answer = technicians::handle(empty, technicians::assign{"o1:dispatch"},
                               technicians::context{t0, &none});
  r = dispatcher::decode(envelope{
    "x", {"dispatcher", "o1"}, "assign.reply", reply_body("all", answer)});
  BOOST_REQUIRE(r.ok());
  ar = std::get<dispatcher::assign_reply>(r.value());
  BOOST_REQUIRE(ar.err);
  BOOST_TEST((ar.err->code == errc::unavailable));

  // Garbled answers are failed answers.
  for (const char* type : {"status.reply", "assign.reply"}) {
    for (const auto& body :
         {json::object(), json{{"ok", 1}}, json{{"ok", true}},
          json{{"ok", true}, {"status", ""}, {"technician", ""}}}) {
      r = dispatcher::decode(envelope{"x", {"dispatcher", "o1"}, type, body});
      BOOST_REQUIRE(r.ok());
      const auto& in = r.value();
      auto err = std::holds_alternative<dispatcher::status_reply>(in)
                   ? std::get<dispatcher::status_reply>(in).err
                   : std::get<dispatcher::assign_reply>(in).err;
      BOOST_REQUIRE(err);
      BOOST_TEST((err->code == errc::internal));
    }
  }
}

BOOST_AUTO_TEST_CASE(decode_rejects_garbage_as_bad_request) {
  std::vector<envelope> garbage{
    {"x", {"dispatcher", "o1"}, "order_paid", json::object()},
    {"x",
     {"dispatcher", "o1"},
     "order_paid",
     json{{"order_id", "o1"}, {"at", -5}}},
    {"x", {"dispatcher", "o1"}, "order_refunded", json{{"order_id", ""}}},
    {"x", {"dispatcher", "o1"}, "timer", json{{"name", "new_order"}}},
    {"x", {"dispatcher", "o1"}, "assign.reply", json::array()},
    {"x", {"dispatcher", "o1"}, "dispatched", json{{"order_id", "o1"}}},
    {"x", {"dispatcher", "o1"}, "order_paid", json()},
  };
  for (const auto& e : garbage) {
    auto r = dispatcher::decode(e);
    BOOST_REQUIRE_MESSAGE(!r.ok(), e.type << " " << e.body.dump());
    BOOST_TEST((r.err().code == errc::bad_request));
  }
}

BOOST_AUTO_TEST_CASE(state_json_round_trips) {
  for (auto s : {fresh(), paid(), assigning(), assigned()}) {
    json j;
    dispatcher::to_json(j, s);
    dispatcher::state back;
    dispatcher::from_json(json::parse(j.dump()), back);
    BOOST_TEST(dump(back) == j.dump());
    BOOST_TEST(back.version == s.version);
    BOOST_TEST(back.st == s.st);
    BOOST_TEST((back.waiting == s.waiting));
    BOOST_TEST(back.due == s.due);
    BOOST_TEST(back.assign_requested == s.assign_requested);
  }
  dispatcher::state partial;
  dispatcher::from_json(json{{"order", "o9"}, {"st", "??"}}, partial);
  BOOST_TEST(partial.order_id == "o9");
  BOOST_TEST(!partial.exists);
  BOOST_TEST(partial.st == dispatcher::status::pending);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(technicians_state_machine)

BOOST_AUTO_TEST_CASE(assigns_the_least_loaded_round_robin_on_ties) {
  technicians::state s;
  s.id = "all";
  std::vector<std::string> got;
  for (int i = 0; i < 4; ++i) {
    auto o = turn(s, technicians::assign{"d" + std::to_string(i)}, three);
    BOOST_TEST(!o.err);
    BOOST_TEST(o.event == "assigned");
    got.push_back(o.reply["technician"].get<std::string>());
  }
  BOOST_TEST(got == (std::vector<std::string>{"ann", "bob", "cy", "ann"}));
  BOOST_TEST(s.load["ann"] == 2);
  // bob frees up: he is the least loaded now, whatever the rotation says.
  turn(s, technicians::recall{"d1"}, three);
  auto o = turn(s, technicians::assign{"d4"}, three);
  BOOST_TEST(o.reply["technician"] == "bob");
  o = turn(s, technicians::assign{"d5"}, three);
  BOOST_TEST(o.reply["technician"] == "cy"); // tie bob/cy: the one after bob
}

BOOST_AUTO_TEST_CASE(assign_is_idempotent_per_dispatch) {
  technicians::state s;
  auto o = turn(s, technicians::assign{"d1"}, three);
  auto name = o.reply["technician"];
  auto before = dump(s);
  for (int i = 0; i < 3; ++i) {
    o = turn(s, technicians::assign{"d1"}, three);
    BOOST_TEST(!o.err);
    BOOST_TEST(o.event.empty());
    BOOST_TEST(o.reply["technician"] == name);
  }
  BOOST_TEST(dump(s) == before);
  BOOST_TEST(s.load[name.get<std::string>()] == 1);
}

BOOST_AUTO_TEST_CASE(recall_frees_once_and_blocks_a_late_assign) {
  technicians::state s;
  turn(s, technicians::assign{"d1"}, three);
  auto o = turn(s, technicians::recall{"d1"}, three);
  BOOST_TEST(o.event == "recalled");
  BOOST_TEST(s.load["ann"] == 0);
  for (int i = 0; i < 3; ++i) {
    BOOST_TEST(turn(s, technicians::recall{"d1"}, three).event.empty());
  }
  BOOST_TEST(s.load["ann"] == 0);
  o = turn(s, technicians::assign{"d1"}, three);
  BOOST_REQUIRE(o.err);
  BOOST_TEST((o.err->code == errc::invalid_transition));
  // A recall that overtakes its assign blocks it too.
  o = turn(s, technicians::recall{"d2"}, three);
  BOOST_TEST(o.event == "recalled_before_assign");
  o = turn(s, technicians::assign{"d2"}, three);
  BOOST_REQUIRE(o.err);
  BOOST_TEST((o.err->code == errc::invalid_transition));
  BOOST_TEST(s.load["ann"] + s.load["bob"] + s.load["cy"] == 0);
}

BOOST_AUTO_TEST_CASE(nobody_configured_is_unavailable) {
  technicians::state s;
  for (const auto& cfg :
       {technicians::config{}, technicians::config{{"", ""}}}) {
    auto o = turn(s, technicians::assign{"d1"}, cfg);
    BOOST_REQUIRE(o.err);
    BOOST_TEST((o.err->code == errc::unavailable));
    BOOST_TEST(s.assignments.empty());
  }
  auto o = technicians::handle(s, technicians::assign{"d1"},
                               technicians::context{t0, nullptr});
  BOOST_REQUIRE(o.err);
  BOOST_TEST((o.err->code == errc::unavailable));
}

BOOST_AUTO_TEST_CASE(a_technician_dropped_from_the_roster_keeps_his_load) {
  technicians::state s;
  turn(s, technicians::assign{"d1"}, three); // ann
  technicians::config two{{"bob", "cy"}};
  auto o = turn(s, technicians::assign{"d2"}, two);
  BOOST_TEST(o.reply["technician"] == "bob");
  o = turn(s, technicians::recall{"d1"}, two);
  BOOST_TEST(o.event == "recalled");
  BOOST_TEST(s.load["ann"] == 0);
}

BOOST_AUTO_TEST_CASE(balanced_detects_broken_loads) {
  technicians::state s;
  turn(s, technicians::assign{"d1"}, three);
  BOOST_TEST(technicians::balanced(s));
  auto broken = s;
  broken.load["ann"] = 2;
  BOOST_TEST(!technicians::balanced(broken));
  broken = s;
  broken.load.erase("ann");
  BOOST_TEST(!technicians::balanced(broken));
  broken = s;
  broken.load["bob"] = -1;
  BOOST_TEST(!technicians::balanced(broken));
}

BOOST_AUTO_TEST_CASE(decode_reads_assign_and_recall) {
  auto r = technicians::decode(
    envelope{"x",
             {"technicians", "all"},
             "assign",
             json{{"dispatch_id", "o1:dispatch"}, {"order_id", "o1"}}});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(std::get<technicians::assign>(r.value()).dispatch_id
             == "o1:dispatch");
  BOOST_TEST(technicians::subject(r.value()) == "o1:dispatch");
  r = technicians::decode(
    envelope{"x",
             {"technicians", "all"},
             "recall",
             json{{"dispatch_id", "o1:dispatch"}, {"technician", "ann"}}});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(std::get<technicians::recall>(r.value()).dispatch_id
             == "o1:dispatch");
  std::vector<envelope> garbage{
    {"x", {"technicians", "all"}, "assign", json::object()},
    {"x", {"technicians", "all"}, "assign", json{{"dispatch_id", ""}}},
    {"x", {"technicians", "all"}, "recall", json{{"dispatch_id", 5}}},
    {"x", {"technicians", "all"}, "fire", json{{"dispatch_id", "d"}}},
    {"x", {"technicians", "all"}, "recall", json()},
  };
  for (const auto& e : garbage) {
    auto g = technicians::decode(e);
    BOOST_REQUIRE_MESSAGE(!g.ok(), e.type << " " << e.body.dump());
    BOOST_TEST((g.err().code == errc::bad_request));
  }
}

BOOST_AUTO_TEST_CASE(state_json_round_trips_whole_and_per_dispatch) {
  technicians::state s;
  s.id = "all";
  std::map<std::string, json> records;
  json header;
  for (const auto& in : {technicians::input{technicians::assign{"d1"}},
                         technicians::input{technicians::assign{"d2"}},
                         technicians::input{technicians::recall{"d1"}},
                         technicians::input{technicians::recall{"d3"}}}) {
    auto o = turn(s, in, three);
    BOOST_REQUIRE(!o.event.empty());
    header = technicians::header_to_json(s);
    BOOST_TEST(header.count("entries") == 0u);
    const auto& id = technicians::subject(in);
    records[id] = technicians::entries_to_json(s, id);
  }
  BOOST_TEST(technicians::entries_to_json(s, "nobody").is_null());
  json j;
  technicians::to_json(j, s);
  technicians::state whole;
  technicians::from_json(json::parse(j.dump()), whole);
  BOOST_TEST(dump(whole) == dump(s));
  technicians::state pieces;
  technicians::from_json(header, pieces);
  for (const auto& [id, e] : records) {
    technicians::entries_from_json(e, id, pieces);
  }
  BOOST_TEST(dump(pieces) == dump(s));
  BOOST_TEST(pieces.last == "bob");
  BOOST_TEST(technicians::balanced(pieces));
}

BOOST_AUTO_TEST_SUITE_END()

// -- message storm: dispatchers, the pool and simulated orders ---------------

namespace {

/// Several paid service orders, each with its dispatcher, sharing one pool.
/// Requests, answers and outbox messages wait in `pool` and are delivered
/// in random order, some twice, some answers lost. An order may be
/// refunded at any time (before the delay, while assigning, after).
struct dispatch_world {
  explicit dispatch_world(std::mt19937& r) : rng(r) {}

  struct order {
    dispatcher::state d;
    std::optional<millis> refund_at;
    bool refund_posted = false;
    millis timer_due = 0;
    int dispatched_msgs = 0;
    int recalls = 0;
    int assigned_events = 0;
  };
  struct mail {
    std::string to; ///< order id, or "" for the technicians
    std::optional<dispatcher::input> d;
    std::optional<technicians::input> t;
    /// For an assign request: whom to answer.
    std::string reply_to;
  };

  std::mt19937& rng;
  dispatcher::config cfg;
  technicians::config roster{{"ann", "bob"}};
  technicians::state techs;
  std::map<std::string, order> orders;
  std::vector<mail> pool;
  millis now = t0;

  int pick(int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng);
  }

  std::string status_of(const order& o) const {
    return o.refund_at && now >= *o.refund_at ? "REFUNDED" : "PAID";
  }

  void run_dispatcher(const std::string& id, const dispatcher::input& in) {
    auto& o = orders.at(id);
    auto before = dump(o.d);
    auto version = o.d.version;
    auto out = dispatcher::handle(o.d, in, dispatcher::context{now, &cfg});
    BOOST_REQUIRE(!out.err);
    if (out.event.empty()) {
      BOOST_REQUIRE(dump(o.d) == before);
    } else {
      BOOST_REQUIRE_EQUAL(o.d.version, version + 1);
    }
    o.assigned_events += out.event == "assigned" ? 1 : 0;
    for (const auto& t : out.timers) {
      o.timer_due = t.due;
    }
    for (const auto& e : out.outbox) {
      if (e.type == "dispatched") {
        ++o.dispatched_msgs;
      } else {
        BOOST_REQUIRE_EQUAL(e.type, "recall");
        ++o.recalls;
        auto in2 = technicians::decode(e);
        BOOST_REQUIRE(in2.ok());
        pool.push_back(mail{"", std::nullopt, in2.value(), ""});
      }
    }
    for (const auto& r : out.requests) {
      if (r.type == "status") {
        if (pick(0, 9) == 0) {
          continue; // lost
        }
        pool.push_back(mail{id,
                            dispatcher::input{dispatcher::status_reply{
                              std::nullopt, status_of(o)}},
                            std::nullopt, ""});
      } else {
        BOOST_REQUIRE_EQUAL(r.type, "assign");
        auto in2 = technicians::decode(r);
        BOOST_REQUIRE(in2.ok());
        pool.push_back(mail{"", std::nullopt, in2.value(), id});
      }
    }
  }

  void run_pool(const technicians::input& in, const std::string& reply_to) {
    auto out
      = technicians::handle(techs, in, technicians::context{now, &roster});
    BOOST_REQUIRE(technicians::balanced(techs));
    if (reply_to.empty() || pick(0, 9) == 0) {
      return; // an outbox recall, or a lost answer
    }
    auto back = dispatcher::decode(envelope{
      "", {"dispatcher", reply_to}, "assign.reply", reply_body("all", out)});
    BOOST_REQUIRE(back.ok());
    pool.push_back(mail{reply_to, back.value(), std::nullopt, ""});
  }

  void play(int n_orders) {
    for (int i = 0; i < n_orders; ++i) {
      auto id = "o" + std::to_string(i);
      auto& o = orders[id];
      o.d.order_id = id;
      if (pick(0, 1) == 0) {
        o.refund_at = t0 + pick(0, 200) * second;
      }
      pool.push_back(mail{id, dispatcher::input{dispatcher::order_paid{id, t0}},
                          std::nullopt, ""});
    }
    for (int step = 0; step < 20000; ++step) {
      for (auto& [id, o] : orders) {
        if (o.refund_at && now >= *o.refund_at && !o.refund_posted) {
          o.refund_posted = true;
          pool.push_back(mail{id,
                              dispatcher::input{dispatcher::order_refunded{id}},
                              std::nullopt, ""});
        }
        if (o.timer_due > 0 && now >= o.timer_due) {
          o.timer_due = 0;
          pool.push_back(
            mail{id, dispatcher::input{dispatcher::check{}}, std::nullopt, ""});
        }
      }
      if (!pool.empty()) {
        auto i = static_cast<std::size_t>(
          pick(0, static_cast<int>(pool.size()) - 1));
        auto m = pool[i];
        if (pick(0, 3) != 0) {
          pool.erase(pool.begin() + static_cast<std::ptrdiff_t>(i));
        }
        if (m.d) {
          run_dispatcher(m.to, *m.d);
        } else {
          run_pool(*m.t, m.reply_to);
        }
      }
      bool quiet = pool.empty();
      for (const auto& [id, o] : orders) {
        quiet = quiet && o.timer_due == 0 && (!o.refund_at || o.refund_posted);
      }
      if (quiet) {
        return;
      }
      if (pool.empty() || pick(0, 3) == 0) {
        now += pick(0, 20) * second;
      }
    }
    BOOST_FAIL("the dispatchers never settled");
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(dispatcher_with_technicians)

BOOST_AUTO_TEST_CASE(message_storm_assigns_once_and_recalls_every_refund) {
  std::mt19937 rng(9001);
  int assigned = 0, suppressed = 0, recalled = 0;
  for (int round = 0; round < 150; ++round) {
    dispatch_world w(rng);
    w.play(6);
    std::set<std::string> holding; // dispatches that keep a technician
    for (const auto& [id, o] : w.orders) {
      const auto& d = o.d;
      BOOST_REQUIRE(d.exists);
      BOOST_REQUIRE_LE(o.assigned_events, 1);
      BOOST_REQUIRE_LE(o.dispatched_msgs, 1);
      BOOST_REQUIRE_EQUAL(o.dispatched_msgs, o.assigned_events);
      BOOST_REQUIRE_LE(o.recalls, 1);
      switch (d.st) {
        case dispatcher::status::pending:
          BOOST_FAIL("dispatch " + id + " still pending");
          break;
        case dispatcher::status::assigned:
          BOOST_REQUIRE(!o.refund_at); // a refunded order is never kept
          BOOST_REQUIRE(!d.technician.empty());
          holding.insert(d.dispatch_id);
          ++assigned;
          break;
        case dispatcher::status::suppressed:
          BOOST_REQUIRE(o.refund_at);
          BOOST_REQUIRE_EQUAL(o.dispatched_msgs, 0);
          ++suppressed;
          break;
        case dispatcher::status::recalled:
          BOOST_REQUIRE(o.refund_at);
          BOOST_REQUIRE_EQUAL(o.dispatched_msgs, 1);
          BOOST_REQUIRE_EQUAL(o.recalls, 1);
          ++recalled;
          break;
      }
      if (!o.refund_at) {
        BOOST_REQUIRE(d.st == dispatcher::status::assigned);
      }
    }
    // The pool holds exactly the kept dispatches: no technician leaked.
    BOOST_REQUIRE(technicians::balanced(w.techs));
    std::set<std::string> active;
    for (const auto& [id, a] : w.techs.assignments) {
      if (a.active) {
        active.insert(id);
        BOOST_REQUIRE_EQUAL(
          a.technician, w.orders.at(id.substr(0, id.find(':'))).d.technician);
      }
    }
    BOOST_REQUIRE(active == holding);
  }
  BOOST_TEST_MESSAGE("dispatch storm: " << assigned << " assigned, "
                                        << suppressed << " suppressed, "
                                        << recalled << " recalled");
  BOOST_TEST(suppressed > 50);
  BOOST_TEST(recalled > 20);
}

BOOST_AUTO_TEST_SUITE_END()
