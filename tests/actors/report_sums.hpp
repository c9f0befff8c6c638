#pragma once

// What the runtime does with a turn's additions to report shards (it adds
// them to the stored sums, runtime/detail/host_impl.hpp), for tests that
// play orders without a runtime.

#include <map>
#include <string>

#include <boost/test/unit_test.hpp>

#include "actors/reports.hpp"
#include "actors/vocabulary.hpp"

namespace ordo::test {

inline void count(const actors::outcome& o,
                  std::map<std::string, actors::reports::state>& shards) {
  for (const auto& a : o.additions) {
    BOOST_REQUIRE_EQUAL(a.to.kind, actors::reports::kind);
    auto& r = shards[a.to.id];
    r.shard = a.to.id;
    BOOST_REQUIRE(actors::reports::add_sums(r, a.part, a.values));
  }
}

} // namespace ordo::test
