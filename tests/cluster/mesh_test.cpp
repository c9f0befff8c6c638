// Two meshes in one process on 127.0.0.1: a node that starts
// serving tells its connected peers, whose peer-up handler then runs, so
// what they hold for it goes at once instead of after the backoff its
// "node starting" answers earned.

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cluster/mesh.hpp"
#include "cluster/placement.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/process.hpp"

using namespace ordo;
using ordo::test::eventually;
using ordo::test::free_port;

namespace {

struct two_meshes {
  std::vector<cluster::node_address> peers{{"a", "127.0.0.1", free_port()},
                                           {"b", "127.0.0.1", free_port()}};
  std::atomic<int> ups{0};
  std::mutex mu;
  std::vector<std::string> who; ///< peers a was told are up, in order
  std::unique_ptr<cluster::mesh> a = start("a");
  /// Started once a counts its peer-up calls: a's connect to b is counted.
  std::unique_ptr<cluster::mesh> b;

  two_meshes() {
    a->on_peer_up([this](const std::string& id) {
      std::lock_guard<std::mutex> guard{mu};
      who.push_back(id);
      ++ups;
    });
    b = start("b");
  }

  std::unique_ptr<cluster::mesh> start(const std::string& self) {
    cluster::membership_options m;
    m.node_id = self;
    m.peers = peers;
    std::string why;
    auto map = cluster::partition_map::make(m, &why);
    BOOST_REQUIRE_MESSAGE(map, why);
    cluster::mesh_options o;
    o.map = std::make_shared<const cluster::partition_map>(*map);
    auto mesh = cluster::mesh::start(std::move(o), &why);
    BOOST_REQUIRE_MESSAGE(mesh, why);
    return mesh;
  }
  ~two_meshes() {
    b->stop();
    a->stop();
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(mesh, two_meshes)

BOOST_AUTO_TEST_CASE(a_node_that_starts_serving_tells_its_peers) {
  // Connected both ways, and a's handler ran for its own connect to b.
  BOOST_REQUIRE(eventually([&] {
    return a->reachable("b") && b->reachable("a") && ups.load() == 1;
  }));
  auto before = ups.load();
  b->announce_ready();
  BOOST_REQUIRE_MESSAGE(eventually([&] {
                          return ups.load() > before;
                        }),
                        "a was not told that b serves");
  std::lock_guard<std::mutex> guard{mu};
  BOOST_CHECK_EQUAL(who.back(), "b");
}

BOOST_AUTO_TEST_SUITE_END()
