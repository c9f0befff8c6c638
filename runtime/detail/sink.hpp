#pragma once

// Where messages go inside a node: every actor kind (and every adapter that
// is not an actor, like the payment provider) is a `sink` registered with the
// `switchboard` under its kind name. No CAF here.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include <nlohmann/json.hpp>

#include "actors/vocabulary.hpp"
#include "runtime/remote.hpp"

namespace ordo::runtime::detail {

/// Runs once, after the turn that handled the message is durable.
using reply_fn = std::function<void(const turn_reply&)>;

/// Wraps `fn` so that it runs exactly once, whichever copy is called first:
/// with what that call passes, or, if every copy is destroyed uncalled (the
/// mail carrying it was dropped because its actor stopped), with `dropped`.
/// For answers somebody waits for.
template <class Arg>
std::function<void(Arg)> exactly_once(std::function<void(Arg)> fn,
                                      std::decay_t<Arg> dropped) {
  struct once {
    once(std::function<void(Arg)> f, std::decay_t<Arg> d)
      : fn(std::move(f)), dropped(std::move(d)) {}
    ~once() {
      if (!done.exchange(true)) {
        fn(std::move(dropped));
      }
    }
    std::function<void(Arg)> fn;
    std::decay_t<Arg> dropped;
    std::atomic<bool> done{false};
  };
  auto o = std::make_shared<once>(std::move(fn), std::move(dropped));
  return [o](Arg a) {
    if (!o->done.exchange(true)) {
      o->fn(std::forward<Arg>(a));
    }
  };
}

/// A reply_fn answered exactly once (exactly_once), `unavailable` if dropped.
inline reply_fn answer_once(reply_fn fn) {
  return exactly_once<const turn_reply&>(
    std::move(fn),
    {actors::error{actors::errc::unavailable, "no reply (stopped)"}, {}, {}});
}

class sink {
public:
  virtual ~sink() = default;

  /// Delivers `msg` to `msg.to.id`. With a non-empty `dedupe_id` the receiver
  /// consumes the message at most once (a repeat is answered with success
  /// and changes nothing). `done` may be empty.
  virtual void deliver(const actors::envelope& msg, std::string dedupe_id,
                       reply_fn done)
    = 0;
};

/// Runs a function once everything written so far is durable
/// (storage::store::after_durable).
using durable_gate = std::function<void(std::function<void()>)>;

/// Kind name -> sink. Filled at start-up, read-only afterwards (no lock).
///
/// The switchboard is where messages leave the process: to another node, or to
/// a sink that calls out (`add_external`: the payment provider, SMS). Those
/// go through the durable gate, so nothing leaves before the fsync that
/// covers its cause; messages to actors of this node go at once
/// (docs/durability.md).
class switchboard {
public:
  void add(std::string kind, sink* s) {
    sinks_[std::move(kind)] = {s, false};
  }
  /// A sink whose deliveries leave the process.
  void add_external(std::string kind, sink* s) {
    sinks_[std::move(kind)] = {s, true};
  }
  /// Set before the first delivery; empty = everything is durable at once.
  void set_gate(durable_gate gate) {
    gate_ = std::move(gate);
  }
  sink* find(const std::string& kind) const {
    auto i = sinks_.find(kind);
    return i == sinks_.end() ? nullptr : i->second.to;
  }
  /// Messages for actors another node owns go through `r` (not owned;
  /// null = every actor is here). Set before the first delivery.
  void set_remote(remote* r) {
    remote_ = r;
  }
  const remote* peers() const {
    return remote_;
  }

  /// Delivers to the node that owns `msg.to`: another one through the
  /// remote, this one through deliver_here.
  void deliver(const actors::envelope& msg, std::string dedupe_id,
               reply_fn done) const {
    if (remote_ != nullptr) {
      if (auto node = remote_->elsewhere(msg.to)) {
        released([this, node = std::move(*node), msg, dedupe_id,
                  done = std::move(done)]() mutable {
          remote_->deliver(node, msg, dedupe_id,
                           [done = std::move(done)](turn_reply r) {
                             if (done) {
                               done(r);
                             }
                           });
        });
        return;
      }
    }
    deliver_here(msg, std::move(dedupe_id), std::move(done));
  }

  /// Delivers to the sink of `msg.to.kind` on this node; answers not_found
  /// without one.
  void deliver_here(const actors::envelope& msg, std::string dedupe_id,
                    reply_fn done) const {
    auto i = sinks_.find(msg.to.kind);
    if (i != sinks_.end() && i->second.external) {
      released([s = i->second.to, msg, dedupe_id = std::move(dedupe_id),
                done = std::move(done)]() mutable {
        s->deliver(msg, std::move(dedupe_id), std::move(done));
      });
    } else if (i != sinks_.end()) {
      i->second.to->deliver(msg, std::move(dedupe_id), std::move(done));
    } else if (done) {
      done({actors::error{actors::errc::not_found,
                          "no destination kind " + msg.to.kind},
            {},
            {}});
    }
  }

private:
  struct target {
    sink* to = nullptr;
    bool external = false;
  };

  template <class F>
  void released(F&& fn) const {
    if (gate_) {
      gate_(std::forward<F>(fn));
    } else {
      fn();
    }
  }

  std::map<std::string, target> sinks_;
  remote* remote_ = nullptr;
  durable_gate gate_;
};

} // namespace ordo::runtime::detail
