// Reads over real HTTP against a real node: a user's order list is never
// staler than the order after an acknowledged write (DESIGN.md rule 11), it
// pages newest first with a cursor, bad list and report queries are refused
// without effect, and the sales report keeps placed, paid, cancelled,
// refunded and flash cancels apart (rule 12), equal to a recount of the
// orders, across a restart. And no read of storage runs on the HTTP I/O
// thread: a slow one holds up no other connection.

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "runtime/clock.hpp"
#include "tests/integration/server_fixture.hpp"
#include "tests/runtime/held_point.hpp"

using namespace ordo;
using namespace ordo::test;

namespace {

constexpr actors::millis start_time = 1'700'000'000'000;

/// GET /v1/users/{user}/orders?{query}.
http_response list(http_client& c, const std::string& user,
                   const std::string& query = "limit=100") {
  return c.get("/v1/users/" + user + "/orders"
               + (query.empty() ? "" : "?" + query));
}

/// The entry of `order_id` in `user`'s list (one page of up to 100), or
/// null when it is not listed.
nlohmann::json listed(http_client& c, const std::string& user,
                      const std::string& order_id) {
  auto r = list(c, user);
  if (r.status != 200 || !r.json.contains("orders")) {
    throw std::runtime_error("list of " + user + ": " + std::to_string(r.status)
                             + " " + r.body);
  }
  for (const auto& e : r.json["orders"]) {
    if (e.value("order_id", "") == order_id) {
      return e;
    }
  }
  return nullptr;
}

/// POST /v1/orders with items of both kinds: a split order.
http_response create_split(http_client& c, const std::string& key,
                           const std::string& user, const std::string& goods,
                           const std::string& service) {
  nlohmann::json body{
    {"user_id", user},
    {"items",
     {{{"sku", goods}, {"quantity", 1}}, {{"sku", service}, {"quantity", 1}}}}};
  return c.post("/v1/orders", body.dump(), {{"Idempotency-Key", key}});
}

http_response refund(http_client& c, const std::string& order_id) {
  return c.post("/v1/orders/" + order_id + "/refund", "", bearer(admin_token));
}

http_response report(http_client& c, const std::string& query = "") {
  return c.get("/v1/reports/sales" + (query.empty() ? "" : "?" + query),
               bearer(admin_token));
}

/// One write and the reads right after it, as one thread saw them.
struct observed {
  std::string what; ///< "cancel", "pay", "refund" of which order
  std::string expected;
  std::string listed;
  std::string order;
};

/// `rounds` rounds for the users `users`: create (every fifth a split
/// order), then cancel, pay, or pay and refund, and read the user's list and
/// the order at once after each acknowledged write. Network errors and
/// refused writes are recorded as mismatches, never thrown.
std::vector<observed> write_then_read(std::uint16_t port,
                                      const std::vector<std::string>& users,
                                      const std::string& prefix, int rounds) {
  std::vector<observed> out;
  try {
    http_client c{port};
    auto look = [&](const std::string& what, const std::string& user,
                    const std::string& id, const std::string& expected) {
      // The list first: it is the read that could be stale.
      auto entry = listed(c, user, id);
      auto order = c.get("/v1/orders/" + id).json;
      out.push_back(
        {what + " " + id, expected,
         entry.is_null() ? "(not listed)" : entry.value("status", "(none)"),
         order.value("status", "(none)")});
      if (!entry.is_null()
          && (entry.value("payable", -1) != order.value("payable", -2)
              || entry.value("created_at", "") != order.value("created_at", "")
              || !entry.contains("created_at"))) {
        out.push_back({"fields of " + id, entry.dump(), order.dump(), ""});
      }
    };
    for (int i = 0; i < rounds; ++i) {
      const auto& user = users[i % users.size()];
      auto key = prefix + "-" + std::to_string(i);
      auto created = i % 5 == 4 ? create_split(c, key, user, "G", "S")
                                : create_order(c, key, user, "G", 1 + i % 3);
      if (created.status != 201) {
        out.push_back({"create " + key, "201", std::to_string(created.status),
                       created.body});
        continue;
      }
      std::string id = created.json["order_id"];
      std::int64_t payable = created.json["payable"];
      switch (i % 3) {
        case 0: {
          auto r = cancel(c, id);
          look("cancel", user, id,
               r.status == 200 ? r.json.value("status", "(none)")
                               : "cancel " + std::to_string(r.status));
          break;
        }
        case 1: {
          auto r = pay(c, id, "txn-" + key, payable);
          look("pay", user, id,
               r.json.value("result", "") == "captured"
                 ? "PAID"
                 : "pay " + std::to_string(r.status) + " " + r.body);
          break;
        }
        default: {
          auto p = pay(c, id, "txn-" + key, payable);
          if (p.json.value("result", "") != "captured") {
            out.push_back({"pay " + id, "captured", p.body, ""});
            break;
          }
          look("pay", user, id, "PAID");
          if (i % 5 == 4) {
            break; // a split parent is refunded through its children
          }
          auto r = refund(c, id);
          look("refund", user, id,
               r.status == 200 ? r.json.value("status", "(none)")
                               : "refund " + std::to_string(r.status));
          break;
        }
      }
    }
  } catch (const std::exception& e) {
    out.push_back({"exception", "", e.what(), ""});
  }
  return out;
}

/// Every figure of a sales report, as the test recounts it.
struct recount {
  struct tally {
    std::int64_t count = 0;
    std::int64_t amount = 0;
    void add(std::int64_t a) {
      ++count;
      amount += a;
    }
  };
  tally placed, paid, cancelled, refunded, manual, flash;
  std::map<std::string, std::int64_t> flash_by_user;

  /// The users with most flash cancels, most first, ties by user_id.
  nlohmann::json top(std::size_t n) const {
    std::vector<std::pair<std::string, std::int64_t>> v(flash_by_user.begin(),
                                                        flash_by_user.end());
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    nlohmann::json out = nlohmann::json::array();
    for (std::size_t i = 0; i < v.size() && i < n; ++i) {
      out.push_back({{"user_id", v[i].first}, {"count", v[i].second}});
    }
    return out;
  }
};

void check_tally(const nlohmann::json& got, const recount::tally& want,
                 const std::string& name) {
  BOOST_TEST_CONTEXT(name << ": " << got.dump()) {
    BOOST_CHECK_EQUAL(got.value("count", std::int64_t{-1}), want.count);
    BOOST_CHECK_EQUAL(got.value("amount", std::int64_t{-1}), want.amount);
  }
}

/// A node and the HTTP server over one data directory that outlives them,
/// so both can be stopped and started again on the same data.
struct restartable {
  temp_dir dir;
  std::shared_ptr<runtime::manual_clock> time
    = std::make_shared<runtime::manual_clock>(start_time);
  runtime::node_options opts;
  gateway::server_options server_opts;
  std::unique_ptr<runtime::node> node;
  std::unique_ptr<gateway::server> server;

  restartable() {
    opts.data_dir = dir.path() + "/db";
    opts.rate_limit = 0;
    opts.captcha_after = 0;
    opts.flash_window = 10'000;
    opts.time = time;
    server_opts.port = 0;
    server_opts.admin_token = admin_token;
    server_opts.payment_secret = payment_secret;
    server_opts.threads = 2;
    start();
  }
  ~restartable() {
    stop();
  }
  void start() {
    std::string err;
    node = runtime::node::start(opts, &err);
    if (!node) {
      throw std::runtime_error("node: " + err);
    }
    server = gateway::server::start(server_opts, *node, &err);
    if (!server) {
      throw std::runtime_error("server: " + err);
    }
  }
  void stop() {
    if (server) {
      server->stop();
      server.reset();
    }
    if (node) {
      node->stop();
      node.reset();
    }
  }
  std::uint16_t port() const {
    return server->port();
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(fresh_reads_and_reports)

BOOST_AUTO_TEST_CASE(the_user_list_shows_a_new_status_at_once) {
  server_fixture f;
  http_client c{f.port()};
  BOOST_REQUIRE_EQUAL(put_sku(c, "G", 100'000, 1200).status, 200u);
  BOOST_REQUIRE_EQUAL(put_sku(c, "S", 100'000, 3100, "service").status, 200u);

  auto check_all = [](const std::vector<observed>& seen, std::size_t least) {
    BOOST_CHECK_GE(seen.size(), least);
    for (const auto& o : seen) {
      BOOST_TEST_CONTEXT(o.what) {
        BOOST_CHECK_EQUAL(o.listed, o.expected);
        BOOST_CHECK_EQUAL(o.order, o.expected);
      }
    }
  };

  // One thread, several users.
  auto seen = write_then_read(
    f.port(), {"fr-a", "fr-b", "fr-c", "fr-d", "fr-e"}, "seq", 40);
  check_all(seen, 40);
  std::set<std::string> statuses;
  for (const auto& o : seen) {
    statuses.insert(o.expected);
  }
  BOOST_CHECK(
    (statuses == std::set<std::string>{"CANCELLED", "PAID", "REFUNDED"}));

  // Four threads at once, each with its own users and connection.
  std::vector<std::vector<observed>> per_thread(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto n = std::to_string(t);
      per_thread[t] = write_then_read(
        f.port(), {"fr-t" + n + "a", "fr-t" + n + "b"}, "par" + n, 30);
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  for (const auto& s : per_thread) {
    check_all(s, 30);
  }
}

BOOST_AUTO_TEST_CASE(the_user_list_is_newest_first_and_pages_with_a_cursor) {
  auto time = std::make_shared<runtime::manual_clock>(start_time);
  server_fixture f(nullptr, [&](runtime::node_options& o) {
    o.time = time;
  });
  http_client c{f.port()};
  BOOST_REQUIRE_EQUAL(put_sku(c, "G", 1000, 700).status, 200u);
  BOOST_REQUIRE_EQUAL(put_sku(c, "S", 1000, 1900, "service").status, 200u);

  // Seven orders of "pager", the last one split; between them orders of
  // users whose ids extend "pager" and share its creation times.
  std::vector<std::string> mine; // oldest first
  std::set<std::string> children;
  std::set<std::string> others;
  for (int i = 0; i < 7; ++i) {
    auto r = i == 6
               ? create_split(c, "k" + std::to_string(i), "pager", "G", "S")
               : create_order(c, "k" + std::to_string(i), "pager", "G", 1 + i);
    BOOST_REQUIRE_EQUAL(r.status, 201u);
    mine.push_back(r.json["order_id"]);
    for (const auto& child : r.json["children"]) {
      children.insert(child.get<std::string>());
    }
    for (auto other : {"pager-b", "pagerb", "page"}) {
      auto o = create_order(c, "k" + std::to_string(i), other, "G", 1);
      BOOST_REQUIRE_EQUAL(o.status, 201u);
      others.insert(o.json["order_id"].get<std::string>());
    }
    time->advance(1);
  }
  BOOST_REQUIRE_EQUAL(children.size(), 2u);
  BOOST_CHECK(children.count(mine.back() + "-1") == 1
              && children.count(mine.back() + "-2") == 1);
  // Some statuses besides PENDING_PAYMENT, so the list's must match.
  BOOST_REQUIRE_EQUAL(cancel(c, mine[1]).status, 200u);
  BOOST_REQUIRE_EQUAL(
    pay(c, mine[2], "t-2", c.get("/v1/orders/" + mine[2]).json["payable"])
      .json["result"],
    "captured");

  std::vector<nlohmann::json> pages;
  std::vector<std::string> cursors;
  std::string query = "limit=3";
  for (int guard = 0; guard < 10; ++guard) {
    auto r = list(c, "pager", query);
    BOOST_REQUIRE_EQUAL(r.status, 200u);
    BOOST_REQUIRE(r.json["orders"].is_array());
    pages.push_back(r.json["orders"]);
    const auto& next = r.json["next_cursor"];
    if (next.is_null()) {
      break;
    }
    BOOST_REQUIRE(next.is_string());
    std::string cur = next;
    BOOST_CHECK_MESSAGE(!cur.empty()
                          && std::all_of(cur.begin(), cur.end(),
                                         [](char ch) {
                                           return (ch >= '0' && ch <= '9')
                                                  || (ch >= 'a' && ch <= 'f');
                                         }),
                        "next_cursor is not lower-case hex: " << cur);
    cursors.push_back(cur);
    query = "limit=3&cursor=" + cur;
  }
  BOOST_REQUIRE_EQUAL(pages.size(), 3u);
  BOOST_CHECK_EQUAL(pages[0].size(), 3u);
  BOOST_CHECK_EQUAL(pages[1].size(), 3u);
  BOOST_CHECK_EQUAL(pages[2].size(), 1u);
  BOOST_CHECK_EQUAL(cursors.size(), 2u);

  std::vector<std::string> ids;
  std::vector<std::string> created;
  for (const auto& page : pages) {
    for (const auto& e : page) {
      ids.push_back(e["order_id"]);
      created.push_back(e["created_at"]);
      auto o = c.get("/v1/orders/" + ids.back()).json;
      BOOST_TEST_CONTEXT(ids.back()) {
        BOOST_CHECK_EQUAL(e["status"], o["status"]);
        BOOST_CHECK_EQUAL(e["payable"], o["payable"]);
        BOOST_CHECK_EQUAL(e["created_at"], o["created_at"]);
      }
    }
  }
  std::vector<std::string> newest_first(mine.rbegin(), mine.rend());
  BOOST_CHECK_EQUAL_COLLECTIONS(ids.begin(), ids.end(), newest_first.begin(),
                                newest_first.end());
  BOOST_CHECK_EQUAL(std::set<std::string>(ids.begin(), ids.end()).size(),
                    ids.size());
  for (std::size_t i = 1; i < created.size(); ++i) {
    BOOST_CHECK_MESSAGE(created[i - 1] > created[i],
                        "not newest first: " << created[i - 1] << " then "
                                             << created[i]);
  }
  for (const auto& id : ids) {
    BOOST_CHECK_MESSAGE(children.count(id) == 0 && others.count(id) == 0,
                        "listed for pager: " << id);
  }

  // Without a limit (20) and with exactly 7: everything, no cursor.
  for (std::string q : {"", "limit=7"}) {
    auto all = list(c, "pager", q);
    BOOST_REQUIRE_EQUAL(all.status, 200u);
    BOOST_CHECK_EQUAL(all.json["orders"].size(), 7u);
    BOOST_CHECK(all.json["next_cursor"].is_null());
  }
  // The users next to "pager" list only their own.
  for (auto other : {"pager-b", "pagerb", "page"}) {
    auto r = list(c, other);
    BOOST_REQUIRE_EQUAL(r.status, 200u);
    BOOST_CHECK_EQUAL(r.json["orders"].size(), 7u);
    for (const auto& e : r.json["orders"]) {
      BOOST_CHECK_EQUAL(others.count(e["order_id"].get<std::string>()), 1u);
    }
  }
  // A user without orders.
  auto none = list(c, "nobody");
  BOOST_REQUIRE_EQUAL(none.status, 200u);
  BOOST_CHECK(none.json["orders"].is_array() && none.json["orders"].empty());
  BOOST_CHECK(none.json.contains("next_cursor")
              && none.json["next_cursor"].is_null());
}

BOOST_AUTO_TEST_CASE(bad_list_queries_are_refused_and_change_nothing) {
  server_fixture f;
  http_client c{f.port()};
  BOOST_REQUIRE_EQUAL(put_sku(c, "G", 100, 500).status, 200u);
  for (int i = 0; i < 3; ++i) {
    BOOST_REQUIRE_EQUAL(
      create_order(c, "b" + std::to_string(i), "bad-u", "G", 1).status, 201u);
  }
  BOOST_REQUIRE(f.node->quiesce(10'000));
  auto before = list(c, "bad-u");
  BOOST_REQUIRE_EQUAL(before.status, 200u);
  BOOST_REQUIRE_EQUAL(before.json["orders"].size(), 3u);
  auto report_before = report(c);
  BOOST_REQUIRE_EQUAL(report_before.status, 200u);
  auto sku_before = get_sku(c, "G").json;

  for (std::string q :
       {"limit=0", "limit=101", "limit=abc", "limit=-1", "limit=", "limit=1.5",
        "limit=99999999999999999999", "cursor=xyz", "cursor=zz", "cursor=abc",
        "cursor=", "cursor=ABCD", "cursor=00", "limit=2&cursor=0", "colour=red",
        "limit=2&sort=asc", "limit=2&limit=3", "cursor=00&cursor=00",
        "limit"}) {
    BOOST_TEST_CONTEXT("?" << q) {
      auto r = list(c, "bad-u", q);
      BOOST_CHECK_EQUAL(r.status, 400u);
      BOOST_CHECK_EQUAL(r.error(), "bad_request");
    }
  }
  auto after = list(c, "bad-u");
  BOOST_REQUIRE_EQUAL(after.status, 200u);
  BOOST_CHECK_EQUAL(after.json.dump(), before.json.dump());
  BOOST_CHECK_EQUAL(list(c, "bad-u", "limit=1").json["orders"].size(), 1u);
  BOOST_CHECK_EQUAL(get_sku(c, "G").json.dump(), sku_before.dump());
  BOOST_CHECK_EQUAL(c.get("/healthz").status, 200u);

  // The report is admin only, and its query is checked too.
  BOOST_CHECK_EQUAL(c.get("/v1/reports/sales").status, 401u);
  BOOST_CHECK_EQUAL(c.get("/v1/reports/sales").error(), "unauthorized");
  BOOST_CHECK_EQUAL(c.get("/v1/reports/sales", bearer("wrong-token")).status,
                    401u);
  for (std::string q :
       {"top=0", "top=101", "top=x", "top=", "limit=3", "top=1&top=2"}) {
    BOOST_TEST_CONTEXT("?" << q) {
      auto r = report(c, q);
      BOOST_CHECK_EQUAL(r.status, 400u);
      BOOST_CHECK_EQUAL(r.error(), "bad_request");
    }
  }
  auto report_after = report(c);
  BOOST_REQUIRE_EQUAL(report_after.status, 200u);
  BOOST_CHECK_EQUAL(report_after.json.dump(), report_before.json.dump());
  BOOST_CHECK_EQUAL(report(c, "top=1").status, 200u);
  BOOST_CHECK_EQUAL(report(c, "top=100").status, 200u);
}

BOOST_AUTO_TEST_CASE(the_sales_report_equals_a_recount_of_the_orders) {
  constexpr actors::millis window = 10'000;
  constexpr actors::millis timeout = 30'000;
  auto time = std::make_shared<runtime::manual_clock>(start_time);
  server_fixture f(nullptr, [&](runtime::node_options& o) {
    o.time = time;
    o.flash_window = window;
    o.payment_timeout = timeout;
    // A user's orders share one partition; with few partitions each report
    // shard holds more users with flash cancels than the default top (10),
    // and top=100 must still list them all.
    o.partitions = 2;
  });
  http_client c{f.port()};
  BOOST_REQUIRE_EQUAL(put_sku(c, "G", 100'000, 1150).status, 200u);
  BOOST_REQUIRE_EQUAL(put_sku(c, "S", 100'000, 2390, "service").status, 200u);

  struct made {
    std::string id;
    std::string user;
    actors::millis created_at = 0;
    actors::millis cancelled_at = 0; ///< 0: the test did not cancel it
    std::string intended;            ///< the top-level status it must have
  };
  std::vector<made> orders;
  int n = 0;
  auto make = [&](const std::string& user, bool split = false) -> made& {
    auto key = "rk-" + std::to_string(n);
    auto r = split ? create_split(c, key, user, "G", "S")
                   : create_order(c, key, user, n % 2 ? "G" : "S", 1 + n % 3);
    ++n;
    if (r.status != 201u) {
      throw std::runtime_error("create: " + r.body);
    }
    orders.push_back({r.json["order_id"], user, time->now(), 0, ""});
    return orders.back();
  };
  auto payable_of = [&](const std::string& id) {
    return c.get("/v1/orders/" + id).json["payable"].get<std::int64_t>();
  };
  auto do_cancel = [&](made& m) {
    auto r = cancel(c, m.id);
    BOOST_REQUIRE_EQUAL(r.status, 200u);
    BOOST_REQUIRE_EQUAL(r.json["status"], "CANCELLED");
    m.cancelled_at = time->now();
    m.intended = "CANCELLED";
  };
  auto do_pay = [&](made& m) {
    auto r = pay(c, m.id, "txn-" + m.id, payable_of(m.id));
    BOOST_REQUIRE_EQUAL(r.json["result"], "captured");
    m.intended = "PAID";
  };

  // Unpaid orders that time out (reason "timeout": cancelled, never flash);
  // everything else is placed later, so it stays within its deadline.
  std::vector<std::size_t> timed_out;
  for (auto user : {"ru00", "ru05", "ru07"}) {
    make(user).intended = "CANCELLED";
    timed_out.push_back(orders.size() - 1);
  }
  time->advance(timeout - window);

  constexpr int users = 24;
  std::vector<std::size_t> late; // cancelled after the window
  std::vector<std::size_t> to_refund;
  for (int u = 0; u < users; ++u) {
    char name[8];
    std::snprintf(name, sizeof(name), "ru%02d", u);
    std::string user = name;
    // Flash cancels: 1..4 per user, with ties.
    for (int k = 0; k < 1 + (u * 7) % 4; ++k) {
      do_cancel(make(user));
    }
    do_pay(make(user));
    if (u % 2 == 0) {
      to_refund.push_back(orders.size() - 1);
    }
    if (u % 3 == 0) {
      make(user).intended = "CANCELLED";
      late.push_back(orders.size() - 1);
    }
    if (u % 2 == 1) {
      make(user).intended = "PENDING_PAYMENT";
    }
  }
  // A payment for a cancelled order: refunded at once, neither paid nor
  // refunded in the report.
  auto& anomaly = make("ru00");
  do_cancel(anomaly);
  auto late_pay = pay(c, anomaly.id, "txn-anomaly", payable_of(anomaly.id));
  BOOST_REQUIRE_EQUAL(late_pay.json["result"], "refunded");
  // A payment with the wrong amount leaves its order unpaid.
  auto& short_paid = make("ru03");
  short_paid.intended = "PENDING_PAYMENT";
  BOOST_REQUIRE_EQUAL(
    pay(c, short_paid.id, "txn-short", payable_of(short_paid.id) - 1)
      .json["result"],
    "refunded");
  // Split orders: one paid (then one child refunded), one cancelled.
  auto split_paid = make("ru01", true).id;
  do_pay(orders.back());
  do_cancel(make("ru02", true));

  time->advance(window + 1000);
  // The deadline timers fire on the clock's jump; nothing answers them.
  for (auto i : timed_out) {
    BOOST_REQUIRE_MESSAGE(
      eventually([&] {
        return c.get("/v1/orders/" + orders[i].id).json["status"]
               == "CANCELLED";
      }),
      orders[i].id << " did not time out");
  }
  for (auto i : late) {
    do_cancel(orders[i]);
  }
  for (auto i : to_refund) {
    auto r = refund(c, orders[i].id);
    BOOST_REQUIRE_EQUAL(r.status, 200u);
    BOOST_REQUIRE_EQUAL(r.json["status"], "REFUNDED");
    orders[i].intended = "REFUNDED";
  }
  // The children learn of the parent's payment through the outbox.
  BOOST_REQUIRE(f.node->quiesce(10'000));
  auto child = split_paid + "-1";
  auto refunded_child = refund(c, child);
  BOOST_REQUIRE_EQUAL(refunded_child.status, 200u);
  BOOST_REQUIRE_EQUAL(refunded_child.json["status"], "REFUNDED");
  BOOST_REQUIRE(f.node->quiesce(10'000));

  // The recount, from each order as GET /v1/orders/{id} shows it.
  recount want;
  std::size_t timeouts = 0;
  std::vector<std::string> children;
  for (const auto& m : orders) {
    auto o = c.get("/v1/orders/" + m.id);
    BOOST_REQUIRE_EQUAL(o.status, 200u);
    const auto& j = o.json;
    BOOST_REQUIRE(j["parent_id"].is_null());
    BOOST_CHECK_MESSAGE(j["status"] == m.intended, m.id << " is " << j["status"]
                                                        << ", not "
                                                        << m.intended);
    for (const auto& ch : j["children"]) {
      children.push_back(ch.get<std::string>());
    }
    auto st = j["status"].get<std::string>();
    std::int64_t payable = j["payable"];
    want.placed.add(payable);
    bool was_paid = false;
    for (const auto& p : j["payments"]) {
      // A payment applied to the order stays CAPTURED until an admin refund.
      was_paid = was_paid || p["status"] == "CAPTURED";
    }
    if (st == "PAID" || st == "DISPATCHED" || st == "COMPLETED"
        || st == "REFUNDED") {
      want.paid.add(payable);
    }
    if (st == "REFUNDED") {
      want.refunded.add(payable);
    }
    if (st == "MANUAL_INTERVENTION") {
      want.manual.add(payable);
    }
    if (st == "CANCELLED") {
      want.cancelled.add(payable);
      BOOST_CHECK(!was_paid);
      if (j["cancel_reason"] == "timeout") {
        BOOST_CHECK_EQUAL(m.cancelled_at, 0);
        ++timeouts;
      } else {
        // Only the test cancels by hand, and it knows when.
        BOOST_REQUIRE_NE(m.cancelled_at, 0);
        if (m.cancelled_at - m.created_at <= window) {
          want.flash.add(payable);
          ++want.flash_by_user[m.user];
        }
      }
    }
  }
  BOOST_REQUIRE_EQUAL(children.size(), 4u);
  for (const auto& id : children) {
    auto o = c.get("/v1/orders/" + id);
    BOOST_REQUIRE_EQUAL(o.status, 200u);
    if (o.json["status"] == "REFUNDED") {
      want.refunded.add(o.json["payable"].get<std::int64_t>());
    }
  }
  // The run is what it meant to be: every kind of figure is non-trivial.
  BOOST_REQUIRE_EQUAL(want.refunded.count,
                      static_cast<std::int64_t>(to_refund.size()) + 1);
  BOOST_REQUIRE_EQUAL(timeouts, timed_out.size());
  BOOST_REQUIRE_GT(want.flash.count, 0);
  BOOST_REQUIRE_GT(want.cancelled.count, want.flash.count);
  BOOST_REQUIRE_GT(want.placed.count, want.paid.count + want.cancelled.count);
  BOOST_REQUIRE_EQUAL(want.flash_by_user.size(),
                      static_cast<std::size_t>(users));

  for (std::size_t top : {std::size_t{10}, std::size_t{3}, std::size_t{100}}) {
    auto r = top == 10 ? report(c) : report(c, "top=" + std::to_string(top));
    BOOST_REQUIRE_EQUAL(r.status, 200u);
    const auto& j = r.json;
    BOOST_TEST_CONTEXT("top=" << top) {
      check_tally(j["placed"], want.placed, "placed");
      check_tally(j["paid"], want.paid, "paid");
      check_tally(j["cancelled"], want.cancelled, "cancelled");
      check_tally(j["refunded"], want.refunded, "refunded");
      check_tally(j["manual_intervention"], want.manual, "manual_intervention");
      check_tally(j["flash_cancels"], want.flash, "flash_cancels");
      BOOST_CHECK_EQUAL(j["flash_cancels"].value("window_seconds", -1),
                        window / 1000);
      BOOST_CHECK_EQUAL(j["top_flash_cancel_users"].dump(),
                        want.top(top).dump());
    }
  }
}

BOOST_AUTO_TEST_CASE(the_sales_report_survives_a_restart) {
  restartable f;
  nlohmann::json before;
  nlohmann::json list_before;
  {
    http_client c{f.port()};
    BOOST_REQUIRE_EQUAL(put_sku(c, "G", 1000, 990).status, 200u);
    BOOST_REQUIRE_EQUAL(put_sku(c, "S", 1000, 4100, "service").status, 200u);
    std::vector<std::string> late;
    for (int i = 0; i < 12; ++i) {
      auto user = "rs" + std::to_string(i % 3);
      auto r
        = i == 11
            ? create_split(c, "k" + std::to_string(i), user, "G", "S")
            : create_order(c, "k" + std::to_string(i), user, "G", 1 + i % 3);
      BOOST_REQUIRE_EQUAL(r.status, 201u);
      std::string id = r.json["order_id"];
      std::int64_t payable = r.json["payable"];
      switch (i % 4) {
        case 0: BOOST_REQUIRE_EQUAL(cancel(c, id).status, 200u); break;
        case 1:
          BOOST_REQUIRE_EQUAL(pay(c, id, "t" + id, payable).json["result"],
                              "captured");
          if (i % 3 == 0) {
            BOOST_REQUIRE_EQUAL(refund(c, id).status, 200u);
          }
          break;
        case 2: late.push_back(id); break;
        default: break; // left pending
      }
    }
    f.time->advance(f.opts.flash_window + 1);
    for (const auto& id : late) {
      BOOST_REQUIRE_EQUAL(cancel(c, id).status, 200u);
    }
    BOOST_REQUIRE(f.node->quiesce(10'000));
    auto r = report(c, "top=100");
    BOOST_REQUIRE_EQUAL(r.status, 200u);
    before = r.json;
    list_before = list(c, "rs1").json;
  }
  // Every figure is something a lost or reset shard would change.
  for (auto k : {"placed", "paid", "cancelled", "refunded", "flash_cancels"}) {
    BOOST_TEST_CONTEXT(k) {
      BOOST_REQUIRE_GT(before[k]["count"].get<std::int64_t>(), 0);
      BOOST_REQUIRE_GT(before[k]["amount"].get<std::int64_t>(), 0);
    }
  }
  BOOST_REQUIRE_GT(before["cancelled"]["count"].get<std::int64_t>(),
                   before["flash_cancels"]["count"].get<std::int64_t>());
  BOOST_REQUIRE(!before["top_flash_cancel_users"].empty());

  f.stop();
  f.start();
  http_client c{f.port()};
  auto after = report(c, "top=100");
  BOOST_REQUIRE_EQUAL(after.status, 200u);
  BOOST_CHECK_EQUAL(after.json.dump(), before.dump());
  BOOST_CHECK_EQUAL(list(c, "rs1").json.dump(), list_before.dump());

  // And it keeps counting from there, not from zero.
  auto r = create_order(c, "after-restart", "rs0", "G", 2);
  BOOST_REQUIRE_EQUAL(r.status, 201u);
  BOOST_REQUIRE_EQUAL(cancel(c, r.json["order_id"]).status, 200u);
  BOOST_REQUIRE(f.node->quiesce(10'000));
  auto more = report(c, "top=100").json;
  std::int64_t payable = r.json["payable"];
  for (auto k : {"placed", "cancelled", "flash_cancels"}) {
    BOOST_TEST_CONTEXT(k) {
      BOOST_CHECK_EQUAL(more[k]["count"].get<std::int64_t>(),
                        before[k]["count"].get<std::int64_t>() + 1);
      BOOST_CHECK_EQUAL(more[k]["amount"].get<std::int64_t>(),
                        before[k]["amount"].get<std::int64_t>() + payable);
    }
  }
  for (auto k : {"paid", "refunded", "manual_intervention"}) {
    BOOST_CHECK_EQUAL(more[k].dump(), before[k].dump());
  }
}

BOOST_AUTO_TEST_SUITE_END()

// --- reads off the HTTP I/O thread ------------------------------------------

namespace {

/// A server with one HTTP I/O thread (the default of `ordo serve`: a read
/// on it would stall every connection) whose node holds the next read it
/// does for a request at store.before_read, then fails it.
struct held_read_fixture {
  std::shared_ptr<held_point> hold = std::make_shared<held_point>(
    "store.before_read", held_point::mode::hold_next_and_fail);
  server_fixture f{[](gateway::server_options& o) {
                     o.threads = 1;
                   },
                   [this](runtime::node_options& o) {
                     o.rate_limit = 5;
                     hold_with(o, hold);
                   }};
  http_client c{f.port()};

  /// Sends `slow` on its own connection with the read held and, while that
  /// read waits, checks that other connections are served: /healthz, and a
  /// GET of `sku`, which reads storage too (on another reader thread).
  /// Then lets the held read go and returns the slow request's answer.
  http_response while_held(const std::string& sku,
                           std::function<http_response(http_client&)> slow) {
    hold->arm();
    auto answer = std::async(std::launch::async, [&] {
      http_client own{f.port()};
      return slow(own);
    });
    // However this ends: the held read goes, so the answer and the
    // server's stop do not wait for it.
    std::shared_ptr<void> release(nullptr, [this](void*) {
      hold->release();
    });
    // The point fired: the slow request's read is the one held.
    BOOST_REQUIRE(hold->wait_entered());
    http_client other{f.port()};
    other.timeout(std::chrono::seconds{5});
    BOOST_TEST(other.get("/healthz").status == 200u);
    auto read = get_sku(other, sku);
    BOOST_TEST(read.status == 200u);
    BOOST_TEST(read.json.value("sku", "") == sku);
    // Still held: the answers above did not wait for it.
    BOOST_TEST((answer.wait_for(std::chrono::seconds{0})
                == std::future_status::timeout));
    hold->release();
    return answer.get();
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(reads_off_the_io_thread, held_read_fixture)

BOOST_AUTO_TEST_CASE(a_slow_get_does_not_stall_other_connections) {
  BOOST_REQUIRE_EQUAL(put_sku(c, "s1", 5).status, 200u);
  auto created = create_order(c, "k1", "u1", "s1", 1);
  BOOST_REQUIRE_EQUAL(created.status, 201u);
  std::string id = created.json["order_id"];
  auto slow = while_held("s1", [&](http_client& own) {
    return own.get("/v1/orders/" + id);
  });
  // The held read failed: answered as any failed read.
  BOOST_TEST(slow.status == 500u);
  BOOST_TEST(slow.error() == "internal");
  BOOST_TEST(c.get("/v1/orders/" + id).status == 200u);
}

BOOST_AUTO_TEST_CASE(a_slow_rate_limit_scan_does_not_stall_other_connections) {
  BOOST_REQUIRE_EQUAL(put_sku(c, "s1", 5).status, 200u);
  // A rate-limited create reads whether the order exists and the user's
  // order index.
  auto slow = while_held("s1", [](http_client& own) {
    return create_order(own, "k2", "u2", "s1", 1);
  });
  BOOST_TEST(slow.status == 500u);
  BOOST_TEST(slow.error() == "internal");
  BOOST_TEST(create_order(c, "k2", "u2", "s1", 1).status == 201u);
}

BOOST_AUTO_TEST_SUITE_END()
