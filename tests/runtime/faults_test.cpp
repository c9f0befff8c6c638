// Failure injection (runtime/faults.hpp): the spec and JSON forms, the
// registry, and each point against the real component it sits in (a real
// store, the relay with a recording sink, the SMS log sink and the sandbox
// provider); crash points in a child process. Every case starts and ends
// with the global registry cleared. Waits are on events with generous
// timeouts; nothing sleeps to let another thread catch up.

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/detail/builtin_provider.hpp"
#include "runtime/detail/relay.hpp"
#include "runtime/detail/sink.hpp"
#include "runtime/detail/sms.hpp"
#include "runtime/faults.hpp"
#include "storage/keys.hpp"
#include "storage/store.hpp"
#include "tests/integration/server_fixture.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/temp_dir.hpp"

using namespace ordo;
using runtime::fault_action;
using runtime::fault_rule;
using runtime::faults;
using runtime::turn_reply;
using runtime::detail::relay;
using runtime::detail::reply_fn;
using runtime::detail::switchboard;

namespace {

using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;
constexpr auto patience = std::chrono::seconds{10};
constexpr actors::millis patience_ms = 10'000;

/// Clears the global registry around every case.
struct clean_faults {
  clean_faults() {
    faults::global().clear_all();
  }
  ~clean_faults() {
    faults::global().clear_all();
  }
};

void arm(const std::string& spec) {
  std::vector<fault_rule> rules;
  std::string why;
  BOOST_REQUIRE_MESSAGE(runtime::parse_fault_spec(spec, &rules, &why), why);
  for (const auto& r : rules) {
    BOOST_REQUIRE_MESSAGE(faults::global().arm(r, &why), why);
  }
}

/// A sink that records every message and answers success at once, and lets
/// the test wait for the n-th. Thread-safe.
class recording_sink final : public runtime::detail::sink {
public:
  void deliver(const actors::envelope& msg, std::string,
               reply_fn done) override {
    {
      std::lock_guard<std::mutex> guard{mu_};
      log_.push_back(msg);
      at_.push_back(steady::now());
      cv_.notify_all();
    }
    if (done) {
      done({std::nullopt, "consumed", {}});
    }
  }
  bool wait(std::size_t n) {
    std::unique_lock<std::mutex> lock{mu_};
    return cv_.wait_for(lock, patience, [&] {
      return log_.size() >= n;
    });
  }
  std::vector<actors::envelope> log() const {
    std::lock_guard<std::mutex> guard{mu_};
    return log_;
  }
  std::vector<steady::time_point> times() const {
    std::lock_guard<std::mutex> guard{mu_};
    return at_;
  }

private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<actors::envelope> log_;  // guarded by mu_
  std::vector<steady::time_point> at_; // guarded by mu_
};

/// Collects the replies of deliveries. Thread-safe.
class replies {
public:
  reply_fn fn() {
    return [this](const turn_reply& r) {
      std::lock_guard<std::mutex> guard{mu_};
      got_.push_back(r);
      cv_.notify_all();
    };
  }
  std::optional<turn_reply> wait(std::size_t n = 1) {
    std::unique_lock<std::mutex> lock{mu_};
    if (!cv_.wait_for(lock, patience, [&] {
          return got_.size() >= n;
        })) {
      return std::nullopt;
    }
    return got_[n - 1];
  }
  std::size_t size() const {
    std::lock_guard<std::mutex> guard{mu_};
    return got_.size();
  }

private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<turn_reply> got_; // guarded by mu_
};

std::unique_ptr<storage::store> open_store(const std::string& path,
                                           bool hook = true) {
  storage::store_options so;
  so.path = path;
  so.sync = false;
  if (hook) {
    so.fault = runtime::storage_fault_hook();
  }
  std::string err;
  auto db = storage::store::open(so, &err);
  if (!db) {
    throw std::runtime_error("cannot open store: " + err);
  }
  return db;
}

storage::batch put(const std::string& key) {
  storage::batch b;
  b.put(storage::cf::actors, key, "v");
  return b;
}

bool has_code(const std::optional<turn_reply>& r, actors::errc code) {
  return r && r->err && r->err->code == code;
}

} // namespace

// --- the spec and JSON forms -------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(fault_spec, clean_faults)

BOOST_AUTO_TEST_CASE(spec_reads_every_part_with_defaults) {
  std::vector<fault_rule> rules;
  std::string why;
  BOOST_REQUIRE_MESSAGE(
    runtime::parse_fault_spec("store.after_commit=crash@0.01,payment.call="
                              "error@0.5#10,relay.deliver=delay:200ms",
                              &rules, &why),
    why);
  BOOST_REQUIRE_EQUAL(rules.size(), 3u);
  BOOST_TEST(rules[0].point == "store.after_commit");
  BOOST_TEST((rules[0].action == fault_action::crash));
  BOOST_TEST(rules[0].probability == 0.01);
  BOOST_TEST(rules[0].count == 0u);
  BOOST_TEST(rules[0].delay_ms == 0u);
  BOOST_TEST(rules[1].point == "payment.call");
  BOOST_TEST((rules[1].action == fault_action::error));
  BOOST_TEST(rules[1].probability == 0.5);
  BOOST_TEST(rules[1].count == 10u);
  BOOST_TEST(rules[2].point == "relay.deliver");
  BOOST_TEST((rules[2].action == fault_action::delay));
  BOOST_TEST(rules[2].delay_ms == 200u);
  BOOST_TEST(rules[2].probability == 1.0);
  BOOST_TEST(rules[2].count == 0u);

  // Seconds, all three parts, spaces around items; appended to `out`.
  BOOST_REQUIRE_MESSAGE(
    runtime::parse_fault_spec(
      " sms.call = delay:2s@1#3 , gateway.before_reply=drop#0", &rules, &why),
    why);
  BOOST_REQUIRE_EQUAL(rules.size(), 5u);
  BOOST_TEST(rules[3].point == "sms.call");
  BOOST_TEST(rules[3].delay_ms == 2000u);
  BOOST_TEST(rules[3].count == 3u);
  BOOST_TEST((rules[4].action == fault_action::drop));

  // An empty spec is no rules.
  BOOST_TEST(runtime::parse_fault_spec("", &rules, &why));
  BOOST_TEST(runtime::parse_fault_spec("  ", &rules, &why));
  BOOST_TEST(rules.size() == 5u);
}

BOOST_AUTO_TEST_CASE(spec_refuses_every_kind_of_bad_input) {
  const char* bad[] = {
    "nonsense",                                // no '='
    "=crash",                                  // no point
    "nope.point=crash",                        // unknown point
    "store.after_commit=error",                // unsupported action
    "store.before_commit=drop",                // unsupported action
    "payment.call=explode",                    // unknown action
    "payment.call=",                           // no action
    "relay.deliver=delay",                     // delay without duration
    "relay.deliver=delay:",                    // empty duration
    "relay.deliver=delay:10",                  // no unit
    "relay.deliver=delay:10m",                 // unknown unit
    "relay.deliver=delay:0ms",                 // zero
    "relay.deliver=delay:-5ms",                // negative
    "relay.deliver=delay:1.5s",                // not whole
    "relay.deliver=delay:601s",                // too long
    "payment.call=error:10ms",                 // duration on a non-delay
    "payment.call=error@0",                    // probability 0
    "payment.call=error@1.5",                  // probability above 1
    "payment.call=error@-0.1",                 // negative probability
    "payment.call=error@nan",                  // not a number
    "payment.call=error@",                     // empty probability
    "payment.call=error@half",                 // not a number
    "payment.call=error#-1",                   // negative count
    "payment.call=error#",                     // empty count
    "payment.call=error#x",                    // not a number
    "payment.call=error#99999999999999999999", // overflow
    "payment.call=error#3@0.5",                // parts out of order
    "payment.call=error,,sms.call=drop",       // empty item
    "payment.call=error,",                     // trailing comma
    "payment.call=error,payment.call=drop",    // a point twice
  };
  for (const char* spec : bad) {
    std::vector<fault_rule> rules{fault_rule{}};
    std::string why;
    BOOST_TEST(!runtime::parse_fault_spec(spec, &rules, &why), spec);
    BOOST_TEST(!why.empty(), spec);
    BOOST_TEST(rules.size() == 1u, spec); // untouched
  }
  std::string why;
  std::vector<fault_rule> rules;
  BOOST_TEST(!runtime::parse_fault_spec("nope.point=crash", &rules, &why));
  BOOST_TEST(why.find("unknown fault point 'nope.point'") != std::string::npos,
             why);
  for (const auto& p : runtime::fault_points()) {
    BOOST_TEST(why.find(p.name) != std::string::npos, why);
  }
  BOOST_TEST(
    !runtime::parse_fault_spec("store.after_commit=error", &rules, &why));
  BOOST_TEST(why.find("does not support error (it supports crash, delay)")
               != std::string::npos,
             why);
}

BOOST_AUTO_TEST_CASE(json_round_trips_and_refuses_bad_input) {
  fault_rule r;
  std::string why;
  auto j = nlohmann::json::parse(R"({"point": "relay.deliver",
    "action": "delay", "delay_ms": 250, "probability": 0.5, "count": 3})");
  BOOST_REQUIRE_MESSAGE(runtime::rule_from_json(j, &r, &why), why);
  BOOST_TEST(r.point == "relay.deliver");
  BOOST_TEST((r.action == fault_action::delay));
  BOOST_TEST(r.delay_ms == 250u);
  BOOST_TEST(r.probability == 0.5);
  BOOST_TEST(r.count == 3u);
  auto out = runtime::rule_to_json(r);
  BOOST_TEST(out == nlohmann::json::parse(R"({"point": "relay.deliver",
    "action": "delay", "delay_ms": 250, "probability": 0.5, "count": 3,
    "fired": 0})"));
  // What GET shows can be POSTed back ("fired" is ignored).
  fault_rule again;
  BOOST_REQUIRE_MESSAGE(runtime::rule_from_json(out, &again, &why), why);
  BOOST_TEST(runtime::rule_to_json(again) == out);

  // Defaults; no delay_ms shown for other actions.
  BOOST_REQUIRE(runtime::rule_from_json(
    {{"point", "sms.call"}, {"action", "drop"}}, &r, &why));
  BOOST_TEST(r.probability == 1.0);
  BOOST_TEST(r.count == 0u);
  BOOST_TEST(r.delay_ms == 0u);
  BOOST_TEST(!runtime::rule_to_json(r).contains("delay_ms"));
  BOOST_REQUIRE(runtime::rule_from_json(
    {{"point", "sms.call"}, {"action", "error"}, {"probability", 1}}, &r,
    &why));

  const char* bad[] = {
    R"([])",
    R"("payment.call=error")",
    R"({"action": "error"})",
    R"({"point": 7, "action": "error"})",
    R"({"point": "payment.call"})",
    R"({"point": "payment.call", "action": "explode"})",
    R"({"point": "payment.call", "action": 1})",
    R"({"point": "nope", "action": "error"})",
    R"({"point": "store.after_commit", "action": "drop"})",
    R"({"point": "payment.call", "action": "error", "probabilty": 0.5})",
    R"({"point": "relay.deliver", "action": "delay"})",
    R"({"point": "relay.deliver", "action": "delay", "delay_ms": 0})",
    R"({"point": "relay.deliver", "action": "delay", "delay_ms": -5})",
    R"({"point": "relay.deliver", "action": "delay", "delay_ms": 2.5})",
    R"({"point": "relay.deliver", "action": "delay", "delay_ms": "250"})",
    R"({"point": "relay.deliver", "action": "delay", "delay_ms": 600001})",
    R"({"point": "payment.call", "action": "error", "delay_ms": 10})",
    R"({"point": "payment.call", "action": "error", "probability": 0})",
    R"({"point": "payment.call", "action": "error", "probability": 1.01})",
    R"({"point": "payment.call", "action": "error", "probability": "0.5"})",
    R"({"point": "payment.call", "action": "error", "probability": true})",
    R"({"point": "payment.call", "action": "error", "count": -1})",
    R"({"point": "payment.call", "action": "error", "count": 1.5})",
    R"({"point": "payment.call", "action": "error", "count": "3"})",
  };
  for (const char* text : bad) {
    fault_rule untouched;
    untouched.point = "x";
    std::string message;
    BOOST_TEST(!runtime::rule_from_json(nlohmann::json::parse(text), &untouched,
                                        &message),
               text);
    BOOST_TEST(!message.empty(), text);
    BOOST_TEST(untouched.point == "x", text);
  }
}

BOOST_AUTO_TEST_SUITE_END()

// --- the registry ------------------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(fault_registry, clean_faults)

BOOST_AUTO_TEST_CASE(table_names_every_point_and_its_actions) {
  std::map<std::string, std::vector<fault_action>> want{
    {"store.before_commit",
     {fault_action::crash, fault_action::error, fault_action::delay}},
    {"store.after_commit", {fault_action::crash, fault_action::delay}},
    {"store.before_sync", {fault_action::crash, fault_action::delay}},
    {"store.before_read",
     {fault_action::crash, fault_action::error, fault_action::delay}},
    {"store.disk_low", {fault_action::error}},
    {"audit.before_orders", {fault_action::delay}},
  };
  for (auto p : {"gateway.before_reply", "relay.deliver", "payment.call",
                 "sms.call", "cluster.forward"}) {
    want[p] = {fault_action::crash, fault_action::error, fault_action::delay,
               fault_action::drop};
  }
  BOOST_REQUIRE_EQUAL(runtime::fault_points().size(), want.size());
  for (const auto& p : runtime::fault_points()) {
    auto i = want.find(p.name);
    BOOST_REQUIRE_MESSAGE(i != want.end(), p.name);
    for (auto a : {fault_action::crash, fault_action::error,
                   fault_action::delay, fault_action::drop}) {
      bool expected
        = std::find(i->second.begin(), i->second.end(), a) != i->second.end();
      BOOST_TEST(p.supports(a) == expected,
                 p.name << " " << runtime::to_string(a));
    }
  }
}

BOOST_AUTO_TEST_CASE(arm_list_and_clear) {
  auto& f = faults::global();
  BOOST_TEST(!faults::any_armed());
  BOOST_TEST(!runtime::fault_hit("payment.call"));
  arm("sms.call=drop,payment.call=error@0.5#4");
  BOOST_TEST(faults::any_armed());
  auto l = f.list();
  BOOST_REQUIRE_EQUAL(l.size(), 2u);
  BOOST_TEST(l[0].point == "payment.call"); // by name
  BOOST_TEST(l[0].count == 4u);
  BOOST_TEST(l[1].point == "sms.call");

  // Arming a point again replaces its rule.
  arm("payment.call=delay:5ms");
  l = f.list();
  BOOST_REQUIRE_EQUAL(l.size(), 2u);
  BOOST_TEST((l[0].action == fault_action::delay));
  BOOST_TEST(l[0].count == 0u);

  BOOST_TEST(f.clear("payment.call"));
  BOOST_TEST(!f.clear("payment.call"));
  BOOST_TEST(!f.clear("nope"));
  BOOST_REQUIRE_EQUAL(f.list().size(), 1u);
  BOOST_TEST(faults::any_armed());
  f.clear_all();
  BOOST_TEST(f.list().empty());
  BOOST_TEST(!faults::any_armed());
  BOOST_TEST(!runtime::fault_hit("sms.call"));
}

BOOST_AUTO_TEST_CASE(arm_refuses_unknown_points_and_unsupported_actions) {
  auto& f = faults::global();
  std::string why;
  fault_rule r;
  r.point = "store.commit";
  BOOST_TEST(!f.arm(r, &why));
  BOOST_TEST(why.find("known: store.before_commit") != std::string::npos, why);
  r.point = "store.after_commit";
  r.action = fault_action::error;
  BOOST_TEST(!f.arm(r, &why));
  BOOST_TEST(why.find("does not support error") != std::string::npos, why);
  r.action = fault_action::delay; // without a duration
  BOOST_TEST(!f.arm(r, &why));
  r.delay_ms = 5;
  r.probability = 0;
  BOOST_TEST(!f.arm(r, &why));
  BOOST_TEST(f.list().empty());
  BOOST_TEST(!faults::any_armed());
}

BOOST_AUTO_TEST_CASE(a_count_fires_exactly_that_often_then_disarms) {
  arm("payment.call=error#3,sms.call=drop");
  BOOST_TEST((runtime::fault_hit("payment.call") == fault_action::error));
  BOOST_TEST((runtime::fault_hit("payment.call") == fault_action::error));
  auto l = faults::global().list();
  BOOST_REQUIRE_EQUAL(l.size(), 2u);
  BOOST_TEST(l[0].fired == 2u);
  BOOST_TEST(l[0].count == 1u);
  BOOST_TEST((runtime::fault_hit("payment.call") == fault_action::error));
  for (int i = 0; i < 10; ++i) {
    BOOST_TEST(!runtime::fault_hit("payment.call"));
  }
  l = faults::global().list();
  BOOST_REQUIRE_EQUAL(l.size(), 1u);
  BOOST_TEST(l[0].point == "sms.call");
  // Points without a rule do not fire while others are armed.
  BOOST_TEST(!runtime::fault_hit("relay.deliver"));
  // Unlimited keeps firing.
  for (int i = 0; i < 100; ++i) {
    BOOST_TEST((runtime::fault_hit("sms.call") == fault_action::drop));
  }
  BOOST_TEST(faults::global().list()[0].fired == 100u);
  faults::global().clear("sms.call");
  BOOST_TEST(!faults::any_armed());
}

BOOST_AUTO_TEST_CASE(probability_draws_are_roughly_right) {
  faults::global().seed(42);
  arm("payment.call=error@0.25,sms.call=drop@0.9#1000");
  constexpr int n = 20'000;
  int hits = 0;
  for (int i = 0; i < n; ++i) {
    if (runtime::fault_hit("payment.call")) {
      ++hits;
    }
  }
  BOOST_TEST(hits > n * 0.22);
  BOOST_TEST(hits < n * 0.28);
  BOOST_TEST(faults::global().list()[0].fired == static_cast<unsigned>(hits));
  // A count counts firings, not draws.
  int dropped = 0;
  for (int i = 0; i < 5'000; ++i) {
    if (runtime::fault_hit("sms.call")) {
      ++dropped;
    }
  }
  BOOST_TEST(dropped == 1000);
}

BOOST_AUTO_TEST_CASE(hit_waits_out_a_delay_and_draw_hands_it_back) {
  arm("sms.call=delay:40ms#1,relay.deliver=delay:250ms#1");
  auto start = steady::now();
  BOOST_TEST(!runtime::fault_hit("sms.call")); // waited, then go on
  BOOST_TEST((steady::now() - start >= milliseconds{40}));
  auto e = runtime::fault_draw("relay.deliver");
  BOOST_REQUIRE(e);
  BOOST_TEST((e->action == fault_action::delay));
  BOOST_TEST(e->delay_ms == 250u);
  BOOST_TEST(faults::global().list().empty());
}

BOOST_AUTO_TEST_CASE(delayer_runs_in_due_order_and_stop_drops_the_rest) {
  runtime::fault_delayer d;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int> ran; // guarded by mu
  auto note = [&](int i) {
    return [&, i] {
      std::lock_guard<std::mutex> guard{mu};
      ran.push_back(i);
      cv.notify_all();
    };
  };
  d.after(60, note(2));
  d.after(1, note(1));
  auto held = std::make_shared<int>(0);
  d.after(600'000, [held, note3 = note(3)] {
    note3();
  });
  {
    std::unique_lock<std::mutex> lock{mu};
    BOOST_REQUIRE(cv.wait_for(lock, patience, [&] {
      return ran.size() >= 2;
    }));
    BOOST_TEST(ran == (std::vector<int>{1, 2}),
               boost::test_tools::per_element());
  }
  BOOST_TEST(held.use_count() == 2);
  d.stop();                          // does not wait 10 minutes
  BOOST_TEST(held.use_count() == 1); // destroyed unrun
  d.after(1, [held] {});
  BOOST_TEST(held.use_count() == 1); // after stop: destroyed at once
  std::lock_guard<std::mutex> guard{mu};
  BOOST_TEST(ran.size() == 2u);
}

BOOST_AUTO_TEST_SUITE_END()

// --- the points in their components
// -------------------------------------------

namespace {

struct store_fixture : clean_faults {
  test::temp_dir dir;
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(fault_points_in_storage, store_fixture)

BOOST_AUTO_TEST_CASE(before_commit_error_fails_the_commit_and_writes_nothing) {
  auto db = open_store(dir.sub("db"));
  arm("store.before_commit=error");
  auto s = db->commit_sync(put("k1"));
  BOOST_TEST(!s.ok());
  BOOST_TEST(s.message().find("injected fault at store.before_commit")
               != std::string::npos,
             s.message());
  BOOST_TEST(!db->get(storage::cf::actors, "k1").has_value());
  // The asynchronous path reports it to the callback too.
  std::promise<storage::status> p;
  db->commit(put("k2"), [&p](const storage::status& st) {
    p.set_value(st);
  });
  auto f = p.get_future();
  BOOST_REQUIRE(f.wait_for(patience) == std::future_status::ready);
  BOOST_TEST(!f.get().ok());

  // Not fail-stop: once cleared, commits work again.
  faults::global().clear_all();
  auto ok = db->commit_sync(put("k3"));
  BOOST_TEST(ok.ok(), ok.message());
  BOOST_TEST(db->get(storage::cf::actors, "k3").has_value());
  BOOST_TEST(!db->get(storage::cf::actors, "k1").has_value());
  BOOST_TEST(!db->get(storage::cf::actors, "k2").has_value());

  // A count: the next commit fails, the one after succeeds.
  arm("store.before_commit=error#1");
  BOOST_TEST(!db->commit_sync(put("k4")).ok());
  BOOST_TEST(db->commit_sync(put("k5")).ok());
  BOOST_TEST(!db->get(storage::cf::actors, "k4").has_value());
  BOOST_TEST(db->get(storage::cf::actors, "k5").has_value());
}

BOOST_AUTO_TEST_CASE(after_commit_delay_holds_the_callback_back) {
  auto db = open_store(dir.sub("db"));
  arm("store.after_commit=delay:50ms#1");
  auto start = steady::now();
  BOOST_TEST(db->commit_sync(put("k1")).ok());
  BOOST_TEST((steady::now() - start >= milliseconds{50}));
  BOOST_TEST(faults::global().list().empty());
}

BOOST_AUTO_TEST_CASE(a_store_without_the_hook_ignores_armed_faults) {
  auto db = open_store(dir.sub("db"), false);
  arm("store.before_commit=error");
  BOOST_TEST(db->commit_sync(put("k1")).ok());
  BOOST_TEST(faults::global().list()[0].fired == 0u);
}

/// Runs faults_crash_child with `spec` on a fresh database; returns its wait
/// status (the child is killed if it does not end within `patience`).
int run_crash_child(const std::string& db_path, const std::string& spec) {
  const char* child_exe = ORDO_FAULTS_CRASH_CHILD;
  pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::execl(child_exe, child_exe, db_path.c_str(), spec.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  auto waited = std::async(std::launch::async, [pid] {
    int wstatus = 0;
    while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
    }
    return wstatus;
  });
  if (waited.wait_for(patience) != std::future_status::ready) {
    ::kill(pid, SIGKILL);
    BOOST_FAIL("the crash child did not end within the patience");
  }
  return waited.get();
}

BOOST_AUTO_TEST_CASE(after_commit_crash_kills_the_process_after_the_write) {
  auto db_path = dir.sub("db");
  int wstatus = run_crash_child(db_path, "store.after_commit=crash");
  BOOST_REQUIRE_MESSAGE(WIFSIGNALED(wstatus),
                        "the child was not killed; status " << wstatus);
  BOOST_TEST(WTERMSIG(wstatus) == SIGKILL);
  // Durable, though never acknowledged.
  auto db = open_store(db_path, false);
  BOOST_TEST(db->get(storage::cf::actors, "crash/key").has_value());
}

BOOST_AUTO_TEST_CASE(before_commit_crash_kills_the_process_before_the_write) {
  auto db_path = dir.sub("db");
  int wstatus = run_crash_child(db_path, "store.before_commit=crash");
  BOOST_REQUIRE_MESSAGE(WIFSIGNALED(wstatus),
                        "the child was not killed; status " << wstatus);
  BOOST_TEST(WTERMSIG(wstatus) == SIGKILL);
  auto db = open_store(db_path, false);
  BOOST_TEST(!db->get(storage::cf::actors, "crash/key").has_value());
}

BOOST_AUTO_TEST_CASE(the_crash_child_commits_when_nothing_fires) {
  // The control: the same child with the point armed elsewhere exits 0.
  auto db_path = dir.sub("db");
  int wstatus = run_crash_child(db_path, "payment.call=crash");
  BOOST_REQUIRE(WIFEXITED(wstatus));
  BOOST_TEST(WEXITSTATUS(wstatus) == 0);
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

const actors::address sku{"sku", "s1"};

struct relay_fixture : clean_faults {
  test::temp_dir dir;
  std::unique_ptr<storage::store> db = open_store(dir.sub("db"), false);
  recording_sink sink;
  switchboard targets;

  relay_fixture() {
    targets.add("sku", &sink);
  }
  ~relay_fixture() {
    db->close();
  }

  std::unique_ptr<relay> make(actors::millis ack_timeout = 10'000) {
    runtime::detail::relay_options o;
    o.backoff_base = 4;
    o.backoff_cap = 40;
    o.ack_timeout = ack_timeout;
    auto r = std::make_unique<relay>(*db, targets, o);
    r->start();
    return r;
  }

  /// One message made durable in the outbox, ready to enqueue.
  relay::entry persist(relay& r, const std::string& id) {
    relay::entry e{r.next_seq(),
                   {"order", "o1"},
                   actors::envelope{id, sku, "note", {{"n", 1}}}};
    storage::batch b;
    b.put(storage::cf::outbox, storage::keys::be64(e.seq), relay::encode(e));
    auto s = db->commit_sync(std::move(b));
    BOOST_REQUIRE_MESSAGE(s.ok(), s.message());
    return e;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(fault_points_in_the_relay, relay_fixture)

BOOST_AUTO_TEST_CASE(deliver_error_is_retried_without_calling_the_sink) {
  auto r = make();
  arm("relay.deliver=error#2");
  r->enqueue({persist(*r, "m1")});
  BOOST_REQUIRE(r->wait_empty(patience_ms));
  BOOST_TEST(sink.log().size() == 1u); // only the third attempt got through
  auto f = r->stats();
  BOOST_TEST(f.attempts == 3u);
  BOOST_TEST(f.delivered == 1u);
  BOOST_TEST(f.dead == 0u);
  BOOST_TEST(faults::global().list().empty());
}

BOOST_AUTO_TEST_CASE(deliver_drop_is_repeated_after_the_ack_timeout) {
  constexpr actors::millis ack = 100;
  auto r = make(ack);
  arm("relay.deliver=drop#1");
  auto start = steady::now();
  r->enqueue({persist(*r, "m1")});
  BOOST_REQUIRE(sink.wait(1));
  BOOST_REQUIRE(r->wait_empty(patience_ms));
  auto times = sink.times();
  BOOST_REQUIRE_EQUAL(times.size(), 1u);
  // The relay counts whole milliseconds: allow one.
  BOOST_TEST((times[0] - start >= milliseconds{ack - 1}));
  auto f = r->stats();
  BOOST_TEST(f.attempts == 2u);
  BOOST_TEST(f.delivered == 1u);
}

BOOST_AUTO_TEST_CASE(deliver_delay_hands_over_later_from_the_relay_timer) {
  constexpr actors::millis delay = 300;
  auto r = make();
  arm("relay.deliver=delay:300ms#1");
  auto e = persist(*r, "m1");
  auto start = steady::now();
  r->enqueue({e});
  auto returned = steady::now() - start;
  BOOST_REQUIRE(sink.wait(1));
  BOOST_REQUIRE(r->wait_empty(patience_ms));
  auto times = sink.times();
  BOOST_REQUIRE_EQUAL(times.size(), 1u);
  // The relay counts whole milliseconds: allow one.
  BOOST_TEST((times[0] - start >= milliseconds{delay - 1}),
             std::chrono::duration_cast<milliseconds>(times[0] - start).count()
               << " ms");
  // enqueue ran the hand-over on this thread and did not sleep in it.
  BOOST_TEST((returned < milliseconds{delay}));
  auto f = r->stats();
  BOOST_TEST(f.attempts == 1u);
  BOOST_TEST(f.delivered == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

actors::envelope sms_message(const std::string& notification_id) {
  return {"notifier/o1#1",
          {"sms", ""},
          "sms",
          {{"notification_id", notification_id},
           {"order_id", "o1"},
           {"template", "new_order"},
           {"text", "New order"}}};
}

struct adapter_fixture : clean_faults {
  test::temp_dir dir;
  std::unique_ptr<storage::store> db = open_store(dir.sub("db"), false);
  recording_sink actors_sink; ///< "notifier" and "order"
  switchboard targets;

  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> lines; // guarded by mu

  adapter_fixture() {
    targets.add("notifier", &actors_sink);
    targets.add("order", &actors_sink);
  }
  ~adapter_fixture() {
    db->close();
  }

  std::unique_ptr<runtime::detail::sms_sink> sms() {
    auto s
      = runtime::detail::sms_sink::log_sink(*db, targets, [this](auto& line) {
          std::lock_guard<std::mutex> guard{mu};
          lines.push_back(line);
          cv.notify_all();
        });
    s->load();
    return s;
  }

  bool wait_lines(std::size_t n) {
    std::unique_lock<std::mutex> lock{mu};
    return cv.wait_for(lock, patience, [&] {
      return lines.size() >= n;
    });
  }

  /// Waits until every commit queued so far has run its callback (commit
  /// callbacks run in commit order).
  void settle() {
    BOOST_REQUIRE(db->commit_sync(put("settle")).ok());
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(fault_points_in_the_adapters, adapter_fixture)

BOOST_AUTO_TEST_CASE(sms_call_error_answers_unavailable_without_sending) {
  replies got; // outlives the adapter
  auto s = sms();
  arm("sms.call=error#1");
  s->deliver(sms_message("n1"), "", got.fn());
  BOOST_TEST(has_code(got.wait(1), actors::errc::unavailable));
  settle();
  BOOST_TEST(s->sent().empty());
  BOOST_TEST(!db->get(storage::cf::aux, "sms/n1").has_value());
  BOOST_TEST(actors_sink.log().empty());

  // The repeat (what the relay does after its backoff) goes out.
  s->deliver(sms_message("n1"), "", got.fn());
  auto r = got.wait(2);
  BOOST_REQUIRE(r);
  BOOST_TEST(!r->err);
  BOOST_TEST(s->sent().size() == 1u);
  BOOST_REQUIRE_EQUAL(actors_sink.log().size(), 1u);
  BOOST_TEST(actors_sink.log()[0].type == "sms_sent");
}

BOOST_AUTO_TEST_CASE(sms_call_drop_sends_but_never_answers) {
  replies got;
  auto s = sms();
  arm("sms.call=drop#1");
  s->deliver(sms_message("n1"), "", got.fn());
  BOOST_REQUIRE(wait_lines(1)); // it went out
  settle();
  BOOST_TEST(got.size() == 0u);
  BOOST_TEST(actors_sink.log().empty()); // not confirmed either
  BOOST_TEST(db->get(storage::cf::aux, "sms/n1").has_value());
}

BOOST_AUTO_TEST_CASE(sms_call_delay_sends_later_and_stop_drops_what_waits) {
  replies got;
  auto s = sms();
  arm("sms.call=delay:100ms#1");
  auto start = steady::now();
  s->deliver(sms_message("n1"), "", got.fn());
  auto r = got.wait(1);
  BOOST_REQUIRE(r);
  BOOST_TEST(!r->err);
  BOOST_TEST((steady::now() - start >= milliseconds{100}));

  arm("sms.call=delay:600s#1");
  s->deliver(sms_message("n2"), "", got.fn());
  s->stop(); // does not wait for it
  settle();
  BOOST_TEST(got.size() == 1u);
  BOOST_TEST(!db->get(storage::cf::aux, "sms/n2").has_value());
}

BOOST_AUTO_TEST_CASE(payment_call_error_answers_unavailable_without_calling) {
  replies got;
  runtime::detail::builtin_provider p{*db, targets};
  arm("payment.call=error");
  actors::envelope close{
    "order/o1#1", {"payment", ""}, "close", {{"order_id", "o1"}}};
  p.deliver(close, "", got.fn());
  BOOST_TEST(has_code(got.wait(1), actors::errc::unavailable));
  settle();
  BOOST_TEST(p.calls().empty());

  faults::global().clear("payment.call");
  p.deliver(close, "", got.fn());
  auto r = got.wait(2);
  BOOST_REQUIRE(r);
  BOOST_TEST(!r->err);
  BOOST_REQUIRE_EQUAL(p.calls().size(), 1u);
  BOOST_TEST(p.calls()[0].kind == "close");
}

BOOST_AUTO_TEST_CASE(payment_call_drop_records_but_never_answers) {
  replies got;
  runtime::detail::builtin_provider p{*db, targets};
  arm("payment.call=drop#1");
  actors::envelope refund{"order/o1#2",
                          {"payment", ""},
                          "refund",
                          {{"order_id", "o1"},
                           {"refund_id", "r1"},
                           {"txn_id", "t1"},
                           {"amount", 100}}};
  p.deliver(refund, "", got.fn());
  settle();
  BOOST_TEST(got.size() == 0u);
  BOOST_TEST(actors_sink.log().empty()); // no refund_done to the order
  BOOST_REQUIRE_EQUAL(p.calls().size(), 1u);
  BOOST_TEST(db->get(storage::cf::aux, "sandbox/refund/r1").has_value());

  // The relay's repeat is confirmed to the order and answered.
  p.deliver(refund, "", got.fn());
  auto r = got.wait(1);
  BOOST_REQUIRE(r);
  BOOST_TEST(!r->err);
  BOOST_REQUIRE_EQUAL(actors_sink.log().size(), 1u);
  BOOST_TEST(actors_sink.log()[0].type == "refund_done");
  BOOST_TEST(p.calls()[0].received == 2u);
}

BOOST_AUTO_TEST_SUITE_END()

// --- gateway.before_reply: a real node and HTTP server
// -------------------------

namespace {

struct gateway_fixture : clean_faults {
  test::server_fixture server{[](gateway::server_options& o) {
    o.threads = 1; // a blocked I/O thread would hold every connection
  }};
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(fault_points_in_the_gateway, gateway_fixture)

BOOST_AUTO_TEST_CASE(before_reply_error_answers_500_internal) {
  test::http_client c{server.port()};
  arm("gateway.before_reply=error#1");
  auto r = c.get("/healthz");
  BOOST_TEST(r.status == 500u);
  BOOST_TEST(r.error() == "internal");
  auto again = c.get("/healthz");
  BOOST_TEST(again.status == 200u);
}

BOOST_AUTO_TEST_CASE(before_reply_drop_closes_without_an_answer) {
  arm("gateway.before_reply=drop#1");
  {
    test::http_client c{server.port()};
    BOOST_CHECK_THROW(c.get("/healthz"), std::runtime_error);
  }
  test::http_client c{server.port()};
  BOOST_TEST(c.get("/healthz").status == 200u);
}

BOOST_AUTO_TEST_CASE(before_reply_delay_holds_one_reply_not_the_io_thread) {
  constexpr auto delay = milliseconds{600};
  arm("gateway.before_reply=delay:600ms#1");
  // Two requests at once on the one I/O thread: one of them is held back,
  // the other is answered meanwhile.
  auto timed = [this] {
    test::http_client c{server.port()};
    auto start = steady::now();
    auto r = c.get("/healthz");
    return std::make_pair(r.status, steady::now() - start);
  };
  auto a = std::async(std::launch::async, timed);
  auto b = std::async(std::launch::async, timed);
  auto [status_a, took_a] = a.get();
  auto [status_b, took_b] = b.get();
  BOOST_TEST(status_a == 200u);
  BOOST_TEST(status_b == 200u);
  BOOST_TEST((std::max(took_a, took_b) >= delay));
  BOOST_TEST((std::min(took_a, took_b) < delay));
  BOOST_TEST(faults::global().list().empty());
}

BOOST_AUTO_TEST_SUITE_END()
