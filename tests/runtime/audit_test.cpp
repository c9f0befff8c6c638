// The auditor on a real node: what kill -9 or a lost message could leave
// behind is written into a stopped node's storage by hand, and the audit
// of the restarted node must find it, heal it, and then find nothing.

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "runtime/detail/kinds.hpp"
#include "runtime/faults.hpp"
#include "storage/keys.hpp"
#include "storage/store.hpp"
#include "tests/runtime/node_fixture.hpp"

using namespace ordo;
using ordo::test::await;
using ordo::test::eventually;

namespace {

struct audit_fixture : test::node_fixture {
  audit_fixture() {
    node->stop();
    node.reset();
    opts.audit_interval = 0; // on request only: the test decides when
    start();
  }

  actors::auditor::report audit() {
    auto r = await<runtime::audit_run>([&](auto cb) {
      node->audit(cb);
    });
    BOOST_REQUIRE(r);
    return r.value().report;
  }

  /// Restarts the node with an audit scheduled every 20 ms that also reads
  /// `sweep` orders of the older history a run (0: none).
  void audit_often(std::size_t sweep) {
    node->stop();
    node.reset();
    opts.audit_interval = 20;
    opts.audit_sweep = sweep;
    start();
  }
};

/// A one-request HTTP server on 127.0.0.1: answers 200 and hands over the
/// body it received.
class one_shot_webhook {
public:
  one_shot_webhook()
    : acceptor_(ioc_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread{[this] {
      namespace http = boost::beast::http;
      try {
        auto socket = acceptor_.accept();
        boost::beast::flat_buffer buffer;
        http::request<http::string_body> req;
        http::read(socket, buffer, req);
        http::response<http::string_body> res{http::status::ok, 11};
        res.body() = "{}";
        res.prepare_payload();
        http::write(socket, res);
        body_.set_value(req.target().to_string() + " " + req.body());
      } catch (const std::exception& e) {
        body_.set_exception(std::current_exception());
      }
    }};
  }
  ~one_shot_webhook() {
    acceptor_.close();
    thread_.join();
  }
  std::uint16_t port() const {
    return acceptor_.local_endpoint().port();
  }
  /// "TARGET BODY" of the request, once it came.
  std::future<std::string> received() {
    return body_.get_future();
  }

private:
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::promise<std::string> body_;
  std::thread thread_;
};

bool has(const actors::auditor::report& r, const std::string& rule,
         bool healed) {
  return std::any_of(r.violations.begin(), r.violations.end(),
                     [&](const actors::auditor::violation& v) {
                       return v.rule == rule && v.healed == healed;
                     });
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(audit, audit_fixture)

BOOST_AUTO_TEST_CASE(a_clean_node_audits_clean) {
  BOOST_REQUIRE(put_sku("A", 10));
  auto c = create("u1", "k1", {{"A", 2}});
  BOOST_REQUIRE(c);
  BOOST_REQUIRE(pay(c->order.order_id, "t1", c->order.payable));
  BOOST_REQUIRE(node->quiesce(10'000));
  auto r = audit();
  BOOST_CHECK_MESSAGE(r.ok(), r.violations.size() << " violations, first: "
                                                  << r.violations[0].detail);
  BOOST_CHECK_EQUAL(node->stats().audit_runs, 1u);
}

BOOST_AUTO_TEST_CASE(a_lost_release_is_found_and_healed) {
  BOOST_REQUIRE(put_sku("A", 10));
  auto c = create("u1", "k1", {{"A", 2}});
  BOOST_REQUIRE(c);
  auto id = c->order.order_id;
  BOOST_REQUIRE(cancel(id));
  BOOST_REQUIRE(node->quiesce(10'000));
  // As if the SKU had never received the release: the units still held.
  tamper([&](storage::store& db) {
    actors::inventory::state s;
    runtime::detail::sku_kind::init(s, "A");
    runtime::detail::sku_kind::restore(db, "A", s);
    s.available -= 2;
    s.reserved += 2;
    s.reservations[id] = {2, c->order.token, time->now() + 3'600'000};
    storage::batch b;
    runtime::detail::sku_kind::persist(
      s, {}, actors::inventory::input{actors::inventory::release{id, 0}}, b);
    BOOST_REQUIRE(db.commit_sync(std::move(b)).ok());
  });
  BOOST_CHECK_EQUAL(sku("A")->reserved, 2);
  auto r = audit();
  BOOST_CHECK(has(r, "orphaned_reservation", true));
  BOOST_CHECK(r.ok()); // healed, nothing left open
  BOOST_REQUIRE(eventually([&] {
    return sku("A")->reserved == 0;
  }));
  BOOST_CHECK_EQUAL(sku("A")->available, 10);
  BOOST_CHECK(audit().violations.empty());
  BOOST_CHECK_GE(node->stats().audit_heals, 1u);
}

BOOST_AUTO_TEST_CASE(a_refund_that_never_left_is_sent_once) {
  BOOST_REQUIRE(put_sku("A", 10));
  auto c = create("u1", "k1", {{"A", 1}});
  BOOST_REQUIRE(c);
  auto id = c->order.order_id;
  BOOST_REQUIRE(cancel(id));
  BOOST_REQUIRE(node->quiesce(10'000));
  // As if a payment had been captured on the cancelled order and its refund
  // lost before it reached the outbox.
  tamper([&](storage::store& db) {
    actors::order::state o;
    runtime::detail::order_kind::restore(db, id, o);
    o.payments.push_back(
      {"t-lost", o.payable, actors::order::payment_status::captured, ""});
    storage::batch b;
    runtime::detail::order_kind::persist(o, {}, actors::order::input{}, b);
    BOOST_REQUIRE(db.commit_sync(std::move(b)).ok());
  });
  auto r = audit();
  BOOST_CHECK(has(r, "refund_owed", true));
  BOOST_REQUIRE(eventually([&] {
    auto o = order(id);
    return o && o->payments.size() == 1
           && o->payments[0].status == actors::order::payment_status::refunded;
  }));
  BOOST_REQUIRE(node->quiesce(10'000));
  BOOST_CHECK(audit().violations.empty());
  int refunds = 0;
  for (const auto& call : test::sandbox_calls_of(*node)) {
    refunds += call.kind == "refund" && call.order_id == id ? 1 : 0;
  }
  BOOST_CHECK_EQUAL(refunds, 1);
  BOOST_CHECK_EQUAL(node->stats().refunds_reissued, 1u);
}

BOOST_AUTO_TEST_CASE(what_cannot_be_healed_is_reported_and_stays) {
  BOOST_REQUIRE(put_sku("A", 10));
  tamper([&](storage::store& db) {
    actors::inventory::state s;
    runtime::detail::sku_kind::restore(db, "A", s);
    s.available += 1; // a unit from nowhere
    storage::batch b;
    runtime::detail::sku_kind::persist(s, {}, actors::inventory::input{}, b);
    BOOST_REQUIRE(db.commit_sync(std::move(b)).ok());
  });
  auto r = audit();
  BOOST_CHECK(!r.ok());
  BOOST_CHECK(has(r, "stock_conservation", false));
  BOOST_CHECK(!audit().ok());
  BOOST_CHECK_GE(node->stats().audit_violations, 2u);
}

// The scan reads the SKUs before the orders. An order paid while it ran,
// its confirm handed to the relay and acknowledged before the scan ended,
// was read PAID while its SKU had been read still holding the reservation,
// and the relay held nothing from it before the scan nor after it: the
// audit reported "reservation held for PAID order", a state that never
// existed at any one moment (and "healed" a cancel's release the same way).
BOOST_AUTO_TEST_CASE(turns_that_settle_during_the_scan_are_not_violations) {
  struct clear_faults {
    ~clear_faults() {
      runtime::faults::global().clear_all();
    }
  } cleanup;
  BOOST_REQUIRE(put_sku("A", 10));
  auto paid = create("u1", "k1", {{"A", 2}});
  auto cancelled = create("u2", "k2", {{"A", 1}});
  BOOST_REQUIRE(paid);
  BOOST_REQUIRE(cancelled);
  BOOST_REQUIRE(node->quiesce(10'000));
  BOOST_REQUIRE_EQUAL(sku("A")->reserved, 3);

  // The audit waits between its reads of the SKUs and of the orders.
  std::vector<runtime::fault_rule> rules;
  std::string why;
  BOOST_REQUIRE_MESSAGE(
    runtime::parse_fault_spec("audit.before_orders=delay:3s#1", &rules, &why),
    why);
  BOOST_REQUIRE_MESSAGE(runtime::faults::global().arm(rules.at(0), &why), why);
  auto ran
    = std::make_shared<std::promise<actors::result<runtime::audit_run>>>();
  auto result = ran->get_future();
  node->audit([ran](actors::result<runtime::audit_run> r) {
    ran->set_value(std::move(r));
  });
  // Fired once, the rule is gone: the SKUs are read, the orders not yet.
  BOOST_REQUIRE(eventually([] {
    return runtime::faults::global().list().empty();
  }));
  BOOST_REQUIRE(pay(paid->order.order_id, "t1", paid->order.payable));
  BOOST_REQUIRE(cancel(cancelled->order.order_id));
  BOOST_REQUIRE(node->quiesce(10'000));
  BOOST_REQUIRE_EQUAL(sku("A")->reserved, 0);
  BOOST_REQUIRE_EQUAL(sku("A")->sold, 2);
  // All of it inside the scan.
  BOOST_REQUIRE(result.wait_for(std::chrono::seconds{0})
                == std::future_status::timeout);

  auto r = result.get();
  BOOST_REQUIRE(r);
  const auto& report = r.value().report;
  for (const auto& v : report.violations) {
    BOOST_ERROR(v.rule << " " << v.subject << ": " << v.detail
                       << (v.healed ? " (healed)" : ""));
  }
  BOOST_CHECK(report.heals.empty());
  BOOST_CHECK(audit().violations.empty());
}

BOOST_AUTO_TEST_CASE(violations_are_posted_to_the_alert_webhook) {
  one_shot_webhook hook;
  auto got = hook.received();
  node->stop();
  node.reset();
  opts.alert_webhook
    = "http://127.0.0.1:" + std::to_string(hook.port()) + "/alerts";
  start();
  BOOST_REQUIRE(put_sku("A", 10));
  tamper([&](storage::store& db) {
    actors::inventory::state s;
    runtime::detail::sku_kind::restore(db, "A", s);
    s.sold += 1; // a sale nobody made
    storage::batch b;
    runtime::detail::sku_kind::persist(s, {}, actors::inventory::input{}, b);
    BOOST_REQUIRE(db.commit_sync(std::move(b)).ok());
  });
  BOOST_CHECK(!audit().ok());
  BOOST_REQUIRE(got.wait_for(std::chrono::seconds{20})
                == std::future_status::ready);
  auto text = got.get();
  BOOST_CHECK_EQUAL(text.substr(0, 8), "/alerts ");
  auto j = nlohmann::json::parse(text.substr(8));
  BOOST_CHECK_EQUAL(j["source"], "ordo audit");
  BOOST_REQUIRE_EQUAL(j["violations"].size(), 1u);
  BOOST_CHECK_EQUAL(j["violations"][0]["rule"], "stock_conservation");
  BOOST_CHECK_EQUAL(j["violations"][0]["subject"], "sku/A");
  BOOST_CHECK_EQUAL(j["violations"][0]["healed"], false);
}

// Scheduled audits cost what changed: after the first run (all
// orders) a run reads the orders written since the last one, those other
// actors name, and a slice of the sweep, not the whole history.
BOOST_AUTO_TEST_CASE(a_scheduled_audit_reads_what_changed_not_every_order) {
  audit_often(5);
  BOOST_REQUIRE(put_sku("A", 1000));
  constexpr int orders = 60;
  for (int i = 0; i < orders; ++i) {
    auto c = create("u1", "k" + std::to_string(i), {{"A", 1}});
    BOOST_REQUIRE(c);
    BOOST_REQUIRE(cancel(c->order.order_id)); // named by nothing now
  }
  BOOST_REQUIRE(node->quiesce(10'000));
  // Two runs after the writes: the second finds nothing new written.
  auto settled = node->stats().audit_runs;
  BOOST_REQUIRE(eventually([&] {
    return node->stats().audit_runs >= settled + 2;
  }));
  auto a = node->stats();
  BOOST_REQUIRE(eventually([&] {
    return node->stats().audit_runs >= a.audit_runs + 3;
  }));
  auto b = node->stats();
  // A run in progress may have counted its reads but not itself yet.
  auto runs = b.audit_runs - a.audit_runs + 1;
  BOOST_CHECK_LE(b.audit_orders_read - a.audit_orders_read,
                 runs * opts.audit_sweep);
  BOOST_CHECK_GE(b.audit_orders_read, static_cast<std::uint64_t>(orders));
}

// Cost is not all: a scheduled run still finds a problem in an
// order written since the last run. The sweep is off here, so only the order
// hosts' record of what they wrote can bring the order into the run: a split
// order driven to MANUAL_INTERVENTION after the first (full) run, named by no
// SKU, coupon or affiliate.
BOOST_AUTO_TEST_CASE(
  a_scheduled_audit_finds_a_problem_written_since_its_last_run) {
  audit_often(0);
  BOOST_REQUIRE(put_sku("G", 100, 1000, actors::item_kind::goods));
  BOOST_REQUIRE(put_sku("S", 5, 500, actors::item_kind::service));
  constexpr int old_orders = 30;
  for (int i = 0; i < old_orders; ++i) {
    auto c = create("u1", "k" + std::to_string(i), {{"G", 1}});
    BOOST_REQUIRE(c);
    BOOST_REQUIRE(cancel(c->order.order_id));
  }
  BOOST_REQUIRE(node->quiesce(10'000));
  // The first run (all orders) and one that began after every write: clean.
  auto settled = node->stats().audit_runs;
  BOOST_REQUIRE(eventually([&] {
    return node->stats().audit_runs >= settled + 2;
  }));
  auto quiet = node->stats();
  BOOST_REQUIRE_EQUAL(quiet.audit_violations, 0u);

  actors::order::create cmd;
  cmd.user_id = "u2";
  cmd.items = {{"G", 2}, {"S", 1}};
  cmd.fingerprint = "split";
  auto split = create("k-split", cmd);
  BOOST_REQUIRE(split);
  auto parent = split->order.order_id;
  auto service = parent + "-2";
  auto share = order(service)->payable;
  BOOST_REQUIRE(pay(service, "t-child", share));
  auto c = cancel(parent);
  BOOST_REQUIRE(c);
  BOOST_REQUIRE(c->st == actors::order::status::manual_intervention);
  BOOST_REQUIRE(node->quiesce(10'000));

  // The runs that took what was written before the quiesce have all been
  // counted once two more have begun after it: one of them reported it...
  auto written = node->stats().audit_runs;
  BOOST_REQUIRE(eventually([&] {
    return node->stats().audit_runs >= written + 3;
  }));
  auto found = node->stats();
  BOOST_CHECK_GT(found.audit_violations, quiet.audit_violations);
  // ... and later runs, with nothing new written, do not read it again: the
  // runs read what was written, not every order.
  BOOST_REQUIRE(eventually([&] {
    return node->stats().audit_runs >= found.audit_runs + 3;
  }));
  auto later = node->stats();
  BOOST_CHECK_EQUAL(later.audit_violations, found.audit_violations);
  BOOST_CHECK_LT(later.audit_orders_read - quiet.audit_orders_read,
                 static_cast<std::uint64_t>(old_orders));
  // What it found is the parent (an on-demand run reads everything).
  auto r = audit();
  BOOST_REQUIRE_EQUAL(r.violations.size(), 1u);
  BOOST_CHECK_EQUAL(r.violations[0].rule, "manual_intervention");
  BOOST_CHECK_EQUAL(r.violations[0].subject, "order/" + parent);
}

// And an order nobody writes any more, whose problem the first run saw, is
// read again by the sweep: once in every pass of orders / sweep runs, never
// in every run.
BOOST_AUTO_TEST_CASE(the_audit_sweep_reaches_an_old_untouched_order_in_a_pass) {
  audit_often(5);
  BOOST_REQUIRE(put_sku("A", 1000));
  // 42 orders, 5 a run: a pass of the sweep takes 9 runs (the last reads 2).
  constexpr std::uint64_t orders = 42;
  constexpr std::uint64_t pass = (orders + 4) / 5;
  std::vector<std::string> ids;
  for (std::uint64_t i = 0; i < orders; ++i) {
    auto c = create("u1", "k" + std::to_string(i), {{"A", 1}});
    BOOST_REQUIRE(c);
    BOOST_REQUIRE(cancel(c->order.order_id));
    ids.push_back(c->order.order_id);
  }
  BOOST_REQUIRE(node->quiesce(10'000));
  // Written behind the node's back: no host records it as touched, and
  // nothing names it (cancelled, no coupon), so after the first run only
  // the sweep reads it.
  auto bad = ids[orders / 2];
  tamper([&](storage::store& db) {
    actors::order::state o;
    runtime::detail::order_kind::restore(db, bad, o);
    BOOST_REQUIRE(o.st == actors::order::status::cancelled);
    o.st = actors::order::status::manual_intervention;
    o.manual_reason = "planted by the test";
    storage::batch b;
    runtime::detail::order_kind::persist(o, {}, actors::order::input{}, b);
    BOOST_REQUIRE(db.commit_sync(std::move(b)).ok());
  });
  // Counters of a run: audit_runs, then audit_violations. Once runs > n
  // were counted, the violations of runs 1..n are all in.
  auto violations_by_run = [&](std::uint64_t n) {
    BOOST_REQUIRE(eventually([&] {
      return node->stats().audit_runs > n;
    }));
    return node->stats().audit_violations;
  };
  // Run 1 reads every order and finds it; the sweep's first pass (runs 2 to
  // 1 + pass) finds it once more.
  BOOST_CHECK_GE(violations_by_run(1), 1u);
  BOOST_CHECK_GE(violations_by_run(1 + pass), 2u);
  // Over three more passes: once a pass, not once a run.
  violations_by_run(1 + 4 * pass);
  auto runs_before = node->stats().audit_runs; // runs 1 .. this - 1 are in v
  auto v = node->stats().audit_violations;
  auto runs_after = node->stats().audit_runs; // v counts no run past this
  BOOST_CHECK_GE(v, 1 + (runs_before - 2) / pass);
  BOOST_CHECK_LE(v, 1 + (runs_after - 1 + pass - 1) / pass);
  BOOST_TEST_MESSAGE("found in " << v << " of " << runs_after << " runs");
}

BOOST_AUTO_TEST_SUITE_END()
