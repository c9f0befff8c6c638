// Tests of static membership and the partition map (DESIGN.md §4): flags
// parsed strictly, every node computing the same map, rendezvous hashing
// moving only what a membership change must move.

#include <boost/test/unit_test.hpp>

#include <map>
#include <string>
#include <vector>

#include "cluster/placement.hpp"
#include "runtime/ids.hpp"

using namespace ordo;
using cluster::membership_options;
using cluster::partition_map;

namespace {

std::vector<cluster::node_address> peers(const std::string& text) {
  std::string why;
  auto p = cluster::parse_peers(text, &why);
  BOOST_REQUIRE_MESSAGE(p, why);
  return *p;
}

partition_map map_of(const std::string& self, const std::string& text,
                     std::uint32_t partitions = 64) {
  membership_options o;
  o.node_id = self;
  o.peers = peers(text);
  o.partitions = partitions;
  std::string why;
  auto m = partition_map::make(o, &why);
  BOOST_REQUIRE_MESSAGE(m, why);
  return *m;
}

std::string refusal(const membership_options& o) {
  std::string why;
  auto m = partition_map::make(o, &why);
  BOOST_TEST(!m.has_value());
  return why;
}

const std::string three = "a=127.0.0.1:7001,b=127.0.0.1:7002,c=127.0.0.1:7003";

} // namespace

BOOST_AUTO_TEST_SUITE(placement)

BOOST_AUTO_TEST_CASE(peers_parse_strictly) {
  auto p = peers("n1=localhost:7001,n-2=[::1]:7002,n_3=10.0.0.3:65535");
  BOOST_REQUIRE_EQUAL(p.size(), 3u);
  BOOST_TEST(p[1].host == "[::1]");
  BOOST_TEST(p[1].port == 7002);
  BOOST_TEST(p[2].address() == "10.0.0.3:65535");
  for (const auto* bad :
       {"", "a", "a=", "a=host", "a=host:", "a=host:0", "a=host:65536",
        "a=host:7x", "=h:1", "a b=h:1", "a=h:1,", "a=h:1,a=h:2", "a=h:1,b=h:1",
        "a=[zz]:1", "a=h/x:1"}) {
    std::string why;
    BOOST_TEST(!cluster::parse_peers(bad, &why).has_value(), bad);
    BOOST_TEST(!why.empty(), bad);
  }
}

BOOST_AUTO_TEST_CASE(bad_membership_fails_with_a_clear_message) {
  membership_options o;
  o.peers = peers(three);
  o.node_id = "d";
  BOOST_TEST(refusal(o).find("--node-id d is not one of --peers (a, b, c)")
             != std::string::npos);
  o.node_id = "a";
  o.cluster_port = 7002;
  BOOST_TEST(refusal(o).find("--cluster-port 7002") != std::string::npos);
  o.cluster_port = 7001;
  o.partitions = 0;
  BOOST_TEST(refusal(o).find("--partitions") != std::string::npos);
  o.partitions = 65537;
  BOOST_TEST(refusal(o).find("--partitions") != std::string::npos);
  o.partitions = 65536;
  std::string why;
  BOOST_TEST(partition_map::make(o, &why).has_value());
  o.node_id = "bad id";
  BOOST_TEST(refusal(o).find("--node-id") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_single_node_owns_everything) {
  std::string why;
  auto m = partition_map::make(membership_options{}, &why);
  BOOST_REQUIRE(m);
  BOOST_TEST(m->self() == "local");
  BOOST_TEST(m->partitions() == 64u);
  BOOST_TEST(m->owned_by("local").size() == 64u);
  BOOST_TEST(m->local(63));
}

BOOST_AUTO_TEST_CASE(every_node_computes_the_same_map) {
  auto a = map_of("a", three, 256);
  auto b = map_of("b", three, 256);
  auto c = map_of("c", three, 256);
  std::size_t owned = 0;
  for (std::uint32_t p = 0; p < 256; ++p) {
    BOOST_TEST(a.owner(p) == b.owner(p));
    BOOST_TEST(a.owner(p) == c.owner(p));
    owned += a.local(p) + b.local(p) + c.local(p);
  }
  BOOST_TEST(owned == 256u); // each partition has exactly one owner
  // The order of --peers does not matter either.
  auto shuffled
    = map_of("a", "c=127.0.0.1:7003,a=127.0.0.1:7001,b=127.0.0.1:7002", 256);
  for (std::uint32_t p = 0; p < 256; ++p) {
    BOOST_TEST(shuffled.owner(p) == a.owner(p));
  }
}

BOOST_AUTO_TEST_CASE(partitions_spread_over_the_nodes) {
  auto m = map_of("a", three, 4096);
  for (const auto* n : {"a", "b", "c"}) {
    auto share = m.owned_by(n).size();
    BOOST_TEST(share > 4096u / 3 * 8 / 10, n << " owns " << share);
    BOOST_TEST(share < 4096u / 3 * 12 / 10, n << " owns " << share);
  }
}

BOOST_AUTO_TEST_CASE(a_new_node_takes_partitions_only_for_itself) {
  auto before = map_of("a", three, 1024);
  auto after = map_of("a", three + ",d=127.0.0.1:7004", 1024);
  std::size_t moved = 0;
  for (std::uint32_t p = 0; p < 1024; ++p) {
    if (before.owner(p) != after.owner(p)) {
      BOOST_TEST(after.owner(p) == "d");
      ++moved;
    }
  }
  BOOST_TEST(moved == after.owned_by("d").size());
  BOOST_TEST(moved > 0u);
}

BOOST_AUTO_TEST_CASE(the_weights_are_pinned) {
  // Every node of every build must agree: changing this function re-homes
  // data, so it is pinned here.
  BOOST_TEST(cluster::weight("a", 0) == cluster::weight("a", 0));
  BOOST_TEST(cluster::weight("a", 0) != cluster::weight("a", 1));
  BOOST_TEST(cluster::weight("a", 0) != cluster::weight("b", 0));
  BOOST_TEST(cluster::weight("node-1", 7) == 12893656104641311805ull);
}

BOOST_AUTO_TEST_CASE(orders_follow_their_user_and_keys_their_id) {
  auto m = map_of("a", three, 64);
  auto id = runtime::order_id("u42", "key", 64);
  auto owner = m.owner_of_order(id);
  BOOST_REQUIRE(owner);
  BOOST_TEST(*owner == m.owner(runtime::user_partition("u42", 64)));
  // A split order's children live with their parent.
  BOOST_TEST((m.owner_of_order(id + "-1") == owner));
  BOOST_TEST(!m.owner_of_order("o1").has_value());
  BOOST_TEST(!m.owner_of_order("offff-0123456789abcdef").has_value());
  BOOST_TEST(m.owner_of_key("sku-A")
             == m.owner(runtime::user_partition("sku-A", 64)));
}

BOOST_AUTO_TEST_CASE(every_actor_kind_has_one_home) {
  auto m = map_of("a", three, 64);
  auto id = runtime::order_id("u42", "key", 64);
  auto home = m.owner_of_order(id);
  BOOST_REQUIRE(home);
  // An order's notifier, dispatcher, children, user limiter and report
  // shard all live where the order does.
  for (const char* kind : {"order", "notifier", "dispatcher"}) {
    BOOST_TEST((m.owner_of_actor(kind, id) == home));
  }
  BOOST_TEST((m.owner_of_actor("order", id + "-2") == home));
  BOOST_TEST((m.owner_of_actor("limiter", "u42") == home));
  BOOST_TEST((m.owner_of_actor("report", id.substr(0, 5)) == home));
  // SKUs, coupons, affiliates and the technicians pool by their own id.
  for (const char* kind : {"sku", "coupon", "affiliate", "technicians"}) {
    BOOST_TEST((m.owner_of_actor(kind, "x-17")
                == std::optional<std::string>{m.owner_of_key("x-17")}));
  }
  // Adapters run on every node; malformed ids name nobody.
  BOOST_TEST(!m.owner_of_actor("payment", "").has_value());
  BOOST_TEST(!m.owner_of_actor("sms", "").has_value());
  BOOST_TEST(!m.owner_of_actor("report", "o00zz").has_value());
  BOOST_TEST(!m.owner_of_actor("report", "offff").has_value());
  BOOST_TEST(!m.owner_of_actor("order", "nope").has_value());
}

BOOST_AUTO_TEST_SUITE_END()
