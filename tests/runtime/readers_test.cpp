// The node's reader pool (runtime/detail/readers.hpp): tasks run on its own
// threads, two at a time with two threads, stop() runs what was posted
// before it, and a post after stop() is refused. Every wait is on an event
// with a generous timeout.

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <thread>

#include "runtime/detail/readers.hpp"

using ordo::runtime::detail::readers;

BOOST_AUTO_TEST_SUITE(reader_pool)

BOOST_AUTO_TEST_CASE(a_task_runs_on_a_reader_not_on_the_caller) {
  readers r{2};
  std::promise<std::thread::id> ran;
  auto on = ran.get_future();
  BOOST_REQUIRE(r.post([&] {
    ran.set_value(std::this_thread::get_id());
  }));
  BOOST_REQUIRE(on.wait_for(std::chrono::seconds{10})
                == std::future_status::ready);
  BOOST_TEST((on.get() != std::this_thread::get_id()));
}

BOOST_AUTO_TEST_CASE(a_held_task_leaves_the_other_reader_free) {
  readers r{2};
  std::promise<void> let_go;
  auto held = let_go.get_future().share();
  std::promise<void> second;
  BOOST_REQUIRE(r.post([held] {
    held.wait();
  }));
  BOOST_REQUIRE(r.post([&] {
    second.set_value();
  }));
  BOOST_TEST((second.get_future().wait_for(std::chrono::seconds{10})
              == std::future_status::ready));
  let_go.set_value();
}

BOOST_AUTO_TEST_CASE(stop_runs_what_was_posted_and_refuses_more) {
  readers r{1};
  std::promise<void> let_go;
  auto held = let_go.get_future().share();
  std::atomic<int> ran{0};
  BOOST_REQUIRE(r.post([held, &ran] {
    held.wait();
    ++ran;
  }));
  for (int i = 0; i < 3; ++i) {
    BOOST_REQUIRE(r.post([&ran] {
      ++ran;
    }));
  }
  auto stopped = std::async(std::launch::async, [&] {
    r.stop();
  });
  // stop() waits for the held task and the three queued behind it.
  BOOST_TEST((stopped.wait_for(std::chrono::milliseconds{50})
              == std::future_status::timeout));
  let_go.set_value();
  stopped.get();
  BOOST_TEST(ran.load() == 4);
  BOOST_TEST(!r.post([&ran] {
    ++ran;
  }));
  r.stop(); // idempotent
  BOOST_TEST(ran.load() == 4);
}

BOOST_AUTO_TEST_SUITE_END()
