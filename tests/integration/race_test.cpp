// Pay and cancel racing over real HTTP against a real node (rules 1-5).

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <future>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include "tests/integration/server_fixture.hpp"

using namespace ordo;
using namespace ordo::test;

BOOST_FIXTURE_TEST_SUITE(races, server_fixture)

BOOST_AUTO_TEST_CASE(pay_and_cancel_race_ends_paid_or_cancelled_refunded) {
  constexpr int orders = 200;
  constexpr std::int64_t stock = 1000;
  http_client admin{port()};
  BOOST_REQUIRE_EQUAL(put_sku(admin, "A", stock, 1250).status, 200u);

  struct placed {
    std::string id;
    std::int64_t quantity = 0;
    std::int64_t payable = 0;
  };
  std::vector<placed> all;
  for (int i = 0; i < orders; ++i) {
    auto q = 1 + i % 3;
    auto r = create_order(admin, "key-" + std::to_string(i),
                          "u" + std::to_string(i % 17), "A", q);
    BOOST_REQUIRE_EQUAL(r.status, 201u);
    all.push_back({r.json["order_id"], q, r.json["payable"]});
  }

  // Each order: a cancel and a payment callback released at once from two
  // threads, the provider retrying its callback once more. Which one wins a
  // race is luck, so every tenth order has its cancel answered before the
  // payment is sent (pay after cancel: the refund path) and another tenth
  // the other way round (cancel after pay: refused); the split of the rest
  // is only reported.
  enum class order_of { race, cancel_first, pay_first };
  auto order_for = [](int i) {
    return i % 10 == 0   ? order_of::cancel_first
           : i % 10 == 5 ? order_of::pay_first
                         : order_of::race;
  };
  std::vector<unsigned> cancel_status(orders);
  std::vector<std::string> pay_result(orders);
  std::atomic<int> next{0};
  auto worker = [&] {
    http_client a{port()};
    http_client b{port()};
    for (int i = next++; i < orders; i = next++) {
      std::promise<void> go;
      auto gate = go.get_future().share();
      auto mode = order_for(i);
      if (mode == order_of::cancel_first) {
        cancel_status[i] = cancel(b, all[i].id).status;
      }
      auto t = std::thread{[&, gate, i, mode] {
        gate.wait();
        if (mode == order_of::race) {
          cancel_status[i] = cancel(b, all[i].id).status;
        }
      }};
      go.set_value();
      auto first
        = pay(a, all[i].id, "txn-" + std::to_string(i), all[i].payable);
      t.join();
      if (mode == order_of::pay_first) {
        cancel_status[i] = cancel(b, all[i].id).status;
      }
      auto retry
        = pay(a, all[i].id, "txn-" + std::to_string(i), all[i].payable);
      BOOST_CHECK_EQUAL(first.status, 200u);
      BOOST_CHECK_EQUAL(retry.json.value("result", ""), "duplicate");
      pay_result[i] = first.json.value("result", "");
    }
  };
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back(worker);
  }
  for (auto& w : workers) {
    w.join();
  }
  BOOST_REQUIRE(node->quiesce(30'000));

  std::map<std::string, int> refunds;
  std::set<std::string> closes;
  for (auto& call : sandbox_calls_of(*node)) {
    if (call.kind == "refund") {
      ++refunds[call.order_id];
    } else if (call.kind == "close") {
      closes.insert(call.order_id);
    }
  }
  std::int64_t sold = 0;
  int paid = 0;
  int cancelled = 0;
  int raced_paid = 0;
  int raced = 0;
  for (int i = 0; i < orders; ++i) {
    auto o = admin.get("/v1/orders/" + all[i].id).json;
    auto st = o["status"].get<std::string>();
    auto& payments = o["payments"];
    BOOST_REQUIRE_EQUAL(payments.size(), 1u);
    auto mode = order_for(i);
    if (mode == order_of::race) {
      ++raced;
      raced_paid += st == "PAID";
    } else {
      BOOST_CHECK_EQUAL(st, mode == order_of::pay_first ? "PAID" : "CANCELLED");
    }
    if (st == "PAID") {
      ++paid;
      sold += all[i].quantity;
      BOOST_CHECK_EQUAL(payments[0]["status"], "CAPTURED");
      BOOST_CHECK_EQUAL(pay_result[i], "captured");
      BOOST_CHECK_EQUAL(cancel_status[i], 409u);
      BOOST_CHECK_EQUAL(refunds.count(all[i].id), 0u);
    } else {
      ++cancelled;
      BOOST_CHECK_EQUAL(st, "CANCELLED");
      BOOST_CHECK_EQUAL(payments[0]["status"], "REFUNDED");
      BOOST_CHECK_EQUAL(pay_result[i], "refunded");
      BOOST_CHECK_EQUAL(cancel_status[i], 200u);
      BOOST_CHECK_EQUAL(refunds[all[i].id], 1);
      BOOST_CHECK_EQUAL(closes.count(all[i].id), 1u);
    }
  }
  BOOST_TEST_MESSAGE("race: " << raced_paid << " of " << raced
                              << " raced orders paid; " << paid << " paid, "
                              << cancelled << " cancelled and refunded");
  BOOST_CHECK_EQUAL(paid + cancelled, orders);
  // Both paths ran, and were checked above.
  BOOST_CHECK_GE(paid, orders / 10);
  BOOST_CHECK_GE(cancelled, orders / 10);
  auto s = get_sku(admin, "A").json;
  BOOST_CHECK_EQUAL(s["reserved"].get<std::int64_t>(), 0);
  BOOST_CHECK_EQUAL(s["sold"].get<std::int64_t>(), sold);
  BOOST_CHECK_EQUAL(s["available"].get<std::int64_t>()
                      + s["reserved"].get<std::int64_t>()
                      + s["sold"].get<std::int64_t>(),
                    stock);
}

BOOST_AUTO_TEST_CASE(concurrent_creates_with_one_key_give_one_order) {
  http_client admin{port()};
  BOOST_REQUIRE_EQUAL(put_sku(admin, "A", 50).status, 200u);
  std::vector<http_response> replies(16);
  std::promise<void> go;
  auto gate = go.get_future().share();
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      http_client c{port()};
      gate.wait();
      replies[i] = create_order(c, "one-key", "u1", "A", 4);
    });
  }
  go.set_value();
  for (auto& t : threads) {
    t.join();
  }
  std::set<std::string> ids;
  int created = 0;
  for (auto& r : replies) {
    BOOST_CHECK(r.status == 201u || r.status == 200u);
    created += r.status == 201u;
    ids.insert(r.json.value("order_id", ""));
  }
  BOOST_CHECK_EQUAL(created, 1);
  BOOST_CHECK_EQUAL(ids.size(), 1u);
  auto s = get_sku(admin, "A").json;
  BOOST_CHECK_EQUAL(s["reserved"].get<std::int64_t>(), 4);
  BOOST_CHECK_EQUAL(s["available"].get<std::int64_t>(), 46);
}

BOOST_AUTO_TEST_SUITE_END()
