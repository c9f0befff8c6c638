// The auditor on a real node: what kill -9 or a lost message could leave
// behind is written into a stopped node's storage by hand, and the audit
// of the restarted node must find it, heal it, and then find nothing.

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <future>
#include <string>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "runtime/detail/kinds.hpp"
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

  /// Stops the node, lets `edit` change its storage, starts it again.
  template <class Edit>
  void tamper(Edit edit) {
    node->stop();
    node.reset();
    {
      storage::store_options so;
      so.path = opts.data_dir;
      std::string err;
      auto db = storage::store::open(so, &err);
      BOOST_REQUIRE_MESSAGE(db, err);
      edit(*db);
      db->close();
    }
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
      s, actors::inventory::input{actors::inventory::release{id, 0}}, b);
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
    runtime::detail::order_kind::persist(o, actors::order::input{}, b);
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
  for (const auto& call : node->sandbox_calls()) {
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
    runtime::detail::sku_kind::persist(s, actors::inventory::input{}, b);
    BOOST_REQUIRE(db.commit_sync(std::move(b)).ok());
  });
  auto r = audit();
  BOOST_CHECK(!r.ok());
  BOOST_CHECK(has(r, "stock_conservation", false));
  BOOST_CHECK(!audit().ok());
  BOOST_CHECK_GE(node->stats().audit_violations, 2u);
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
    runtime::detail::sku_kind::persist(s, actors::inventory::input{}, b);
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

// Scheduled audits cost what changed (issue 15): after the first run (all
// orders) a run reads the orders written since the last one, those other
// actors name, and a slice of the sweep, not the whole history.
BOOST_AUTO_TEST_CASE(a_scheduled_audit_reads_what_changed_not_every_order) {
  node->stop();
  node.reset();
  opts.audit_interval = 20;
  opts.audit_sweep = 5;
  start();
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

BOOST_AUTO_TEST_SUITE_END()
