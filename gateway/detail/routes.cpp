#include "gateway/detail/routes.hpp"

#include <algorithm>
#include <memory>

#include "actors/limiter.hpp"
#include "gateway/detail/assets.hpp"
#include "gateway/detail/crypto.hpp"
#include "gateway/detail/errors.hpp"
#include "gateway/detail/forward.hpp"
#include "gateway/detail/metrics.hpp"
#include "gateway/detail/render.hpp"
#include "gateway/detail/validate.hpp"
#include "runtime/faults.hpp"
#include "runtime/ids.hpp"
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

/// The X-Ordo-Operator name an admin action is recorded under.
std::string operator_of(const request& req, bool required) {
  return operator_name(header(req, "X-Ordo-Operator"), required);
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

// --- where a request is served (forward.hpp) ------------------------------
// Called only with a mesh. Ids are taken raw: the owner validates them.

locator key_in_path(cluster::mesh* m, std::string name) {
  return [m, name](const request&, const params& p) {
    return std::optional<std::string>{m->map().owner_of_key(p.at(name))};
  };
}

locator order_in_path(cluster::mesh* m) {
  return [m](const request&, const params& p) {
    return m->map().owner_of_order(p.at("id"));
  };
}

locator order_in_query(cluster::mesh* m) {
  return [m](const request& req, const params&) {
    auto q = query_of(target_of(req));
    auto i = q.find("order_id");
    return i == q.end() ? std::nullopt : m->map().owner_of_order(i->second);
  };
}

locator user_in_path(cluster::mesh* m) {
  return [m](const request&, const params& p) {
    return m->map().owner_of_actor(actors::limiter::kind, p.at("id"));
  };
}

/// POST /v1/orders: the user's partition, from a body that must be valid
/// here already (a bad one is refused before it travels).
locator user_in_body(cluster::mesh* m) {
  return [m](const request& req, const params&) {
    auto cmd = parse_create_order(req.body());
    return m->map().owner_of_actor(actors::limiter::kind, cmd.user_id);
  };
}

/// A payment callback: the order's node, once the signature holds (an
/// unsigned one is refused here).
locator paid_order(cluster::mesh* m, std::string secret) {
  return [m, secret](const request& req,
                     const params&) -> std::optional<std::string> {
    if (!verify_signature(header(req, "X-Ordo-Signature"), secret,
                          req.body())) {
      return std::nullopt;
    }
    return m->map().owner_of_order(parse_payment_callback(req.body()).order_id);
  };
}

locator actor_in_path(cluster::mesh* m) {
  return [m](const request&, const params& p) {
    return m->map().owner_of_actor(p.at("kind"), p.at("id"));
  };
}

/// Requests about one node (its metrics, outbox, dead letters, operators'
/// trail, audits, faults, logs): `?node=ID` asks node ID, passed as it
/// arrived; without it, the node asked answers.
locator node_in_query(cluster::mesh* m) {
  return [m](const request& req, const params&) -> std::optional<std::string> {
    auto q = query_of(target_of(req));
    auto i = q.find("node");
    const auto& nodes = m->map().nodes();
    bool member
      = i != q.end()
        && std::any_of(nodes.begin(), nodes.end(), [&](const auto& n) {
             return n.id == i->second;
           });
    // Not a member: served here, which refuses it (per_node_route).
    return member ? i->second : m->map().self();
  };
}

/// `serve` on the node `?node=` names (this one without it); not_found for
/// a node that is not a member. `admin`: the token is checked here first,
/// so a caller without it learns nothing of the cluster's members.
handler per_node_route(const std::shared_ptr<const api_config>& c,
                       handler serve, bool admin) {
  auto checked = [c, serve](const request& req, const params& p,
                            const respond_fn& respond) {
    auto q = query_of(target_of(req));
    if (auto i = q.find("node"); i != q.end() && i->second != c->map->self()) {
      throw api_error(
        actors::errc::not_found,
        "no node " + actors::clip(i->second) + " in "
          + (c->mesh != nullptr ? "this cluster" : "a single-node server"));
    }
    serve(req, p, respond);
  };
  auto routed = owned(c->mesh, node_in_query(c->mesh), checked);
  if (!admin) {
    return routed;
  }
  return [c, routed](const request& req, const params& p,
                     const respond_fn& respond) {
    require_admin(req, c->admin_token);
    routed(req, p, respond);
  };
}

/// A create is answered once its SKUs reserved and its coupon locked: while
/// a node keeping one of them is unreachable, refuse it (503) at once
/// rather than leave it waiting.
void require_reachable(const cluster::mesh& m,
                       const actors::order::create& cmd) {
  auto check = [&m](const char* kind, const std::string& id) {
    auto owner = m.map().owner_of_actor(kind, id);
    if (owner && !m.reachable(*owner)) {
      throw api_error(actors::errc::unavailable,
                      "node " + *owner + ", which keeps " + kind + " " + id
                        + ", is unreachable; retry");
    }
  };
  for (const auto& line : cmd.items) {
    check("sku", line.sku);
  }
  if (!cmd.coupon_id.empty()) {
    check("coupon", cmd.coupon_id);
  }
}

/// A file of the console, with the headers that keep the page to itself:
/// scripts and styles only from this origin, never framed, no referrer.
reply console_reply(const static_file& f) {
  reply rep;
  rep.body = f.body;
  rep.headers.emplace_back(http::field::content_type, f.content_type);
  rep.headers.emplace_back(http::field::cache_control, "no-cache");
  rep.headers.emplace_back(http::field::x_frame_options, "DENY");
  rep.named_headers
    = {{"X-Content-Type-Options", "nosniff"},
       {"Content-Security-Policy",
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' "
        "data:; connect-src 'self'; frame-ancestors 'none'"},
       {"Referrer-Policy", "no-referrer"}};
  return rep;
}

/// GET /console and /console/{file}: the page loads without the token (its
/// login form asks for it); every API call it makes carries it.
handler console_route(std::shared_ptr<const api_config> c) {
  return [c](const request&, const params& p, const respond_fn& respond) {
    auto i = p.find("file");
    std::string name = i == p.end() ? "index.html" : i->second;
    auto f = console_file(c->console_dir, name);
    if (!f) {
      throw api_error(actors::errc::not_found,
                      "no console file " + actors::clip(name));
    }
    respond([f = std::move(*f)] {
      return console_reply(f);
    });
  };
}

/// Where order `order_id` lives: {"order_id", "partition", "node"};
/// not_found when the id names no partition of `map`.
ojson owner_of(const cluster::partition_map& map, const std::string& order_id) {
  auto p = runtime::order_partition(order_id);
  if (!p || *p >= map.partitions()) {
    throw api_error(actors::errc::not_found, "not an order id of this cluster: "
                                               + actors::clip(order_id));
  }
  return {{"order_id", order_id}, {"partition", *p}, {"node", map.owner(*p)}};
}

/// A peer's sales report as render() wrote it, back as totals.
actors::reports::totals totals_of(const nlohmann::json& j) {
  actors::reports::totals t;
  auto tally = [&j](const char* name, actors::reports::tally& x) {
    auto i = j.find(name);
    if (i != j.end() && i->is_object()) {
      x.count = i->value("count", std::int64_t{0});
      x.amount = i->value("amount", std::int64_t{0});
    }
  };
  tally("placed", t.placed);
  tally("paid", t.paid);
  tally("cancelled", t.cancelled);
  tally("refunded", t.refunded);
  tally("manual_intervention", t.manual);
  tally("flash_cancels", t.flash);
  if (auto i = j.find("top_flash_cancel_users");
      i != j.end() && i->is_array()) {
    for (const auto& u : *i) {
      t.top.push_back({u.value("user_id", ""), u.value("count", 0)});
    }
  }
  return t;
}

/// This node's sales report merged with its peers' (their reply bodies).
runtime::sales_report merge_sales(const runtime::sales_report& here,
                                  const std::vector<nlohmann::json>& theirs,
                                  std::size_t top) {
  std::vector<actors::reports::state> shards;
  for (const auto& body : theirs) {
    shards.push_back(actors::reports::header_only(totals_of(body)));
  }
  shards.push_back(actors::reports::header_only(here.totals));
  runtime::sales_report all;
  all.totals = actors::reports::merge(shards, top);
  all.flash_window = here.flash_window;
  return all;
}

/// The members of the cluster, and whether each is reachable from here.
ojson cluster_nodes(const cluster::partition_map& map,
                    const std::vector<cluster::peer_view>& peers) {
  ojson nodes = ojson::array();
  for (const auto& n : map.nodes()) {
    bool reachable = n.id == map.self();
    for (const auto& v : peers) {
      reachable = reachable || (v.id == n.id && v.reachable);
    }
    nodes.push_back({{"id", n.id},
                     {"address", n.address()},
                     {"self", n.id == map.self()},
                     {"reachable", reachable},
                     {"partitions", map.owned_by(n.id).size()}});
  }
  return nodes;
}

/// This node's links to its peers: state, traffic and round trips.
ojson peer_links(const std::vector<cluster::peer_view>& peers) {
  ojson links = ojson::array();
  for (const auto& v : peers) {
    links.push_back(
      {{"id", v.id},
       {"address", v.address},
       {"reachable", v.reachable},
       {"last_error", v.last_error},
       {"state_for_ms", v.for_ms},
       {"connects", v.connects},
       {"forwarded",
        {{"requests", v.calls_forwarded},
         {"messages", v.messages_forwarded},
         {"failed", v.failures}}},
       {"served",
        {{"requests", v.calls_served}, {"messages", v.messages_served}}},
       {"latency_us",
        {{"p50", v.latency_p50_us},
         {"p99", v.latency_p99_us},
         {"max", v.latency_max_us}}}});
  }
  return links;
}

using config = std::shared_ptr<const api_config>;

/// Health, readiness and metrics.
void add_operations(router& r, const config& c) {
  runtime::node& node = *c->n;
  r.add(verb::get, "/healthz",
        [](const request&, const params&, const respond_fn& respond) {
          respond([] {
            return ok_json({{"status", "ok"}});
          });
        });
  r.add(verb::get, "/readyz",
        [&node](const request&, const params&, const respond_fn& respond) {
          bool ready = node.ready();
          auto health = node.storage_health();
          respond([ready, health]() -> reply {
            if (!ready) {
              throw api_error(actors::errc::unavailable, "starting up");
            }
            if (!health.writable) {
              throw api_error(actors::errc::unavailable,
                              "not taking writes: " + health.reason);
            }
            return ok_json({{"status", "ready"}});
          });
        });

  r.add(verb::get, "/metrics",
        per_node_route(
          c,
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
          },
          false));
}

/// The console and the contract (no token: they hold no data).
void add_console(router& r, const config& c) {
  r.add(verb::get, "/console", console_route(c));
  r.add(verb::get, "/console/{file}", console_route(c));
  r.add(verb::get, "/v1/openapi.json",
        [](const request&, const params&, const respond_fn& respond) {
          respond([] {
            const auto& doc = openapi_document();
            reply rep;
            rep.body = doc.body;
            rep.headers.emplace_back(http::field::content_type,
                                     doc.content_type);
            return rep;
          });
        });
}

/// The catalog (admin).
void add_catalog(router& r, const config& c) {
  runtime::node& node = *c->n;
  r.add(verb::put, "/v1/skus/{sku}",
        owned(c->mesh, key_in_path(c->mesh, "sku"),
              [c, &node](const request& req, const params& p,
                         const respond_fn& respond) {
                require_admin(req, c->admin_token);
                auto sku = path_id(p, "sku");
                auto cmd = parse_put_sku(req.body());
                node.put_sku(sku, cmd,
                             answer<actors::inventory::state>(
                               respond, [](const actors::inventory::state& s) {
                                 return ok_json(render(s));
                               }));
              }));
  r.add(verb::get, "/v1/skus/{sku}",
        owned(c->mesh, key_in_path(c->mesh, "sku"),
              [c, &node](const request& req, const params& p,
                         const respond_fn& respond) {
                require_admin(req, c->admin_token);
                auto sku = path_id(p, "sku");
                node.get_sku(
                  sku, answer<actors::inventory::state>(
                         respond, [sku](const actors::inventory::state& s) {
                           if (!s.exists) {
                             throw api_error(actors::errc::not_found,
                                             "no SKU " + sku);
                           }
                           return ok_json(render(s));
                         }));
              }));

  r.add(verb::put, "/v1/coupons/{id}",
        owned(c->mesh, key_in_path(c->mesh, "id"),
              [c, &node](const request& req, const params& p,
                         const respond_fn& respond) {
                require_admin(req, c->admin_token);
                auto id = path_id(p, "id");
                node.put_coupon(id, parse_put_coupon(req.body()),
                                answer<actors::coupon::state>(
                                  respond, [](const actors::coupon::state& s) {
                                    return ok_json(render(s));
                                  }));
              }));
  r.add(verb::get, "/v1/coupons/{id}",
        owned(c->mesh, key_in_path(c->mesh, "id"),
              [c, &node](const request& req, const params& p,
                         const respond_fn& respond) {
                require_admin(req, c->admin_token);
                node.get_coupon(path_id(p, "id"),
                                answer<actors::coupon::state>(
                                  respond, [](const actors::coupon::state& s) {
                                    return ok_json(render(s));
                                  }));
              }));
}

/// Side effects, for inspection.
void add_side_effects(router& r, const config& c) {
  runtime::node& node = *c->n;
  r.add(verb::get, "/v1/notifications",
        owned(c->mesh, order_in_query(c->mesh),
              [&node](const request& req, const params&,
                      const respond_fn& respond) {
                auto order_id = query_id(target_of(req), "order_id");
                node.notifications(
                  order_id, answer<actors::notifier::state>(
                              respond, [](const actors::notifier::state& s) {
                                return ok_json(render(s));
                              }));
              }));
  r.add(verb::get, "/v1/dispatches",
        owned(c->mesh, order_in_query(c->mesh),
              [&node](const request& req, const params&,
                      const respond_fn& respond) {
                auto order_id = query_id(target_of(req), "order_id");
                node.dispatches(
                  order_id, answer<actors::dispatcher::state>(
                              respond, [](const actors::dispatcher::state& s) {
                                return ok_json(render(s));
                              }));
              }));
  r.add(
    verb::get, "/v1/affiliates/{id}/commissions",
    owned(c->mesh, key_in_path(c->mesh, "id"),
          [&node](const request&, const params& p, const respond_fn& respond) {
            node.commissions(
              path_id(p, "id"),
              answer<actors::attribution::state>(
                respond, [](const actors::attribution::state& s) {
                  return ok_json(render(s));
                }));
          }));
}

/// Orders.
void add_orders(router& r, const config& c) {
  runtime::node& node = *c->n;
  r.add(verb::post, "/v1/orders",
        owned(c->mesh, user_in_body(c->mesh),
              [c, &node](const request& req, const params&,
                         const respond_fn& respond) {
                std::string key(header(req, "Idempotency-Key"));
                check_idempotency_key(key);
                auto cmd = parse_create_order(req.body());
                if (c->mesh != nullptr) {
                  require_reachable(*c->mesh, cmd);
                }
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
                                                 "/v1/orders/"
                                                   + c.order.order_id);
                      }
                      return rep;
                    }));
              }));
  auto order_reply = [](const actors::order::state& o) {
    return ok_json(render(o));
  };
  r.add(verb::get, "/v1/orders/{id}",
        owned(c->mesh, order_in_path(c->mesh),
              [&node, order_reply](const request&, const params& p,
                                   const respond_fn& respond) {
                node.get_order(path_id(p, "id"), answer<actors::order::state>(
                                                   respond, order_reply));
              }));
  r.add(
    verb::get, "/v1/users/{id}/orders",
    owned(
      c->mesh, user_in_path(c->mesh),
      [&node](const request& req, const params& p, const respond_fn& respond) {
        auto user = path_id(p, "id");
        auto q = parse_page_query(target_of(req));
        node.user_orders(user, q.limit, q.cursor,
                         answer<runtime::user_orders_page>(
                           respond, [](const runtime::user_orders_page& pg) {
                             return ok_json(render(pg));
                           }));
      }));
  r.add(verb::post, "/v1/orders/{id}/cancel",
        owned(c->mesh, order_in_path(c->mesh),
              [&node, order_reply](const request& req, const params& p,
                                   const respond_fn& respond) {
                auto id = path_id(p, "id");
                node.cancel_order(
                  id, parse_cancel(req.body()),
                  answer<actors::order::state>(respond, order_reply));
              }));
  r.add(verb::post, "/v1/orders/{id}/complete",
        owned(c->mesh, order_in_path(c->mesh),
              [c, &node, order_reply](const request& req, const params& p,
                                      const respond_fn& respond) {
                require_admin(req, c->admin_token);
                node.complete_order(
                  path_id(p, "id"),
                  answer<actors::order::state>(respond, order_reply));
              }));
  r.add(verb::post, "/v1/orders/{id}/refund",
        owned(c->mesh, order_in_path(c->mesh),
              [c, &node, order_reply](const request& req, const params& p,
                                      const respond_fn& respond) {
                require_admin(req, c->admin_token);
                node.refund_order(
                  path_id(p, "id"),
                  answer<actors::order::state>(respond, order_reply));
              }));
}

/// Payment callbacks.
void add_payments(router& r, const config& c) {
  runtime::node& node = *c->n;
  // The signature is checked on the raw body before anything parses it.
  r.add(
    verb::post, "/v1/payments/callback",
    owned(
      c->mesh, paid_order(c->mesh, c->payment_secret),
      [c, &node](const request& req, const params&, const respond_fn& respond) {
        if (!verify_signature(header(req, "X-Ordo-Signature"),
                              c->payment_secret, req.body())) {
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
      }));
}

/// The built-in sandbox provider's record.
void add_sandbox_calls(router& r, const config& c) {
  runtime::node& node = *c->n;
  auto per_node = [c](handler serve) {
    return per_node_route(c, std::move(serve), true);
  };
  // GET /v1/admin/sandbox/calls: what the built-in sandbox payment provider
  // has received (close and refund calls, with retry counts), so tests and
  // operators can check "refunded exactly once" from outside. Empty when an
  // external provider is configured.
  r.add(
    verb::get, "/v1/admin/sandbox/calls",
    per_node([&node](const request&, const params&, const respond_fn& respond) {
      node.sandbox_calls(answer<std::vector<runtime::provider_call>>(
        respond, [](const std::vector<runtime::provider_call>& calls) {
          return ok_json(render(calls));
        }));
    }));
}

/// The sales report, gathered from every node in a cluster.
void add_reports(router& r, const config& c) {
  runtime::node& node = *c->n;
  // GET /v1/reports/sales?top=N (admin): placed, paid, cancelled, refunded
  // and flash cancels kept apart (rule 12), from the report shards.
  r.add(
    verb::get, "/v1/reports/sales",
    [c, &node](const request& req, const params&, const respond_fn& respond) {
      require_admin(req, c->admin_token);
      auto top = parse_top_query(target_of(req), runtime::node::max_top_users);
      if (c->mesh == nullptr || forwarded(req)) {
        node.sales(top, answer<runtime::sales_report>(
                          respond, [](const runtime::sales_report& r) {
                            return ok_json(render(r));
                          }));
        return;
      }
      // Every node reports its own partitions; a user's flash cancels are
      // all in their partition, so merging the nodes' top lists is exact.
      auto* mesh = c->mesh;
      node.sales(top, [mesh, req, respond,
                       top](actors::result<runtime::sales_report>&& mine) {
        if (!mine.ok()) {
          respond([err = mine.err()]() -> reply {
            throw api_error(err);
          });
          return;
        }
        ask_peers(*mesh, req,
                  [respond, top, here = std::move(mine.value())](
                    actors::result<std::vector<nlohmann::json>>&& theirs) {
                    if (!theirs.ok()) {
                      respond([err = theirs.err()]() -> reply {
                        throw api_error(err);
                      });
                      return;
                    }
                    auto all = merge_sales(here, theirs.value(), top);
                    respond([all = std::move(all)] {
                      return ok_json(render(all));
                    });
                  });
      });
    });
}

/// Audits and actor inspection.
void add_audit_and_actors(router& r, const config& c) {
  runtime::node& node = *c->n;
  auto per_node = [c](handler serve) {
    return per_node_route(c, std::move(serve), true);
  };
  r.add(
    verb::get, "/v1/admin/audit",
    per_node([&node](const request&, const params&, const respond_fn& respond) {
      node.audit(
        answer<runtime::audit_run>(respond, [](const runtime::audit_run& run) {
          return ok_json(render(run.report));
        }));
    }));
  // POST /v1/admin/audit: the same run, recorded in the operators' trail.
  r.add(verb::post, "/v1/admin/audit",
        per_node([&node](const request& req, const params&,
                         const respond_fn& respond) {
          auto who = operator_of(req, true);
          node.record_action({0, who, "audit.run", "audit", ""});
          node.audit(answer<runtime::audit_run>(
            respond, [](const runtime::audit_run& run) {
              return ok_json(render(std::optional<runtime::audit_run>{run}));
            }));
        }));
  r.add(
    verb::get, "/v1/admin/audit/last",
    per_node([&node](const request&, const params&, const respond_fn& respond) {
      respond([last = node.last_audit()] {
        return ok_json(render(last));
      });
    }));
  r.add(verb::get, "/v1/admin/actors/{kind}/{id}",
        owned(c->mesh, actor_in_path(c->mesh),
              [c, &node](const request& req, const params& p,
                         const respond_fn& respond) {
                require_admin(req, c->admin_token);
                node.inspect(path_id(p, "kind"), path_id(p, "id"),
                             answer<runtime::actor_view>(
                               respond, [](const runtime::actor_view& v) {
                                 return ok_json(render(v));
                               }));
              }));
}

/// The outbox, its dead letters and the operators' trail.
void add_outbox(router& r, const config& c) {
  runtime::node& node = *c->n;
  auto per_node = [c](handler serve) {
    return per_node_route(c, std::move(serve), true);
  };
  // GET /v1/admin/outbox?state=pending|dead&limit=N: what the relay still
  // holds, or its dead letters (docs/api-notes.md).
  r.add(verb::get, "/v1/admin/outbox",
        per_node([&node](const request& req, const params&,
                         const respond_fn& respond) {
          auto q = parse_outbox_query(target_of(req));
          auto held = node.outbox(q.dead, q.limit);
          auto stats = node.stats();
          auto to = node.outbox_destinations();
          respond([held = std::move(held), stats, to = std::move(to)] {
            auto body = render(held, stats);
            body["destinations"] = render(to);
            return ok_json(body);
          });
        }));
  // A dead letter back into the outbox, or dropped, by a named operator
  // (the operators' trail records it in the same batch).
  r.add(verb::post, "/v1/admin/outbox/{seq}/retry",
        per_node([&node](const request& req, const params& p,
                         const respond_fn& respond) {
          auto seq = path_seq(p, "seq");
          node.retry_dead_letter(
            seq, operator_of(req, true),
            answer<std::uint64_t>(respond, [seq](std::uint64_t fresh) {
              return ok_json({{"retried", seq}, {"seq", fresh}});
            }));
        }));
  r.add(verb::delete_, "/v1/admin/outbox/{seq}",
        per_node([&node](const request& req, const params& p,
                         const respond_fn& respond) {
          auto seq = path_seq(p, "seq");
          node.discard_dead_letter(
            seq, operator_of(req, true),
            answer<std::uint64_t>(respond, [](std::uint64_t gone) {
              return ok_json({{"discarded", gone}});
            }));
        }));
  r.add(verb::get, "/v1/admin/operator-log",
        per_node([&node](const request& req, const params&,
                         const respond_fn& respond) {
          auto limit = parse_limit_query(target_of(req), 100, 1000);
          node.operator_log(
            limit,
            answer<std::vector<runtime::operator_action>>(
              respond, [](const std::vector<runtime::operator_action>& log) {
                return ok_json(render(log));
              }));
        }));

  // Failure injection: list the armed rules and the points, arm
}

/// Failure injection.
void add_faults(router& r, const config& c) {
  runtime::node& node = *c->n;
  auto per_node = [c](handler serve) {
    return per_node_route(c, std::move(serve), true);
  };
  // one rule, clear all or one.
  r.add(
    verb::get, "/v1/admin/faults",
    per_node([c](const request& req, const params&, const respond_fn& respond) {
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
    }));
  r.add(verb::post, "/v1/admin/faults",
        per_node([&node](const request& req, const params&,
                         const respond_fn& respond) {
          auto who = operator_of(req, false);
          auto body = parse_object(req.body());
          runtime::fault_rule rule;
          std::string why;
          if (!runtime::rule_from_json(body, &rule, &why)
              || !runtime::faults::global().arm(rule, &why)) {
            throw api_error(actors::errc::bad_request, why);
          }
          node.record_action({0, who, "fault.arm", rule.point,
                              runtime::rule_to_json(rule).dump()});
          respond([rule] {
            return ok_json(ojson(runtime::rule_to_json(rule)));
          });
        }));
  r.add(verb::delete_, "/v1/admin/faults",
        per_node([&node](const request& req, const params&,
                         const respond_fn& respond) {
          auto who = operator_of(req, false);
          runtime::faults::global().clear_all();
          node.record_action({0, who, "fault.clear", "*", "every fault"});
          respond([] {
            return ok_json({{"faults", ojson::array()}});
          });
        }));
  r.add(verb::delete_, "/v1/admin/faults/{point}",
        per_node([&node](const request& req, const params& p,
                         const respond_fn& respond) {
          auto who = operator_of(req, false);
          auto point = path_id(p, "point");
          if (!runtime::faults::global().clear(point)) {
            throw api_error(actors::errc::not_found,
                            "no fault armed at " + point);
          }
          node.record_action({0, who, "fault.clear", point, ""});
          respond([point] {
            return ok_json({{"cleared", point}});
          });
        }));
}

/// The cluster view.
void add_cluster(router& r, const config& c) {
  // GET /v1/admin/cluster: membership, the partition map (fixed for the
  // server's life) and, live, which peers are reachable and what went to
  // and came from each (counts and round-trip latency).
  const auto& map = *c->map;
  ojson owners = ojson::array();
  for (std::uint32_t p = 0; p < map.partitions(); ++p) {
    owners.push_back(map.owner(p));
  }
  auto partition_map = std::make_shared<const ojson>(std::move(owners));
  r.add(verb::get, "/v1/admin/cluster",
        [c, partition_map](const request& req, const params&,
                           const respond_fn& respond) {
          require_admin(req, c->admin_token);
          auto order_id = parse_cluster_query(target_of(req));
          const auto& map = *c->map;
          std::vector<cluster::peer_view> peers;
          if (c->mesh != nullptr) {
            peers = c->mesh->peers();
          }
          ojson body{{"node_id", map.self()},
                     {"nodes", cluster_nodes(map, peers)},
                     {"peers", peer_links(peers)},
                     {"partitions", map.partitions()},
                     {"partition_map", *partition_map}};
          if (!order_id.empty()) {
            body["owner"] = owner_of(map, order_id);
          }
          respond([body = std::move(body)] {
            return ok_json(body);
          });
        });
}

/// The built-in SMS sink's record.
void add_sms_log(router& r, const config& c) {
  runtime::node& node = *c->n;
  auto per_node = [c](handler serve) {
    return per_node_route(c, std::move(serve), true);
  };
  // GET /v1/admin/sms: what the built-in SMS log sink sent (empty with
  // --sms-webhook), so "sent once" can be checked from outside.
  r.add(
    verb::get, "/v1/admin/sms",
    per_node([&node](const request&, const params&, const respond_fn& respond) {
      node.sms_log(answer<std::vector<runtime::sent_sms>>(
        respond, [](const std::vector<runtime::sent_sms>& sent) {
          return ok_json(render(sent));
        }));
    }));
}

} // namespace

router make_router(api_config cfg) {
  auto c = std::make_shared<const api_config>(std::move(cfg));
  router r;
  add_operations(r, c);
  add_console(r, c);
  add_catalog(r, c);
  add_side_effects(r, c);
  add_orders(r, c);
  add_payments(r, c);
  add_sandbox_calls(r, c);
  add_reports(r, c);
  add_audit_and_actors(r, c);
  add_outbox(r, c);
  add_faults(r, c);
  add_cluster(r, c);
  add_sms_log(r, c);
  return r;
}

} // namespace ordo::gateway::detail
