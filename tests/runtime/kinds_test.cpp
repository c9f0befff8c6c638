// The storage layouts of runtime/detail/kinds.hpp: a report shard is the sum
// of what orders added to it, read back as the state machine would have
// counted the same records, and what earlier versions stored still counts;
// an order's index entry is written when what it shows changed.

#include <boost/test/unit_test.hpp>

#include <set>

#include "runtime/detail/kinds.hpp"
#include "runtime/node.hpp"
#include "storage/store.hpp"
#include "tests/support/temp_dir.hpp"

using namespace ordo;
namespace reports = actors::reports;
using runtime::detail::report_kind;

namespace {

struct store_fixture {
  test::temp_dir dir;
  std::unique_ptr<storage::store> db;

  store_fixture() {
    storage::store_options so;
    so.path = dir.path() + "/db";
    so.sync = false;
    std::string err;
    db = storage::store::open(so, &err);
    BOOST_REQUIRE_MESSAGE(db, err);
  }

  /// Commits what an order's turn counting `r` adds.
  void count(const reports::record& r) {
    actors::outcome o;
    BOOST_REQUIRE(!reports::count(r, o));
    storage::batch b;
    runtime::detail::write_additions(o.additions, b);
    BOOST_REQUIRE(db->commit_sync(std::move(b)).ok());
  }

  reports::state read(const std::string& shard) {
    reports::state s;
    report_kind::init(s, shard);
    report_kind::restore(*db, shard, s);
    return s;
  }
};

using reports::event_kind;

} // namespace

BOOST_FIXTURE_TEST_SUITE(kinds, store_fixture)

// The sums read back equal the state machine's own count of the same
// records, ranking included.
BOOST_AUTO_TEST_CASE(a_report_shard_reads_as_the_sums_its_orders_added) {
  std::vector<reports::record> records{
    {event_kind::placed, "o0003-a", "u1", 100, false},
    {event_kind::paid, "o0003-a", "u1", 100, false},
    {event_kind::placed, "o0003-b", "u2", 250, false},
    {event_kind::cancelled, "o0003-b", "u2", 250, true},
    {event_kind::placed, "o0003-c", "u2", 40, false},
    {event_kind::cancelled, "o0003-c", "u2", 40, true},
    {event_kind::placed, "o0003-d", "u3", 70, false},
    {event_kind::cancelled, "o0003-d", "u3", 70, true},
    {event_kind::refunded, "o0003-a", "u1", 30, false},
    {event_kind::manual, "o0003-e", "u4", 10, false},
    {event_kind::placed, "o0004-a", "u9", 5, false}, // another shard
  };
  reports::state expected;
  expected.shard = reports::shard_name(3);
  reports::config cfg{reports::max_top_users};
  for (const auto& r : records) {
    count(r);
    if (reports::shard_of(r.order_id) == expected.shard) {
      BOOST_REQUIRE(!reports::handle(expected, r, {1, &cfg}).err);
    }
  }
  auto s = read(expected.shard);
  BOOST_TEST(s.shard == expected.shard);
  BOOST_TEST(s.version == expected.version);
  BOOST_TEST(s.version == 10u);
  BOOST_TEST((s.placed == expected.placed));
  BOOST_TEST((s.paid == expected.paid));
  BOOST_TEST((s.cancelled == expected.cancelled));
  BOOST_TEST((s.refunded == expected.refunded));
  BOOST_TEST((s.manual == expected.manual));
  BOOST_TEST((s.flash == expected.flash));
  BOOST_TEST(s.flash.count == 3);
  BOOST_TEST((s.flash_by_user == expected.flash_by_user));
  BOOST_TEST((s.top == expected.top));
  BOOST_REQUIRE_EQUAL(s.top.size(), 2u);
  BOOST_TEST(s.top[0].user_id == "u2");
  BOOST_TEST(s.top[0].count == 2);
  BOOST_TEST(read(reports::shard_name(4)).placed.count == 1);
  BOOST_TEST(read(reports::shard_name(5)).version == 0u);
}

// A shard written by an earlier version (header, user entries, a ranking
// record) keeps counting: its records plus the sums.
BOOST_AUTO_TEST_CASE(what_an_earlier_version_stored_adds_to_the_sums) {
  reports::state old;
  old.shard = reports::shard_name(3);
  old.version = 7;
  old.updated_at = 1'764'000'000'000;
  old.placed = {5, 500};
  old.cancelled = {2, 80};
  old.flash = {2, 80};
  storage::batch b;
  auto owner = storage::keys::owner(reports::kind, old.shard);
  b.put(storage::cf::actors, owner,
        storage::codec::pack(reports::header_to_json(old)));
  b.put(storage::cf::actors,
        storage::keys::owned(reports::kind, old.shard, "e/u1"),
        storage::codec::pack(nlohmann::json(2)));
  b.put(storage::cf::actors,
        storage::keys::owned(reports::kind, old.shard, "top"),
        storage::codec::pack(nlohmann::json::array({{{"u", "u1"}, {"n", 2}}})));
  BOOST_REQUIRE(db->commit_sync(std::move(b)).ok());
  count({event_kind::placed, "o0003-x", "u7", 30, false});
  count({event_kind::cancelled, "o0003-x", "u7", 30, true});
  count({event_kind::cancelled, "o0003-y", "u1", 20, true});
  auto s = read(old.shard);
  BOOST_TEST(s.version == 10u);
  BOOST_TEST(s.updated_at == old.updated_at);
  BOOST_TEST(s.placed.count == 6);
  BOOST_TEST(s.placed.amount == 530);
  BOOST_TEST(s.cancelled.count == 4);
  BOOST_TEST(s.flash.amount == 130);
  BOOST_TEST(s.flash_by_user.at("u1") == 3);
  BOOST_TEST(s.flash_by_user.at("u7") == 1);
  BOOST_REQUIRE_EQUAL(s.top.size(), 2u);
  BOOST_TEST(s.top[0].user_id == "u1");
  BOOST_TEST(s.top[0].count == 3);
}

// An SKU's expiry timer releases every reservation due in one turn; the
// stored entries of all of them go, not only the input's subject's.
BOOST_AUTO_TEST_CASE(an_expiry_turn_deletes_every_released_entry) {
  using runtime::detail::sku_kind;
  namespace inv = actors::inventory;
  inv::state s;
  sku_kind::init(s, "A");
  inv::config cfg;
  auto turn = [&](const inv::input& in, actors::millis now) {
    auto o = sku_kind::handle(s, in, now, cfg);
    BOOST_REQUIRE(!o.err);
    storage::batch b;
    sku_kind::persist(s, {}, in, b);
    BOOST_REQUIRE(db->commit_sync(std::move(b)).ok());
  };
  turn(inv::put{100, 10, actors::item_kind::goods}, 1);
  turn(inv::reserve{"o1", 1, 2}, 2);
  turn(inv::reserve{"o2", 1, 3}, 3);
  turn(inv::reserve{"o3", 1, 1}, 3 + cfg.reservation_ttl);
  turn(inv::expire{}, 3 + cfg.reservation_ttl);
  inv::state back;
  sku_kind::init(back, "A");
  sku_kind::restore(*db, "A", back);
  BOOST_TEST(back.reservations.size() == 1u);
  BOOST_TEST(back.reservations.count("o3") == 1u);
  BOOST_TEST(back.reserved == 1);
  BOOST_TEST(inv::conserved(back));
  BOOST_TEST(back.expiry_due == 3 + 2 * cfg.reservation_ttl);
}

// A top-level order's turn writes its entry of the user's order index only
// when the turn changed what the entry shows: a payment or a cancel does,
// the turns of its admin SMS (rule 8) and other bookkeeping do not.
BOOST_AUTO_TEST_CASE(an_order_rewrites_its_index_entry_only_when_it_changed) {
  using runtime::detail::order_kind;
  namespace order = actors::order;
  order::state s;
  order_kind::init(s, "o0001-a");
  s.user_id = "u1";
  s.st = order::status::pending_payment;
  s.created_at = 1'000;
  s.payable = 500;
  auto index_writes = [&](const order_kind::before& was) {
    storage::batch b;
    order_kind::persist(s, was, order::input{order::status_query{}}, b);
    auto key = storage::keys::user_order("u1", 1'000, "o0001-a");
    int n = 0;
    for (const auto& op : b.ops()) {
      if (op.family == storage::cf::aux) {
        BOOST_TEST(op.key == key);
        ++n;
      }
    }
    return n;
  };
  // Nothing before (a new order, or a store being seeded): written.
  BOOST_TEST(index_writes({}) == 1);
  // A turn that left status, amount, time and reason alone: not written.
  auto was = order_kind::remember(s);
  s.version += 1;
  BOOST_TEST(index_writes(was) == 0);
  // Paid, then cancelled with a reason: written each time.
  was = order_kind::remember(s);
  s.st = order::status::paid;
  BOOST_TEST(index_writes(was) == 1);
  was = order_kind::remember(s);
  s.st = order::status::cancelled;
  s.cancel_reason = "user";
  BOOST_TEST(index_writes(was) == 1);
  was = order_kind::remember(s);
  s.cancel_reason = "timeout";
  BOOST_TEST(index_writes(was) == 1);
  // A child order of a split is not listed at all.
  s.parent_id = "o0001-p";
  BOOST_TEST(index_writes({}) == 0);
}

BOOST_AUTO_TEST_CASE(an_unreadable_sum_is_an_error_not_a_zero) {
  storage::batch b;
  b.put(storage::cf::actors,
        storage::keys::owned(reports::kind, reports::shard_name(1), "sum"),
        "short");
  BOOST_REQUIRE(db->commit_sync(std::move(b)).ok());
  BOOST_CHECK_THROW(read(reports::shard_name(1)), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(every_kind_of_the_list_is_known_and_inspectable) {
  // The node derives its kinds from all_kinds: each has a distinct name, is
  // offered by actor_kinds(), and its stored state reads (here: none yet)
  // rather than being an unknown kind.
  std::vector<std::string> names;
  runtime::detail::all_kinds::each([&](auto tag) {
    names.emplace_back(decltype(tag)::type::name);
  });
  BOOST_TEST(names.size() == 9u);
  BOOST_TEST(names == runtime::actor_kinds(), boost::test_tools::per_element());
  std::set<std::string> distinct(names.begin(), names.end());
  BOOST_TEST(distinct.size() == names.size());
  db->close();
  db.reset();
  for (const auto& kind : names) {
    auto v = runtime::inspect_offline(dir.path() + "/db", kind, "x1");
    if (!v.ok()) {
      BOOST_FAIL(kind << ": " << v.err().message);
    }
    BOOST_TEST(!v.value().exists, kind);
  }
  BOOST_TEST(!runtime::inspect_offline(dir.path() + "/db", "nope", "x1").ok());
}

BOOST_AUTO_TEST_CASE(each_kind_is_configured_from_the_node_options) {
  runtime::node_options o;
  o.payment_timeout = 10'000;
  o.reservation_ttl = 100'000;
  o.dispatch_delay = 1'234;
  o.captcha_after = 7;
  auto order = runtime::detail::order_kind::configure(o);
  BOOST_TEST(order.payment_timeout == 10'000);
  // Reservations outlive the deadline by the larger of the two bounds.
  BOOST_TEST(order.reservation_margin == 90'000);
  o.reservation_ttl = 12'000;
  BOOST_TEST(runtime::detail::order_kind::configure(o).reservation_margin
             == 10'000);
  BOOST_TEST(runtime::detail::sku_kind::configure(o).reservation_ttl == 12'000);
  BOOST_TEST(runtime::detail::dispatcher_kind::configure(o).dispatch_delay
             == 1'234);
  auto limiter = runtime::detail::limiter_kind::configure(o);
  BOOST_TEST(limiter.max_orders == 0); // the node's admission counts
  BOOST_TEST(limiter.captcha_after == 7);
}

BOOST_AUTO_TEST_SUITE_END()
