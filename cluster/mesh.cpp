#include "cluster/mesh.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "log/log.hpp"
#include "runtime/faults.hpp"
#include "storage/keys.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

namespace ordo::cluster {

// --- wire types ------------------------------------------------------------

/// The handshake: who is calling, whom it thinks it calls, and what it
/// believes the cluster is.
struct hello {
  std::string from;
  std::string to;
  std::uint32_t partitions = 0;
  std::string members; ///< "id=host:port,..." sorted by id
};

/// An actors::envelope on the wire (its body in MessagePack, wire_body()).
struct wire_message {
  std::string id;
  std::string kind;
  std::string to;
  std::string type;
  std::string body;
  std::string dedupe;
};

/// A turn_reply on the wire: code "" is success.
struct wire_reply {
  std::string code;
  std::string message;
  std::string result;
  std::string reply; ///< MessagePack (wire_body()); "" for none
};

/// http_call/http_answer headers travel as two parallel lists.
struct wire_call {
  std::string method;
  std::string target;
  std::vector<std::string> names;
  std::vector<std::string> values;
  std::string body;
};

struct wire_answer {
  std::uint16_t status = 0;
  std::vector<std::string> names;
  std::vector<std::string> values;
  std::string body;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, hello& x) {
  return f(caf::meta::type_name("ordo::hello"), x.from, x.to, x.partitions,
           x.members);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wire_message& x) {
  return f(caf::meta::type_name("ordo::wire_message"), x.id, x.kind, x.to,
           x.type, x.body, x.dedupe);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wire_reply& x) {
  return f(caf::meta::type_name("ordo::wire_reply"), x.code, x.message,
           x.result, x.reply);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wire_call& x) {
  return f(caf::meta::type_name("ordo::wire_call"), x.method, x.target, x.names,
           x.values, x.body);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wire_answer& x) {
  return f(caf::meta::type_name("ordo::wire_answer"), x.status, x.names,
           x.values, x.body);
}

namespace {

using hello_atom = caf::atom_constant<caf::atom("o_hello")>;
using call_atom = caf::atom_constant<caf::atom("o_call")>;
using answer_atom = caf::atom_constant<caf::atom("o_answer")>;
using msg_atom = caf::atom_constant<caf::atom("o_msg")>;
using ack_atom = caf::atom_constant<caf::atom("o_ack")>;
using watch_atom = caf::atom_constant<caf::atom("o_watch")>;
using ready_atom = caf::atom_constant<caf::atom("o_ready")>;

actors::millis steady_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch())
    .count();
}

std::uint64_t steady_us() {
  using namespace std::chrono;
  return static_cast<std::uint64_t>(
    duration_cast<microseconds>(steady_clock::now().time_since_epoch())
      .count());
}

/// A message's body or a reply's payload on the wire: MessagePack, the
/// storage's codec.
std::string wire_body(const nlohmann::json& j) {
  return storage::codec::pack(j);
}

/// Reads wire_body(); a discarded value when unreadable. A peer of an
/// earlier version sent JSON text: an object's starts with '{', which in
/// MessagePack is a lone small integer, never a body.
nlohmann::json from_wire_body(const std::string& bytes) {
  if (!bytes.empty() && bytes[0] == '{') {
    return nlohmann::json::parse(bytes, nullptr, false);
  }
  return storage::codec::unpack(bytes);
}

wire_call to_wire(http_call c) {
  wire_call w;
  w.method = std::move(c.method);
  w.target = std::move(c.target);
  for (auto& [k, v] : c.headers) {
    w.names.push_back(std::move(k));
    w.values.push_back(std::move(v));
  }
  w.body = std::move(c.body);
  return w;
}

http_call from_wire(wire_call w) {
  http_call c;
  c.method = std::move(w.method);
  c.target = std::move(w.target);
  for (std::size_t i = 0; i < w.names.size() && i < w.values.size(); ++i) {
    c.headers.emplace_back(std::move(w.names[i]), std::move(w.values[i]));
  }
  c.body = std::move(w.body);
  return c;
}

wire_answer to_wire(http_answer a) {
  wire_answer w;
  w.status = a.status;
  for (auto& [k, v] : a.headers) {
    w.names.push_back(std::move(k));
    w.values.push_back(std::move(v));
  }
  w.body = std::move(a.body);
  return w;
}

http_answer from_wire(wire_answer w) {
  http_answer a;
  a.status = w.status;
  for (std::size_t i = 0; i < w.names.size() && i < w.values.size(); ++i) {
    a.headers.emplace_back(std::move(w.names[i]), std::move(w.values[i]));
  }
  a.body = std::move(w.body);
  return a;
}

wire_reply to_wire(const runtime::turn_reply& r) {
  wire_reply w;
  if (r.err) {
    w.code = actors::to_string(r.err->code);
    w.message = r.err->message;
  }
  w.result = r.result;
  w.reply = r.reply.is_null() ? "" : wire_body(r.reply);
  return w;
}

runtime::turn_reply from_wire(const wire_reply& w) {
  runtime::turn_reply r;
  if (!w.code.empty()) {
    auto code = actors::parse_errc(w.code);
    r.err = actors::error{code.value_or(actors::errc::internal), w.message};
  }
  r.result = w.result;
  if (!w.reply.empty()) {
    r.reply = from_wire_body(w.reply);
    if (r.reply.is_discarded()) {
      r.err = actors::error{actors::errc::internal, "unreadable reply"};
      r.reply = nullptr;
    }
  }
  return r;
}

/// "id=host:port,..." sorted by id: what two nodes must agree on.
std::string members_of(const partition_map& map) {
  auto nodes = map.nodes();
  std::sort(nodes.begin(), nodes.end(),
            [](const node_address& a, const node_address& b) {
              return a.id < b.id;
            });
  std::string out;
  for (const auto& n : nodes) {
    out += (out.empty() ? "" : ",") + n.id + "=" + n.address();
  }
  return out;
}

actors::error unreachable(const node_address& n, const std::string& why) {
  return {actors::errc::unavailable,
          "node " + n.id + " (" + n.address() + ") is unreachable"
            + (why.empty() ? "" : ": " + why) + "; retry"};
}

class mesh_impl final : public mesh {
public:
  explicit mesh_impl(mesh_options opts)
    : opts_(std::move(opts)), members_(members_of(*opts_.map)) {
    for (const auto& n : opts_.map->nodes()) {
      if (n.id != opts_.map->self()) {
        peers_.emplace(n.id, peer{n});
      }
    }
  }

  ~mesh_impl() override {
    stop();
  }

  bool open(std::string* err) {
    cfg_.load<caf::io::middleman>();
    cfg_.add_message_type<hello>("ordo::hello");
    cfg_.add_message_type<wire_message>("ordo::wire_message");
    cfg_.add_message_type<wire_reply>("ordo::wire_reply");
    cfg_.add_message_type<wire_call>("ordo::wire_call");
    cfg_.add_message_type<wire_answer>("ordo::wire_answer");
    cfg_.add_message_type<std::vector<std::string>>("std::vector<string>");
    cfg_.set("scheduler.policy", caf::atom("sharing"));
    cfg_.set("scheduler.max-threads", 1);
    // A peer that stops answering without closing its socket (a hung
    // process, a cut link) is declared down by the heartbeat.
    cfg_.set("middleman.heartbeat-interval",
             caf::timespan{std::chrono::milliseconds{500}});
    cfg_.set("middleman.connection-timeout",
             caf::timespan{std::chrono::milliseconds{3000}});
    system_ = std::make_unique<caf::actor_system>(cfg_);
    endpoint_ = system_->spawn(endpoint_behavior, this);
    const auto& me = self_address();
    auto port
      = system_->middleman().publish(endpoint_, me.port, me.host.c_str(), true);
    if (!port) {
      *err = "cannot listen on cluster port " + me.address() + ": "
             + system_->render(port.error());
      return false;
    }
    for (auto& [id, p] : peers_) {
      threads_.emplace_back([this, id = id] {
        connect_loop(id);
      });
    }
    // Every peer gets one try before the start counts as done, so a
    // reachable node that refuses this one fails it here; one whose connect
    // hangs (a dead host) is left to the background after a bound.
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait_for(
      lk, std::chrono::milliseconds{opts_.hello_timeout + 1'000}, [this] {
        return std::all_of(peers_.begin(), peers_.end(), [](const auto& kv) {
          return kv.second.tried;
        });
      });
    for (const auto& [id, p] : peers_) {
      if (p.refused) {
        *err = "node " + id + " (" + p.addr.address()
               + ") refused this node: " + p.last_error;
        lk.unlock();
        stop();
        return false;
      }
    }
    return true;
  }

  // --- runtime::remote ------------------------------------------------------

  std::optional<std::string>
  elsewhere(const actors::address& to) const override {
    auto owner = opts_.map->owner_of_actor(to.kind, to.id);
    if (!owner || *owner == opts_.map->self()) {
      return std::nullopt;
    }
    return owner;
  }

  void deliver(const std::string& node, const actors::envelope& msg,
               const std::string& dedupe_id,
               runtime::remote_done done) override {
    wire_message w{msg.id,   msg.to.kind,         msg.to.id,
                   msg.type, wire_body(msg.body), dedupe_id};
    pending p;
    p.on_ack = std::move(done);
    if (auto sent = start_pending(node, std::move(p), false)) {
      send(sent->first, sent->second,
           caf::make_message(msg_atom::value, sent->second, std::move(w)));
    }
  }

  // --- mesh -----------------------------------------------------------------

  void serve_http(http_handler h) override {
    std::lock_guard<std::mutex> lk(mu_);
    http_ = std::move(h);
  }
  void serve_messages(message_handler h) override {
    std::lock_guard<std::mutex> lk(mu_);
    messages_ = std::move(h);
  }
  void on_peer_up(peer_up_handler h) override {
    std::lock_guard<std::mutex> lk(mu_);
    peer_up_ = std::move(h);
  }

  void announce_ready() override {
    std::vector<caf::actor> to;
    {
      std::lock_guard<std::mutex> lk(mu_);
      for (auto& [id, p] : peers_) {
        if (p.proxy) {
          to.push_back(p.proxy);
        }
      }
    }
    for (auto& proxy : to) {
      post(proxy, caf::make_message(ready_atom::value, opts_.map->self()));
    }
  }

  void forward(const std::string& node, http_call call,
               std::function<void(actors::result<http_answer>)> done) override {
    pending p;
    p.on_answer = std::move(done);
    if (auto sent = start_pending(node, std::move(p), true)) {
      send(sent->first, sent->second,
           caf::make_message(call_atom::value, sent->second,
                             to_wire(std::move(call))));
    }
  }

  const partition_map& map() const override {
    return *opts_.map;
  }

  std::vector<peer_view> peers() const override {
    std::vector<peer_view> out;
    std::lock_guard<std::mutex> lk(mu_);
    auto now = steady_ms();
    for (const auto& n : opts_.map->nodes()) {
      auto i = peers_.find(n.id);
      if (i == peers_.end()) {
        continue;
      }
      const auto& p = i->second;
      peer_view v;
      v.id = n.id;
      v.address = n.address();
      v.reachable = static_cast<bool>(p.proxy);
      v.last_error = v.reachable ? "" : p.last_error;
      v.for_ms = now - p.changed_at;
      v.connects = p.connects;
      v.calls_forwarded = p.calls_forwarded;
      v.messages_forwarded = p.messages_forwarded;
      v.failures = p.failures;
      v.calls_served = p.calls_served;
      v.messages_served = p.messages_served;
      auto lat = p.latencies;
      if (!lat.empty()) {
        std::sort(lat.begin(), lat.end());
        v.latency_p50_us = lat[lat.size() / 2];
        v.latency_p99_us = lat[std::min(lat.size() - 1, lat.size() * 99 / 100)];
        v.latency_max_us = lat.back();
      }
      out.push_back(std::move(v));
    }
    return out;
  }

  bool reachable(const std::string& node) const override {
    if (node == opts_.map->self()) {
      return true;
    }
    std::lock_guard<std::mutex> lk(mu_);
    auto i = peers_.find(node);
    return i != peers_.end() && i->second.proxy;
  }

  void stop() override {
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (stopped_) {
        return;
      }
      stopped_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) {
      if (t.joinable()) {
        t.join();
      }
    }
    delayer_.stop();
    std::vector<pending> left;
    {
      std::lock_guard<std::mutex> lk(mu_);
      for (auto& [id, p] : pending_) {
        left.push_back(std::move(p));
      }
      pending_.clear();
      for (auto& [id, p] : peers_) {
        p.proxy = nullptr;
      }
      http_ = nullptr;
      messages_ = nullptr;
      peer_up_ = nullptr;
    }
    for (auto& p : left) {
      fail(p, {actors::errc::unavailable, "this node is stopping"});
    }
    {
      // No send may start once the system begins to go away.
      std::unique_lock<std::shared_mutex> lk(send_mu_);
      closed_ = true;
    }
    if (system_) {
      caf::anon_send_exit(endpoint_, caf::exit_reason::user_shutdown);
      system_.reset();
    }
  }

private:
  struct peer {
    explicit peer(node_address a) : addr(std::move(a)) {}
    node_address addr;
    caf::actor proxy; ///< set while connected
    bool tried = false;
    bool refused = false;
    std::string last_error = "not connected yet";
    actors::millis changed_at = steady_ms();
    std::uint32_t failed_tries = 0;
    actors::millis next_try = 0; ///< steady ms of the next connect
    std::uint64_t connects = 0;
    std::uint64_t calls_forwarded = 0;
    std::uint64_t messages_forwarded = 0;
    std::uint64_t failures = 0;
    std::uint64_t calls_served = 0;
    std::uint64_t messages_served = 0;
    std::vector<std::uint64_t> latencies; ///< ring of the last 1024, µs
    std::size_t next_latency = 0;
  };

  struct pending {
    std::string node;
    std::uint64_t started_us = 0;
    actors::millis deadline = 0;
    std::function<void(actors::result<http_answer>)> on_answer;
    runtime::remote_done on_ack;
  };

  const node_address& self_address() const {
    for (const auto& n : opts_.map->nodes()) {
      if (n.id == opts_.map->self()) {
        return n;
      }
    }
    throw std::logic_error("this node is not in its own membership");
  }

  static void fail(pending& p, const actors::error& e) {
    if (p.on_answer) {
      p.on_answer(e);
    } else if (p.on_ack) {
      runtime::turn_reply r;
      r.err = e;
      p.on_ack(std::move(r));
    }
  }

  /// Registers `p` for `node`; the proxy and id to send to, or nullopt
  /// after failing `p` at once (unknown node, not connected, stopping).
  std::optional<std::pair<caf::actor, std::uint64_t>>
  start_pending(const std::string& node, pending p, bool call) {
    std::unique_lock<std::mutex> lk(mu_);
    auto i = peers_.find(node);
    if (stopped_ || i == peers_.end() || !i->second.proxy) {
      auto why = stopped_ ? actors::error{actors::errc::unavailable,
                                          "this node is stopping"}
                 : i == peers_.end()
                   ? actors::error{actors::errc::internal, "no node " + node}
                   : unreachable(i->second.addr, i->second.last_error);
      if (i != peers_.end()) {
        ++i->second.failures;
      }
      lk.unlock();
      fail(p, why);
      return std::nullopt;
    }
    auto& peer = i->second;
    ++(call ? peer.calls_forwarded : peer.messages_forwarded);
    auto id = next_id_++;
    p.node = node;
    p.started_us = steady_us();
    p.deadline = steady_ms() + opts_.call_timeout;
    pending_.emplace(id, std::move(p));
    return std::make_pair(peer.proxy, id);
  }

  /// Hands `msg` (pending as `id`) to the peer behind `proxy`, through the
  /// fault point cluster.forward: error fails it at once, drop leaves it to
  /// its deadline, delay sends it later from the delayer's thread.
  void send(const caf::actor& proxy, std::uint64_t id, caf::message msg) {
    if (auto f = runtime::fault_draw("cluster.forward")) {
      if (f->action == runtime::fault_action::error) {
        if (auto p = finish(id)) {
          fail(*p, {actors::errc::unavailable,
                    "injected fault at cluster.forward"});
        }
      } else if (f->action == runtime::fault_action::delay) {
        {
          // The wait does not count against the peer's answer time.
          std::lock_guard<std::mutex> lk(mu_);
          if (auto i = pending_.find(id); i != pending_.end()) {
            i->second.deadline += f->delay_ms;
          }
        }
        delayer_.after(f->delay_ms, [this, proxy, msg] {
          post(proxy, msg);
        });
      }
      return;
    }
    post(proxy, std::move(msg));
  }

  /// Sends `msg` to `to` as the endpoint, unless the mesh has stopped (its
  /// actor system is gone): replies to peers come from node threads that may
  /// finish a turn after that.
  void post(const caf::actor& to, caf::message msg) {
    std::shared_lock<std::shared_mutex> lk(send_mu_);
    if (!closed_ && to) {
      caf::send_as(endpoint_, to, std::move(msg));
    }
  }

  /// Takes pending `id` out (nullopt if it already ended) and records its
  /// round trip.
  std::optional<pending> finish(std::uint64_t id) {
    std::lock_guard<std::mutex> lk(mu_);
    auto i = pending_.find(id);
    if (i == pending_.end()) {
      return std::nullopt;
    }
    auto p = std::move(i->second);
    pending_.erase(i);
    if (auto j = peers_.find(p.node); j != peers_.end()) {
      auto& lat = j->second.latencies;
      auto us = steady_us() - p.started_us;
      if (lat.size() < 1024) {
        lat.push_back(us);
      } else {
        lat[j->second.next_latency++ % lat.size()] = us;
      }
    }
    return p;
  }

  /// Fails what is pending for `node` (it went down) or past its deadline.
  void expire(const std::string* node) {
    std::vector<pending> out;
    {
      std::lock_guard<std::mutex> lk(mu_);
      auto now = steady_ms();
      for (auto i = pending_.begin(); i != pending_.end();) {
        if ((node != nullptr && i->second.node == *node)
            || i->second.deadline <= now) {
          if (auto j = peers_.find(i->second.node); j != peers_.end()) {
            ++j->second.failures;
          }
          out.push_back(std::move(i->second));
          i = pending_.erase(i);
        } else {
          ++i;
        }
      }
    }
    for (auto& p : out) {
      auto e = node != nullptr
                 ? actors::error{actors::errc::unavailable,
                                 "node " + p.node
                                   + " went down before it answered; the "
                                     "request may or may not have taken "
                                     "effect: retry it (retries are safe)"}
                 : actors::error{actors::errc::unavailable,
                                 "node " + p.node + " did not answer within "
                                   + std::to_string(opts_.call_timeout)
                                   + " ms; retry"};
      fail(p, e);
    }
  }

  // --- the endpoint actor
  // -----------------------------------------------------

  static caf::behavior endpoint_behavior(caf::event_based_actor* self,
                                         mesh_impl* m) {
    self->set_down_handler([m](caf::down_msg& dm) {
      m->peer_down(dm.source);
    });
    return {
      [m](hello_atom, const hello& h) -> std::string {
        return m->check(h);
      },
      [self, m](call_atom, std::uint64_t id, wire_call& c) {
        m->serve_call(caf::actor_cast<caf::actor>(self->current_sender()), id,
                      std::move(c));
      },
      [m](answer_atom, std::uint64_t id, wire_answer& a) {
        if (auto p = m->finish(id); p && p->on_answer) {
          p->on_answer(from_wire(std::move(a)));
        }
      },
      [self, m](msg_atom, std::uint64_t id, wire_message& w) {
        m->serve_message(caf::actor_cast<caf::actor>(self->current_sender()),
                         id, std::move(w));
      },
      [m](ack_atom, std::uint64_t id, const wire_reply& r) {
        if (auto p = m->finish(id); p && p->on_ack) {
          p->on_ack(from_wire(r));
        }
      },
      [self](watch_atom, const caf::actor& proxy) {
        self->monitor(proxy);
      },
      [m](ready_atom, const std::string& from) {
        m->peer_ready(from);
      },
    };
  }

  /// Peer `from` says it serves now: what waits for it goes at once (it may
  /// have been refused with "node starting" since it connected). Not yet
  /// connected to it: connect now, and the connection tells the node.
  void peer_ready(const std::string& from) {
    peer_up_handler up;
    {
      std::lock_guard<std::mutex> lk(mu_);
      auto i = peers_.find(from);
      if (i == peers_.end()) {
        return;
      }
      if (!i->second.proxy) {
        i->second.next_try = 0;
        cv_.notify_all();
        return;
      }
      up = peer_up_;
    }
    if (up) {
      up(from);
    }
  }

  /// The handshake's verdict on a caller: "" accepts it.
  std::string check(const hello& h) {
    const auto& map = *opts_.map;
    if (h.to != map.self()) {
      return "this is node '" + map.self() + "', not '" + h.to
             + "': the --peers lists disagree";
    }
    bool known = std::any_of(map.nodes().begin(), map.nodes().end(),
                             [&](const node_address& n) {
                               return n.id == h.from && n.id != map.self();
                             });
    if (!known) {
      return "unknown node id '" + h.from + "' (--peers here: " + members_
             + ")";
    }
    if (h.partitions != map.partitions()) {
      return "--partitions differs: " + std::to_string(h.partitions) + " on '"
             + h.from + "', " + std::to_string(map.partitions()) + " on '"
             + map.self() + "'";
    }
    if (h.members != members_) {
      return "--peers differs: '" + h.members + "' on '" + h.from + "', '"
             + members_ + "' on '" + map.self() + "'";
    }
    {
      // It is up: connect back now rather than when the backoff says.
      std::lock_guard<std::mutex> lk(mu_);
      auto& p = peers_.at(h.from);
      if (!p.proxy) {
        p.next_try = 0;
      }
    }
    cv_.notify_all();
    return {};
  }

  /// Counts a call (or message) the peer behind `back` sent here; that
  /// peer's id, "" if this node has no connection to it. mu_ held.
  std::string served(const caf::actor& back, bool call) {
    for (auto& [pid, p] : peers_) {
      if (back && back.node() == node_of(p)) {
        ++(call ? p.calls_served : p.messages_served);
        return pid;
      }
    }
    return {};
  }

  void serve_call(caf::actor back, std::uint64_t id, wire_call c) {
    http_handler h;
    std::string from;
    {
      std::lock_guard<std::mutex> lk(mu_);
      h = http_;
      from = served(back, true);
    }
    if (!h) {
      http_answer a;
      a.status = 503;
      a.headers.emplace_back("Retry-After", "1");
      a.body = R"({"error":"unavailable","message":"node starting"})";
      post(back,
           caf::make_message(answer_atom::value, id, to_wire(std::move(a))));
      return;
    }
    h(from_wire(std::move(c)), from, [this, back, id](http_answer a) {
      post(back,
           caf::make_message(answer_atom::value, id, to_wire(std::move(a))));
    });
  }

  void serve_message(caf::actor back, std::uint64_t id, wire_message w) {
    message_handler h;
    {
      std::lock_guard<std::mutex> lk(mu_);
      h = messages_;
      served(back, false);
    }
    auto reply = [this, back, id](runtime::turn_reply r) {
      post(back, caf::make_message(ack_atom::value, id, to_wire(r)));
    };
    actors::envelope msg;
    msg.id = std::move(w.id);
    msg.to = {std::move(w.kind), std::move(w.to)};
    msg.type = std::move(w.type);
    msg.body = from_wire_body(w.body);
    if (!h || msg.body.is_discarded()) {
      runtime::turn_reply r;
      r.err = h ? actors::error{actors::errc::bad_request, "unreadable body"}
                : actors::error{actors::errc::unavailable, "node starting"};
      reply(std::move(r));
      return;
    }
    if (elsewhere(msg.to)) {
      runtime::turn_reply r;
      r.err = actors::error{actors::errc::unavailable,
                            "node " + opts_.map->self() + " does not own "
                              + msg.to.kind + "/" + msg.to.id};
      reply(std::move(r));
      return;
    }
    h(std::move(msg), std::move(w.dedupe), std::move(reply));
  }

  /// The CAF node id a peer's connection has (none when not connected);
  /// mu_ held.
  static caf::node_id node_of(const peer& p) {
    return p.proxy ? p.proxy.node() : caf::node_id{};
  }

  void peer_down(const caf::actor_addr& source) {
    std::string id;
    {
      std::lock_guard<std::mutex> lk(mu_);
      for (auto& [pid, p] : peers_) {
        if (p.proxy && p.proxy.address() == source) {
          p.proxy = nullptr;
          p.last_error = "connection lost";
          p.changed_at = steady_ms();
          id = pid;
        }
      }
    }
    if (!id.empty()) {
      log::warn("cluster", "lost node " + id);
      expire(&id);
      cv_.notify_all();
    }
  }

  // --- connecting
  // -------------------------------------------------------------

  /// One thread per peer: connects while it is down, with backoff, and
  /// expires what is pending past its deadline.
  void connect_loop(const std::string& id) {
    std::unique_lock<std::mutex> lk(mu_);
    while (!stopped_) {
      auto& p = peers_.at(id);
      auto now = steady_ms();
      if (!p.proxy && now >= p.next_try) {
        auto addr = p.addr;
        lk.unlock();
        auto wait = connect(id, addr);
        lk.lock();
        peers_.at(id).next_try = steady_ms() + wait;
        peers_.at(id).tried = true;
        cv_.notify_all();
        continue;
      }
      lk.unlock();
      expire(nullptr);
      lk.lock();
      cv_.wait_for(lk, std::chrono::milliseconds{50});
    }
  }

  /// One connect and handshake; how long to wait before the next (0 on
  /// success: the loop then only watches).
  actors::millis connect(const std::string& id, const node_address& addr) {
    std::string why;
    bool refused = false;
    caf::actor proxy;
    auto r = system_->middleman().remote_actor(addr.host, addr.port);
    if (!r) {
      why = system_->render(r.error());
    } else {
      hello h{opts_.map->self(), id, opts_.map->partitions(), members_};
      caf::scoped_actor s{*system_};
      bool answered = false;
      std::string verdict;
      s->request(*r, std::chrono::milliseconds{opts_.hello_timeout},
                 hello_atom::value, h)
        .receive(
          [&](std::string& v) {
            answered = true;
            verdict = std::move(v);
          },
          [&](caf::error& e) {
            why = "handshake: " + system_->render(e);
          });
      if (answered && verdict.empty()) {
        proxy = *r;
      } else if (answered) {
        why = std::move(verdict);
        refused = true;
      }
    }
    peer_up_handler up;
    actors::millis wait = 0;
    {
      std::lock_guard<std::mutex> lk(mu_);
      auto& p = peers_.at(id);
      p.refused = refused;
      if (proxy) {
        p.proxy = proxy;
        p.failed_tries = 0;
        p.last_error.clear();
        p.changed_at = steady_ms();
        ++p.connects;
        up = peer_up_;
      } else {
        if (p.last_error != why) {
          // A peer's refusal is its own words.
          log::warn("cluster", "node " + id + " (" + addr.address()
                                 + "): " + actors::clip(why));
        }
        p.last_error = why;
        auto shift = std::min<std::uint32_t>(p.failed_tries++, 16);
        wait = std::min(opts_.backoff_cap, opts_.backoff_base << shift);
      }
    }
    if (proxy) {
      // Monitored by the endpoint: a lost connection kills the proxy.
      caf::anon_send(endpoint_, watch_atom::value, proxy);
      log::info("cluster",
                "connected to node " + id + " (" + addr.address() + ")");
      if (up) {
        up(id);
      }
    }
    return wait;
  }

  // Constant after construction.
  const mesh_options opts_;
  const std::string members_;

  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> system_;
  caf::actor endpoint_;
  std::vector<std::thread> threads_;
  runtime::fault_delayer delayer_;
  /// Shared by every send to a peer, exclusive in stop (see post).
  std::shared_mutex send_mu_;
  bool closed_ = false; ///< guarded by send_mu_

  mutable std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_.
  std::map<std::string, peer> peers_; ///< every node but this one
  std::map<std::uint64_t, pending> pending_;
  std::uint64_t next_id_ = 1;
  http_handler http_;
  message_handler messages_;
  peer_up_handler peer_up_;
  bool stopped_ = false;
};

} // namespace

std::unique_ptr<mesh> mesh::start(mesh_options opts, std::string* err) {
  if (!opts.map) {
    *err = "no partition map";
    return nullptr;
  }
  auto m = std::make_unique<mesh_impl>(std::move(opts));
  if (!m->open(err)) {
    return nullptr;
  }
  return m;
}

} // namespace ordo::cluster
