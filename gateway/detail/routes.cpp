#include "gateway/detail/routes.hpp"

#include <algorithm>
#include <memory>

#include "gateway/detail/crypto.hpp"
#include "gateway/detail/errors.hpp"
#include "gateway/detail/metrics.hpp"
#include "gateway/detail/render.hpp"
#include "gateway/detail/validate.hpp"
#include "runtime/faults.hpp"
#include "runtime/node.hpp"

namespace ordo::gateway::detail {

namespace {

using verb = http::verb;
using ojson = nlohmann::ordered_json;

std::string_view header(const request& req, http::field name) {
  auto it = req.find(name);
  if (it == req.end()) {
    return {};
  }
  auto v = it->value();
  return {v.data(), v.size()};
}

std::string_view header(const request& req, std::string_view name) {
  auto it = req.find(boost::beast::string_view(name.data(), name.size()));
  if (it == req.end()) {
    return {};
  }
  auto v = it->value();
  return {v.data(), v.size()};
}

std::string_view target_of(const request& req) {
  auto t = req.target();
  return {t.data(), t.size()};
}

/// Admin endpoints: "Authorization: Bearer TOKEN", compared in constant time.
void require_admin(const request& req, const std::string& token) {
  constexpr std::string_view scheme = "Bearer ";
  auto auth = header(req, http::field::authorization);
  if (token.empty() || auth.substr(0, scheme.size()) != scheme
      || !constant_time_equal(auth.substr(scheme.size()), token)) {
    throw api_error(actors::errc::unauthorized,
                    "admin endpoint: send Authorization: Bearer <admin token>");
  }
}

/// A node callback that answers the request with `render(value)` or with
/// the node's error. (It takes the result by rvalue reference so that no
/// variant is move-constructed: GCC 12 warns falsely on that.)
template <class T, class Render>
runtime::callback<T> answer(const respond_fn& respond, Render render) {
  return [respond, render](actors::result<T>&& r) {
    if (!r.ok()) {
      respond([err = r.err()]() -> reply {
        throw api_error(err);
      });
      return;
    }
    respond([value = std::move(r.value()), render]() -> reply {
      return render(value);
    });
  };
}

reply ok_json(const ojson& body) {
  return json_reply(http::status::ok, body);
}

/// The limiter's refusal of a create: 429 with Retry-After (whole seconds,
/// rounded up), or 403 with the captcha challenge.
[[noreturn]] void throw_refusal(const runtime::admission_refusal& r) {
  api_error err(r.code, r.message);
  if (r.code == actors::errc::rate_limited) {
    auto seconds = std::max<actors::millis>(1, (r.retry_after_ms + 999) / 1000);
    err.with(http::field::retry_after, std::to_string(seconds));
    err.with_member("retry_after_ms", r.retry_after_ms);
  } else {
    err.with_member("challenge",
                    {{"id", r.challenge_id}, {"question", r.question}});
  }
  throw err;
}

} // namespace

router make_router(api_config cfg) {
  auto c = std::make_shared<const api_config>(std::move(cfg));
  runtime::node& node = *c->n;
  router r;

  // --- operations --------------------------------------------------------
  r.add(verb::get, "/healthz",
        [](const request&, const params&, const respond_fn& respond) {
          respond([] {
            return ok_json({{"status", "ok"}});
          });
        });
  r.add(verb::get, "/readyz",
        [&node](const request&, const params&, const respond_fn& respond) {
          bool ready = node.ready();
          respond([ready]() -> reply {
            if (!ready) {
              throw api_error(actors::errc::unavailable, "starting up");
            }
            return ok_json({{"status", "ready"}});
          });
        });

  r.add(verb::get, "/metrics",
        [c, &node](const request&, const params&, const respond_fn& respond) {
          auto text = prometheus_text(node.stats());
          if (c->requests) {
            text += c->requests->prometheus_text();
          }
          respond([text = std::move(text)] {
            reply rep;
            rep.body = text;
            rep.headers.emplace_back(http::field::content_type,
                                     prometheus_content_type);
            return rep;
          });
        });

  // --- catalog (admin) ---------------------------------------------------
  r.add(
    verb::put, "/v1/skus/{sku}",
    [c, &node](const request& req, const params& p, const respond_fn& respond) {
      require_admin(req, c->admin_token);
      auto sku = path_id(p, "sku");
      auto cmd = parse_put_sku(req.body());
      node.put_sku(sku, cmd,
                   answer<actors::inventory::state>(
                     respond, [](const actors::inventory::state& s) {
                       return ok_json(render(s));
                     }));
    });
  r.add(
    verb::get, "/v1/skus/{sku}",
    [c, &node](const request& req, const params& p, const respond_fn& respond) {
      require_admin(req, c->admin_token);
      auto sku = path_id(p, "sku");
      node.get_sku(sku, answer<actors::inventory::state>(
                          respond, [sku](const actors::inventory::state& s) {
                            if (!s.exists) {
                              throw api_error(actors::errc::not_found,
                                              "no SKU " + sku);
                            }
                            return ok_json(render(s));
                          }));
    });

  r.add(
    verb::put, "/v1/coupons/{id}",
    [c, &node](const request& req, const params& p, const respond_fn& respond) {
      require_admin(req, c->admin_token);
      auto id = path_id(p, "id");
      node.put_coupon(id, parse_put_coupon(req.body()),
                      answer<actors::coupon::state>(
                        respond, [](const actors::coupon::state& s) {
                          return ok_json(render(s));
                        }));
    });
  r.add(
    verb::get, "/v1/coupons/{id}",
    [c, &node](const request& req, const params& p, const respond_fn& respond) {
      require_admin(req, c->admin_token);
      node.get_coupon(path_id(p, "id"),
                      answer<actors::coupon::state>(
                        respond, [](const actors::coupon::state& s) {
                          return ok_json(render(s));
                        }));
    });

  // --- side effects, for inspection ----------------------------------------
  r.add(verb::get, "/v1/notifications",
        [&node](const request& req, const params&, const respond_fn& respond) {
          auto order_id = query_id(target_of(req), "order_id");
          node.notifications(order_id,
                             answer<actors::notifier::state>(
                               respond, [](const actors::notifier::state& s) {
                                 return ok_json(render(s));
                               }));
        });
  r.add(verb::get, "/v1/dispatches",
        [&node](const request& req, const params&, const respond_fn& respond) {
          auto order_id = query_id(target_of(req), "order_id");
          node.dispatches(order_id,
                          answer<actors::dispatcher::state>(
                            respond, [](const actors::dispatcher::state& s) {
                              return ok_json(render(s));
                            }));
        });
  r.add(verb::get, "/v1/affiliates/{id}/commissions",
        [&node](const request&, const params& p, const respond_fn& respond) {
          node.commissions(path_id(p, "id"),
                           answer<actors::attribution::state>(
                             respond, [](const actors::attribution::state& s) {
                               return ok_json(render(s));
                             }));
        });

  // --- orders ------------------------------------------------------------
  r.add(verb::post, "/v1/orders",
        [&node](const request& req, const params&, const respond_fn& respond) {
          std::string key(header(req, "Idempotency-Key"));
          check_idempotency_key(key);
          auto cmd = parse_create_order(req.body());
          cmd.token = random_u64();
          node.create_order(
            key, std::move(cmd),
            answer<runtime::created_order>(
              respond, [](const runtime::created_order& c) {
                if (c.refused) {
                  throw_refusal(*c.refused);
                }
                reply rep = json_reply(c.created ? http::status::created
                                                 : http::status::ok,
                                       render(c.order));
                if (c.created) {
                  rep.headers.emplace_back(http::field::location,
                                           "/v1/orders/" + c.order.order_id);
                }
                return rep;
              }));
        });
  auto order_reply = [](const actors::order::state& o) {
    return ok_json(render(o));
  };
  r.add(verb::get, "/v1/orders/{id}",
        [&node, order_reply](const request&, const params& p,
                             const respond_fn& respond) {
          node.get_order(path_id(p, "id"),
                         answer<actors::order::state>(respond, order_reply));
        });
  r.add(
    verb::get, "/v1/users/{id}/orders",
    [&node](const request& req, const params& p, const respond_fn& respond) {
      auto user = path_id(p, "id");
      auto q = parse_page_query(target_of(req));
      node.user_orders(user, q.limit, q.cursor,
                       answer<runtime::user_orders_page>(
                         respond, [](const runtime::user_orders_page& pg) {
                           return ok_json(render(pg));
                         }));
    });
  r.add(verb::post, "/v1/orders/{id}/cancel",
        [&node, order_reply](const request& req, const params& p,
                             const respond_fn& respond) {
          auto id = path_id(p, "id");
          node.cancel_order(id, parse_cancel(req.body()),
                            answer<actors::order::state>(respond, order_reply));
        });
  r.add(verb::post, "/v1/orders/{id}/complete",
        [c, &node, order_reply](const request& req, const params& p,
                                const respond_fn& respond) {
          require_admin(req, c->admin_token);
          node.complete_order(path_id(p, "id"), answer<actors::order::state>(
                                                  respond, order_reply));
        });
  r.add(verb::post, "/v1/orders/{id}/refund",
        [c, &node, order_reply](const request& req, const params& p,
                                const respond_fn& respond) {
          require_admin(req, c->admin_token);
          node.refund_order(path_id(p, "id"),
                            answer<actors::order::state>(respond, order_reply));
        });

  // --- payments ----------------------------------------------------------
  // The signature is checked on the raw body before anything parses it.
  r.add(
    verb::post, "/v1/payments/callback",
    [c, &node](const request& req, const params&, const respond_fn& respond) {
      if (!verify_signature(header(req, "X-Ordo-Signature"), c->payment_secret,
                            req.body())) {
        throw api_error(actors::errc::unauthorized,
                        "X-Ordo-Signature must be sha256=<hex HMAC-SHA256 "
                        "of the body with the payment secret>");
      }
      auto notice = parse_payment_callback(req.body());
      node.payment_callback(notice.order_id, notice.pay,
                            answer<runtime::payment_result>(
                              respond, [](const runtime::payment_result& p) {
                                return ok_json({{"result", p.result}});
                              }));
    });

  // --- admin extensions (not in API.md) -----------------------------------
  // GET /v1/admin/sandbox/calls: what the built-in sandbox payment provider
  // has received (close and refund calls, with retry counts), so tests and
  // operators can check "refunded exactly once" from outside. Empty when an
  // external provider is configured.
  r.add(
    verb::get, "/v1/admin/sandbox/calls",
    [c, &node](const request& req, const params&, const respond_fn& respond) {
      require_admin(req, c->admin_token);
      auto calls = node.sandbox_calls();
      respond([calls = std::move(calls)] {
        return ok_json(render(calls));
      });
    });

  // GET /v1/reports/sales?top=N (admin): placed, paid, cancelled, refunded
  // and flash cancels kept apart (rule 12), from the report shards.
  r.add(
    verb::get, "/v1/reports/sales",
    [c, &node](const request& req, const params&, const respond_fn& respond) {
      require_admin(req, c->admin_token);
      auto top = parse_top_query(target_of(req), runtime::node::max_top_users);
      node.sales(top, answer<runtime::sales_report>(
                        respond, [](const runtime::sales_report& r) {
                          return ok_json(render(r));
                        }));
    });

  r.add(
    verb::get, "/v1/admin/audit",
    [c, &node](const request& req, const params&, const respond_fn& respond) {
      require_admin(req, c->admin_token);
      node.audit(answer<actors::auditor::report>(
        respond, [](const actors::auditor::report& r) {
          return ok_json(render(r));
        }));
    });
  r.add(
    verb::get, "/v1/admin/actors/{kind}/{id}",
    [c, &node](const request& req, const params& p, const respond_fn& respond) {
      require_admin(req, c->admin_token);
      node.inspect(
        path_id(p, "kind"), path_id(p, "id"),
        answer<runtime::actor_view>(respond, [](const runtime::actor_view& v) {
          return ok_json(render(v));
        }));
    });

  // GET /v1/admin/outbox?state=pending|dead&limit=N: what the relay still
  // holds, or its dead letters (docs/api-notes.md).
  r.add(
    verb::get, "/v1/admin/outbox",
    [c, &node](const request& req, const params&, const respond_fn& respond) {
      require_admin(req, c->admin_token);
      auto q = parse_outbox_query(target_of(req));
      auto held = node.outbox(q.dead, q.limit);
      auto stats = node.stats();
      respond([held = std::move(held), stats] {
        return ok_json(render(held, stats));
      });
    });

  // Failure injection (issue 5): list the armed rules and the points, arm
  // one rule, clear all or one.
  r.add(verb::get, "/v1/admin/faults",
        [c](const request& req, const params&, const respond_fn& respond) {
          require_admin(req, c->admin_token);
          ojson armed = ojson::array();
          for (const auto& rule : runtime::faults::global().list()) {
            armed.push_back(ojson(runtime::rule_to_json(rule)));
          }
          ojson points = ojson::array();
          for (const auto& p : runtime::fault_points()) {
            ojson actions = ojson::array();
            for (auto a :
                 {runtime::fault_action::crash, runtime::fault_action::error,
                  runtime::fault_action::delay, runtime::fault_action::drop}) {
              if (p.supports(a)) {
                actions.push_back(runtime::to_string(a));
              }
            }
            points.push_back({{"name", p.name},
                              {"actions", std::move(actions)},
                              {"where", p.where}});
          }
          respond([armed = std::move(armed), points = std::move(points)] {
            return ok_json({{"faults", armed}, {"points", points}});
          });
        });
  r.add(verb::post, "/v1/admin/faults",
        [c](const request& req, const params&, const respond_fn& respond) {
          require_admin(req, c->admin_token);
          auto body = parse_object(req.body());
          runtime::fault_rule rule;
          std::string why;
          if (!runtime::rule_from_json(body, &rule, &why)
              || !runtime::faults::global().arm(rule, &why)) {
            throw api_error(actors::errc::bad_request, why);
          }
          respond([rule] {
            return ok_json(ojson(runtime::rule_to_json(rule)));
          });
        });
  r.add(verb::delete_, "/v1/admin/faults",
        [c](const request& req, const params&, const respond_fn& respond) {
          require_admin(req, c->admin_token);
          runtime::faults::global().clear_all();
          respond([] {
            return ok_json({{"faults", ojson::array()}});
          });
        });
  r.add(verb::delete_, "/v1/admin/faults/{point}",
        [c](const request& req, const params& p, const respond_fn& respond) {
          require_admin(req, c->admin_token);
          auto point = path_id(p, "point");
          if (!runtime::faults::global().clear(point)) {
            throw api_error(actors::errc::not_found,
                            "no fault armed at " + point);
          }
          respond([point] {
            return ok_json({{"cleared", point}});
          });
        });

  // GET /v1/admin/cluster: membership and the partition map, fixed for the
  // server's life. Until nodes talk to each other (issue 6) only this node
  // is reachable.
  const auto& map = *c->map;
  ojson nodes = ojson::array();
  for (const auto& n : map.nodes()) {
    nodes.push_back({{"id", n.id},
                     {"address", n.address()},
                     {"reachable", n.id == map.self()},
                     {"partitions", map.owned_by(n.id).size()}});
  }
  ojson owners = ojson::array();
  for (std::uint32_t p = 0; p < map.partitions(); ++p) {
    owners.push_back(map.owner(p));
  }
  auto cluster_view = std::make_shared<const ojson>(
    ojson{{"node_id", map.self()},
          {"nodes", std::move(nodes)},
          {"partitions", map.partitions()},
          {"partition_map", std::move(owners)}});
  r.add(verb::get, "/v1/admin/cluster",
        [c, cluster_view](const request& req, const params&,
                          const respond_fn& respond) {
          require_admin(req, c->admin_token);
          respond([cluster_view] {
            return ok_json(*cluster_view);
          });
        });

  // GET /v1/admin/sms: what the built-in SMS log sink sent (empty with
  // --sms-webhook), so "sent once" can be checked from outside.
  r.add(
    verb::get, "/v1/admin/sms",
    [c, &node](const request& req, const params&, const respond_fn& respond) {
      require_admin(req, c->admin_token);
      auto sent = node.sms_log();
      respond([sent = std::move(sent)] {
        return ok_json(render(sent));
      });
    });

  return r;
}

} // namespace ordo::gateway::detail
