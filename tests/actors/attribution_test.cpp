// Tests of the affiliate commission state machine (DESIGN.md rule 7).

#include <algorithm>
#include <map>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "actors/attribution.hpp"

using namespace ordo::actors;
using nlohmann::json;

namespace ordo::actors::attribution {
// Lets BOOST_TEST print statuses and totals on failure.
std::ostream& operator<<(std::ostream& os, status st) {
  return os << to_string(st);
}
std::ostream& operator<<(std::ostream& os, const totals& t) {
  return os << "{pending " << t.pending << ", invalid " << t.invalid
            << ", settled " << t.settled << ", clawback " << t.clawback << "}";
}
} // namespace ordo::actors::attribution

namespace {

constexpr millis t0 = 1'700'000'000'000;

const attribution::config acfg{};

attribution::state fresh() {
  attribution::state s;
  s.affiliate_id = "aff1";
  return s;
}

std::string dump(const attribution::state& s) {
  json j;
  attribution::to_json(j, s);
  return j.dump();
}

/// Runs `in` and checks the bookkeeping every turn must keep.
outcome turn(attribution::state& s, const attribution::input& in,
             millis now = t0) {
  auto before = dump(s);
  auto version = s.version;
  auto o = attribution::handle(s, in, attribution::context{now, &acfg});
  BOOST_TEST(attribution::balanced(s));
  BOOST_TEST(o.outbox.empty()); // the affiliate never sends anything
  if (o.event.empty()) {
    BOOST_TEST(dump(s) == before);
  } else {
    BOOST_TEST(s.version == version + 1);
    BOOST_TEST(s.updated_at == now);
  }
  return o;
}

attribution::totals totals_of(std::int64_t pending, std::int64_t invalid,
                              std::int64_t settled, std::int64_t clawback = 0) {
  return attribution::totals{pending, invalid, settled, clawback};
}

bool has_signal(const outcome& o, const std::string& name) {
  return std::find(o.signals.begin(), o.signals.end(), name) != o.signals.end();
}

} // namespace

BOOST_AUTO_TEST_SUITE(attribution_state_machine)

BOOST_AUTO_TEST_CASE(status_names_match_the_api) {
  using attribution::status;
  BOOST_TEST(attribution::to_string(status::pending) == "PENDING");
  BOOST_TEST(attribution::to_string(status::invalid) == "INVALID");
  BOOST_TEST(attribution::to_string(status::settled) == "SETTLED");
  BOOST_TEST((attribution::parse_status("SETTLED") == status::settled));
  BOOST_TEST(!attribution::parse_status("x"));
}

BOOST_AUTO_TEST_CASE(create_makes_a_pending_commission) {
  auto s = fresh();
  auto o = turn(s, attribution::pending{"o1", 174}, t0 + 5);
  BOOST_TEST(!o.err);
  BOOST_TEST(o.event == "pending");
  BOOST_TEST(!o.cause.empty());
  BOOST_REQUIRE_EQUAL(s.entries.count("o1"), 1u);
  const auto& e = s.entries.at("o1");
  BOOST_TEST(e.amount == 174);
  BOOST_TEST(e.known);
  BOOST_TEST(e.st == attribution::status::pending);
  BOOST_TEST(s.sums == totals_of(174, 0, 0));
  BOOST_TEST(s.version == 1u);
}

BOOST_AUTO_TEST_CASE(cancel_turns_pending_into_invalid) {
  auto s = fresh();
  turn(s, attribution::pending{"o1", 174});
  auto o = turn(s, attribution::invalidate{"o1"});
  BOOST_TEST(o.event == "invalidated");
  BOOST_TEST(s.entries.at("o1").st == attribution::status::invalid);
  BOOST_TEST(s.entries.at("o1").amount == 174);
  BOOST_TEST(s.sums == totals_of(0, 174, 0));
}

BOOST_AUTO_TEST_CASE(completion_turns_pending_into_settled) {
  auto s = fresh();
  turn(s, attribution::pending{"o1", 174});
  auto o = turn(s, attribution::settle{"o1"});
  BOOST_TEST(o.event == "settled");
  BOOST_TEST(s.entries.at("o1").st == attribution::status::settled);
  BOOST_TEST(s.sums == totals_of(0, 0, 174));
}

BOOST_AUTO_TEST_CASE(a_cancelled_order_never_settles) {
  auto s = fresh();
  turn(s, attribution::pending{"o1", 174});
  turn(s, attribution::invalidate{"o1"});
  auto o = turn(s, attribution::settle{"o1"});
  BOOST_TEST(!o.err);
  BOOST_TEST(o.event.empty());
  BOOST_TEST(s.entries.at("o1").st == attribution::status::invalid);
  BOOST_TEST(s.sums == totals_of(0, 174, 0));
}

BOOST_AUTO_TEST_CASE(repeated_messages_change_nothing) {
  auto s = fresh();
  turn(s, attribution::pending{"o1", 174});
  auto before = dump(s);
  // A repeat, even one with another amount, keeps the first.
  BOOST_TEST(turn(s, attribution::pending{"o1", 174}).event.empty());
  BOOST_TEST(turn(s, attribution::pending{"o1", 999}).event.empty());
  BOOST_TEST(dump(s) == before);
  turn(s, attribution::settle{"o1"});
  before = dump(s);
  BOOST_TEST(turn(s, attribution::settle{"o1"}).event.empty());
  BOOST_TEST(turn(s, attribution::pending{"o1", 174}).event.empty());
  BOOST_TEST(dump(s) == before);

  turn(s, attribution::pending{"o2", 50});
  turn(s, attribution::invalidate{"o2"});
  before = dump(s);
  BOOST_TEST(turn(s, attribution::invalidate{"o2"}).event.empty());
  BOOST_TEST(turn(s, attribution::pending{"o2", 50}).event.empty());
  BOOST_TEST(dump(s) == before);
}

BOOST_AUTO_TEST_CASE(refund_after_settlement_flags_one_clawback) {
  auto s = fresh();
  turn(s, attribution::pending{"o1", 174});
  turn(s, attribution::settle{"o1"});
  auto o = turn(s, attribution::invalidate{"o1"});
  BOOST_TEST(o.event == "clawback_needed");
  BOOST_TEST(has_signal(o, "commission_clawback_needed"));
  const auto& e = s.entries.at("o1");
  BOOST_TEST(e.st == attribution::status::settled);
  BOOST_TEST(e.clawback);
  BOOST_TEST(s.sums == totals_of(0, 0, 174, 174));
  o = turn(s, attribution::invalidate{"o1"});
  BOOST_TEST(o.event.empty());
  BOOST_TEST(o.signals.empty());
}

BOOST_AUTO_TEST_CASE(a_verdict_that_overtakes_its_pending_is_kept) {
  auto s = fresh();
  auto o = turn(s, attribution::invalidate{"o1"});
  BOOST_TEST(o.event == "invalidated");
  BOOST_TEST(!s.entries.at("o1").known);
  BOOST_TEST(s.sums == totals_of(0, 0, 0));
  o = turn(s, attribution::pending{"o1", 174});
  BOOST_TEST(o.event == "amount_recorded");
  BOOST_TEST(s.entries.at("o1").st == attribution::status::invalid);
  BOOST_TEST(s.entries.at("o1").known);
  BOOST_TEST(s.sums == totals_of(0, 174, 0));
  BOOST_TEST(turn(s, attribution::pending{"o1", 174}).event.empty());

  o = turn(s, attribution::settle{"o2"});
  BOOST_TEST(o.event == "settled");
  o = turn(s, attribution::pending{"o2", 80});
  BOOST_TEST(o.event == "amount_recorded");
  BOOST_TEST(s.entries.at("o2").st == attribution::status::settled);
  BOOST_TEST(s.sums == totals_of(0, 174, 80));
}

BOOST_AUTO_TEST_CASE(totals_sum_each_status) {
  auto s = fresh();
  turn(s, attribution::pending{"o1", 100});
  turn(s, attribution::pending{"o2", 20});
  turn(s, attribution::pending{"o3", 3});
  turn(s, attribution::pending{"o4", 4000});
  turn(s, attribution::pending{"o5", 0}); // rounded down to nothing
  turn(s, attribution::invalidate{"o2"});
  turn(s, attribution::settle{"o3"});
  turn(s, attribution::settle{"o4"});
  turn(s, attribution::invalidate{"o4"});
  BOOST_TEST(s.sums == totals_of(100, 20, 4003, 4000));
  BOOST_TEST(attribution::sum(s) == s.sums);
  BOOST_TEST(attribution::balanced(s));
}

BOOST_AUTO_TEST_CASE(negative_amount_is_a_bad_request) {
  auto s = fresh();
  auto o = turn(s, attribution::pending{"o1", -1});
  BOOST_REQUIRE(o.err);
  BOOST_TEST((o.err->code == errc::bad_request));
  BOOST_TEST(s.entries.empty());
}

BOOST_AUTO_TEST_CASE(balanced_detects_broken_sums) {
  auto s = fresh();
  turn(s, attribution::pending{"o1", 100});
  auto broken = s;
  broken.sums.pending = 99;
  BOOST_TEST(!attribution::balanced(broken));
  broken = s;
  broken.entries["o1"].clawback = true; // only a SETTLED entry may be
  BOOST_TEST(!attribution::balanced(broken));
}

BOOST_AUTO_TEST_CASE(decode_reads_what_orders_send) {
  auto r
    = attribution::decode(envelope{"x",
                                   {"affiliate", "aff1"},
                                   "pending",
                                   json{{"order_id", "o1"}, {"amount", 5}}});
  BOOST_REQUIRE(r.ok());
  auto p = std::get<attribution::pending>(r.value());
  BOOST_TEST(p.order_id == "o1");
  BOOST_TEST(p.amount == 5);
  r = attribution::decode(envelope{
    "x", {"affiliate", "aff1"}, "invalidate", json{{"order_id", "o1"}}});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(std::get<attribution::invalidate>(r.value()).order_id == "o1");
  r = attribution::decode(
    envelope{"x", {"affiliate", "aff1"}, "settle", json{{"order_id", "o1"}}});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(std::get<attribution::settle>(r.value()).order_id == "o1");
  BOOST_TEST(attribution::subject(r.value()) == "o1");
}

BOOST_AUTO_TEST_CASE(decode_rejects_garbage_as_bad_request) {
  std::vector<envelope> garbage{
    {"x", {"affiliate", "a"}, "pending", json{{"order_id", "o1"}}},
    {"x",
     {"affiliate", "a"},
     "pending",
     json{{"order_id", "o1"}, {"amount", -1}}},
    {"x",
     {"affiliate", "a"},
     "pending",
     json{{"order_id", "o1"}, {"amount", 1.5}}},
    {"x",
     {"affiliate", "a"},
     "pending",
     json{{"order_id", "o1"}, {"amount", 18446744073709551615ull}}},
    {"x", {"affiliate", "a"}, "pending", json{{"amount", 1}}},
    {"x", {"affiliate", "a"}, "settle", json{{"order_id", ""}}},
    {"x", {"affiliate", "a"}, "invalidate", json{{"order_id", 3}}},
    {"x", {"affiliate", "a"}, "timer", json{{"name", "x"}}},
    {"x", {"affiliate", "a"}, "settle", json::array()},
    {"x", {"affiliate", "a"}, "settle", json()},
    {"x", {"affiliate", "a"}, "", json{{"order_id", "o1"}}},
  };
  for (const auto& e : garbage) {
    auto r = attribution::decode(e);
    BOOST_REQUIRE_MESSAGE(!r.ok(), e.type << " " << e.body.dump());
    BOOST_TEST((r.err().code == errc::bad_request));
  }
}

BOOST_AUTO_TEST_CASE(state_json_round_trips) {
  auto s = fresh();
  turn(s, attribution::pending{"o1", 100});
  turn(s, attribution::pending{"o2", 20});
  turn(s, attribution::invalidate{"o2"});
  turn(s, attribution::settle{"o3"});
  turn(s, attribution::pending{"o4", 7});
  turn(s, attribution::settle{"o4"});
  turn(s, attribution::invalidate{"o4"});
  json j;
  attribution::to_json(j, s);
  attribution::state back;
  attribution::from_json(json::parse(j.dump()), back);
  BOOST_TEST(dump(back) == j.dump());
  BOOST_TEST(back.affiliate_id == "aff1");
  BOOST_TEST(back.version == s.version);
  BOOST_TEST(back.sums == s.sums);
  BOOST_TEST(back.entries.size() == 4u);
  BOOST_TEST(!back.entries.at("o3").known);
  BOOST_TEST(back.entries.at("o4").clawback);
  BOOST_TEST(attribution::balanced(back));

  attribution::state partial;
  attribution::from_json(json{{"id", "aff2"}}, partial);
  BOOST_TEST(partial.affiliate_id == "aff2");
  BOOST_TEST(partial.entries.empty());
  BOOST_TEST(attribution::balanced(partial));
}

BOOST_AUTO_TEST_CASE(header_and_one_record_per_order_rebuild_the_state) {
  // What the runtime stores: the header, and per turn the entry of the
  // input's subject (null = delete).
  auto s = fresh();
  std::map<std::string, json> records;
  json header;
  for (const auto& in : {attribution::input{attribution::pending{"o1", 100}},
                         attribution::input{attribution::pending{"o2", 20}},
                         attribution::input{attribution::invalidate{"o2"}},
                         attribution::input{attribution::settle{"o3"}}}) {
    auto o = turn(s, in);
    BOOST_REQUIRE(!o.event.empty());
    header = attribution::header_to_json(s);
    BOOST_TEST(header.count("entries") == 0u);
    const auto& id = attribution::subject(in);
    records[id] = attribution::entries_to_json(s, id);
  }
  BOOST_TEST(attribution::entries_to_json(s, "nobody").is_null());
  attribution::state back;
  attribution::from_json(header, back);
  for (const auto& [id, e] : records) {
    attribution::entries_from_json(e, id, back);
  }
  BOOST_TEST(dump(back) == dump(s));
}

BOOST_AUTO_TEST_CASE(message_storm_ends_in_the_rule_7_outcome) {
  // Forty orders, each with a lifecycle (cancelled, completed, refunded
  // after payment, refunded after completion, still pending); their
  // messages are delivered shuffled and each up to three times.
  enum class life { cancelled, completed, refunded, refunded_late, open };
  std::mt19937 rng(7);
  auto pick = [&rng](int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng);
  };
  for (int round = 0; round < 50; ++round) {
    auto s = fresh();
    std::map<std::string, std::pair<life, std::int64_t>> orders;
    std::vector<attribution::input> mail;
    for (int i = 0; i < 40; ++i) {
      auto id = "o" + std::to_string(i);
      auto l = static_cast<life>(pick(0, 4));
      std::int64_t amount = pick(0, 5000);
      orders[id] = {l, amount};
      std::vector<attribution::input> sent{attribution::pending{id, amount}};
      switch (l) {
        case life::cancelled:
        case life::refunded: sent.push_back(attribution::invalidate{id}); break;
        case life::completed: sent.push_back(attribution::settle{id}); break;
        case life::refunded_late:
          sent.push_back(attribution::settle{id});
          sent.push_back(attribution::invalidate{id});
          break;
        case life::open: break;
      }
      for (const auto& m : sent) {
        for (int k = pick(1, 3); k > 0; --k) {
          mail.push_back(m);
        }
      }
    }
    std::shuffle(mail.begin(), mail.end(), rng);
    int clawbacks = 0;
    for (const auto& m : mail) {
      auto before = dump(s);
      auto version = s.version;
      auto o = attribution::handle(s, m, attribution::context{t0, &acfg});
      BOOST_REQUIRE(!o.err);
      BOOST_REQUIRE(attribution::balanced(s));
      if (o.event.empty()) {
        BOOST_REQUIRE(dump(s) == before);
      } else {
        BOOST_REQUIRE_EQUAL(s.version, version + 1);
      }
      clawbacks += has_signal(o, "commission_clawback_needed") ? 1 : 0;
    }
    int late_refunds_settled = 0;
    attribution::totals want;
    for (const auto& [id, lo] : orders) {
      auto [l, amount] = lo;
      const auto& e = s.entries.at(id);
      BOOST_REQUIRE(e.known);
      BOOST_REQUIRE_EQUAL(e.amount, amount);
      switch (l) {
        case life::cancelled:
        case life::refunded:
          // A cancelled order never pays commission.
          BOOST_REQUIRE(e.st == attribution::status::invalid);
          want.invalid += amount;
          break;
        case life::completed:
          BOOST_REQUIRE(e.st == attribution::status::settled);
          BOOST_REQUIRE(!e.clawback);
          want.settled += amount;
          break;
        case life::refunded_late:
          // In send order: SETTLED then a clawback; overtaken by the
          // refund: never settled at all.
          if (e.st == attribution::status::settled) {
            BOOST_REQUIRE(e.clawback);
            ++late_refunds_settled;
            want.settled += amount;
            want.clawback += amount;
          } else {
            BOOST_REQUIRE(e.st == attribution::status::invalid);
            want.invalid += amount;
          }
          break;
        case life::open:
          BOOST_REQUIRE(e.st == attribution::status::pending);
          want.pending += amount;
          break;
      }
    }
    BOOST_REQUIRE_EQUAL(clawbacks, late_refunds_settled);
    BOOST_REQUIRE_EQUAL(s.sums, want);
  }
}

BOOST_AUTO_TEST_SUITE_END()
