// Tests of the sales report state machine (DESIGN.md rule 12).

#include <algorithm>
#include <map>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "actors/reports.hpp"

using namespace ordo::actors;
using nlohmann::json;
// The suite below is the namespace ::reports, so the machine goes by `rep`.
namespace rep = ordo::actors::reports;

namespace ordo::actors::reports {
// Lets BOOST_TEST print tallies and rankings on failure.
std::ostream& operator<<(std::ostream& os, const tally& t) {
  return os << "{count " << t.count << ", amount " << t.amount << "}";
}
std::ostream& operator<<(std::ostream& os, const user_count& u) {
  return os << u.user_id << ":" << u.count;
}
} // namespace ordo::actors::reports

namespace {

using rep::event_kind;

constexpr millis t0 = 1'700'000'000'000;

const rep::config rcfg{};

rep::state fresh(const std::string& shard = "o0000") {
  rep::state s;
  s.shard = shard;
  return s;
}

std::string dump(const rep::state& s) {
  json j;
  rep::to_json(j, s);
  return j.dump();
}

rep::record rec(event_kind what, std::string order_id, std::string user_id,
                std::int64_t amount, bool flash = false) {
  return rep::record{what, std::move(order_id), std::move(user_id), amount,
                     flash};
}

rep::record flash_cancel(std::string order_id, std::string user_id,
                         std::int64_t amount = 100) {
  return rec(event_kind::cancelled, std::move(order_id), std::move(user_id),
             amount, true);
}

/// Runs `in` and checks the bookkeeping every turn must keep.
outcome turn(rep::state& s, const rep::input& in, millis now = t0,
             const rep::config& cfg = rcfg) {
  auto before = dump(s);
  auto version = s.version;
  auto o = rep::handle(s, in, rep::context{now, &cfg});
  BOOST_TEST(o.outbox.empty()); // the report never sends anything
  if (o.event.empty()) {
    BOOST_TEST(dump(s) == before);
  } else {
    BOOST_TEST(o.event == "counted");
    BOOST_TEST(!o.cause.empty());
    BOOST_TEST(s.version == version + 1);
    BOOST_TEST(s.updated_at == now);
  }
  return o;
}

rep::tally tally_of(std::int64_t count, std::int64_t amount) {
  return rep::tally{count, amount};
}

/// The ranking computed the slow way.
std::vector<rep::user_count>
brute_force_top(const std::map<std::string, std::int64_t>& counts,
                std::size_t n) {
  std::vector<rep::user_count> all;
  for (const auto& [user_id, count] : counts) {
    all.push_back(rep::user_count{user_id, count});
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return a.count > b.count || (a.count == b.count && a.user_id < b.user_id);
  });
  if (all.size() > n) {
    all.resize(n);
  }
  return all;
}

envelope msg(const std::string& type, json body) {
  return envelope{"x", {"report", "o0000"}, type, std::move(body)};
}

} // namespace

BOOST_AUTO_TEST_SUITE(reports)

BOOST_AUTO_TEST_CASE(event_kind_names_are_the_message_types) {
  BOOST_TEST(rep::to_string(event_kind::placed) == "placed");
  BOOST_TEST(rep::to_string(event_kind::paid) == "paid");
  BOOST_TEST(rep::to_string(event_kind::cancelled) == "cancelled");
  BOOST_TEST(rep::to_string(event_kind::refunded) == "refunded");
  BOOST_TEST(rep::to_string(event_kind::manual) == "manual");
  BOOST_TEST(std::string{rep::kind} == "report");
}

BOOST_AUTO_TEST_CASE(placed_paid_cancelled_refunded_are_kept_apart) {
  auto s = fresh();
  turn(s, rec(event_kind::placed, "o1", "u1", 1000), t0 + 1);
  turn(s, rec(event_kind::placed, "o2", "u2", 250), t0 + 2);
  turn(s, rec(event_kind::placed, "o3", "u1", 40), t0 + 3);
  turn(s, rec(event_kind::paid, "o1", "u1", 1000), t0 + 4);
  turn(s, rec(event_kind::cancelled, "o2", "u2", 250), t0 + 5);
  turn(s, rec(event_kind::refunded, "o1", "u1", 1000), t0 + 6);
  auto o = turn(s, rec(event_kind::manual, "o3", "u1", 40), t0 + 7);
  BOOST_TEST(!o.err);
  BOOST_TEST(s.placed == tally_of(3, 1290)); // GMV
  BOOST_TEST(s.paid == tally_of(1, 1000));
  BOOST_TEST(s.cancelled == tally_of(1, 250));
  BOOST_TEST(s.refunded == tally_of(1, 1000));
  BOOST_TEST(s.manual == tally_of(1, 40));
  BOOST_TEST(s.flash == tally_of(0, 0));
  BOOST_TEST(s.flash_by_user.empty());
  BOOST_TEST(s.top.empty());
  BOOST_TEST(s.version == 7u);
  BOOST_TEST(s.updated_at == t0 + 7);
}

BOOST_AUTO_TEST_CASE(every_message_is_counted_the_runtime_dedupes) {
  auto s = fresh();
  turn(s, rec(event_kind::paid, "o1", "u1", 300));
  turn(s, rec(event_kind::paid, "o1", "u1", 300));
  BOOST_TEST(s.paid == tally_of(2, 600));
  // A zero amount (a free order) is still a placed order.
  turn(s, rec(event_kind::placed, "o2", "u1", 0));
  BOOST_TEST(s.placed == tally_of(1, 0));
}

BOOST_AUTO_TEST_CASE(a_flash_cancel_counts_per_user_and_in_flash) {
  auto s = fresh();
  auto o = turn(s, flash_cancel("o1", "u1", 500));
  BOOST_TEST(!o.err);
  turn(s, flash_cancel("o2", "u1", 70));
  turn(s, flash_cancel("o3", "u2", 9));
  turn(s, rec(event_kind::cancelled, "o4", "u3", 1)); // not a flash cancel
  BOOST_TEST(s.cancelled == tally_of(4, 580));
  BOOST_TEST(s.flash == tally_of(3, 579));
  BOOST_REQUIRE_EQUAL(s.flash_by_user.size(), 2u);
  BOOST_TEST(s.flash_by_user.at("u1") == 2);
  BOOST_TEST(s.flash_by_user.at("u2") == 1);
  BOOST_REQUIRE_EQUAL(s.top.size(), 2u);
  BOOST_TEST(s.top[0] == (rep::user_count{"u1", 2}));
  BOOST_TEST(s.top[1] == (rep::user_count{"u2", 1}));
}

BOOST_AUTO_TEST_CASE(top_ranks_ties_by_user_id_and_cuts_at_top_n) {
  rep::config small{3};
  auto s = fresh();
  for (const char* u : {"ud", "uc", "ub", "ua"}) {
    turn(s, flash_cancel(std::string{"o-"} + u, u), t0, small);
  }
  // All at one: the first three by user id.
  BOOST_TEST(s.top == brute_force_top(s.flash_by_user, 3),
             boost::test_tools::per_element());
  BOOST_TEST(s.top[0].user_id == "ua");
  BOOST_TEST(s.top[2].user_id == "uc");
  // "ud" pulls ahead of everyone and pushes out "uc".
  turn(s, flash_cancel("o-ud2", "ud"), t0, small);
  BOOST_REQUIRE_EQUAL(s.top.size(), 3u);
  BOOST_TEST(s.top[0] == (rep::user_count{"ud", 2}));
  BOOST_TEST(s.top[1] == (rep::user_count{"ua", 1}));
  BOOST_TEST(s.top[2] == (rep::user_count{"ub", 1}));

  rep::config none{0};
  turn(s, flash_cancel("o-ue", "ue"), t0, none);
  BOOST_TEST(s.top.empty());
  BOOST_TEST(s.flash_by_user.at("ue") == 1);
}

BOOST_AUTO_TEST_CASE(top_users_stay_exact_under_a_random_stream) {
  std::mt19937 rng(12);
  for (std::size_t top_n :
       {std::size_t{1}, std::size_t{3}, std::size_t{10}, std::size_t{60}}) {
    rep::config cfg{top_n};
    auto s = fresh();
    // Skewed: a few users cancel much more often, so the ranking churns.
    std::discrete_distribution<int> user(50, 0.0, 50.0, [](double x) {
      return 1.0 + (x < 5 ? 20.0 : 0.0) + (x < 15 ? 5.0 : 0.0);
    });
    for (int i = 0; i < 2000; ++i) {
      auto u = "u" + std::to_string(user(rng));
      rep::input in = flash_cancel("o" + std::to_string(i), u);
      auto o = rep::handle(s, in, rep::context{t0 + i, &cfg});
      BOOST_REQUIRE(!o.err);
      auto want = brute_force_top(s.flash_by_user, top_n);
      BOOST_REQUIRE_MESSAGE(s.top == want, "top_n " << top_n << " step " << i);
    }
    BOOST_TEST(s.flash.count == 2000);
  }
}

BOOST_AUTO_TEST_CASE(top_follows_a_changed_top_n) {
  auto s = fresh();
  rep::config three{3};
  rep::config five{5};
  for (int i = 0; i < 8; ++i) {
    for (int k = 0; k <= i; ++k) {
      turn(s,
           flash_cancel("o" + std::to_string(i) + "-" + std::to_string(k),
                        "u" + std::to_string(i)),
           t0, three);
    }
  }
  BOOST_TEST(s.top == brute_force_top(s.flash_by_user, 3),
             boost::test_tools::per_element());
  turn(s, flash_cancel("oa", "u0"), t0, five);
  BOOST_TEST(s.top == brute_force_top(s.flash_by_user, 5),
             boost::test_tools::per_element());
  turn(s, flash_cancel("ob", "u1"), t0, three);
  BOOST_TEST(s.top == brute_force_top(s.flash_by_user, 3),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(merge_sums_shards_and_merges_top_users) {
  auto a = fresh("o0001");
  auto b = fresh("o0002");
  turn(a, rec(event_kind::placed, "o0001-1", "u1", 100));
  turn(a, rec(event_kind::paid, "o0001-1", "u1", 100));
  turn(a, flash_cancel("o0001-2", "u1", 30));
  turn(a, flash_cancel("o0001-3", "u1", 30));
  turn(a, flash_cancel("o0001-4", "u2", 5));
  turn(b, rec(event_kind::placed, "o0002-1", "u3", 900));
  turn(b, rec(event_kind::refunded, "o0002-1", "u3", 900));
  turn(b, rec(event_kind::manual, "o0002-2", "u3", 1));
  turn(b, flash_cancel("o0002-3", "u2", 7));
  turn(b, flash_cancel("o0002-4", "u2", 7));
  turn(b, flash_cancel("o0002-5", "u3", 7));

  auto t = rep::merge({a, b}, 10);
  BOOST_TEST(t.placed == tally_of(2, 1000));
  BOOST_TEST(t.paid == tally_of(1, 100));
  BOOST_TEST(t.cancelled == tally_of(6, 86));
  BOOST_TEST(t.refunded == tally_of(1, 900));
  BOOST_TEST(t.manual == tally_of(1, 1));
  BOOST_TEST(t.flash == tally_of(6, 86));
  std::vector<rep::user_count> want{{"u2", 3}, {"u1", 2}, {"u3", 1}};
  BOOST_TEST(t.top == want, boost::test_tools::per_element());

  auto cut = rep::merge({a, b}, 1);
  BOOST_REQUIRE_EQUAL(cut.top.size(), 1u);
  BOOST_TEST(cut.top[0] == (rep::user_count{"u2", 3}));

  // Shards read without their entries contribute their ranking.
  auto ha = a;
  ha.flash_by_user.clear();
  auto hb = b;
  hb.flash_by_user.clear();
  BOOST_TEST(rep::merge({ha, hb}, 10).top == want,
             boost::test_tools::per_element());

  auto empty = rep::merge({}, 10);
  BOOST_TEST(empty.placed == tally_of(0, 0));
  BOOST_TEST(empty.top.empty());
}

BOOST_AUTO_TEST_CASE(merge_is_exact_beyond_each_shards_top) {
  // u9 is below the cut in both shards but first overall.
  rep::config two{2};
  auto a = fresh("o0001");
  auto b = fresh("o0002");
  for (int i = 0; i < 3; ++i) {
    turn(a, flash_cancel("o0001-a" + std::to_string(i), "ua"), t0, two);
    turn(a, flash_cancel("o0001-b" + std::to_string(i), "ub"), t0, two);
    turn(b, flash_cancel("o0002-c" + std::to_string(i), "uc"), t0, two);
    turn(b, flash_cancel("o0002-d" + std::to_string(i), "ud"), t0, two);
  }
  for (int i = 0; i < 2; ++i) {
    turn(a, flash_cancel("o0001-9" + std::to_string(i), "u9"), t0, two);
    turn(b, flash_cancel("o0002-9" + std::to_string(i), "u9"), t0, two);
  }
  BOOST_TEST(a.top.size() == 2u);
  auto t = rep::merge({a, b}, 2);
  std::vector<rep::user_count> want{{"u9", 4}, {"ua", 3}};
  BOOST_TEST(t.top == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(bad_records_change_nothing) {
  auto s = fresh();
  turn(s, flash_cancel("o1", "u1"));
  std::vector<rep::record> bad{
    rec(event_kind::placed, "", "u1", 100),
    rec(event_kind::paid, "o2", "u1", -1),
    flash_cancel("o3", "u1", -5),
    rec(event_kind::placed, "o4", "u1", 100, true),
    rec(event_kind::paid, "o5", "u1", 100, true),
    rec(event_kind::refunded, "o6", "u1", 100, true),
    rec(event_kind::manual, "o7", "u1", 100, true),
    flash_cancel("o8", ""),
  };
  for (const auto& r : bad) {
    auto o = turn(s, r);
    BOOST_REQUIRE(o.err);
    BOOST_TEST((o.err->code == errc::bad_request));
    BOOST_TEST(o.event.empty());
    BOOST_TEST(o.additions.empty());
    outcome counted;
    BOOST_TEST(rep::count(r, counted).has_value());
    BOOST_TEST(counted.additions.empty());
  }
  BOOST_TEST(s.version == 1u);
  BOOST_TEST(s.cancelled == tally_of(1, 100));
  BOOST_TEST(s.placed == tally_of(0, 0));
}

// An order counts its transition with count(); a message from an order of
// an earlier version is counted by handle() through the same additions.
BOOST_AUTO_TEST_CASE(count_adds_to_the_shard_of_the_order) {
  outcome o;
  BOOST_REQUIRE(!rep::count(flash_cancel("o002a-77", "u5", 300), o));
  BOOST_REQUIRE_EQUAL(o.additions.size(), 2u);
  const auto& user = o.additions[0];
  BOOST_TEST(user.to.kind == rep::kind);
  BOOST_TEST(user.to.id == "o002a");
  BOOST_TEST(user.part == std::string{rep::user_part} + "u5");
  BOOST_TEST((user.values == std::vector<std::int64_t>{1}));
  const auto& sums = o.additions[1];
  BOOST_TEST(sums.to.id == "o002a");
  BOOST_TEST(sums.part == rep::sums_part);
  auto s = fresh("o002a");
  for (const auto& a : o.additions) {
    BOOST_REQUIRE(rep::add_sums(s, a.part, a.values));
  }
  BOOST_TEST(s.version == 1u);
  BOOST_TEST(s.cancelled == tally_of(1, 300));
  BOOST_TEST(s.flash == tally_of(1, 300));
  BOOST_TEST(s.placed == tally_of(0, 0));
  BOOST_TEST(s.flash_by_user.at("u5") == 1);
  BOOST_TEST(!rep::add_sums(s, "sum", {1, 2})); // too short
  BOOST_TEST(!rep::add_sums(s, "other", {1}));
  BOOST_TEST(s.version == 1u);

  auto legacy = fresh("o002a");
  auto h = turn(legacy, flash_cancel("o002a-77", "u5", 300));
  BOOST_REQUIRE_EQUAL(h.additions.size(), o.additions.size());
  for (std::size_t i = 0; i < o.additions.size(); ++i) {
    BOOST_TEST(h.additions[i].part == o.additions[i].part);
    BOOST_TEST((h.additions[i].values == o.additions[i].values));
  }
}

BOOST_AUTO_TEST_CASE(decode_reads_what_orders_send) {
  auto r = rep::decode(msg("cancelled", json{{"order_id", "o1"},
                                             {"user_id", "u1"},
                                             {"amount", 5},
                                             {"flash", true}}));
  BOOST_REQUIRE(r.ok());
  auto x = std::get<rep::record>(r.value());
  BOOST_TEST((x.what == event_kind::cancelled));
  BOOST_TEST(x.order_id == "o1");
  BOOST_TEST(x.user_id == "u1");
  BOOST_TEST(x.amount == 5);
  BOOST_TEST(x.flash);

  for (auto k : {event_kind::placed, event_kind::paid, event_kind::cancelled,
                 event_kind::refunded, event_kind::manual}) {
    r = rep::decode(
      msg(rep::to_string(k),
          json{{"order_id", "o2"}, {"user_id", ""}, {"amount", 0}}));
    BOOST_REQUIRE(r.ok());
    x = std::get<rep::record>(r.value());
    BOOST_TEST((x.what == k));
    BOOST_TEST(!x.flash);
  }
}

BOOST_AUTO_TEST_CASE(decode_refuses_malformed_messages) {
  json good{{"order_id", "o1"}, {"user_id", "u1"}, {"amount", 5}};
  auto with = [&good](const char* key, json v) {
    auto b = good;
    b[key] = std::move(v);
    return b;
  };
  auto without = [&good](const char* key) {
    auto b = good;
    b.erase(key);
    return b;
  };
  std::vector<envelope> garbage{
    msg("placed", without("order_id")),
    msg("placed", with("order_id", "")),
    msg("placed", with("order_id", 3)),
    msg("paid", without("user_id")),
    msg("paid", with("user_id", json())),
    msg("paid", without("amount")),
    msg("paid", with("amount", -1)),
    msg("paid", with("amount", 1.5)),
    msg("paid", with("amount", "5")),
    msg("paid", with("amount", 18446744073709551615ull)),
    msg("cancelled", with("flash", 1)),
    msg("cancelled", with("flash", "true")),
    msg("placed", json::array()),
    msg("placed", json()),
    msg("placed", json("o1")),
    msg("timer", json{{"name", "x"}}),
    msg("", good),
    msg("Placed", good),
  };
  for (const auto& e : garbage) {
    auto r = rep::decode(e);
    BOOST_REQUIRE_MESSAGE(!r.ok(), e.type << " " << e.body.dump());
    BOOST_TEST((r.err().code == errc::bad_request));
  }
}

BOOST_AUTO_TEST_CASE(ledger_round_trip) {
  // What earlier versions of the runtime stored, and restore still reads:
  // the header, per flash cancel its user's entry, and the ranking.
  auto s = fresh("o002a");
  std::map<std::string, json> records;
  json header;
  json top;
  int top_writes = 0;
  std::mt19937 rng(3);
  for (int i = 0; i < 200; ++i) {
    auto what = static_cast<event_kind>(i % 5);
    auto user = "u" + std::to_string(rng() % 20);
    bool flash = what == event_kind::cancelled && rng() % 2 == 0;
    rep::input in = rec(what, "o002a-" + std::to_string(i), user,
                        static_cast<std::int64_t>(rng() % 1000), flash);
    auto o = turn(s, in, t0 + i);
    BOOST_REQUIRE(!o.err);
    header = rep::header_to_json(s);
    BOOST_TEST(header.count("users") == 0u);
    BOOST_TEST(header.count("top") == 0u);
    if (flash) {
      top = rep::top_to_json(s);
      ++top_writes;
      records[user] = rep::entries_to_json(s, user);
    }
  }
  BOOST_TEST(rep::entries_to_json(s, "nobody").is_null());
  BOOST_REQUIRE(!s.flash_by_user.empty());
  BOOST_TEST(records.size() == s.flash_by_user.size());

  BOOST_TEST(top_writes > 0);
  rep::state back;
  rep::from_json(json::parse(header.dump()), back);
  BOOST_TEST(back.flash_by_user.empty());
  BOOST_TEST(back.top.empty());
  rep::top_from_json(json::parse(top.dump()), back);
  BOOST_TEST(back.top == s.top, boost::test_tools::per_element());
  for (const auto& [id, e] : records) {
    rep::entries_from_json(json::parse(e.dump()), id, back);
  }
  BOOST_TEST(dump(back) == dump(s));
  BOOST_TEST(back.shard == "o002a");
  BOOST_TEST(back.version == s.version);
  BOOST_TEST(back.updated_at == s.updated_at);
  BOOST_TEST(back.placed == s.placed);
  BOOST_TEST(back.flash == s.flash);
  BOOST_TEST(back.flash_by_user == s.flash_by_user);

  // The whole state, in one document.
  json j;
  rep::to_json(j, s);
  rep::state whole;
  rep::from_json(json::parse(j.dump()), whole);
  BOOST_TEST(dump(whole) == j.dump());
  BOOST_TEST(whole.flash_by_user == s.flash_by_user);

  // A rebuilt state keeps counting exactly.
  turn(back, flash_cancel("o002a-x", "u7"), t0 + 1000);
  BOOST_TEST(back.top == brute_force_top(back.flash_by_user, rcfg.top_n),
             boost::test_tools::per_element());

  rep::state partial;
  rep::from_json(json{{"shard", "o0003"}}, partial);
  BOOST_TEST(partial.shard == "o0003");
  BOOST_TEST(partial.placed == tally_of(0, 0));
  BOOST_TEST(partial.top.empty());
}

BOOST_AUTO_TEST_CASE(shard_of_takes_the_partition_prefix) {
  BOOST_TEST(rep::shard_of("o002a-9f3a0c1d2e3f4a5b") == "o002a");
  BOOST_TEST(rep::shard_of("offff-0") == "offff");
  BOOST_TEST(rep::shard_of("o0000-x") == "o0000");
  BOOST_TEST(rep::shard_of("o1") == "o0000");
  BOOST_TEST(rep::shard_of("") == "o0000");
  BOOST_TEST(rep::shard_of("o002a") == "o0000");
  BOOST_TEST(rep::shard_of("o002a-") == "o0000");
  BOOST_TEST(rep::shard_of("o002A-9f3a") == "o0000");
  BOOST_TEST(rep::shard_of("o02g1-9f3a") == "o0000");
  BOOST_TEST(rep::shard_of("x002a-9f3a") == "o0000");
  BOOST_TEST(rep::shard_of("o002a_9f3a") == "o0000");
}

BOOST_AUTO_TEST_CASE(shard_name_is_the_prefix_of_the_partitions_order_ids) {
  BOOST_TEST(rep::shard_name(0) == "o0000");
  BOOST_TEST(rep::shard_name(42) == "o002a");
  BOOST_TEST(rep::shard_name(65535) == "offff");
  BOOST_TEST(rep::shard_of(rep::shard_name(42) + "-9f3a") == "o002a");
}

BOOST_AUTO_TEST_SUITE_END()
