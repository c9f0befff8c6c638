// The storage layouts of runtime/detail/kinds.hpp: a report shard's header
// written directly is the record header_to_json would have made.

#include <boost/test/unit_test.hpp>

#include "runtime/detail/kinds.hpp"
#include "storage/store.hpp"
#include "tests/support/temp_dir.hpp"

using namespace ordo;
using runtime::detail::report_spec;

namespace {

std::string via_json(const actors::reports::state& s) {
  return storage::codec::pack(actors::reports::header_to_json(s));
}

} // namespace

BOOST_AUTO_TEST_SUITE(kinds)

BOOST_AUTO_TEST_CASE(an_empty_report_header_packs_as_its_json) {
  actors::reports::state s;
  s.shard = actors::reports::shard_name(0);
  BOOST_TEST(report_spec::pack_header(s) == via_json(s));
}

BOOST_AUTO_TEST_CASE(a_full_report_header_packs_as_its_json) {
  actors::reports::state s;
  s.shard = actors::reports::shard_name(42);
  s.version = 70'000;
  s.updated_at = 1'764'000'000'123;
  s.placed = {123'456, 9'876'543'210};
  s.paid = {100'000, 8'000'000'000};
  s.cancelled = {23'456, 1'876'543'210};
  s.refunded = {7, 700};
  s.manual = {1, -5};
  s.flash = {20'000, 1'000'000};
  for (int i = 0; i < 100; ++i) {
    s.top.push_back(
      {"user-" + std::to_string(i) + std::string(i % 40, 'x'), 1000 - i});
  }
  auto bytes = report_spec::pack_header(s);
  BOOST_TEST(bytes == via_json(s));
  actors::reports::state back;
  storage::codec::unpack(bytes).get_to(back);
  BOOST_TEST(back.version == s.version);
  BOOST_TEST(back.top.empty()); // the ranking has its own record
  BOOST_TEST(back.flash.count == s.flash.count);
  BOOST_TEST(back.flash.amount == s.flash.amount);
}

// The ranking is written by a turn that changed it, and read back with the
// header; a header stored before it had its own record keeps its ranking.
BOOST_AUTO_TEST_CASE(a_report_keeps_its_ranking_in_its_own_record) {
  test::temp_dir dir;
  std::string err;
  storage::store_options so;
  so.path = dir.path() + "/db";
  so.sync = false;
  auto db = storage::store::open(so, &err);
  BOOST_REQUIRE_MESSAGE(db, err);
  actors::reports::state s;
  s.shard = actors::reports::shard_name(3);
  s.top = {{"u1", 2}, {"u2", 1}};
  actors::reports::input flash = actors::reports::record{
    actors::reports::event_kind::cancelled, "o1", "u1", 100, true};
  actors::reports::input paid = actors::reports::record{
    actors::reports::event_kind::paid, "o2", "u2", 100, false};
  storage::batch b;
  s.top_changed = false;
  report_spec::persist_more(s, flash, b);
  BOOST_TEST(b.empty());
  s.top_changed = true;
  report_spec::persist_more(s, paid, b);
  BOOST_TEST(b.empty());
  report_spec::persist_more(s, flash, b);
  BOOST_REQUIRE_EQUAL(b.size(), 1u);
  BOOST_REQUIRE(db->commit_sync(std::move(b)).ok());
  actors::reports::state back;
  report_spec::restore_more(*db, s.shard, back);
  BOOST_TEST((back.top == s.top));

  // An old header with "top" inside, and no ranking record: its own top.
  auto old_header = actors::reports::header_to_json(s);
  old_header["top"] = nlohmann::json::array({{{"u", "u9"}, {"n", 5}}});
  actors::reports::state legacy;
  old_header.get_to(legacy);
  report_spec::restore_more(*db, actors::reports::shard_name(4), legacy);
  BOOST_REQUIRE_EQUAL(legacy.top.size(), 1u);
  BOOST_TEST(legacy.top[0].user_id == "u9");
}

BOOST_AUTO_TEST_SUITE_END()
