// Tests of the per-user order rate limiter and its captcha (DESIGN.md
// rule 10).

#include <cstdint>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "actors/captcha.hpp"
#include "actors/limiter.hpp"

using namespace ordo::actors;
using nlohmann::json;
// The suite is named `limiter` too: inside it, that name means the suite.
namespace lim = ordo::actors::limiter;

namespace {

constexpr millis t0 = 1'700'000'000'000;
constexpr millis second = 1000;
constexpr millis minute = 60 * second;

const lim::config lcfg{};

lim::state fresh() {
  lim::state s;
  s.user_id = "u1";
  return s;
}

std::string dump(const lim::state& s) {
  json j;
  lim::to_json(j, s);
  return j.dump();
}

/// Runs `a` and checks the bookkeeping every turn must keep: a version bump
/// exactly when there is an event, and no silent state change.
outcome turn(lim::state& s, const lim::admit& a, millis now,
             const lim::config& cfg = lcfg) {
  auto before = dump(s);
  auto version = s.version;
  auto o = lim::handle(s, lim::input{a}, lim::context{now, &cfg});
  if (o.event.empty()) {
    BOOST_TEST(dump(s) == before);
  } else {
    BOOST_TEST(s.version == version + 1);
    BOOST_TEST(s.updated_at == now);
  }
  return o;
}

lim::admit create(const std::string& order_id,
                  std::vector<millis> cancel_run = {}) {
  return lim::admit{order_id, std::move(cancel_run), std::nullopt};
}

lim::admit create_answering(const std::string& order_id,
                            std::vector<millis> cancel_run,
                            const std::string& id, const std::string& text) {
  return lim::admit{order_id, std::move(cancel_run), lim::answer{id, text}};
}

/// Three cancelled orders created just before t0, newest first.
const std::vector<millis> three_cancels{t0 - 1 * second, t0 - 2 * second,
                                        t0 - 3 * second};

bool admitted(const outcome& o) {
  return !o.err && o.result == "admitted";
}

bool code_is(const outcome& o, errc code) {
  return o.err && o.err->code == code;
}

/// A state with an open challenge, issued at t0 for three cancels.
lim::state challenged() {
  auto s = fresh();
  auto o = turn(s, create("o1", three_cancels), t0);
  BOOST_REQUIRE(code_is(o, errc::captcha_required));
  BOOST_REQUIRE(s.challenge.has_value());
  return s;
}

/// A verifier whose only question is "Say the word" with answer "s3cr3t".
class word_verifier final : public captcha::verifier {
public:
  captcha::challenge issue(std::uint64_t seed) const override {
    ++issued;
    last_seed = seed;
    captcha::challenge c;
    c.question = "Say the word";
    c.expected = "s3cr3t";
    return c;
  }
  bool verify(const captcha::challenge& c,
              const std::string& answer) const override {
    ++verified;
    return answer == c.expected;
  }
  mutable int issued = 0;
  mutable int verified = 0;
  mutable std::uint64_t last_seed = 0;
};

/// Solves an arithmetic question "What is A + B?" / "What is A * B?".
std::string solve(const std::string& question) {
  int a = 0;
  int b = 0;
  char op = 0;
  BOOST_REQUIRE(std::sscanf(question.c_str(), "What is %d %c %d?", &a, &op, &b)
                == 3);
  BOOST_REQUIRE((op == '+' || op == '*'));
  return std::to_string(op == '+' ? a + b : a * b);
}

} // namespace

BOOST_AUTO_TEST_SUITE(limiter)

BOOST_AUTO_TEST_CASE(five_orders_in_a_minute_are_admitted_and_recorded) {
  auto s = fresh();
  for (int i = 0; i < 5; ++i) {
    auto o = turn(s, create("o" + std::to_string(i)), t0 + i * second);
    BOOST_TEST(admitted(o));
    BOOST_TEST(o.event == "admitted");
    BOOST_TEST(o.cause == "admit order=o" + std::to_string(i) + " streak=0");
  }
  BOOST_TEST(s.version == 5u);
  BOOST_REQUIRE_EQUAL(s.admitted.size(), 5u);
  BOOST_TEST(s.admitted.front().order_id == "o0");
  BOOST_TEST(s.admitted.front().at == t0);
  BOOST_TEST(s.admitted.back().order_id == "o4");
}

BOOST_AUTO_TEST_CASE(sixth_order_in_a_minute_is_rate_limited_with_retry_after) {
  auto s = fresh();
  for (int i = 0; i < 5; ++i) {
    turn(s, create("o" + std::to_string(i)), t0 + i * second);
  }
  auto o = turn(s, create("o5"), t0 + 10 * second);
  BOOST_REQUIRE(code_is(o, errc::rate_limited));
  BOOST_TEST(o.event.empty());
  BOOST_TEST(o.result.empty());
  BOOST_TEST(o.reply == (json{{"retry_after_ms", 50 * second}}));
  BOOST_TEST(o.err->message
             == "at most 5 orders per 60000 ms; retry in 50000 ms");
  BOOST_TEST(s.admitted.size() == 5u);
  auto body = reply_body("limiter/u1", o);
  BOOST_TEST(body["error"] == "rate_limited");
  BOOST_TEST(body["retry_after_ms"] == 50 * second);
}

BOOST_AUTO_TEST_CASE(a_withdrawn_admission_frees_its_slot) {
  // Five creates admitted, two of them then refused by their order: two
  // more fit in the same minute, and no third.
  auto s = fresh();
  for (int i = 0; i < 5; ++i) {
    turn(s, create("o" + std::to_string(i)), t0 + i * second);
  }
  for (const auto* id : {"o1", "o3"}) {
    auto version = s.version;
    auto o
      = lim::handle(s, lim::withdraw{id}, lim::context{t0 + 6 * second, &lcfg});
    BOOST_TEST(!o.err);
    BOOST_TEST(o.result == "withdrawn");
    BOOST_TEST(o.event == "withdrawn");
    BOOST_TEST(s.version == version + 1);
  }
  BOOST_TEST(s.admitted.size() == 3u);
  // Withdrawing what is not admitted changes nothing.
  auto before = dump(s);
  auto o
    = lim::handle(s, lim::withdraw{"o9"}, lim::context{t0 + 7 * second, &lcfg});
  BOOST_TEST(o.result == "withdrawn");
  BOOST_TEST(o.event.empty());
  BOOST_TEST(dump(s) == before);
  BOOST_TEST(admitted(turn(s, create("o5"), t0 + 8 * second)));
  BOOST_TEST(admitted(turn(s, create("o6"), t0 + 9 * second)));
  BOOST_TEST(
    code_is(turn(s, create("o7"), t0 + 10 * second), errc::rate_limited));
  // It travels as the message "withdraw".
  auto in = lim::decode(
    envelope{"x", {"limiter", "u1"}, "withdraw", json{{"order_id", "o5"}}});
  BOOST_REQUIRE(in.ok());
  BOOST_TEST(std::get<lim::withdraw>(in.value()).order_id == "o5");
  BOOST_TEST(
    !lim::decode(
       envelope{"x", {"limiter", "u1"}, "withdraw", json{{"order_id", ""}}})
       .ok());
}

BOOST_AUTO_TEST_CASE(the_window_slides) {
  auto s = fresh();
  for (int i = 0; i < 5; ++i) {
    turn(s, create("o" + std::to_string(i)), t0 + i * second);
  }
  // One millisecond before o0 leaves the window: still full.
  auto o = turn(s, create("o5"), t0 + minute - 1);
  BOOST_REQUIRE(code_is(o, errc::rate_limited));
  BOOST_TEST(o.reply["retry_after_ms"] == 1);
  // o0 (at t0) is out at t0 + window: one slot free.
  o = turn(s, create("o5"), t0 + minute);
  BOOST_TEST(admitted(o));
  BOOST_REQUIRE_EQUAL(s.admitted.size(), 5u);
  BOOST_TEST(s.admitted.front().order_id == "o1");
  BOOST_TEST(s.admitted.back().order_id == "o5");
  o = turn(s, create("o6"), t0 + minute + 1);
  BOOST_REQUIRE(code_is(o, errc::rate_limited));
  BOOST_TEST(o.reply["retry_after_ms"] == second - 1); // o1 leaves next
  // A long pause empties the window.
  o = turn(s, create("o7"), t0 + 10 * minute);
  BOOST_TEST(admitted(o));
  BOOST_REQUIRE_EQUAL(s.admitted.size(), 1u);
  BOOST_TEST(s.admitted.front().order_id == "o7");
}

BOOST_AUTO_TEST_CASE(admissions_stay_in_time_order_when_the_clock_steps_back) {
  auto s = fresh();
  turn(s, create("o1"), t0 + 10 * second);
  turn(s, create("o2"), t0 + 20 * second);
  turn(s, create("o3"), t0 + 5 * second); // another node's clock lags
  BOOST_REQUIRE_EQUAL(s.admitted.size(), 3u);
  BOOST_TEST(s.admitted[0].order_id == "o3");
  BOOST_TEST(s.admitted[1].order_id == "o1");
  BOOST_TEST(s.admitted[2].order_id == "o2");
  // o3 and o1 leave the window; o2 stays.
  turn(s, create("o4"), t0 + minute + 10 * second);
  BOOST_REQUIRE_EQUAL(s.admitted.size(), 2u);
  BOOST_TEST(s.admitted[0].order_id == "o2");
}

BOOST_AUTO_TEST_CASE(pruning_alone_is_not_a_state_change) {
  auto s = fresh();
  turn(s, create("o1"), t0);
  // o1 is stale later, but a repeat of an admitted order or a refusal must not
  // persist anything.
  for (int i = 0; i < 4; ++i) {
    turn(s, create("o" + std::to_string(i + 2)), t0 + 30 * second + i);
  }
  turn(s, create("o2"), t0 + minute + 1); // repeat of an admitted order
  BOOST_TEST(s.admitted.size() == 5u);    // o1 still there: nothing committed
  auto o = turn(s, create("o9"), t0 + minute + 2);
  BOOST_TEST(admitted(o)); // o1 no longer counts
  BOOST_TEST(s.admitted.size() == 5u);
  BOOST_TEST(s.admitted.front().order_id == "o2");
}

BOOST_AUTO_TEST_CASE(a_repeat_of_an_admitted_order_does_not_count) {
  auto s = fresh();
  auto o = turn(s, create("o1"), t0);
  BOOST_TEST(o.event == "admitted");
  for (int i = 0; i < 3; ++i) {
    o = turn(s, create("o1"), t0 + i + 1);
    BOOST_TEST(admitted(o));
    BOOST_TEST(o.event.empty());
  }
  BOOST_TEST(s.admitted.size() == 1u);
  for (int i = 2; i <= 5; ++i) {
    turn(s, create("o" + std::to_string(i)), t0 + i * second);
  }
  BOOST_TEST(s.admitted.size() == 5u);
  // Full, yet a retry of an admitted create is let through again...
  o = turn(s, create("o3"), t0 + 10 * second);
  BOOST_TEST(admitted(o));
  BOOST_TEST(o.event.empty());
  // ... even when it would need a captcha now.
  o = turn(s, create("o4", three_cancels), t0 + 11 * second);
  BOOST_TEST(admitted(o));
  BOOST_TEST(o.event.empty());
  // A new one is not.
  o = turn(s, create("o6"), t0 + 10 * second);
  BOOST_TEST(code_is(o, errc::rate_limited));
}

BOOST_AUTO_TEST_CASE(three_cancels_require_a_captcha) {
  auto s = fresh();
  auto two = std::vector<millis>{three_cancels[0], three_cancels[1]};
  auto o = turn(s, create("o1", two), t0);
  BOOST_TEST(admitted(o));
  BOOST_TEST(o.cause == "admit order=o1 streak=2");

  o = turn(s, create("o2", three_cancels), t0 + 1);
  BOOST_REQUIRE(code_is(o, errc::captcha_required));
  BOOST_TEST(o.result.empty());
  BOOST_TEST(o.event == "challenge_issued");
  BOOST_REQUIRE(s.challenge.has_value());
  BOOST_TEST(s.issued == 1u);
  BOOST_TEST(s.challenge->issued_at == t0 + 1);
  BOOST_TEST(s.challenge->id.rfind("ch1-", 0) == 0);
  BOOST_TEST(s.challenge->id.size() == 12u);
  BOOST_TEST(o.reply
             == (json{{"challenge",
                       {{"id", s.challenge->id},
                        {"question", s.challenge->question}}}}));
  BOOST_TEST(s.admitted.size() == 1u); // o2 not admitted
  auto body = reply_body("limiter/u1", o);
  BOOST_TEST(body["error"] == "captcha_required");
  BOOST_TEST(body["challenge"]["id"] == s.challenge->id);
}

BOOST_AUTO_TEST_CASE(wrong_answer_is_refused_with_a_new_challenge) {
  auto s = challenged();
  auto first = *s.challenge;
  auto wrong = first.expected + "1";
  auto o = turn(s, create_answering("o1", three_cancels, first.id, wrong),
                t0 + second);
  BOOST_REQUIRE(code_is(o, errc::captcha_required));
  BOOST_TEST(o.err->message == "wrong captcha answer; solve the new challenge");
  BOOST_TEST(o.event == "challenge_issued");
  BOOST_REQUIRE(s.challenge.has_value());
  BOOST_TEST(s.challenge->id != first.id);
  BOOST_TEST(s.challenge->issued_at == t0 + second);
  BOOST_TEST(s.issued == 2u);
  BOOST_TEST(o.reply["challenge"]["id"] == s.challenge->id);
  BOOST_TEST(s.admitted.empty());
  BOOST_TEST(s.solved_at == 0);

  // The right answer to the replaced challenge no longer counts.
  o = turn(s, create_answering("o1", three_cancels, first.id, first.expected),
           t0 + 2 * second);
  BOOST_REQUIRE(code_is(o, errc::captcha_required));
  BOOST_TEST(o.event == "challenge_issued");
  BOOST_TEST(s.issued == 3u);

  // An unknown id, too.
  o = turn(s,
           create_answering("o1", three_cancels, "nope", s.challenge->expected),
           t0 + 3 * second);
  BOOST_REQUIRE(code_is(o, errc::captcha_required));
  BOOST_TEST(s.issued == 4u);
  BOOST_TEST(s.admitted.empty());
}

BOOST_AUTO_TEST_CASE(an_answer_without_an_open_challenge_gets_one) {
  auto s = fresh();
  auto o
    = turn(s, create_answering("o1", three_cancels, "ch1-00000000", "7"), t0);
  BOOST_REQUIRE(code_is(o, errc::captcha_required));
  BOOST_TEST(o.event == "challenge_issued");
  BOOST_REQUIRE(s.challenge.has_value());
  BOOST_TEST(s.admitted.empty());
}

BOOST_AUTO_TEST_CASE(right_answer_admits_and_resets_the_streak) {
  auto s = challenged();
  auto c = *s.challenge;
  auto solved = t0 + 10 * second;
  auto o = turn(
    s, create_answering("o1", three_cancels, c.id, " " + c.expected + "\n"),
    solved);
  BOOST_TEST(admitted(o));
  BOOST_TEST(o.event == "captcha_solved_admitted");
  BOOST_TEST(s.solved_at == solved);
  BOOST_TEST(!s.challenge.has_value());
  BOOST_REQUIRE_EQUAL(s.admitted.size(), 1u);
  BOOST_TEST(s.admitted[0].order_id == "o1");

  // The old cancels no longer count, nor does a cancel of o1, created at
  // the very moment of the solve.
  std::vector<millis> run{solved, three_cancels[0], three_cancels[1],
                          three_cancels[2]};
  o = turn(s, create("o2", run), solved + second);
  BOOST_TEST(admitted(o));
  BOOST_TEST(o.event == "admitted");
  BOOST_TEST(o.cause == "admit order=o2 streak=0");

  // Cancels of orders created later do: o2 and o3 make two...
  run.insert(run.begin(), solved + second);
  run.insert(run.begin(), solved + 2 * second);
  o = turn(s, create("o3", run), solved + 2 * second + 1);
  BOOST_TEST(admitted(o));
  BOOST_TEST(o.cause == "admit order=o3 streak=2");

  // ... and o3 the third.
  run.insert(run.begin(), solved + 2 * second + 1);
  o = turn(s, create("o4", run), solved + 3 * second);
  BOOST_REQUIRE(code_is(o, errc::captcha_required));
  BOOST_TEST(o.cause == "admit order=o4 streak=3 (captcha required)");
}

BOOST_AUTO_TEST_CASE(an_open_challenge_is_shown_again_until_it_expires) {
  auto s = challenged();
  auto c = *s.challenge;
  auto before = dump(s);
  for (millis dt : {millis{1}, minute, lcfg.challenge_ttl - 1}) {
    auto o = turn(s, create("o1", three_cancels), t0 + dt);
    BOOST_REQUIRE(code_is(o, errc::captcha_required));
    BOOST_TEST(o.event.empty());
    BOOST_TEST(o.reply["challenge"]["id"] == c.id);
    BOOST_TEST(o.reply["challenge"]["question"] == c.question);
  }
  BOOST_TEST(dump(s) == before);

  // Expired: a create without an answer gets a new one.
  auto o = turn(s, create("o1", three_cancels), t0 + lcfg.challenge_ttl);
  BOOST_REQUIRE(code_is(o, errc::captcha_required));
  BOOST_TEST(o.event == "challenge_issued");
  BOOST_REQUIRE(s.challenge.has_value());
  BOOST_TEST(s.challenge->id != c.id);
  BOOST_TEST(s.challenge->issued_at == t0 + lcfg.challenge_ttl);

  // And the right answer to an expired challenge is refused.
  auto c2 = *s.challenge;
  o = turn(s, create_answering("o1", three_cancels, c2.id, c2.expected),
           c2.issued_at + lcfg.challenge_ttl);
  BOOST_REQUIRE(code_is(o, errc::captcha_required));
  BOOST_TEST(o.event == "challenge_issued");
  BOOST_TEST(s.challenge->id != c2.id);
  BOOST_TEST(s.admitted.empty());
}

BOOST_AUTO_TEST_CASE(a_paid_order_breaks_the_run) {
  auto s = challenged();
  // The user's newest order was paid: the run the runtime reads is shorter.
  auto o
    = turn(s, create("o1", {three_cancels[0], three_cancels[1]}), t0 + second);
  BOOST_TEST(admitted(o));
  BOOST_TEST(o.event == "admitted");
  BOOST_TEST(!s.challenge.has_value()); // the open question is moot
  o = turn(s, create("o2", {}), t0 + 2 * second);
  BOOST_TEST(admitted(o));
  BOOST_TEST(o.cause == "admit order=o2 streak=0");
}

BOOST_AUTO_TEST_CASE(the_rate_limit_is_checked_before_the_captcha) {
  lim::config cfg;
  cfg.max_orders = 1;
  auto s = fresh();
  turn(s, create("o1"), t0, cfg);
  auto o = turn(s, create("o2", three_cancels), t0 + 1, cfg);
  BOOST_REQUIRE(code_is(o, errc::rate_limited));
  BOOST_TEST(!s.challenge.has_value());
  BOOST_TEST(s.issued == 0u);
}

BOOST_AUTO_TEST_CASE(limits_switched_off_by_config_let_everything_through) {
  lim::config cfg;
  cfg.max_orders = 0;
  cfg.captcha_after = 0;
  auto s = fresh();
  auto before = dump(s);
  for (int i = 0; i < 50; ++i) {
    auto o
      = turn(s, create("o" + std::to_string(i), three_cancels), t0 + i, cfg);
    BOOST_TEST(admitted(o));
    BOOST_TEST(o.event.empty()); // nothing to remember
  }
  BOOST_TEST(dump(s) == before);

  // No rate limit, but the captcha still applies.
  cfg.captcha_after = 3;
  auto o = turn(s, create("x", three_cancels), t0 + minute, cfg);
  BOOST_REQUIRE(code_is(o, errc::captcha_required));
  o = turn(s,
           create_answering("x", three_cancels, s.challenge->id,
                            s.challenge->expected),
           t0 + minute + 1, cfg);
  BOOST_TEST(admitted(o));
  BOOST_TEST(o.event == "captcha_solved_admitted");
  BOOST_TEST(s.admitted.empty());

  // A larger threshold.
  cfg.captcha_after = 4;
  auto t = t0 + 2 * minute;
  o = turn(s, create("y", {t - 1, t - 2, t - 3}), t, cfg);
  BOOST_TEST(admitted(o));
  o = turn(s, create("z", {t - 1, t - 2, t - 3, t - 4}), t, cfg);
  BOOST_TEST(code_is(o, errc::captcha_required));
}

BOOST_AUTO_TEST_CASE(the_challenge_reply_never_contains_the_expected_answer) {
  word_verifier words;
  lim::config cfg;
  cfg.verifier = &words;
  auto s = fresh();
  std::vector<outcome> replies;
  replies.push_back(turn(s, create("o1", three_cancels), t0, cfg));
  replies.push_back(turn(s, create("o1", three_cancels), t0 + 1, cfg));
  replies.push_back(
    turn(s, create_answering("o1", three_cancels, s.challenge->id, "nope"),
         t0 + 2, cfg));
  for (const auto& o : replies) {
    BOOST_REQUIRE(code_is(o, errc::captcha_required));
    auto body = reply_body("limiter/u1", o).dump();
    BOOST_TEST(body.find("s3cr3t") == std::string::npos, body);
    BOOST_TEST(o.err->message.find("s3cr3t") == std::string::npos);
    BOOST_TEST(o.cause.find("s3cr3t") == std::string::npos);
  }
  // The arithmetic verifier's reply has the id and the question only.
  auto s2 = fresh();
  auto o = turn(s2, create("o1", three_cancels), t0);
  BOOST_REQUIRE(o.reply.is_object());
  BOOST_TEST(o.reply.size() == 1u);
  const auto& c = o.reply["challenge"];
  BOOST_TEST(c.size() == 2u);
  BOOST_TEST(c.contains("id"));
  BOOST_TEST(c.contains("question"));
}

BOOST_AUTO_TEST_CASE(a_custom_verifier_plugged_in_through_config_is_used) {
  word_verifier words;
  lim::config cfg;
  cfg.verifier = &words;
  auto s = fresh();
  auto o = turn(s, create("o1", three_cancels), t0, cfg);
  BOOST_REQUIRE(code_is(o, errc::captcha_required));
  BOOST_TEST(words.issued == 1);
  BOOST_TEST(o.reply["challenge"]["question"] == "Say the word");
  BOOST_TEST(s.challenge->expected == "s3cr3t");
  // The limiter names and stamps what the verifier issued.
  BOOST_TEST(s.challenge->id.rfind("ch1-", 0) == 0);
  BOOST_TEST(s.challenge->issued_at == t0);

  o = turn(s, create_answering("o1", three_cancels, s.challenge->id, "S3CR3T"),
           t0 + 1, cfg);
  BOOST_REQUIRE(code_is(o, errc::captcha_required));
  BOOST_TEST(words.verified == 1);
  BOOST_TEST(words.issued == 2);
  o = turn(s, create_answering("o1", three_cancels, s.challenge->id, "s3cr3t"),
           t0 + 2, cfg);
  BOOST_TEST(admitted(o));
  BOOST_TEST(words.verified == 2);
  // "7" would solve no arithmetic question here: only the plugged verifier
  // decides.
}

BOOST_AUTO_TEST_CASE(the_machine_is_deterministic) {
  word_verifier a_words;
  word_verifier b_words;
  lim::config a_cfg;
  a_cfg.verifier = &a_words;
  lim::config b_cfg;
  b_cfg.verifier = &b_words;
  auto a = fresh();
  auto b = fresh();
  std::vector<lim::admit> script{
    create("o1", three_cancels),
    create_answering("o1", three_cancels, "x", "y"),
    create("o1", three_cancels), create("o2")};
  millis now = t0;
  for (const auto& in : script) {
    auto oa = turn(a, in, now, a_cfg);
    auto ob = turn(b, in, now, b_cfg);
    BOOST_TEST(oa.reply == ob.reply);
    BOOST_TEST(oa.event == ob.event);
    BOOST_TEST(dump(a) == dump(b));
    now += second;
  }
  BOOST_TEST(a_words.last_seed == b_words.last_seed);
  // Another user at the same instant gets another challenge id.
  auto c = fresh();
  c.user_id = "u2";
  turn(c, create("o1", three_cancels), t0);
  auto d = fresh();
  turn(d, create("o1", three_cancels), t0);
  BOOST_TEST(c.challenge->id != d.challenge->id);
}

BOOST_AUTO_TEST_CASE(outcomes_name_the_owner_and_refuse_an_empty_order) {
  auto s = fresh();
  auto o = turn(s, create(""), t0);
  BOOST_REQUIRE(code_is(o, errc::bad_request));
  BOOST_TEST(o.event.empty());
  o = turn(s, create("o1"), t0);
  BOOST_TEST(o.outbox.empty());
  BOOST_TEST(o.timers.empty());
  BOOST_TEST(o.requests.empty());
}

BOOST_AUTO_TEST_CASE(state_round_trips_through_json) {
  auto s = challenged();
  turn(s, create("o1", {}), t0 + 1);
  turn(s, create("o2", {}), t0 + 2);
  turn(s, create("o3", three_cancels), t0 + 3); // a new challenge
  BOOST_REQUIRE(s.challenge.has_value());
  s.solved_at = t0 - minute;
  json j;
  lim::to_json(j, s);
  lim::state back;
  lim::from_json(json::parse(j.dump()), back);
  BOOST_TEST(dump(back) == j.dump());
  BOOST_TEST(back.user_id == "u1");
  BOOST_TEST(back.version == s.version);
  BOOST_TEST(back.updated_at == s.updated_at);
  BOOST_REQUIRE_EQUAL(back.admitted.size(), 2u);
  BOOST_TEST(back.admitted[0].order_id == "o1");
  BOOST_TEST(back.admitted[1].at == t0 + 2);
  BOOST_TEST(back.solved_at == t0 - minute);
  BOOST_REQUIRE(back.challenge.has_value());
  BOOST_TEST(back.challenge->id == s.challenge->id);
  BOOST_TEST(back.challenge->question == s.challenge->question);
  BOOST_TEST(back.challenge->expected == s.challenge->expected);
  BOOST_TEST(back.challenge->issued_at == s.challenge->issued_at);
  BOOST_TEST(back.issued == s.issued);

  // No challenge open, and a stored form with missing fields.
  auto plain = fresh();
  turn(plain, create("o1"), t0);
  lim::to_json(j, plain);
  lim::from_json(json::parse(j.dump()), back);
  BOOST_TEST(dump(back) == j.dump());
  BOOST_TEST(!back.challenge.has_value());
  lim::from_json(json{{"user", "u9"}}, back);
  BOOST_TEST(back.user_id == "u9");
  BOOST_TEST(back.admitted.empty());
  BOOST_TEST(!back.challenge.has_value());
  BOOST_TEST(back.version == 0u);
}

BOOST_AUTO_TEST_CASE(decode_reads_an_admit) {
  auto r = lim::decode(
    envelope{"x",
             {"limiter", "u1"},
             "admit",
             json{{"order_id", "o1"},
                  {"cancel_run", {t0, t0 - 5}},
                  {"captcha", {{"id", "ch1-abc"}, {"answer", "7"}}}}});
  BOOST_REQUIRE(r.ok());
  const auto& a = std::get<lim::admit>(r.value());
  BOOST_TEST(a.order_id == "o1");
  BOOST_TEST((a.cancel_run == std::vector<millis>{t0, t0 - 5}));
  BOOST_REQUIRE(a.captcha.has_value());
  BOOST_TEST(a.captcha->id == "ch1-abc");
  BOOST_TEST(a.captcha->text == "7");

  for (const auto& body :
       {json{{"order_id", "o2"}},
        json{{"order_id", "o2"}, {"cancel_run", nullptr}, {"captcha", nullptr}},
        json{{"order_id", "o2"}, {"cancel_run", json::array()}}}) {
    r = lim::decode(envelope{"x", {"limiter", "u1"}, "admit", body});
    BOOST_REQUIRE_MESSAGE(r.ok(), body.dump());
    const auto& b = std::get<lim::admit>(r.value());
    BOOST_TEST(b.order_id == "o2");
    BOOST_TEST(b.cancel_run.empty());
    BOOST_TEST(!b.captcha.has_value());
  }
}

BOOST_AUTO_TEST_CASE(decode_refuses_malformed_messages) {
  auto big
    = json::parse(R"({"order_id":"o1","cancel_run":[18446744073709551615]})");
  std::vector<envelope> garbage{
    {"x", {"limiter", "u1"}, "lock", json{{"order_id", "o1"}}},
    {"x", {"limiter", "u1"}, "", json{{"order_id", "o1"}}},
    {"x", {"limiter", "u1"}, "timer", json{{"name", "admit"}}},
    {"x", {"limiter", "u1"}, "admit", json()},
    {"x", {"limiter", "u1"}, "admit", json::array({1})},
    {"x", {"limiter", "u1"}, "admit", json("o1")},
    {"x", {"limiter", "u1"}, "admit", json::object()},
    {"x", {"limiter", "u1"}, "admit", json{{"order_id", ""}}},
    {"x", {"limiter", "u1"}, "admit", json{{"order_id", 7}}},
    {"x",
     {"limiter", "u1"},
     "admit",
     json{{"order_id", "o1"}, {"cancel_run", 5}}},
    {"x",
     {"limiter", "u1"},
     "admit",
     json{{"order_id", "o1"}, {"cancel_run", {1, "2"}}}},
    {"x",
     {"limiter", "u1"},
     "admit",
     json{{"order_id", "o1"}, {"cancel_run", {1.5}}}},
    {"x", {"limiter", "u1"}, "admit", big},
    {"x",
     {"limiter", "u1"},
     "admit",
     json{{"order_id", "o1"}, {"captcha", "7"}}},
    {"x",
     {"limiter", "u1"},
     "admit",
     json{{"order_id", "o1"}, {"captcha", {{"id", "ch1"}}}}},
    {"x",
     {"limiter", "u1"},
     "admit",
     json{{"order_id", "o1"}, {"captcha", {{"answer", "7"}}}}},
    {"x",
     {"limiter", "u1"},
     "admit",
     json{{"order_id", "o1"}, {"captcha", {{"id", ""}, {"answer", "7"}}}}},
    {"x",
     {"limiter", "u1"},
     "admit",
     json{{"order_id", "o1"}, {"captcha", {{"id", "ch1"}, {"answer", 7}}}}},
  };
  for (const auto& e : garbage) {
    auto r = lim::decode(e);
    BOOST_REQUIRE_MESSAGE(!r.ok(), e.type << " " << e.body.dump());
    BOOST_TEST((r.err().code == errc::bad_request));
    BOOST_TEST(r.err().message.rfind("limiter cannot decode '", 0) == 0);
  }
}

BOOST_AUTO_TEST_CASE(arithmetic_verifier_accepts_only_the_exact_number) {
  const auto& v = captcha::arithmetic();
  BOOST_TEST(&v == &captcha::arithmetic());
  captcha::challenge c;
  c.question = "What is 3 + 4?";
  c.expected = "7";
  for (const char* ok : {"7", "07", " 7", "7 ", "\t 7\n", "+7", "0007"}) {
    BOOST_TEST(v.verify(c, ok), "'" << ok << "' should pass");
  }
  for (const char* bad : {"", " ", "seven", "7x", "x7", "7 7", "7.0", "-7", "8",
                          "70", "+", "-", "0x7", "7\x01"}) {
    BOOST_TEST(!v.verify(c, bad), "'" << bad << "' should fail");
  }
  c.expected = "12";
  BOOST_TEST(v.verify(c, "012"));
  BOOST_TEST(!v.verify(c, "1 2"));
  // Numbers too long for any integer type are compared digit by digit.
  c.expected = "123456789012345678901234567890";
  BOOST_TEST(v.verify(c, "000123456789012345678901234567890"));
  BOOST_TEST(!v.verify(c, "123456789012345678901234567891"));
  c.expected = "";
  BOOST_TEST(!v.verify(c, ""));
}

BOOST_AUTO_TEST_CASE(arithmetic_verifier_asks_small_sums_and_products) {
  const auto& v = captcha::arithmetic();
  std::set<std::string> questions;
  bool sums = false;
  bool products = false;
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    auto c = v.issue(seed);
    BOOST_TEST(c.id.empty());
    BOOST_TEST(c.issued_at == 0);
    BOOST_TEST(c.question.rfind("What is ", 0) == 0);
    auto answer = solve(c.question);
    BOOST_TEST(c.expected == answer);
    BOOST_TEST(v.verify(c, answer));
    auto n = std::stoi(c.expected);
    BOOST_TEST(n >= 2);
    BOOST_TEST(n <= 81);
    sums = sums || c.question.find('+') != std::string::npos;
    products = products || c.question.find('*') != std::string::npos;
    questions.insert(c.question);
    // The same seed, the same question.
    auto again = v.issue(seed);
    BOOST_TEST(again.question == c.question);
    BOOST_TEST(again.expected == c.expected);
  }
  BOOST_TEST(sums);
  BOOST_TEST(products);
  BOOST_TEST(questions.size() > 50u);
}

BOOST_AUTO_TEST_CASE(the_cancel_run_counts_user_cancels_up_to_the_first_other) {
  using ordo::actors::order::status;
  std::vector<lim::recent_order> newest_first{
    {status::cancelled, "user", 50},
    {status::cancelled, "changed my mind", 40},
    {status::paid, "", 30},
    {status::cancelled, "user", 20}};
  BOOST_TEST(lim::cancel_run(newest_first, 3) == (std::vector<millis>{50, 40}));
  BOOST_TEST(lim::cancel_run(newest_first, 1) == (std::vector<millis>{50}));
  newest_first[1].cancel_reason = "timeout"; // no user cancel: breaks it
  BOOST_TEST(lim::cancel_run(newest_first, 3) == (std::vector<millis>{50}));
  newest_first[0].st = status::pending_payment;
  BOOST_TEST(lim::cancel_run(newest_first, 3).empty());
  BOOST_TEST(lim::cancel_run({}, 3).empty());
}

BOOST_AUTO_TEST_SUITE_END()
