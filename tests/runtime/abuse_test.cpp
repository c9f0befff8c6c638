// Abuse control (DESIGN.md rule 10) end to end through a real node with a
// manual clock: the per-user rate limit, the captcha after consecutive
// cancellations with a verifier plugged in through the node's options, and
// both holding across a restart.

#include <boost/test/unit_test.hpp>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "runtime/ids.hpp"
#include "tests/runtime/held_point.hpp"
#include "tests/runtime/node_fixture.hpp"

using namespace ordo;
using ordo::test::await;

namespace {

/// A verifier whose answer the test can compute: "echo N" -> "N".
class echo_verifier final : public actors::captcha::verifier {
public:
  actors::captcha::challenge issue(std::uint64_t seed) const override {
    actors::captcha::challenge c;
    c.expected = std::to_string(seed % 100'000);
    c.question = "echo " + c.expected;
    return c;
  }
  bool verify(const actors::captcha::challenge& c,
              const std::string& answer) const override {
    return answer == c.expected;
  }
};

const echo_verifier echo;

/// 5 orders a minute, a captcha after 3 consecutive cancels.
struct abuse_fixture : test::node_fixture {
  abuse_fixture() {
    node->stop();
    node.reset();
    opts.rate_limit = 5;
    opts.rate_window = 60'000;
    opts.captcha_after = 3;
    opts.captcha = &echo;
    start();
    BOOST_REQUIRE(put_sku("A", 1000, 100));
  }

  actors::result<runtime::created_order>
  create_as(const std::string& user, const std::string& key,
            const std::string& captcha_id = "",
            const std::string& answer = "") {
    actors::order::create cmd;
    cmd.user_id = user;
    cmd.items = {{"A", 1}};
    cmd.fingerprint = "fp";
    cmd.captcha_id = captcha_id;
    cmd.captcha_answer = answer;
    return create(key, std::move(cmd));
  }

  /// A create that must succeed: the new order's id.
  std::string placed(const std::string& user, const std::string& key) {
    auto r = create_as(user, key);
    BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.err().message));
    BOOST_REQUIRE_MESSAGE(!r->refused, r->refused->message);
    return r->order.order_id;
  }
};

bool refused(const actors::result<runtime::created_order>& r,
             actors::errc code) {
  return r && r->refused && r->refused->code == code;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(abuse_control, abuse_fixture)

BOOST_AUTO_TEST_CASE(
  the_sixth_order_in_a_minute_is_refused_until_the_window_moves) {
  for (int i = 0; i < 5; ++i) {
    placed("u1", "k" + std::to_string(i));
    time->advance(1'000);
  }
  auto sixth = create_as("u1", "k5");
  BOOST_REQUIRE(refused(sixth, actors::errc::rate_limited));
  // The oldest admission leaves the window 60 s after it, 5 s from now.
  BOOST_TEST(sixth->refused->retry_after_ms == 55'000);
  // Nothing was created for it, and another user is not limited.
  BOOST_TEST(!order(runtime::order_id("u1", "k5", opts.partitions)));
  placed("u2", "k0");
  // A retry of an order that exists is never limited.
  auto retry = create_as("u1", "k0");
  BOOST_REQUIRE(retry);
  BOOST_TEST(!retry->refused);
  BOOST_TEST(!retry->created);
  time->advance(55'000);
  placed("u1", "k5");
}

BOOST_AUTO_TEST_CASE(the_limit_holds_across_a_restart) {
  for (int i = 0; i < 5; ++i) {
    placed("u1", "k" + std::to_string(i));
  }
  restart();
  BOOST_TEST(refused(create_as("u1", "k5"), actors::errc::rate_limited));
  time->advance(60'001);
  placed("u1", "k5");
}

BOOST_AUTO_TEST_CASE(
  three_cancels_then_a_captcha_wrong_refused_right_admitted) {
  for (int i = 0; i < 3; ++i) {
    BOOST_REQUIRE(cancel(placed("u1", "c" + std::to_string(i))));
    time->advance(1'000);
  }
  // The cancel was acknowledged: the very next create sees the streak.
  auto gated = create_as("u1", "c3");
  BOOST_REQUIRE(refused(gated, actors::errc::captcha_required));
  const auto challenge = gated->refused->challenge_id;
  BOOST_TEST(!challenge.empty());
  BOOST_TEST(gated->refused->question.rfind("echo ", 0) == 0u);
  // Shown again until answered.
  auto shown = create_as("u1", "c3");
  BOOST_REQUIRE(refused(shown, actors::errc::captcha_required));
  BOOST_TEST(shown->refused->challenge_id == challenge);
  // A wrong answer is refused with a new challenge.
  auto wrong = create_as("u1", "c3", challenge, "nope");
  BOOST_REQUIRE(refused(wrong, actors::errc::captcha_required));
  BOOST_TEST(wrong->refused->challenge_id != challenge);
  BOOST_TEST(!order(runtime::order_id("u1", "c3", opts.partitions)));
  // The old challenge is gone; the new one's answer lets the order in.
  const auto& fresh = *wrong->refused;
  auto stale = create_as("u1", "c3", challenge, fresh.question.substr(5));
  BOOST_REQUIRE(refused(stale, actors::errc::captcha_required));
  auto next = *stale->refused;
  auto right
    = create_as("u1", "c3", next.challenge_id, next.question.substr(5));
  BOOST_REQUIRE(right);
  BOOST_REQUIRE(!right->refused);
  BOOST_TEST(right->created);
  // The streak is reset: the next order needs no captcha.
  placed("u1", "c4");
}

BOOST_AUTO_TEST_CASE(a_paid_order_breaks_the_run_and_timeouts_do_not_count) {
  // Orders are ordered by creation time (ms): let each have its own.
  BOOST_REQUIRE(cancel(placed("u1", "a")));
  time->advance(1);
  BOOST_REQUIRE(cancel(placed("u1", "b")));
  time->advance(1);
  auto paid = placed("u1", "c");
  BOOST_REQUIRE(pay(paid, "t1", 100));
  time->advance(1);
  BOOST_REQUIRE(cancel(placed("u1", "d")));
  time->advance(60'001); // out of the rate window
  BOOST_REQUIRE(cancel(placed("u1", "e")));
  time->advance(1);
  placed("u1", "f"); // run: e, d (c was paid)
  // f times out: an unpaid order is no user cancel.
  time->advance(opts.payment_timeout + 1);
  auto f = runtime::order_id("u1", "f", opts.partitions);
  BOOST_REQUIRE(test::eventually([&] {
    auto o = order(f);
    return o && o->st == actors::order::status::cancelled;
  }));
  placed("u1", "g");
}

BOOST_AUTO_TEST_CASE(an_open_challenge_survives_a_restart) {
  for (int i = 0; i < 3; ++i) {
    BOOST_REQUIRE(cancel(placed("u1", "c" + std::to_string(i))));
  }
  auto gated = create_as("u1", "c3");
  BOOST_REQUIRE(refused(gated, actors::errc::captcha_required));
  auto challenge = *gated->refused;
  restart();
  auto right = create_as("u1", "c3", challenge.challenge_id,
                         challenge.question.substr(5));
  BOOST_REQUIRE(right);
  BOOST_TEST(!right->refused);
}

// Under the captcha threshold a create passes the rate limit in memory: the
// user's limiter actor is never asked, so nothing of it is stored.
BOOST_AUTO_TEST_CASE(a_create_under_both_limits_writes_no_limiter_state) {
  placed("u1", "k0");
  auto v = await<runtime::actor_view>([&](auto cb) {
    node->inspect("limiter", "u1", cb);
  });
  BOOST_REQUIRE(v);
  BOOST_TEST(!v->exists);
  BOOST_TEST(v->journal.empty());
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

struct held_abuse_fixture : abuse_fixture {
  std::shared_ptr<test::held_point> hook = std::make_shared<test::held_point>(
    "store.before_commit", test::held_point::mode::hold_while_armed);
  held_abuse_fixture() {
    test::hold_with(opts, hook);
    restart();
  }
  ~held_abuse_fixture() {
    hook->release();
  }
};

} // namespace

// Ten creates of one user at once, while nothing reaches storage (so the
// order index shows none of them): the creates in flight count, and
// exactly five get through. Which five is not fixed: the reader threads
// take the creates in no set order.
BOOST_FIXTURE_TEST_CASE(concurrent_creates_never_exceed_the_rate_limit,
                        held_abuse_fixture) {
  hook->arm();
  // Shared with the callbacks, which a failed check could leave running
  // after this body returns.
  struct answers_so_far {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::optional<actors::result<runtime::created_order>>> got
      = decltype(got)(10);
    std::size_t answered = 0;
  };
  auto box = std::make_shared<answers_so_far>();
  auto wait_for_answers = [box](std::size_t n) {
    std::unique_lock<std::mutex> lock{box->mu};
    return box->cv.wait_for(lock, std::chrono::seconds{30}, [&] {
      return box->answered >= n;
    });
  };
  for (std::size_t i = 0; i < 10; ++i) {
    actors::order::create cmd;
    cmd.user_id = "u1";
    cmd.items = {{"A", 1}};
    cmd.fingerprint = "fp";
    cmd.token = i + 1;
    node->create_order("k" + std::to_string(i), cmd,
                       [box, i](actors::result<runtime::created_order> r) {
                         std::lock_guard<std::mutex> guard{box->mu};
                         box->got[i] = std::move(r);
                         ++box->answered;
                         box->cv.notify_all();
                       });
  }
  // Five are refused at once, with nothing stored; the other five wait
  // for storage.
  BOOST_REQUIRE(wait_for_answers(5));
  std::vector<std::size_t> admitted;
  {
    std::lock_guard<std::mutex> guard{box->mu};
    BOOST_TEST(box->answered == 5u);
    for (std::size_t i = 0; i < 10; ++i) {
      if (box->got[i]) {
        BOOST_TEST(refused(*box->got[i], actors::errc::rate_limited));
      } else {
        admitted.push_back(i);
      }
    }
  }
  BOOST_REQUIRE_EQUAL(admitted.size(), 5u);
  hook->release();
  BOOST_REQUIRE(wait_for_answers(10));
  for (auto i : admitted) {
    std::lock_guard<std::mutex> guard{box->mu};
    const auto& r = *box->got[i];
    BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.err().message));
    BOOST_TEST(!r->refused);
    BOOST_TEST(r->created);
  }
  // Answered creates leave the window to the index: still five.
  BOOST_TEST(refused(create_as("u1", "k10"), actors::errc::rate_limited));
}
