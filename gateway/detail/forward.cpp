#include "gateway/detail/forward.hpp"

#include <atomic>
#include <mutex>

#include "gateway/detail/errors.hpp"

namespace ordo::gateway::detail {

namespace {

cluster::http_call to_call(const request& req) {
  cluster::http_call c;
  c.method = std::string(req.method_string());
  c.target = std::string(req.target());
  for (const auto& f : req) {
    c.headers.emplace_back(std::string(f.name_string()),
                           std::string(f.value()));
  }
  c.body = req.body();
  return c;
}

reply from_answer(const cluster::http_answer& a) {
  reply r;
  r.status = http::int_to_status(a.status);
  if (r.status == http::status::unknown) {
    throw api_error(actors::errc::internal,
                    "a peer answered with status " + std::to_string(a.status));
  }
  for (const auto& [name, value] : a.headers) {
    auto f = http::string_to_field(name);
    if (f != http::field::unknown) {
      r.headers.emplace_back(f, value);
    }
  }
  r.body = a.body;
  return r;
}

cluster::http_answer to_answer(const reply& r) {
  cluster::http_answer a;
  a.status = static_cast<std::uint16_t>(r.status);
  for (const auto& [f, value] : r.headers) {
    a.headers.emplace_back(std::string(http::to_string(f)), value);
  }
  a.body = r.body;
  return a;
}

/// Answers a forwarded request exactly once: with its reply, or 500 if
/// every copy of its respond_fn is dropped uncalled.
class forwarded_slot {
public:
  explicit forwarded_slot(std::function<void(cluster::http_answer)> done)
    : done_(std::move(done)) {}
  ~forwarded_slot() {
    if (!answered_.exchange(true)) {
      done_(to_answer(to_reply(std::make_exception_ptr(
        std::runtime_error("a forwarded request was dropped unanswered")))));
    }
  }
  void answer(const reply& r) {
    if (!answered_.exchange(true)) {
      done_(to_answer(r));
    }
  }

private:
  std::function<void(cluster::http_answer)> done_;
  std::atomic<bool> answered_{false};
};

} // namespace

bool forwarded(const request& req) {
  return req.find(via_header) != req.end();
}

handler owned(cluster::mesh* mesh, locator where, handler serve) {
  if (mesh == nullptr) {
    return serve;
  }
  return [mesh, where = std::move(where), serve = std::move(serve)](
           const request& req, const params& p, const respond_fn& respond) {
    auto owner = where(req, p);
    const auto& self = mesh->map().self();
    if (!owner || *owner == self) {
      serve(req, p, respond);
      return;
    }
    if (forwarded(req)) {
      throw api_error(actors::errc::unavailable,
                      "node " + self + " does not own this partition (node "
                        + *owner + " does); the nodes' --peers disagree");
    }
    forward_to(*mesh, *owner, req, respond);
  };
}

void forward_to(cluster::mesh& mesh, const std::string& node,
                const request& req, const respond_fn& respond) {
  mesh.forward(node, to_call(req),
               [respond](actors::result<cluster::http_answer> r) {
                 if (!r.ok()) {
                   respond([err = r.err()]() -> reply {
                     throw api_error(err);
                   });
                   return;
                 }
                 respond([a = std::move(r.value())] {
                   return from_answer(a);
                 });
               });
}

void ask_peers(
  cluster::mesh& mesh, const request& req,
  std::function<void(actors::result<std::vector<nlohmann::json>>)> done) {
  struct gather {
    std::mutex mu;
    std::size_t left = 0;
    std::vector<nlohmann::json> bodies;
    std::optional<actors::error> failed;
    std::function<void(actors::result<std::vector<nlohmann::json>>)> done;
  };
  auto g = std::make_shared<gather>();
  g->done = std::move(done);
  std::vector<std::string> others;
  for (const auto& n : mesh.map().nodes()) {
    if (n.id != mesh.map().self()) {
      others.push_back(n.id);
    }
  }
  g->left = others.size();
  if (others.empty()) {
    g->done(std::vector<nlohmann::json>{});
    return;
  }
  for (const auto& node : others) {
    mesh.forward(
      node, to_call(req), [g, node](actors::result<cluster::http_answer> r) {
        std::unique_lock<std::mutex> lk(g->mu);
        if (!r.ok()) {
          g->failed = g->failed.value_or(r.err());
        } else if (r->status / 100 != 2) {
          auto body = nlohmann::json::parse(r->body, nullptr, false);
          auto code = body.is_object()
                        ? actors::parse_errc(body.value("error", ""))
                        : std::nullopt;
          g->failed = g->failed.value_or(
            actors::error{code.value_or(actors::errc::unavailable),
                          "node " + node + ": "
                            + (body.is_object() ? body.value("message", "")
                                                : std::string{"no answer"})});
        } else {
          auto body = nlohmann::json::parse(r->body, nullptr, false);
          if (body.is_discarded()) {
            g->failed = g->failed.value_or(
              actors::error{actors::errc::internal,
                            "node " + node + " sent unreadable JSON"});
          } else {
            g->bodies.push_back(std::move(body));
          }
        }
        if (--g->left > 0) {
          return;
        }
        lk.unlock();
        if (g->failed) {
          g->done(*g->failed);
        } else {
          g->done(std::move(g->bodies));
        }
      });
  }
}

void serve_forwarded(const router& routes, cluster::http_call call,
                     const std::string& from,
                     std::function<void(cluster::http_answer)> done) {
  auto req = std::make_shared<request>();
  req->version(11);
  req->method_string(call.method);
  req->target(call.target);
  for (const auto& [name, value] : call.headers) {
    req->insert(name, value);
  }
  req->set(via_header, from.empty() ? std::string{"?"} : from);
  req->body() = std::move(call.body);
  req->prepare_payload();
  auto slot = std::make_shared<forwarded_slot>(std::move(done));
  // The request lives as long as anyone may still answer it.
  respond_fn respond = [slot, req](reply_maker make) {
    reply r;
    try {
      r = make();
    } catch (...) {
      r = to_reply(std::current_exception());
    }
    slot->answer(r);
  };
  try {
    auto t = req->target();
    auto m = routes.find(req->method(), {t.data(), t.size()});
    m.found->serve(*req, m.args, respond);
  } catch (...) {
    slot->answer(to_reply(std::current_exception()));
  }
}

} // namespace ordo::gateway::detail
