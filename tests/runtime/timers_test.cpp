// The timer service (runtime/detail/timers.hpp): timers fire in due order
// (equal dues in key order), arming again replaces, disarming forgets, and
// what the store holds is loaded. A manual clock moves time, so nothing
// sleeps.

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/clock.hpp"
#include "runtime/detail/sink.hpp"
#include "runtime/detail/timers.hpp"
#include "storage/keys.hpp"
#include "storage/store.hpp"
#include "tests/support/temp_dir.hpp"

using namespace ordo;
using runtime::detail::timer_service;

namespace {

/// What fired: "id name due", in firing order.
class fired_log final : public runtime::detail::sink {
public:
  void deliver(const actors::envelope& msg, std::string,
               runtime::detail::reply_fn) override {
    std::lock_guard<std::mutex> guard{mu_};
    log_.push_back(msg.to.id + " " + msg.body.value("name", "") + " "
                   + std::to_string(msg.body.value("due", actors::millis{0})));
    cv_.notify_all();
  }
  /// The first `n` firings, once there are `n` (empty after 10 s).
  std::vector<std::string> wait(std::size_t n) {
    std::unique_lock<std::mutex> lock{mu_};
    if (!cv_.wait_for(lock, std::chrono::seconds{10}, [&] {
          return log_.size() >= n;
        })) {
      return {};
    }
    return {log_.begin(), log_.begin() + static_cast<std::ptrdiff_t>(n)};
  }
  std::size_t size() {
    std::lock_guard<std::mutex> guard{mu_};
    return log_.size();
  }

private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> log_;
};

struct timers_fixture {
  runtime::manual_clock time{1'000};
  fired_log fired;
  runtime::detail::switchboard targets;
  timer_service timers{time, targets};

  timers_fixture() {
    targets.add("order", &fired);
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(timer_service_suite, timers_fixture)

BOOST_AUTO_TEST_CASE(timers_fire_in_due_order_and_equal_dues_in_key_order) {
  timers.set("order", "c", "wake", 1'500);
  timers.set("order", "a", "wake", 2'000);
  timers.set("order", "b", "wake", 1'500);
  timers.set("order", "d", "wake", 1'200);
  // Armed again: the earlier due goes, the later one counts.
  timers.set("order", "d", "wake", 1'800);
  // Disarmed: never fires.
  timers.set("order", "a", "wake", 0);
  // Disarming what is not armed changes nothing.
  timers.set("order", "zz", "wake", 0);
  BOOST_TEST(timers.pending() == 3u);
  timers.start();
  time.advance(1'000); // now 2,000: every due has passed
  auto log = fired.wait(3);
  BOOST_TEST(log
               == (std::vector<std::string>{"b wake 1500", "c wake 1500",
                                            "d wake 1800"}),
             boost::test_tools::per_element());
  BOOST_TEST(timers.pending() == 0u);
  timers.stop();
  BOOST_TEST(fired.size() == 3u);
}

BOOST_AUTO_TEST_CASE(a_timer_not_yet_due_waits_for_the_clock) {
  timers.start();
  timers.set("order", "a", "wake", 1'100);
  timers.set("order", "a", "pay", 1'050);
  time.advance(60); // 1,060: only "pay" is due
  BOOST_TEST(fired.wait(1) == std::vector<std::string>{"a pay 1050"});
  BOOST_TEST(timers.pending() == 1u);
  time.advance(40); // 1,100
  auto log = fired.wait(2);
  BOOST_REQUIRE_EQUAL(log.size(), 2u);
  BOOST_TEST(log[1] == "a wake 1100");
  timers.stop();
}

BOOST_AUTO_TEST_CASE(stored_timers_are_loaded) {
  test::temp_dir dir;
  storage::store_options so;
  so.path = dir.path() + "/db";
  so.sync = false;
  std::string err;
  auto db = storage::store::open(so, &err);
  BOOST_REQUIRE_MESSAGE(db, err);
  storage::batch b;
  b.put(storage::cf::timers, storage::keys::owned("order", "x", "wake"),
        storage::keys::be64(1'300));
  b.put(storage::cf::timers, storage::keys::owned("order", "y", "wake"),
        storage::keys::be64(1'200));
  BOOST_REQUIRE(db->commit_sync(std::move(b)).ok());
  timers.load(*db);
  BOOST_TEST(timers.pending() == 2u);
  // Armed again after loading: replaces the stored due.
  timers.set("order", "x", "wake", 1'100);
  BOOST_TEST(timers.pending() == 2u);
  timers.start();
  time.advance(500);
  BOOST_TEST(fired.wait(2)
               == (std::vector<std::string>{"x wake 1100", "y wake 1200"}),
             boost::test_tools::per_element());
  timers.stop();
}

BOOST_AUTO_TEST_SUITE_END()
