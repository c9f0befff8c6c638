// Tests of the SKU inventory state machine (DESIGN.md rule 5).

#include <random>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "actors/inventory.hpp"

using namespace ordo::actors;
using nlohmann::json;

namespace {

constexpr millis t0 = 1'700'000'000'000;
constexpr millis minute = 60 * 1000;

const inventory::config icfg{};

inventory::context at(millis t) {
  return inventory::context{t, &icfg};
}

/// SKU "A": price 1000, 10 units stocked.
inventory::state stocked(std::int64_t stock = 10) {
  inventory::state s;
  s.sku = "A";
  auto o = inventory::handle(s, inventory::put{1000, stock, item_kind::goods},
                             at(t0));
  BOOST_REQUIRE(!o.err);
  return s;
}

std::string dump(const inventory::state& s) {
  json j;
  inventory::to_json(j, s);
  return j.dump();
}

void check_counts(const inventory::state& s, std::int64_t available,
                  std::int64_t reserved, std::int64_t sold) {
  BOOST_TEST(s.available == available);
  BOOST_TEST(s.reserved == reserved);
  BOOST_TEST(s.sold == sold);
  BOOST_TEST(inventory::conserved(s));
}

} // namespace

BOOST_AUTO_TEST_SUITE(inventory_state_machine)

BOOST_AUTO_TEST_CASE(
  put_creates_the_sku_then_moves_available_by_the_difference) {
  inventory::state s;
  s.sku = "A";
  auto o = inventory::handle(s, inventory::put{1999, 10, item_kind::service},
                             at(t0));
  BOOST_TEST(!o.err);
  BOOST_TEST(o.event == "put");
  BOOST_TEST(s.exists);
  BOOST_TEST(s.version == 1u);
  BOOST_TEST(s.updated_at == t0);
  BOOST_TEST(s.price == 1999);
  BOOST_TEST((s.kind == item_kind::service));
  BOOST_TEST(s.stocked == 10);
  check_counts(s, 10, 0, 0);
  inventory::handle(s, inventory::reserve{"o1", 1, 4}, at(t0));
  o = inventory::handle(s, inventory::put{2000, 15, item_kind::goods},
                        at(t0 + 1));
  BOOST_TEST(o.event == "restocked");
  BOOST_TEST(s.stocked == 15);
  BOOST_TEST(s.price == 2000);
  check_counts(s, 11, 4, 0);
  o = inventory::handle(s, inventory::put{2000, 5, item_kind::goods},
                        at(t0 + 2));
  BOOST_TEST(!o.err);
  check_counts(s, 1, 4, 0);
}

BOOST_AUTO_TEST_CASE(a_quote_answers_like_a_reserve_and_changes_nothing) {
  auto s = stocked(10);
  inventory::handle(s, inventory::reserve{"o1", 1, 4}, at(t0));
  auto before = dump(s);
  auto o = inventory::handle(s, inventory::quote{"o2", 6}, at(t0 + 1));
  BOOST_TEST(!o.err);
  BOOST_TEST(o.reply == (json{{"unit_price", 1000}, {"kind", "goods"}}));
  BOOST_TEST(o.event.empty());
  BOOST_TEST(o.timers.empty());
  o = inventory::handle(s, inventory::quote{"o2", 7}, at(t0 + 1));
  BOOST_REQUIRE(o.err);
  BOOST_TEST((o.err->code == errc::insufficient_stock));
  // What the order holds already counts as available to it.
  o = inventory::handle(s, inventory::quote{"o1", 10}, at(t0 + 1));
  BOOST_TEST(!o.err);
  BOOST_TEST(dump(s) == before);
  inventory::state none;
  none.sku = "Z";
  o = inventory::handle(none, inventory::quote{"o1", 1}, at(t0));
  BOOST_REQUIRE(o.err);
  BOOST_TEST((o.err->code == errc::not_found));
  auto in = inventory::decode(envelope{
    "x", {"sku", "A"}, "quote", json{{"order_id", "o1"}, {"quantity", 3}}});
  BOOST_REQUIRE(in.ok());
  BOOST_TEST(std::get<inventory::quote>(in.value()).quantity == 3);
  BOOST_TEST(!inventory::decode(
                envelope{"x", {"sku", "A"}, "quote", json{{"order_id", "o1"}}})
                .ok());
}

BOOST_AUTO_TEST_CASE(put_with_the_same_values_changes_nothing) {
  auto s = stocked();
  auto v = s.version;
  auto o = inventory::handle(s, inventory::put{1000, 10, item_kind::goods},
                             at(t0 + 5));
  BOOST_TEST(!o.err);
  BOOST_TEST(o.event.empty());
  BOOST_TEST(s.version == v);
}

BOOST_AUTO_TEST_CASE(put_rejects_negative_price_or_stock) {
  for (auto p : {inventory::put{-1, 1, item_kind::goods},
                 inventory::put{1, -1, item_kind::goods}}) {
    inventory::state s;
    s.sku = "A";
    auto o = inventory::handle(s, p, at(t0));
    BOOST_REQUIRE(o.err);
    BOOST_TEST((o.err->code == errc::bad_request));
    BOOST_TEST(!s.exists);
  }
}

BOOST_AUTO_TEST_CASE(put_below_reserved_and_sold_is_refused) {
  auto s = stocked(10);
  inventory::handle(s, inventory::reserve{"o1", 1, 4}, at(t0));
  inventory::handle(s, inventory::reserve{"o2", 1, 3}, at(t0));
  inventory::handle(s, inventory::confirm{"o2", 1, 3}, at(t0));
  auto before = dump(s);
  auto o = inventory::handle(s, inventory::put{1000, 6, item_kind::goods},
                             at(t0 + 1));
  BOOST_REQUIRE(o.err);
  BOOST_TEST((o.err->code == errc::insufficient_stock));
  BOOST_TEST(o.event.empty());
  BOOST_TEST(dump(s) == before);
  o = inventory::handle(s, inventory::put{1000, 7, item_kind::goods},
                        at(t0 + 1));
  BOOST_TEST(!o.err);
  check_counts(s, 0, 4, 3);
}

BOOST_AUTO_TEST_CASE(reserve_takes_from_available_and_arms_expiry) {
  auto s = stocked();
  auto o = inventory::handle(s, inventory::reserve{"o1", 7, 3}, at(t0 + 10));
  BOOST_TEST(!o.err);
  BOOST_TEST(o.event == "reserved");
  BOOST_TEST(o.reply == (json{{"unit_price", 1000}, {"kind", "goods"}}));
  check_counts(s, 7, 3, 0);
  BOOST_REQUIRE_EQUAL(s.reservations.count("o1"), 1u);
  const auto& r = s.reservations.at("o1");
  BOOST_TEST(r.quantity == 3);
  BOOST_TEST(r.token == 7u);
  BOOST_TEST(r.expires_at == t0 + 10 + icfg.reservation_ttl);
  BOOST_REQUIRE_EQUAL(o.timers.size(), 1u);
  BOOST_TEST(o.timers[0].name == inventory::expiry_timer);
  BOOST_TEST(o.timers[0].due == r.expires_at);
  BOOST_TEST(s.expiry_due == r.expires_at);
  // A later reservation expires later: the timer is already due sooner.
  o = inventory::handle(s, inventory::reserve{"o2", 1, 1}, at(t0 + 20));
  BOOST_TEST(o.event == "reserved");
  BOOST_TEST(o.timers.empty());
  BOOST_TEST(s.expiry_due == r.expires_at);
}

BOOST_AUTO_TEST_CASE(reserve_on_unknown_sku_or_bad_quantity_fails) {
  inventory::state none;
  none.sku = "Z";
  auto o = inventory::handle(none, inventory::reserve{"o1", 1, 1}, at(t0));
  BOOST_REQUIRE(o.err);
  BOOST_TEST((o.err->code == errc::not_found));
  auto s = stocked();
  o = inventory::handle(s, inventory::reserve{"o1", 1, 0}, at(t0));
  BOOST_REQUIRE(o.err);
  BOOST_TEST((o.err->code == errc::bad_request));
  BOOST_TEST(s.reservations.empty());
}

BOOST_AUTO_TEST_CASE(reserve_more_than_available_is_insufficient_stock) {
  auto s = stocked(2);
  auto before = dump(s);
  auto o = inventory::handle(s, inventory::reserve{"o1", 1, 3}, at(t0));
  BOOST_REQUIRE(o.err);
  BOOST_TEST((o.err->code == errc::insufficient_stock));
  BOOST_TEST(o.event.empty());
  BOOST_TEST(dump(s) == before);
}

// A one-line order reserves without quoting first: the SKU refuses a
// total beyond the order's limit and holds nothing.
BOOST_AUTO_TEST_CASE(reserve_beyond_the_total_limit_holds_nothing) {
  auto s = stocked(10);
  auto before = dump(s);
  inventory::reserve r{"o1", 1, 3};
  r.max_total = 2999; // 3 x 1000 is over
  auto o = inventory::handle(s, r, at(t0));
  BOOST_REQUIRE(o.err);
  BOOST_TEST((o.err->code == errc::bad_request));
  BOOST_TEST(o.event.empty());
  BOOST_TEST(dump(s) == before);
  r.max_total = 3000;
  o = inventory::handle(s, r, at(t0));
  BOOST_REQUIRE(!o.err);
  check_counts(s, 7, 3, 0);
  // Malformed limits are refused at decoding (0, like no field, is no
  // limit).
  for (const auto& bad : {json(-1), json("x"), json(1.5)}) {
    auto in = inventory::decode(envelope{"x",
                                         {"sku", "A"},
                                         "reserve",
                                         json{{"order_id", "o2"},
                                              {"token", 1},
                                              {"quantity", 1},
                                              {"max_total", bad}}});
    BOOST_TEST(!in.ok(), bad.dump());
  }
}

BOOST_AUTO_TEST_CASE(reserve_again_with_the_same_token_is_idempotent) {
  auto s = stocked();
  inventory::handle(s, inventory::reserve{"o1", 7, 3}, at(t0));
  auto before = dump(s);
  auto o = inventory::handle(s, inventory::reserve{"o1", 7, 3}, at(t0 + 5));
  BOOST_TEST(!o.err);
  BOOST_TEST(o.event.empty());
  BOOST_TEST(o.reply["unit_price"] == 1000);
  BOOST_TEST(dump(s) == before);
}

BOOST_AUTO_TEST_CASE(reserve_with_a_new_token_replaces_the_old_reservation) {
  auto s = stocked();
  inventory::handle(s, inventory::reserve{"o1", 7, 3}, at(t0));
  auto o = inventory::handle(s, inventory::reserve{"o1", 8, 5}, at(t0 + 5));
  BOOST_TEST(!o.err);
  BOOST_TEST(o.event == "reserved");
  check_counts(s, 5, 5, 0);
  BOOST_TEST(s.reservations.at("o1").token == 8u);
  BOOST_TEST(o.timers.empty()); // the expiry timer is due sooner
  BOOST_TEST(s.expiry_due == t0 + icfg.reservation_ttl);
  // The older attempt's release no longer touches it.
  o = inventory::handle(s, inventory::release{"o1", 7}, at(t0 + 6));
  BOOST_TEST(o.event.empty());
  check_counts(s, 5, 5, 0);
}

BOOST_AUTO_TEST_CASE(failed_replacement_still_drops_the_old_reservation) {
  auto s = stocked(4);
  inventory::handle(s, inventory::reserve{"o1", 7, 3}, at(t0));
  auto v = s.version;
  auto o = inventory::handle(s, inventory::reserve{"o1", 8, 5}, at(t0 + 5));
  BOOST_REQUIRE(o.err);
  BOOST_TEST((o.err->code == errc::insufficient_stock));
  BOOST_TEST(o.event == "reservation_replaced");
  BOOST_TEST(s.version == v + 1);
  check_counts(s, 4, 0, 0);
  BOOST_TEST(s.reservations.empty());
  BOOST_TEST(o.timers.empty()); // the expiry timer finds nothing, later
}

BOOST_AUTO_TEST_CASE(double_release_is_single_release) {
  auto s = stocked();
  inventory::handle(s, inventory::reserve{"o1", 7, 3}, at(t0));
  inventory::handle(s, inventory::reserve{"o2", 1, 2}, at(t0));
  auto o = inventory::handle(s, inventory::release{"o1", 7}, at(t0 + 1));
  BOOST_TEST(o.event == "released");
  BOOST_TEST(o.timers.empty());
  check_counts(s, 8, 2, 0);
  auto before = dump(s);
  o = inventory::handle(s, inventory::release{"o1", 7}, at(t0 + 2));
  BOOST_TEST(!o.err);
  BOOST_TEST(o.event.empty());
  BOOST_TEST(dump(s) == before);
}

BOOST_AUTO_TEST_CASE(stale_token_release_is_ignored) {
  auto s = stocked();
  inventory::handle(s, inventory::reserve{"o1", 7, 3}, at(t0));
  auto before = dump(s);
  auto o = inventory::handle(s, inventory::release{"o1", 6}, at(t0 + 1));
  BOOST_TEST(!o.err);
  BOOST_TEST(o.event.empty());
  BOOST_TEST(dump(s) == before);
  o = inventory::handle(s, inventory::release{"o-unknown", 7}, at(t0 + 1));
  BOOST_TEST(o.event.empty());
}

BOOST_AUTO_TEST_CASE(confirm_turns_the_reservation_into_a_sale) {
  auto s = stocked();
  inventory::handle(s, inventory::reserve{"o1", 7, 3}, at(t0));
  auto o = inventory::handle(s, inventory::confirm{"o1", 7, 3}, at(t0 + 1));
  BOOST_TEST(o.event == "sold");
  BOOST_TEST(o.outbox.empty());
  BOOST_TEST(o.timers.empty());
  check_counts(s, 7, 0, 3);
  BOOST_TEST(s.reservations.empty());
  // A redelivered confirm (no reservation left) must be deduped by the
  // runtime on the message id; the handler alone would sell again.
}

BOOST_AUTO_TEST_CASE(confirm_after_expiry_takes_from_available) {
  auto s = stocked();
  inventory::handle(s, inventory::reserve{"o1", 7, 3}, at(t0));
  auto o = inventory::handle(s, inventory::expire{"o1"},
                             at(t0 + icfg.reservation_ttl));
  BOOST_TEST(o.event == "expired");
  check_counts(s, 10, 0, 0);
  o = inventory::handle(s, inventory::confirm{"o1", 7, 3},
                        at(t0 + icfg.reservation_ttl + 1));
  BOOST_TEST(o.event == "sold_from_available");
  BOOST_TEST(o.outbox.empty());
  check_counts(s, 7, 0, 3);
}

BOOST_AUTO_TEST_CASE(confirm_after_expiry_without_stock_sends_shortfall) {
  auto s = stocked(3);
  inventory::handle(s, inventory::reserve{"o1", 7, 3}, at(t0));
  inventory::handle(s, inventory::expire{"o1"}, at(t0 + icfg.reservation_ttl));
  inventory::handle(s, inventory::reserve{"o2", 1, 2}, at(t0 + 20 * minute));
  auto o = inventory::handle(s, inventory::confirm{"o1", 7, 3},
                             at(t0 + 21 * minute));
  BOOST_TEST(o.event == "shortfall");
  BOOST_TEST(o.signals == std::vector<std::string>{"stock_shortfall"});
  check_counts(s, 1, 2, 0);
  BOOST_TEST(s.shortfalls.at("o1") == 3);
  BOOST_REQUIRE_EQUAL(o.outbox.size(), 1u);
  BOOST_TEST(o.outbox[0].to.kind == "order");
  BOOST_TEST(o.outbox[0].to.id == "o1");
  BOOST_TEST(o.outbox[0].type == "shortfall");
  BOOST_TEST(o.outbox[0].body == (json{{"sku", "A"}}));
  BOOST_TEST(o.outbox[0].id == "sku/A#" + std::to_string(s.version) + ".0");
}

BOOST_AUTO_TEST_CASE(confirm_with_another_token_drops_the_stale_reservation) {
  auto s = stocked(3);
  inventory::handle(s, inventory::reserve{"o1", 6, 3}, at(t0));
  auto o = inventory::handle(s, inventory::confirm{"o1", 7, 3}, at(t0 + 1));
  BOOST_TEST(o.event == "sold_from_available");
  check_counts(s, 0, 0, 3);
  BOOST_TEST(s.reservations.empty());
}

BOOST_AUTO_TEST_CASE(restock_returns_sold_units) {
  auto s = stocked();
  inventory::handle(s, inventory::reserve{"o1", 7, 3}, at(t0));
  inventory::handle(s, inventory::confirm{"o1", 7, 3}, at(t0));
  auto o = inventory::handle(s, inventory::restock{"o1", 3}, at(t0 + 1));
  BOOST_TEST(o.event == "restocked_from_refund");
  check_counts(s, 10, 0, 0);
  // More than was sold: nothing to take back, state untouched.
  auto before = dump(s);
  o = inventory::handle(s, inventory::restock{"o1", 3}, at(t0 + 2));
  BOOST_TEST(o.event.empty());
  BOOST_TEST(dump(s) == before);
}

BOOST_AUTO_TEST_CASE(restock_after_a_shortfall_only_clears_it) {
  auto s = stocked(0);
  inventory::handle(s, inventory::confirm{"o1", 7, 2}, at(t0));
  BOOST_TEST(s.shortfalls.count("o1") == 1u);
  inventory::handle(s, inventory::put{1000, 5, item_kind::goods}, at(t0));
  inventory::handle(s, inventory::reserve{"o2", 1, 2}, at(t0));
  inventory::handle(s, inventory::confirm{"o2", 1, 2}, at(t0));
  auto o = inventory::handle(s, inventory::restock{"o1", 2}, at(t0 + 1));
  BOOST_TEST(o.event == "shortfall_cleared");
  BOOST_TEST(s.shortfalls.empty());
  check_counts(s, 3, 0, 2);
}

BOOST_AUTO_TEST_CASE(expire_releases_only_when_due) {
  auto s = stocked();
  inventory::handle(s, inventory::reserve{"o1", 7, 3}, at(t0));
  auto before = dump(s);
  auto o = inventory::handle(s, inventory::expire{"o1"},
                             at(t0 + icfg.reservation_ttl - 1));
  BOOST_TEST(o.event.empty());
  BOOST_TEST(dump(s) == before);
  o = inventory::handle(s, inventory::expire{"o1"},
                        at(t0 + icfg.reservation_ttl));
  BOOST_TEST(o.event == "expired");
  check_counts(s, 10, 0, 0);
  o = inventory::handle(s, inventory::expire{"o1"},
                        at(t0 + icfg.reservation_ttl + 1));
  BOOST_TEST(o.event.empty());
}

// The one expiry timer releases every reservation due when it fires and
// re-arms for the earliest left; with none left it stays disarmed.
BOOST_AUTO_TEST_CASE(the_expiry_timer_releases_all_due_and_rearms) {
  auto s = stocked();
  inventory::handle(s, inventory::reserve{"o1", 7, 3}, at(t0));
  inventory::handle(s, inventory::reserve{"o2", 7, 2}, at(t0 + 10));
  inventory::handle(s, inventory::reserve{"o3", 7, 1}, at(t0 + 500));
  inventory::handle(s, inventory::confirm{"o1", 7, 3}, at(t0 + 600));
  BOOST_TEST(s.expiry_due == t0 + icfg.reservation_ttl);
  // Fires for o1, which is sold: nothing due, re-armed for o2.
  auto o
    = inventory::handle(s, inventory::expire{}, at(t0 + icfg.reservation_ttl));
  BOOST_TEST(o.event == "expiry_rearmed");
  BOOST_REQUIRE_EQUAL(o.timers.size(), 1u);
  BOOST_TEST(o.timers[0].name == inventory::expiry_timer);
  BOOST_TEST(o.timers[0].due == t0 + 10 + icfg.reservation_ttl);
  check_counts(s, 4, 3, 3);
  // Late (the node was down): o2 and o3 are both due, released together.
  o = inventory::handle(s, inventory::expire{},
                        at(t0 + 600 + icfg.reservation_ttl));
  BOOST_TEST(o.event == "expired");
  BOOST_TEST(o.timers.empty());
  BOOST_TEST(s.expiry_due == 0);
  // The runtime deletes the entries of both, not only the subject's.
  BOOST_TEST((s.expired_now == std::vector<std::string>{"o2", "o3"}));
  BOOST_TEST(s.reservations.empty());
  check_counts(s, 7, 0, 3);
  // Disarmed, a spurious fire changes nothing.
  auto before = dump(s);
  o = inventory::handle(s, inventory::expire{},
                        at(t0 + 2 * icfg.reservation_ttl));
  BOOST_TEST(o.event.empty());
  BOOST_TEST(dump(s) == before);
  // The next reservation arms it again; the due survives a round trip.
  o = inventory::handle(s, inventory::reserve{"o4", 7, 1}, at(t0 + 3 * minute));
  BOOST_REQUIRE_EQUAL(o.timers.size(), 1u);
  json j;
  inventory::to_json(j, s);
  inventory::state back;
  inventory::from_json(j, back);
  BOOST_TEST(back.expiry_due == s.expiry_due);
  BOOST_TEST(s.expiry_due == t0 + 3 * minute + icfg.reservation_ttl);
}

BOOST_AUTO_TEST_CASE(conserved_detects_broken_counts) {
  auto s = stocked();
  BOOST_TEST(inventory::conserved(s));
  auto broken = s;
  broken.available -= 1;
  BOOST_TEST(!inventory::conserved(broken));
  broken = s;
  broken.available -= 1;
  broken.reserved += 1; // no reservation backs it
  BOOST_TEST(!inventory::conserved(broken));
  broken = s;
  broken.available = -1;
  broken.sold = 11;
  BOOST_TEST(!inventory::conserved(broken));
}

BOOST_AUTO_TEST_CASE(conservation_holds_under_random_operations) {
  std::mt19937 rng(20240601);
  auto pick = [&rng](int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng);
  };
  inventory::state s;
  s.sku = "A";
  millis now = t0;
  int errors = 0;
  int events = 0;
  for (int step = 0; step < 20000; ++step) {
    now += pick(0, 3 * minute);
    auto order_id = "o" + std::to_string(pick(0, 9));
    auto token = static_cast<std::uint64_t>(pick(1, 3));
    std::int64_t q = pick(1, 6);
    inventory::input in;
    switch (pick(0, 9)) {
      case 0:
        in = inventory::put{pick(0, 2000), pick(0, 40), item_kind::goods};
        break;
      case 1:
      case 2:
      case 3: in = inventory::reserve{order_id, token, q}; break;
      case 4:
      case 5: in = inventory::release{order_id, token}; break;
      case 6: in = inventory::confirm{order_id, token, q}; break;
      case 7: in = inventory::restock{order_id, q}; break;
      case 8: in = inventory::expire{order_id}; break; // an earlier version's
      default: in = inventory::expire{}; break;
    }
    auto before = dump(s);
    auto version = s.version;
    auto o = inventory::handle(s, in, inventory::context{now, &icfg});
    BOOST_REQUIRE_MESSAGE(inventory::conserved(s),
                          "step " << step << ": " << dump(s));
    // The expiry timer is armed no later than any reservation expires.
    for (const auto& [id, res] : s.reservations) {
      BOOST_REQUIRE_MESSAGE(s.expiry_due > 0 && s.expiry_due <= res.expires_at,
                            "step " << step << ": " << dump(s));
    }
    if (o.event.empty()) {
      BOOST_REQUIRE_MESSAGE(dump(s) == before, "silent change at " << step);
    } else {
      BOOST_REQUIRE_EQUAL(s.version, version + 1);
      ++events;
    }
    errors += o.err ? 1 : 0;
  }
  BOOST_TEST_MESSAGE("inventory property: " << events << " events, " << errors
                                            << " refusals");
  BOOST_TEST(events > 5000);
  BOOST_TEST(errors > 100);
}

BOOST_AUTO_TEST_CASE(reservation_expires_a_margin_after_the_orders_deadline) {
  auto s = stocked(10);
  inventory::reserve r{"o1", 7, 3};
  r.pay_deadline = t0 + 100;
  r.margin = 50;
  // The SKU's own ttl would end earlier; the order's deadline decides.
  auto o = inventory::handle(s, r, at(t0));
  BOOST_REQUIRE_EQUAL(o.timers.size(), 1u);
  BOOST_TEST(o.timers[0].due == t0 + 150);
  BOOST_TEST(s.reservations.at("o1").expires_at == t0 + 150);
  inventory::handle(s, inventory::expire{}, at(t0 + 149));
  BOOST_TEST(s.reserved == 3);
  inventory::handle(s, inventory::expire{}, at(t0 + 150));
  BOOST_TEST(s.reserved == 0);
  BOOST_TEST(s.available == 10);
}

BOOST_AUTO_TEST_CASE(a_repeated_reserve_with_a_later_deadline_extends_it) {
  // A create retried after a crash lost it at the order: same token, the
  // deadline counted from the retry.
  auto s = stocked(10);
  inventory::reserve r{"o1", 7, 3};
  r.pay_deadline = t0 + 100;
  r.margin = 50;
  inventory::handle(s, r, at(t0));
  auto earlier = r;
  earlier.pay_deadline = t0 + 90;
  auto before = dump(s);
  auto o = inventory::handle(s, earlier, at(t0 + 1));
  BOOST_TEST(o.event.empty());
  BOOST_TEST(dump(s) == before);

  r.pay_deadline = t0 + 10'000;
  o = inventory::handle(s, r, at(t0 + 9'000));
  BOOST_TEST(!o.err);
  BOOST_TEST(o.event == "reservation_extended");
  BOOST_TEST(o.reply["unit_price"] == 1000);
  BOOST_TEST(o.timers.empty()); // the expiry timer is due sooner
  BOOST_TEST(s.reservations.at("o1").expires_at == t0 + 10'050);
  check_counts(s, 7, 3, 0);
  o = inventory::handle(s, inventory::expire{}, at(t0 + 150));
  BOOST_TEST(s.reserved == 3);
  BOOST_TEST(o.event == "expiry_rearmed");
  BOOST_REQUIRE_EQUAL(o.timers.size(), 1u);
  BOOST_TEST(o.timers[0].due == t0 + 10'050);
}

BOOST_AUTO_TEST_CASE(decode_reads_what_orders_send) {
  auto r = inventory::decode(
    envelope{"x",
             {"sku", "A"},
             "reserve",
             json{{"order_id", "o1"}, {"token", 7u}, {"quantity", 2}}});
  BOOST_REQUIRE(r.ok());
  auto res = std::get<inventory::reserve>(r.value());
  BOOST_TEST(res.order_id == "o1");
  BOOST_TEST(res.token == 7u);
  BOOST_TEST(res.quantity == 2);
  BOOST_TEST(res.pay_deadline == 0); // an old message: the SKU's ttl applies

  r = inventory::decode(envelope{"x",
                                 {"sku", "A"},
                                 "reserve",
                                 json{{"order_id", "o1"},
                                      {"token", 7u},
                                      {"quantity", 2},
                                      {"pay_deadline", t0 + 900'000},
                                      {"margin", 60'000}}});
  BOOST_REQUIRE(r.ok());
  res = std::get<inventory::reserve>(r.value());
  BOOST_TEST(res.pay_deadline == t0 + 900'000);
  BOOST_TEST(res.margin == 60'000);

  r = inventory::decode(envelope{
    "x", {"sku", "A"}, "release", json{{"order_id", "o1"}, {"token", 7}}});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(std::get<inventory::release>(r.value()).token == 7u);

  r = inventory::decode(
    envelope{"x",
             {"sku", "A"},
             "confirm",
             json{{"order_id", "o1"}, {"token", 7}, {"quantity", 3}}});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(std::get<inventory::confirm>(r.value()).quantity == 3);

  r = inventory::decode(envelope{
    "x", {"sku", "A"}, "restock", json{{"order_id", "o1"}, {"quantity", 3}}});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(std::get<inventory::restock>(r.value()).quantity == 3);

  r = inventory::decode(envelope{
    "x", {"sku", "A"}, "timer", json{{"name", inventory::timer_name("o1")}}});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(std::get<inventory::expire>(r.value()).order_id == "o1");
  r = inventory::decode(envelope{
    "x", {"sku", "A"}, "timer", json{{"name", inventory::expiry_timer}}});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(std::get<inventory::expire>(r.value()).order_id.empty());

  // Large tokens survive text round trips.
  auto big = json::parse(R"({"order_id":"o1","token":18446744073709551615})");
  r = inventory::decode(envelope{"x", {"sku", "A"}, "release", big});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(std::get<inventory::release>(r.value()).token
             == 18446744073709551615ull);
}

BOOST_AUTO_TEST_CASE(decode_rejects_garbage_as_bad_request) {
  std::vector<envelope> garbage{
    {"x", {"sku", "A"}, "put", json{{"price", 1}, {"stock", 1}}},
    {"x", {"sku", "A"}, "reserve", json{{"order_id", "o1"}, {"token", 1}}},
    {"x",
     {"sku", "A"},
     "reserve",
     json{{"order_id", "o1"}, {"token", -1}, {"quantity", 1}}},
    {"x",
     {"sku", "A"},
     "reserve",
     json{{"order_id", "o1"}, {"token", 1}, {"quantity", 0}}},
    {"x",
     {"sku", "A"},
     "reserve",
     json{{"order_id", "o1"}, {"token", "1"}, {"quantity", 1}}},
    {"x",
     {"sku", "A"},
     "reserve",
     json{{"order_id", "o1"},
          {"token", 1},
          {"quantity", 1},
          {"pay_deadline", "soon"},
          {"margin", 1}}},
    {"x",
     {"sku", "A"},
     "reserve",
     json{{"order_id", "o1"},
          {"token", 1},
          {"quantity", 1},
          {"pay_deadline", t0},
          {"margin", -1}}},
    {"x",
     {"sku", "A"},
     "confirm",
     json{{"order_id", ""}, {"token", 1}, {"quantity", 1}}},
    {"x",
     {"sku", "A"},
     "confirm",
     json{{"order_id", "o1"}, {"token", 1}, {"quantity", 1.5}}},
    {"x", {"sku", "A"}, "release", json{{"order_id", "o1"}}},
    {"x", {"sku", "A"}, "restock", json{{"order_id", "o1"}}},
    {"x",
     {"sku", "A"},
     "restock",
     json{{"order_id", "o1"}, {"quantity", 18446744073709551615ull}}},
    {"x", {"sku", "A"}, "timer", json{{"name", "deadline"}}},
    {"x", {"sku", "A"}, "timer", json{{"name", "res:"}}},
    {"x", {"sku", "A"}, "release", json::array({1, 2})},
    {"x", {"sku", "A"}, "release", json()},
    {"x", {"sku", "A"}, "", json::object()},
  };
  for (const auto& e : garbage) {
    auto r = inventory::decode(e);
    BOOST_REQUIRE_MESSAGE(!r.ok(), e.type << " " << e.body.dump());
    BOOST_TEST((r.err().code == errc::bad_request));
  }
}

BOOST_AUTO_TEST_CASE(decode_round_trips_the_reserve_reply) {
  auto s = stocked();
  auto o = inventory::handle(s, inventory::reserve{"o1", 7, 3}, at(t0));
  auto body = reply_body("A", o);
  BOOST_TEST(
    body
    == (json{
      {"from", "A"}, {"ok", true}, {"unit_price", 1000}, {"kind", "goods"}}));
  o = inventory::handle(s, inventory::reserve{"o2", 7, 30}, at(t0));
  body = reply_body("A", o);
  BOOST_TEST(body["ok"] == false);
  BOOST_TEST(body["error"] == "insufficient_stock");
  BOOST_TEST(body["message"].is_string());
}

BOOST_AUTO_TEST_CASE(state_json_round_trips) {
  auto s = stocked();
  inventory::handle(s, inventory::reserve{"o1", 7, 3}, at(t0));
  inventory::handle(s, inventory::reserve{"o2", 18446744073709551615ull, 2},
                    at(t0 + 1));
  inventory::handle(s, inventory::confirm{"o3", 1, 20}, at(t0 + 2));
  BOOST_REQUIRE_EQUAL(s.shortfalls.size(), 1u);
  json j;
  inventory::to_json(j, s);
  inventory::state back;
  inventory::from_json(json::parse(j.dump()), back);
  BOOST_TEST(dump(back) == j.dump());
  BOOST_TEST(back.sku == "A");
  BOOST_TEST(back.exists);
  BOOST_TEST(back.version == s.version);
  BOOST_TEST(back.reservations.size() == 2u);
  BOOST_TEST(back.reservations.at("o2").token == 18446744073709551615ull);
  BOOST_TEST(back.reservations.at("o1").expires_at
             == s.reservations.at("o1").expires_at);
  BOOST_TEST(back.shortfalls.at("o3") == 20);
  BOOST_TEST(inventory::conserved(back));

  inventory::state partial;
  inventory::from_json(json{{"sku", "B"}}, partial);
  BOOST_TEST(partial.sku == "B");
  BOOST_TEST(!partial.exists);
  BOOST_TEST(inventory::conserved(partial));
}

BOOST_AUTO_TEST_SUITE_END()
