#pragma once

// A real node and the real HTTP server on 127.0.0.1, port 0, over a temp
// RocksDB, in this process; and helpers that speak API.md through a real
// HTTP client.

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "gateway/server.hpp"
#include "runtime/node.hpp"
#include "tests/runtime/node_fixture.hpp"
#include "tests/support/http_client.hpp"

namespace ordo::test {

inline const std::string admin_token = "test-admin-token";
inline const std::string payment_secret = "test-payment-secret";

struct server_fixture {
  temp_dir dir;
  /// The node's options as started (data_dir in `dir`, no rate limit or
  /// captcha, defaults otherwise).
  runtime::node_options opts;
  /// The server's options as started (port 0, the test token and secret,
  /// 2 I/O threads, defaults otherwise).
  gateway::server_options server_opts;
  std::unique_ptr<runtime::node> node;
  std::unique_ptr<gateway::server> server;

  server_fixture() : server_fixture([](gateway::server_options&) {}) {}

  /// As the default, with `tweak` applied to the server's options (limits,
  /// timeouts) and `tweak_node` to the node's (a clock), each when given,
  /// before anything starts.
  explicit server_fixture(
    const std::function<void(gateway::server_options&)>& tweak,
    const std::function<void(runtime::node_options&)>& tweak_node = {}) {
    opts.data_dir = dir.path() + "/db";
    // Abuse control (rule 10) off unless a test turns it on.
    opts.rate_limit = 0;
    opts.captcha_after = 0;
    if (tweak_node) {
      tweak_node(opts);
    }
    std::string err;
    node = runtime::node::start(opts, &err);
    if (!node) {
      throw std::runtime_error("node: " + err);
    }
    server_opts.port = 0;
    server_opts.admin_token = admin_token;
    server_opts.payment_secret = payment_secret;
    server_opts.threads = 2;
    if (tweak) {
      tweak(server_opts);
    }
    server = gateway::server::start(server_opts, *node, &err);
    if (!server) {
      throw std::runtime_error("server: " + err);
    }
  }
  /// Stops the server, then the node (both idempotent: a test may have
  /// stopped either already).
  ~server_fixture() {
    server->stop();
    node->stop();
  }

  std::uint16_t port() const {
    return server->port();
  }
};

/// PUT /v1/skus/{sku} as admin.
inline http_response put_sku(http_client& c, const std::string& sku,
                             std::int64_t stock, std::int64_t price = 1000,
                             const std::string& kind = "goods") {
  nlohmann::json body{{"price", price}, {"stock", stock}, {"kind", kind}};
  return c.put("/v1/skus/" + sku, body.dump(), bearer(admin_token));
}

inline http_response get_sku(http_client& c, const std::string& sku) {
  return c.get("/v1/skus/" + sku, bearer(admin_token));
}

/// POST /v1/orders with one item.
inline http_response create_order(http_client& c, const std::string& key,
                                  const std::string& user,
                                  const std::string& sku,
                                  std::int64_t quantity) {
  nlohmann::json body{{"user_id", user},
                      {"items", {{{"sku", sku}, {"quantity", quantity}}}}};
  return c.post("/v1/orders", body.dump(), {{"Idempotency-Key", key}});
}

/// A signed payment callback.
inline http_response pay(http_client& c, const std::string& order_id,
                         const std::string& txn, std::int64_t amount,
                         const std::string& status = "SUCCESS",
                         const std::string& secret = payment_secret) {
  nlohmann::json body{{"txn_id", txn},
                      {"order_id", order_id},
                      {"amount", amount},
                      {"status", status}};
  auto raw = body.dump();
  return c.post("/v1/payments/callback", raw,
                {{"X-Ordo-Signature", sign_payment(secret, raw)}});
}

inline http_response cancel(http_client& c, const std::string& order_id) {
  return c.post("/v1/orders/" + order_id + "/cancel");
}

} // namespace ordo::test
