#pragma once

// A real node (real RocksDB in a temp dir, real actor system) driven through
// its face with a manual clock, and synchronous wrappers over its callbacks.

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "runtime/clock.hpp"
#include "runtime/node.hpp"
#include "storage/store.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/temp_dir.hpp"

namespace ordo::test {

/// Calls `fn(callback)` and waits for the callback's result.
template <class T, class Fn>
actors::result<T> await(Fn fn) {
  auto p = std::make_shared<std::promise<actors::result<T>>>();
  auto f = p->get_future();
  fn([p](actors::result<T> r) {
    p->set_value(std::move(r));
  });
  if (f.wait_for(std::chrono::seconds{30}) != std::future_status::ready) {
    throw std::runtime_error("no reply within 30 s");
  }
  return f.get();
}

/// `fn(callback)`'s value, waited for; throws on an error.
template <class T, class Fn>
T await_value(Fn fn) {
  auto r = await<T>(std::move(fn));
  if (!r.ok()) {
    throw std::runtime_error("error reply: " + r.err().message);
  }
  return std::move(r.value());
}

/// `n.sandbox_calls`, waited for.
inline std::vector<runtime::provider_call> sandbox_calls_of(runtime::node& n) {
  return await_value<std::vector<runtime::provider_call>>([&](auto cb) {
    n.sandbox_calls(cb);
  });
}

/// `n.sms_log`, waited for.
inline std::vector<runtime::sent_sms> sms_log_of(runtime::node& n) {
  return await_value<std::vector<runtime::sent_sms>>([&](auto cb) {
    n.sms_log(cb);
  });
}

struct node_fixture {
  temp_dir dir;
  std::shared_ptr<runtime::manual_clock> time
    = std::make_shared<runtime::manual_clock>(1'700'000'000'000);
  runtime::node_options opts;
  std::unique_ptr<runtime::node> node;

  node_fixture() {
    opts.data_dir = dir.path() + "/db";
    opts.time = time;
    opts.payment_timeout = 60'000;
    opts.reservation_ttl = 60'000;
    // Abuse control (rule 10) off: tests create many orders per user; its
    // own tests turn it on.
    opts.rate_limit = 0;
    opts.captcha_after = 0;
    start();
  }
  ~node_fixture() {
    if (node) {
      node->stop();
    }
  }

  void start() {
    std::string err;
    node = runtime::node::start(opts, &err);
    if (!node) {
      throw std::runtime_error("node start failed: " + err);
    }
  }
  void restart() {
    node->stop();
    node.reset();
    start();
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
      if (!db) {
        throw std::runtime_error("cannot open the store: " + err);
      }
      edit(*db);
      db->close();
    }
    start();
  }

  actors::result<actors::inventory::state>
  put_sku(const std::string& sku, std::int64_t stock, std::int64_t price = 1000,
          actors::item_kind kind = actors::item_kind::goods) {
    return await<actors::inventory::state>([&](auto cb) {
      node->put_sku(sku, {price, stock, kind}, cb);
    });
  }
  actors::result<actors::inventory::state> sku(const std::string& sku) {
    return await<actors::inventory::state>([&](auto cb) {
      node->get_sku(sku, cb);
    });
  }
  actors::result<runtime::created_order>
  create(const std::string& user, const std::string& key,
         std::vector<actors::order::requested_item> items,
         std::string fingerprint = "fp") {
    actors::order::create cmd;
    cmd.user_id = user;
    cmd.items = std::move(items);
    cmd.fingerprint = std::move(fingerprint);
    return create(key, std::move(cmd));
  }
  actors::result<runtime::created_order> create(const std::string& key,
                                                actors::order::create cmd) {
    cmd.token = std::hash<std::string>{}(cmd.user_id + key) | 1;
    return await<runtime::created_order>([&](auto cb) {
      node->create_order(key, cmd, cb);
    });
  }
  actors::result<actors::order::state> complete(const std::string& id) {
    return await<actors::order::state>([&](auto cb) {
      node->complete_order(id, cb);
    });
  }
  actors::result<actors::order::state> refund(const std::string& id) {
    return await<actors::order::state>([&](auto cb) {
      node->refund_order(id, cb);
    });
  }
  actors::result<actors::coupon::state>
  put_coupon(const std::string& id, const std::string& user,
             std::int64_t discount, std::int64_t min_amount = 0) {
    return await<actors::coupon::state>([&](auto cb) {
      node->put_coupon(id, {user, discount, min_amount}, cb);
    });
  }
  actors::result<actors::coupon::state> coupon(const std::string& id) {
    return await<actors::coupon::state>([&](auto cb) {
      node->get_coupon(id, cb);
    });
  }
  actors::result<actors::notifier::state>
  notifications(const std::string& order_id) {
    return await<actors::notifier::state>([&](auto cb) {
      node->notifications(order_id, cb);
    });
  }
  actors::result<actors::dispatcher::state>
  dispatches(const std::string& order_id) {
    return await<actors::dispatcher::state>([&](auto cb) {
      node->dispatches(order_id, cb);
    });
  }
  actors::result<actors::attribution::state>
  commissions(const std::string& affiliate_id) {
    return await<actors::attribution::state>([&](auto cb) {
      node->commissions(affiliate_id, cb);
    });
  }
  actors::result<actors::order::state> order(const std::string& id) {
    return await<actors::order::state>([&](auto cb) {
      node->get_order(id, cb);
    });
  }
  actors::result<actors::order::state> cancel(const std::string& id) {
    return await<actors::order::state>([&](auto cb) {
      node->cancel_order(id, {}, cb);
    });
  }
  actors::result<runtime::payment_result>
  pay(const std::string& id, const std::string& txn, std::int64_t amount) {
    return await<runtime::payment_result>([&](auto cb) {
      node->payment_callback(id, {txn, amount, true}, cb);
    });
  }
};

} // namespace ordo::test
