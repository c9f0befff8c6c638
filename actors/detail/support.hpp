#pragma once

// Helpers shared by the state machines of actors/: reading fields of an
// inter-actor message without throwing, and recording a transition.
// Internal to actors/.

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include <nlohmann/json.hpp>

#include "actors/errc.hpp"
#include "actors/message.hpp"
#include "actors/vocabulary.hpp"

namespace ordo::actors::detail {

/// The member `key` of `body`; nullptr if `body` is no object or lacks it.
inline const nlohmann::json* field(const nlohmann::json& body,
                                   const char* key) {
  if (!body.is_object()) {
    return nullptr;
  }
  auto i = body.find(key);
  return i == body.end() ? nullptr : &*i;
}

/// The member `key` of `body` read as a `T` (actors/message.hpp's codec);
/// nullopt when absent or of another type.
template <class T>
std::optional<T> get(const nlohmann::json& body, const char* key) {
  const auto* v = field(body, key);
  T out{};
  if (v == nullptr || !codec::read(*v, out)) {
    return std::nullopt;
  }
  return out;
}

inline std::optional<std::string> get_string(const nlohmann::json& body,
                                             const char* key) {
  return get<std::string>(body, key);
}

/// An integer member that fits int64.
inline std::optional<std::int64_t> get_int(const nlohmann::json& body,
                                           const char* key) {
  return get<std::int64_t>(body, key);
}

/// A non-negative integer member.
inline std::optional<std::uint64_t> get_uint(const nlohmann::json& body,
                                             const char* key) {
  return get<std::uint64_t>(body, key);
}

/// The error of a request's reply body (the other side of reply_body() in
/// vocabulary.hpp), or nullopt when it succeeded. A garbled body is a failed
/// answer, never an exception: the requester must not wait forever.
inline std::optional<error> reply_error(const nlohmann::json& b) {
  const auto* ok = field(b, "ok");
  if (ok == nullptr || !ok->is_boolean()) {
    return error{errc::internal, "malformed reply"};
  }
  if (ok->get<bool>()) {
    return std::nullopt;
  }
  auto code = get_string(b, "error");
  auto parsed = code ? parse_errc(*code) : std::nullopt;
  return error{parsed.value_or(errc::internal),
               get_string(b, "message").value_or("")};
}

/// Reads the payload `M` of a successful reply into `out`; otherwise the
/// reply's error, or an internal one when the payload is garbled.
template <class M>
std::optional<error> reply_payload(const nlohmann::json& b, M& out) {
  if (auto err = reply_error(b)) {
    return err;
  }
  auto m = read_body<M>("reply", b);
  if (!m) {
    return error{errc::internal, "malformed reply from "
                                   + get_string(b, "from").value_or("?") + ": "
                                   + m.err().message};
  }
  out = std::move(m.value());
  return std::nullopt;
}

/// Gives the outbox entries of `o` their ids: `prefix` + "." + index.
inline void number_outbox(outcome& o, const std::string& prefix) {
  for (std::size_t i = 0; i < o.outbox.size(); ++i) {
    o.outbox[i].id = prefix + "." + std::to_string(i);
  }
}

/// Records a state change of the actor `owner` ("kind/id"): the journal
/// event, the version bump and timestamp, and outbox ids derived from the
/// new version ("owner#version.index"). `State` has `version` and
/// `updated_at`.
template <class State>
void record(State& s, outcome& o, std::string event, millis now,
            const std::string& owner) {
  o.event = std::move(event);
  ++s.version;
  s.updated_at = now;
  number_outbox(o, owner + "#" + std::to_string(s.version));
}

/// The kind's config named by `ctx`, or the kind's defaults without one.
template <class Context>
const auto& config_of(const Context& ctx) {
  using config = std::remove_cv_t<std::remove_pointer_t<decltype(ctx.cfg)>>;
  static const config defaults{};
  return ctx.cfg != nullptr ? *ctx.cfg : defaults;
}

/// The error for a message that `kind`'s decode() cannot read.
inline error malformed(const char* kind, const envelope& msg,
                       const std::string& why) {
  return undecodable(kind, msg.type, why);
}

/// For actors kept per order (notifier, dispatcher): a state not yet named
/// takes `order_id`; true, with a bad_request in `o`, when the message is
/// about another order than the one the state belongs to (misrouted).
template <class State>
bool foreign(State& s, const std::string& order_id, const char* kind,
             outcome& o) {
  if (s.order_id.empty()) {
    s.order_id = order_id;
  }
  if (order_id == s.order_id) {
    return false;
  }
  o.err = error{errc::bad_request, std::string{kind} + " of order " + s.order_id
                                     + " got a message about " + order_id};
  return true;
}

} // namespace ordo::actors::detail
