#include "actors/coupon.hpp"

#include <cstdint>
#include <utility>

#include <nlohmann/json.hpp>

#include "actors/detail/support.hpp"
#include "actors/order.hpp"

namespace ordo::actors::coupon {

namespace {

using detail::get_string;
using detail::get_uint;
using nlohmann::json;

using detail::config_of;

/// Records a state change (see detail::record).
void commit(state& s, outcome& o, std::string event, const context& ctx) {
  detail::record(s, o, std::move(event), ctx.now,
                 std::string{kind} + "/" + s.coupon_id);
}

/// True if the coupon is LOCKED and its lock has lapsed at `now`.
bool lapsed(const state& s, millis now) {
  return s.st == status::locked && now >= s.lock_expires_at;
}

/// Back to AVAILABLE, the expiry timer disarmed.
void make_available(state& s, outcome& o) {
  s.st = status::available;
  s.order_id.clear();
  s.token = 0;
  s.lock_expires_at = 0;
  o.timers.push_back(timer_op{timer_name, 0});
}

json terms_of(const state& s) {
  return body_of(terms{s.discount, s.min_amount});
}

struct handler {
  state& s;
  const context& ctx;

  outcome operator()(const put& p) {
    outcome o;
    o.cause = "put user=" + p.user_id
              + " discount=" + std::to_string(p.discount)
              + " min_amount=" + std::to_string(p.min_amount);
    if (p.user_id.empty() || p.discount <= 0 || p.min_amount < 0) {
      o.err = error{errc::bad_request,
                    "a coupon needs a user_id, a positive discount and a "
                    "non-negative min_amount"};
      return o;
    }
    if (!s.exists) {
      s.exists = true;
      s.user_id = p.user_id;
      s.discount = p.discount;
      s.min_amount = p.min_amount;
      s.st = status::available;
      commit(s, o, "put", ctx);
      return o;
    }
    if (s.st != status::available) {
      o.err = error{errc::invalid_transition,
                    "coupon " + s.coupon_id + " is " + to_string(s.st)
                      + "; only an AVAILABLE coupon can be changed"};
      return o;
    }
    if (p.user_id == s.user_id && p.discount == s.discount
        && p.min_amount == s.min_amount) {
      return o; // Same values: an idempotent PUT changes nothing.
    }
    s.user_id = p.user_id;
    s.discount = p.discount;
    s.min_amount = p.min_amount;
    commit(s, o, "updated", ctx);
    return o;
  }

  /// Why `order_id` of `user_id` cannot lock the coupon now, if it cannot.
  std::optional<error> refusal(const std::string& order_id,
                               const std::string& user_id) const {
    if (!s.exists) {
      return error{errc::not_found, "coupon " + s.coupon_id + " not found"};
    }
    if (order_id.empty()) {
      return error{errc::bad_request, "lock needs an order_id"};
    }
    if (user_id != s.user_id) {
      return error{errc::coupon_unavailable,
                   "coupon " + s.coupon_id + " belongs to another user"};
    }
    bool mine = s.st == status::locked && s.order_id == order_id;
    bool free = s.st == status::available || lapsed(s, ctx.now);
    if (!mine && !free) {
      return error{errc::coupon_unavailable,
                   "coupon " + s.coupon_id + " is " + to_string(s.st)};
    }
    return std::nullopt;
  }

  outcome operator()(const check& c) {
    outcome o;
    o.cause = "check order=" + c.order_id + " user=" + c.user_id;
    o.err = refusal(c.order_id, c.user_id);
    if (!o.err) {
      o.reply = terms_of(s);
    }
    return o;
  }

  outcome operator()(const lock& l) {
    outcome o;
    o.cause = "lock order=" + l.order_id + " user=" + l.user_id
              + " token=" + std::to_string(l.token);
    if (auto refused = refusal(l.order_id, l.user_id)) {
      o.err = std::move(refused);
      return o;
    }
    bool mine = s.st == status::locked && s.order_id == l.order_id;
    if (mine && s.token == l.token && !lapsed(s, ctx.now)) {
      o.reply = terms_of(s);
      return o; // a repeated request of the same create attempt
    }
    std::string event
      = mine ? "relocked"
             : (s.st == status::locked ? "locked_after_expiry" : "locked");
    s.st = status::locked;
    s.order_id = l.order_id;
    s.token = l.token;
    s.lock_expires_at = ctx.now + config_of(ctx).lock_ttl;
    o.timers.push_back(timer_op{timer_name, s.lock_expires_at});
    o.reply = terms_of(s);
    commit(s, o, std::move(event), ctx);
    return o;
  }

  outcome operator()(const release& r) {
    outcome o;
    o.cause
      = "release order=" + r.order_id + " token=" + std::to_string(r.token);
    if (s.st == status::locked && s.order_id == r.order_id
        && s.token == r.token) {
      make_available(s, o);
      commit(s, o, "released", ctx);
    }
    return o;
  }

  outcome operator()(const consume& c) {
    outcome o;
    o.cause = "consume order=" + c.order_id;
    if (!s.exists || c.order_id.empty()) {
      return o; // nothing was ever locked: nothing to consume
    }
    if (s.conflicts.count(c.order_id) != 0) {
      return o; // told of a conflict before (and refunding): stays out
    }
    if (s.order_id == c.order_id && s.st != status::available) {
      if (s.st == status::used) {
        return o; // a repeat
      }
      s.st = status::used;
      s.token = 0;
      s.lock_expires_at = 0;
      o.timers.push_back(timer_op{timer_name, 0});
      commit(s, o, "consumed", ctx);
      return o;
    }
    if (s.st == status::available || lapsed(s, ctx.now)) {
      // The order's lock expired (and maybe another order's lock lapsed
      // since): the paid order takes the coupon.
      bool took_lapsed = s.st == status::locked;
      s.st = status::used;
      s.order_id = c.order_id;
      s.token = 0;
      s.lock_expires_at = 0;
      if (took_lapsed) {
        o.timers.push_back(timer_op{timer_name, 0});
      }
      commit(s, o, "consumed_after_expiry", ctx);
      return o;
    }
    // Another order holds it: this paid order is not backed by the coupon.
    s.conflicts.insert(c.order_id);
    o.outbox.push_back(envelope_to(address{order::kind, c.order_id},
                                   order::coupon_conflict{s.coupon_id}));
    o.signals.emplace_back("coupon_conflict");
    o.cause += " (held by " + s.order_id + ")";
    commit(s, o, "conflict", ctx);
    return o;
  }

  outcome operator()(const expire&) {
    outcome o;
    o.cause = std::string{"timer "} + timer_name;
    if (lapsed(s, ctx.now)) {
      o.cause += " order=" + s.order_id;
      make_available(s, o);
      o.signals.emplace_back("coupon_lock_expired");
      commit(s, o, "lock_expired", ctx);
    }
    return o;
  }
};

// -- decoding helpers: never throw -------------------------------------------

} // namespace

const char* to_string(status s) noexcept {
  switch (s) {
    case status::available: return "AVAILABLE";
    case status::locked: return "LOCKED";
    case status::used: return "USED";
  }
  return "AVAILABLE";
}

std::optional<status> parse_status(const std::string& s) noexcept {
  for (auto st : {status::available, status::locked, status::used}) {
    if (s == to_string(st)) {
      return st;
    }
  }
  return std::nullopt;
}

outcome handle(state& s, const input& in, const context& ctx) {
  return std::visit(handler{s, ctx}, in);
}

const char* lock::invalid() const {
  return order_id.empty() || user_id.empty()
           ? "needs an 'order_id' and a 'user_id'"
           : nullptr;
}

const char* check::invalid() const {
  return lock{order_id, user_id, 0}.invalid();
}

const char* release::invalid() const {
  return order_id.empty() ? "missing 'order_id'" : nullptr;
}

const char* consume::invalid() const {
  return order_id.empty() ? "missing 'order_id'" : nullptr;
}

const char* terms::invalid() const {
  return discount < 0 || min_amount < 0 ? "negative terms" : nullptr;
}

result<input> decode(const envelope& msg) {
  if (msg.type == "timer") {
    if (get_string(msg.body, "name")
        != std::optional<std::string>{timer_name}) {
      return detail::malformed("coupon", msg, "unknown timer");
    }
    return input{expire{}};
  }
  if (auto in
      = decode_one_of<input, lock, check, release, consume>("coupon", msg)) {
    return std::move(*in);
  }
  return detail::malformed("coupon", msg, "unknown message type");
}

bool consistent(const state& s) noexcept {
  switch (s.st) {
    case status::available:
      return s.order_id.empty() && s.token == 0 && s.lock_expires_at == 0;
    case status::locked:
      return s.exists && !s.order_id.empty() && s.lock_expires_at > 0;
    case status::used:
      return s.exists && !s.order_id.empty() && s.token == 0
             && s.lock_expires_at == 0;
  }
  return false;
}

// Stored form:
//   {"id","exists","v","user","disc","min","st","order","token","exp",
//    "updated","conflicts":[order_id...]}
void to_json(nlohmann::json& j, const state& s) {
  j = json{{"id", s.coupon_id},       {"exists", s.exists},
           {"v", s.version},          {"user", s.user_id},
           {"disc", s.discount},      {"min", s.min_amount},
           {"st", to_string(s.st)},   {"order", s.order_id},
           {"token", s.token},        {"exp", s.lock_expires_at},
           {"updated", s.updated_at}, {"conflicts", s.conflicts}};
}

void from_json(const nlohmann::json& j, state& s) {
  state r;
  r.coupon_id = j.value("id", std::string{});
  r.exists = j.value("exists", false);
  r.version = j.value("v", std::uint64_t{0});
  r.user_id = j.value("user", std::string{});
  r.discount = j.value("disc", std::int64_t{0});
  r.min_amount = j.value("min", std::int64_t{0});
  r.st = parse_status(j.value("st", std::string{})).value_or(status::available);
  r.order_id = j.value("order", std::string{});
  r.token = j.value("token", std::uint64_t{0});
  r.lock_expires_at = j.value("exp", millis{0});
  r.updated_at = j.value("updated", millis{0});
  if (auto i = j.find("conflicts"); i != j.end() && i->is_array()) {
    for (const auto& x : *i) {
      if (x.is_string()) {
        r.conflicts.insert(x.get<std::string>());
      }
    }
  }
  s = std::move(r);
}

} // namespace ordo::actors::coupon
