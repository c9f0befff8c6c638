// The storage layouts of runtime/detail/kinds.hpp: a report shard's header
// written directly is the record header_to_json would have made.

#include <boost/test/unit_test.hpp>

#include "runtime/detail/kinds.hpp"

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
  BOOST_TEST(back.top.size() == 100u);
  BOOST_TEST(back.top[99].user_id == s.top[99].user_id);
  BOOST_TEST(back.flash.count == s.flash.count);
  BOOST_TEST(back.flash.amount == s.flash.amount);
}

BOOST_AUTO_TEST_SUITE_END()
