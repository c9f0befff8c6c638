// The SMS adapter (runtime/detail/sms.hpp) in both modes: as a webhook
// client against a real, failing `ordo sandbox-provider` process, every
// notification reaches the webhook exactly once and is confirmed to its
// notifier exactly once; as the log sink over a real store, a notification
// is recorded and printed once however often it is delivered, and survives
// reopening the store. Also the sandbox provider's POST /sms contract.
//
// The notifier side is a recording sink registered as "notifier" (the
// notifier actor has its own tests); the relay's retries are driven here:
// a delivery answered `unavailable` or `internal` is delivered again.

#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/detail/sink.hpp"
#include "runtime/detail/sms.hpp"
#include "storage/keys.hpp"
#include "storage/store.hpp"
#include "tests/integration/provider_process.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/temp_dir.hpp"

using namespace ordo;
using namespace ordo::test;
using runtime::turn_reply;
using runtime::detail::reply_fn;
using runtime::detail::sms_record;
using runtime::detail::sms_sink;
using runtime::detail::switchboard;

namespace {

/// Stands in for the notifier actors: records every message delivered to
/// kind "notifier" and answers with `answer` (success by default).
class recording_notifier final : public runtime::detail::sink {
public:
  struct received {
    actors::envelope msg;
    std::string dedupe_id;
  };

  void deliver(const actors::envelope& msg, std::string dedupe_id,
               reply_fn done) override {
    turn_reply r;
    {
      std::lock_guard<std::mutex> guard{mu_};
      log_.push_back({msg, dedupe_id});
      r = answer_;
    }
    if (done) {
      done(r);
    }
  }

  std::vector<received> log() const {
    std::lock_guard<std::mutex> guard{mu_};
    return log_;
  }

  void answer_with(turn_reply r) {
    std::lock_guard<std::mutex> guard{mu_};
    answer_ = std::move(r);
  }

private:
  mutable std::mutex mu_;
  std::vector<received> log_;
  turn_reply answer_{std::nullopt, "consumed", {{"ok", true}}};
};

actors::envelope sms_message(const std::string& notification_id,
                             const std::string& order_id,
                             const std::string& text = "New order") {
  return {"notifier/" + order_id + "#1.0",
          {"sms", ""},
          "sms",
          {{"notification_id", notification_id},
           {"order_id", order_id},
           {"template", "new_order"},
           {"text", text}}};
}

/// Delivers `msg` once and waits for the answer.
turn_reply deliver_once(runtime::detail::sink& s, const actors::envelope& msg) {
  auto p = std::make_shared<std::promise<turn_reply>>();
  auto f = p->get_future();
  s.deliver(msg, msg.id, [p](const turn_reply& r) {
    p->set_value(r);
  });
  if (f.wait_for(std::chrono::seconds{20}) != std::future_status::ready) {
    throw std::runtime_error("no answer within 20 s");
  }
  return f.get();
}

bool retryable(const turn_reply& r) {
  return r.err
         && (r.err->code == actors::errc::unavailable
             || r.err->code == actors::errc::internal);
}

/// Delivers `msg` again while the answer is retryable, like the relay (no
/// backoff); returns the last answer and counts the attempts.
turn_reply deliver_until_done(runtime::detail::sink& s,
                              const actors::envelope& msg, int* attempts) {
  for (int i = 1;; ++i) {
    auto r = deliver_once(s, msg);
    if (!retryable(r) || i == 200) {
      *attempts += i;
      return r;
    }
  }
}

std::unique_ptr<storage::store> open_store(const temp_dir& dir) {
  storage::store_options so;
  so.path = dir.sub("db");
  std::string err;
  auto db = storage::store::open(so, &err);
  BOOST_REQUIRE_MESSAGE(db, err);
  return db;
}

/// Collects the log sink's lines.
struct line_log {
  std::mutex mu;
  std::vector<std::string> lines;

  sms_sink::line_fn fn() {
    return [this](const std::string& line) {
      std::lock_guard<std::mutex> guard{mu};
      lines.push_back(line);
    };
  }
  std::vector<std::string> get() {
    std::lock_guard<std::mutex> guard{mu};
    return lines;
  }
};

std::map<std::string, sms_record> by_id(const std::vector<sms_record>& v) {
  std::map<std::string, sms_record> out;
  for (const auto& r : v) {
    out[r.notification_id] = r;
  }
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(sms_webhook)

BOOST_AUTO_TEST_CASE(each_sms_reaches_a_failing_webhook_and_its_notifier_once) {
  temp_dir dir;
  auto provider = start_provider(dir, {"--fail-rate", "0.5"});
  recording_notifier notifier;
  switchboard targets;
  targets.add("notifier", &notifier);
  std::string err;
  auto sms = sms_sink::start_webhook(
    "http://127.0.0.1:" + std::to_string(provider->port()) + "/sms", targets,
    &err);
  BOOST_REQUIRE_MESSAGE(sms, err);

  // Four senders at once, like lanes of the relay.
  constexpr int n = 40;
  constexpr int senders = 4;
  std::mutex mu;
  std::map<std::string, turn_reply> answers;
  int attempts = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < senders; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < n; i += senders) {
        auto id = std::to_string(i);
        int tries = 0;
        auto r = deliver_until_done(
          *sms, sms_message("o" + id + ":new_order", "o" + id), &tries);
        std::lock_guard<std::mutex> guard{mu};
        answers[id] = r;
        attempts += tries;
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }

  // Every delivery ends acknowledged with the notifier's own reply.
  BOOST_REQUIRE_EQUAL(answers.size(), std::size_t{n});
  for (const auto& [id, r] : answers) {
    BOOST_CHECK_MESSAGE(!r.err, id << ": " << (r.err ? r.err->message : ""));
    BOOST_CHECK_EQUAL(r.result, "consumed");
  }
  // One sms_sent per notification, to its order's notifier.
  auto log = notifier.log();
  BOOST_CHECK_EQUAL(log.size(), std::size_t{n});
  std::set<std::string> confirmed;
  for (const auto& m : log) {
    auto nid = m.msg.body.value("notification_id", "");
    BOOST_CHECK(confirmed.insert(nid).second);
    BOOST_CHECK_EQUAL(m.msg.type, "sms_sent");
    BOOST_CHECK_EQUAL(m.msg.to.kind, "notifier");
    BOOST_CHECK_EQUAL(m.msg.to.id + ":new_order", nid);
    // The SMS machine ignores a repeat: no dedupe record is asked for.
    BOOST_CHECK(m.dedupe_id.empty());
  }
  // The webhook recorded each notification once, through the failures.
  auto calls = provider_calls(provider->port());
  BOOST_REQUIRE_EQUAL(calls["sms"].size(), std::size_t{n});
  for (const auto& c : calls["sms"]) {
    BOOST_CHECK_EQUAL(c["received"].get<int>(), 1);
    BOOST_CHECK_GE(c["attempts"].get<int>(), 1);
    BOOST_CHECK_EQUAL(c["order_id"].get<std::string>() + ":new_order",
                      c["notification_id"].get<std::string>());
    BOOST_CHECK_EQUAL(c["template"], "new_order");
    BOOST_CHECK_EQUAL(c["text"], "New order");
    BOOST_CHECK(confirmed.count(c["notification_id"].get<std::string>()) == 1);
  }
  BOOST_TEST_MESSAGE("sms webhook: " << n << " notifications in " << attempts
                                     << " attempts; provider failed "
                                     << calls["failed"] << ", duplicates "
                                     << calls["duplicates"]);
  BOOST_CHECK_GT(calls["failed"].get<int>(), 0);
  BOOST_CHECK_EQUAL(calls["requests"].get<int>(), attempts);
  auto s = sms->stats();
  BOOST_CHECK_EQUAL(s.sent, std::uint64_t{n});
  BOOST_CHECK_EQUAL(s.deliveries, std::uint64_t(attempts));
  BOOST_CHECK_EQUAL(s.failures, std::uint64_t(attempts - n));
  BOOST_CHECK(sms->sent().empty()); // the webhook keeps the records
}

BOOST_AUTO_TEST_CASE(an_unreachable_webhook_answers_unavailable) {
  recording_notifier notifier;
  switchboard targets;
  targets.add("notifier", &notifier);
  std::string err;
  // Port 1 on the loopback: nothing listens, the connect is refused.
  auto sms = sms_sink::start_webhook("http://127.0.0.1:1/sms", targets, &err);
  BOOST_REQUIRE_MESSAGE(sms, err);
  auto r = deliver_once(*sms, sms_message("o1:new_order", "o1"));
  BOOST_REQUIRE(r.err);
  BOOST_CHECK(r.err->code == actors::errc::unavailable);
  BOOST_CHECK(notifier.log().empty());
  BOOST_CHECK_EQUAL(sms->stats().failures, 1u);
  sms->stop();
  sms->stop(); // idempotent
}

BOOST_AUTO_TEST_CASE(a_bad_url_names_the_flag) {
  switchboard targets;
  for (std::string url : {"notaurl", "https://127.0.0.1:9/sms", "http://h:0",
                          "http://h:1/sms?x=1", "http://"}) {
    std::string err;
    BOOST_CHECK(sms_sink::start_webhook(url, targets, &err) == nullptr);
    BOOST_CHECK_MESSAGE(err.find("--sms-webhook") != std::string::npos
                          && err.find(url) != std::string::npos,
                        url << ": " << err);
  }
}

BOOST_AUTO_TEST_CASE(bad_messages_are_rejected_without_a_call) {
  recording_notifier notifier;
  switchboard targets;
  targets.add("notifier", &notifier);
  std::string err;
  auto sms = sms_sink::start_webhook("http://127.0.0.1:1/sms", targets, &err);
  BOOST_REQUIRE_MESSAGE(sms, err);
  auto no_id = sms_message("", "o1");
  auto wrong_type = sms_message("o1:new_order", "o1");
  wrong_type.type = "email";
  auto wrong_sender = sms_message("o1:new_order", "o1");
  wrong_sender.body["confirm_to"] = "sku";
  auto sender_not_text = sms_message("o1:new_order", "o1");
  sender_not_text.body["confirm_to"] = 7;
  for (const auto& m : {no_id, wrong_type, wrong_sender, sender_not_text}) {
    auto r = deliver_once(*sms, m);
    BOOST_REQUIRE(r.err);
    BOOST_CHECK(r.err->code == actors::errc::bad_request);
  }
  BOOST_CHECK_EQUAL(sms->stats().deliveries, 0u);
  BOOST_CHECK_EQUAL(sms->stats().failures, 0u);
  BOOST_CHECK(notifier.log().empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sms_log_sink)

// An order keeps its own SMS: its "sms" names it in confirm_to, and the
// confirmation goes there, on the first delivery and on a repeat after a
// reopen: the record keeps whom to confirm, as it keeps what was sent.
BOOST_AUTO_TEST_CASE(the_confirmation_goes_to_the_kind_that_sent_the_sms) {
  temp_dir dir;
  recording_notifier orders;
  recording_notifier notifiers;
  switchboard targets;
  targets.add("order", &orders);
  targets.add("notifier", &notifiers);
  line_log lines;
  auto from_order = sms_message("o1:new_order", "o1");
  from_order.body["confirm_to"] = "order";
  for (int round = 0; round < 2; ++round) {
    auto db = open_store(dir);
    auto sms = sms_sink::log_sink(*db, targets, lines.fn());
    sms->load();
    auto m = from_order;
    if (round == 1) {
      m.body.erase("confirm_to"); // what the first delivery recorded wins
    }
    BOOST_CHECK(!deliver_once(*sms, m).err);
    sms->stop();
    db->close();
  }
  auto log = orders.log();
  BOOST_REQUIRE_EQUAL(log.size(), 2u);
  for (const auto& m : log) {
    BOOST_CHECK_EQUAL(m.msg.type, "sms_sent");
    BOOST_CHECK_EQUAL(m.msg.to.kind, "order");
    BOOST_CHECK_EQUAL(m.msg.to.id, "o1");
  }
  BOOST_CHECK(notifiers.log().empty());
  BOOST_CHECK_EQUAL(lines.get().size(), 1u); // sent once
}

BOOST_AUTO_TEST_CASE(repeats_are_recorded_and_printed_once_and_survive_reopen) {
  temp_dir dir;
  recording_notifier notifier;
  switchboard targets;
  targets.add("notifier", &notifier);
  line_log lines;
  const std::string tricky = "say \"hi\"\nbye";
  {
    auto db = open_store(dir);
    auto sms = sms_sink::log_sink(*db, targets, lines.fn());
    sms->load();
    BOOST_CHECK(sms->sent().empty());
    int attempts = 0;
    for (int i = 0; i < 3; ++i) {
      BOOST_CHECK(
        !deliver_until_done(*sms, sms_message("a:new_order", "a"), &attempts)
           .err);
    }
    for (int i = 0; i < 2; ++i) {
      BOOST_CHECK(
        !deliver_until_done(*sms, sms_message("b:new_order", "b"), &attempts)
           .err);
    }
    auto cancelled = sms_message("c:order_cancelled", "c", tricky);
    cancelled.body["template"] = "order_cancelled";
    auto r = deliver_until_done(*sms, cancelled, &attempts);
    BOOST_CHECK(!r.err);
    BOOST_CHECK_EQUAL(r.result, "consumed"); // the notifier's reply
    BOOST_CHECK_EQUAL(attempts, 6);

    // One line per notification, one line each.
    auto printed = lines.get();
    BOOST_REQUIRE_EQUAL(printed.size(), 3u);
    BOOST_CHECK_EQUAL(printed[0], "ordo sms: notification_id=a:new_order "
                                  "order_id=a template=new_order "
                                  "text=\"New order\"");
    BOOST_CHECK_EQUAL(printed[2], "ordo sms: notification_id=c:order_cancelled "
                                  "order_id=c template=order_cancelled "
                                  "text=\"say \\\"hi\\\"\\nbye\"");
    // Every delivery is confirmed (the notifier's machine ignores the
    // repeats).
    auto log = notifier.log();
    BOOST_REQUIRE_EQUAL(log.size(), 6u);
    for (const auto& m : log) {
      BOOST_CHECK_EQUAL(m.msg.type, "sms_sent");
      BOOST_CHECK_EQUAL(m.msg.to.kind, "notifier");
      BOOST_CHECK(m.dedupe_id.empty());
    }
    BOOST_CHECK_EQUAL(log[5].msg.to.id, "c");

    auto sent = by_id(sms->sent());
    BOOST_REQUIRE_EQUAL(sent.size(), 3u);
    BOOST_CHECK_EQUAL(sent["a:new_order"].received, 3u);
    BOOST_CHECK_EQUAL(sent["b:new_order"].received, 2u);
    BOOST_CHECK_EQUAL(sent["c:order_cancelled"].received, 1u);
    BOOST_CHECK_EQUAL(sent["c:order_cancelled"].order_id, "c");
    BOOST_CHECK_EQUAL(sent["c:order_cancelled"].template_name,
                      "order_cancelled");
    BOOST_CHECK_EQUAL(sent["c:order_cancelled"].text, tricky);
    auto s = sms->stats();
    BOOST_CHECK_EQUAL(s.sent, 3u);
    BOOST_CHECK_EQUAL(s.deliveries, 6u);
    BOOST_CHECK_EQUAL(s.failures, 0u);
  }
  // Reopened: the records are back, a repeat is not printed again.
  auto db = open_store(dir);
  auto sms = sms_sink::log_sink(*db, targets, lines.fn());
  sms->load();
  auto sent = by_id(sms->sent());
  BOOST_REQUIRE_EQUAL(sent.size(), 3u);
  BOOST_CHECK_EQUAL(sent["a:new_order"].received, 3u);
  BOOST_CHECK_EQUAL(sent["a:new_order"].order_id, "a");
  BOOST_CHECK_EQUAL(sent["a:new_order"].text, "New order");
  BOOST_CHECK_EQUAL(sent["c:order_cancelled"].text, tricky);
  BOOST_CHECK(!deliver_once(*sms, sms_message("a:new_order", "a")).err);
  BOOST_CHECK_EQUAL(lines.get().size(), 3u);
  BOOST_CHECK_EQUAL(by_id(sms->sent())["a:new_order"].received, 4u);
  BOOST_CHECK_EQUAL(sms->stats().sent, 3u);
  BOOST_CHECK_EQUAL(sms->stats().deliveries, 1u);
  // A new one still prints.
  BOOST_CHECK(!deliver_once(*sms, sms_message("d:new_order", "d")).err);
  BOOST_CHECK_EQUAL(lines.get().size(), 4u);
  BOOST_CHECK_EQUAL(sms->stats().sent, 4u);
}

BOOST_AUTO_TEST_CASE(a_directory_without_the_count_is_counted_once_at_load) {
  // Written before "sms-count" existed: records only. Loading counts them,
  // the next new notification stores the count, and a reopen reads it.
  temp_dir dir;
  recording_notifier notifier;
  switchboard targets;
  targets.add("notifier", &notifier);
  line_log lines;
  {
    auto db = open_store(dir);
    storage::batch b;
    for (const char* id : {"x:new_order", "y:new_order"}) {
      b.put(storage::cf::aux, std::string{"sms/"} + id,
            storage::codec::pack({{"order", "x"},
                                  {"template", "new_order"},
                                  {"text", "t"},
                                  {"n", 1}}));
    }
    BOOST_REQUIRE(db->commit_sync(std::move(b)).ok());
    auto sms = sms_sink::log_sink(*db, targets, lines.fn());
    sms->load();
    BOOST_CHECK_EQUAL(sms->stats().sent, 2u);
    BOOST_CHECK(!deliver_once(*sms, sms_message("x:new_order", "x")).err);
    BOOST_CHECK(lines.get().empty()); // a repeat of a stored one
    BOOST_CHECK(!deliver_once(*sms, sms_message("z:new_order", "z")).err);
    BOOST_CHECK_EQUAL(lines.get().size(), 1u);
    BOOST_CHECK_EQUAL(sms->stats().sent, 3u);
  }
  auto db = open_store(dir);
  auto sms = sms_sink::log_sink(*db, targets, lines.fn());
  sms->load();
  BOOST_CHECK_EQUAL(sms->stats().sent, 3u);
  BOOST_CHECK_EQUAL(by_id(sms->sent())["x:new_order"].received, 2u);
}

BOOST_AUTO_TEST_CASE(a_failing_notifier_is_retried_without_a_second_line) {
  temp_dir dir;
  recording_notifier notifier;
  notifier.answer_with(
    {actors::error{actors::errc::unavailable, "stopping"}, {}, {}});
  switchboard targets;
  targets.add("notifier", &notifier);
  line_log lines;
  auto db = open_store(dir);
  auto sms = sms_sink::log_sink(*db, targets, lines.fn());
  sms->load();
  auto msg = sms_message("a:new_order", "a");
  // The notifier's failure is the relay's answer: not acknowledged.
  auto r = deliver_once(*sms, msg);
  BOOST_REQUIRE(r.err);
  BOOST_CHECK(r.err->code == actors::errc::unavailable);
  notifier.answer_with({std::nullopt, "consumed", {}});
  BOOST_CHECK(!deliver_once(*sms, msg).err);
  BOOST_CHECK_EQUAL(lines.get().size(), 1u);
  BOOST_CHECK_EQUAL(notifier.log().size(), 2u);
  BOOST_CHECK_EQUAL(by_id(sms->sent())["a:new_order"].received, 2u);
}

BOOST_AUTO_TEST_CASE(bad_bodies_are_bad_requests_and_change_nothing) {
  temp_dir dir;
  recording_notifier notifier;
  switchboard targets;
  targets.add("notifier", &notifier);
  line_log lines;
  auto db = open_store(dir);
  auto sms = sms_sink::log_sink(*db, targets, lines.fn());
  sms->load();
  std::vector<actors::envelope> bad;
  bad.push_back(sms_message("", "o1"));           // empty notification_id
  bad.push_back(sms_message("o1:new_order", "")); // empty order_id
  bad.push_back(sms_message("o1:new_order", "o1"));
  bad.back().body.erase("notification_id"); // missing id
  bad.push_back(sms_message("o1:new_order", "o1"));
  bad.back().body["order_id"] = 7; // ill-typed id
  bad.push_back(sms_message("o1:new_order", "o1"));
  bad.back().body["template"] = nlohmann::json::array(); // ill-typed
  bad.push_back(sms_message("o1:new_order", "o1"));
  bad.back().body["text"] = 3;
  bad.push_back(sms_message("o1:new_order", "o1"));
  bad.back().body = nlohmann::json::array();
  bad.push_back(sms_message("o1:new_order", "o1"));
  bad.back().type = "refund";
  for (const auto& m : bad) {
    auto r = deliver_once(*sms, m);
    BOOST_REQUIRE_MESSAGE(r.err, m.type << " " << m.body.dump());
    BOOST_CHECK_MESSAGE(r.err->code == actors::errc::bad_request,
                        m.body.dump());
  }
  BOOST_CHECK(sms->sent().empty());
  BOOST_CHECK(lines.get().empty());
  BOOST_CHECK(notifier.log().empty());
  BOOST_CHECK_EQUAL(sms->stats().deliveries, 0u);
  std::size_t stored = 0;
  db->scan(storage::cf::aux, "sms/", [&](std::string_view, std::string_view) {
    ++stored;
    return true;
  });
  BOOST_CHECK_EQUAL(stored, 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sandbox_provider_sms)

BOOST_AUTO_TEST_CASE(dedupes_on_notification_id_and_keeps_its_journal) {
  temp_dir dir;
  auto p = start_provider(dir, {});
  nlohmann::json sms{{"notification_id", "o1:new_order"},
                     {"order_id", "o1"},
                     {"template", "new_order"},
                     {"text", "New order o1"}};
  {
    http_client c{p->port()};
    auto r = c.post("/sms", sms.dump());
    BOOST_CHECK_EQUAL(r.status, 200u);
    BOOST_CHECK_EQUAL(r.json["result"], "recorded");
    r = c.post("/sms", sms.dump());
    BOOST_CHECK_EQUAL(r.status, 200u);
    BOOST_CHECK_EQUAL(r.json["result"], "duplicate");
    BOOST_CHECK_EQUAL(c.post("/sms", "not json").status, 400u);
    BOOST_CHECK_EQUAL(c.post("/sms", R"({"notification_id":"x"})").status,
                      400u);
    auto no_text = sms;
    no_text.erase("text");
    BOOST_CHECK_EQUAL(c.post("/sms", no_text.dump()).status, 400u);
    auto empty_id = sms;
    empty_id["notification_id"] = "";
    BOOST_CHECK_EQUAL(c.post("/sms", empty_id.dump()).status, 400u);
    BOOST_CHECK_EQUAL(c.get("/sms").status, 405u);
  }
  auto calls = provider_calls(p->port());
  BOOST_REQUIRE_EQUAL(calls["sms"].size(), 1u);
  auto s0 = calls["sms"][0];
  BOOST_CHECK_EQUAL(s0["notification_id"], "o1:new_order");
  BOOST_CHECK_EQUAL(s0["order_id"], "o1");
  BOOST_CHECK_EQUAL(s0["template"], "new_order");
  BOOST_CHECK_EQUAL(s0["text"], "New order o1");
  BOOST_CHECK_EQUAL(s0["received"], 1);
  BOOST_CHECK_EQUAL(s0["attempts"], 2);
  BOOST_CHECK_EQUAL(calls["duplicates"], 1);
  BOOST_CHECK_EQUAL(calls["failed"], 0);
  BOOST_CHECK(calls["refunds"].empty());
  BOOST_CHECK(calls["closes"].empty());

  // kill -9 and restart on the same journal: still recorded once.
  p->kill_and_wait(SIGKILL);
  p = start_provider(dir, {});
  calls = provider_calls(p->port());
  BOOST_REQUIRE_EQUAL(calls["sms"].size(), 1u);
  BOOST_CHECK_EQUAL(calls["sms"][0]["received"], 1);
  BOOST_CHECK_EQUAL(calls["sms"][0]["text"], "New order o1");
  http_client c{p->port()};
  BOOST_CHECK_EQUAL(c.post("/sms", sms.dump()).json["result"], "duplicate");
}

BOOST_AUTO_TEST_CASE(fail_rate_applies_to_sms) {
  temp_dir dir;
  auto p = start_provider(dir, {"--fail-rate", "1", "--seed", "7"});
  http_client c{p->port()};
  for (int i = 0; i < 20; ++i) {
    nlohmann::json sms{{"notification_id", "n" + std::to_string(i)},
                       {"order_id", "o"},
                       {"template", "new_order"},
                       {"text", ""}};
    BOOST_CHECK_EQUAL(c.post("/sms", sms.dump()).status, 503u);
  }
  auto calls = provider_calls(p->port());
  BOOST_CHECK_EQUAL(calls["failed"], 20);
  // Half the failures happen after recording: the client cannot tell.
  BOOST_CHECK_GT(calls["sms"].size(), 0u);
  BOOST_CHECK_LT(calls["sms"].size(), 20u);
}

BOOST_AUTO_TEST_SUITE_END()
