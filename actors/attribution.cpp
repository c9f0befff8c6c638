#include "actors/attribution.hpp"

#include <cstdint>
#include <utility>

#include <nlohmann/json.hpp>

#include "actors/detail/support.hpp"
#include "actors/planted.hpp"

namespace ordo::actors::attribution {

namespace {

using detail::get_int;
using detail::get_string;
using nlohmann::json;

/// Records a state change (see detail::record; the affiliate sends
/// nothing).
void commit(state& s, outcome& o, std::string event, const context& ctx) {
  detail::record(s, o, std::move(event), ctx.now,
                 std::string{kind} + "/" + s.affiliate_id);
}

/// Adds (sign 1) or removes (sign -1) `e` from `t`.
void account(totals& t, const entry& e, std::int64_t sign) {
  auto a = sign * e.amount;
  switch (e.st) {
    case status::pending: t.pending += a; break;
    case status::invalid: t.invalid += a; break;
    case status::settled: t.settled += a; break;
  }
  if (e.clawback) {
    t.clawback += a;
  }
}

/// Changes the entry of `order_id` with `change`, keeping the sums.
template <class F>
void update(state& s, const std::string& order_id, F change) {
  auto& e = s.entries[order_id];
  account(s.sums, e, -1);
  change(e);
  account(s.sums, e, 1);
}

struct handler {
  state& s;
  const context& ctx;

  const entry* find(const std::string& order_id) const {
    auto i = s.entries.find(order_id);
    return i == s.entries.end() ? nullptr : &i->second;
  }

  outcome operator()(const pending& p) {
    outcome o;
    o.cause
      = "pending order=" + p.order_id + " amount=" + std::to_string(p.amount);
    if (p.order_id.empty() || p.amount < 0) {
      o.err = error{errc::bad_request,
                    "pending needs an order_id and a non-negative amount"};
      return o;
    }
    const auto* e = find(p.order_id);
    if (e != nullptr && e->known) {
      return o; // a repeat
    }
    if (e == nullptr) {
      s.entries[p.order_id] = entry{p.amount, true, status::pending, false};
      account(s.sums, s.entries[p.order_id], 1);
      commit(s, o, "pending", ctx);
      return o;
    }
    // An invalidate or settle overtook this pending: keep its status.
    update(s, p.order_id, [&p](entry& x) {
      x.amount = p.amount;
      x.known = true;
    });
    o.cause += std::string{" (already "} + to_string(e->st) + ")";
    commit(s, o, "amount_recorded", ctx);
    return o;
  }

  outcome operator()(const invalidate& v) {
    outcome o;
    o.cause = "invalidate order=" + v.order_id;
    const auto* e = find(v.order_id);
    if (e == nullptr) {
      // Overtook its pending: remember the verdict, the amount follows.
      s.entries[v.order_id] = entry{0, false, status::invalid, false};
      commit(s, o, "invalidated", ctx);
      return o;
    }
    switch (e->st) {
      case status::pending:
        update(s, v.order_id, [](entry& x) {
          x.st = planted::on(planted::cancel_settles_commission)
                   ? status::settled
                   : status::invalid;
        });
        commit(s, o, "invalidated", ctx);
        return o;
      case status::invalid: return o;
      case status::settled:
        if (e->clawback) {
          return o;
        }
        update(s, v.order_id, [](entry& x) {
          x.clawback = true;
        });
        o.signals.emplace_back("commission_clawback_needed");
        commit(s, o, "clawback_needed", ctx);
        return o;
    }
    return o;
  }

  outcome operator()(const settle& t) {
    outcome o;
    o.cause = "settle order=" + t.order_id;
    const auto* e = find(t.order_id);
    if (e == nullptr) {
      s.entries[t.order_id] = entry{0, false, status::settled, false};
      commit(s, o, "settled", ctx);
      return o;
    }
    if (e->st != status::pending) {
      return o; // a repeat, or a cancelled order: INVALID stays INVALID
    }
    update(s, t.order_id, [](entry& x) {
      x.st = status::settled;
    });
    commit(s, o, "settled", ctx);
    return o;
  }
};

// -- decoding helpers: never throw -------------------------------------------

} // namespace

const char* to_string(status s) noexcept {
  switch (s) {
    case status::pending: return "PENDING";
    case status::invalid: return "INVALID";
    case status::settled: return "SETTLED";
  }
  return "PENDING";
}

std::optional<status> parse_status(const std::string& s) noexcept {
  for (auto st : {status::pending, status::invalid, status::settled}) {
    if (s == to_string(st)) {
      return st;
    }
  }
  return std::nullopt;
}

outcome handle(state& s, const input& in, const context& ctx) {
  return std::visit(handler{s, ctx}, in);
}

const char* pending::invalid() const {
  return order_id.empty() ? "missing 'order_id'"
         : amount < 0     ? "needs a non-negative 'amount'"
                          : nullptr;
}

const char* invalidate::invalid() const {
  return order_id.empty() ? "missing 'order_id'" : nullptr;
}

const char* settle::invalid() const {
  return order_id.empty() ? "missing 'order_id'" : nullptr;
}

result<input> decode(const envelope& msg) {
  if (auto in
      = decode_one_of<input, pending, invalidate, settle>("affiliate", msg)) {
    return std::move(*in);
  }
  return detail::malformed("affiliate", msg, "unknown message type");
}

totals sum(const state& s) noexcept {
  totals t;
  for (const auto& [order_id, e] : s.entries) {
    account(t, e, 1);
  }
  return t;
}

bool balanced(const state& s) noexcept {
  for (const auto& [order_id, e] : s.entries) {
    if (e.amount < 0 || (!e.known && e.amount != 0)
        || (e.clawback && e.st != status::settled)) {
      return false;
    }
  }
  return sum(s) == s.sums;
}

// Stored form:
//   header  {"id","v","updated","pend","inv","set","claw"}
//   entry   {"a","k","st","cb"}  (one record per order id)
//   whole   header + {"entries":{order_id: entry}}
const std::string& subject(const input& in) noexcept {
  return std::visit(
    [](const auto& x) -> const std::string& {
      return x.order_id;
    },
    in);
}

json entries_to_json(const state& s, const std::string& order_id) {
  auto i = s.entries.find(order_id);
  if (i == s.entries.end()) {
    return json{};
  }
  const auto& e = i->second;
  return json{{"a", e.amount},
              {"k", e.known},
              {"st", to_string(e.st)},
              {"cb", e.clawback}};
}

void entries_from_json(const json& j, const std::string& order_id, state& s) {
  if (!j.is_object()) {
    return;
  }
  entry e;
  e.amount = j.value("a", std::int64_t{0});
  e.known = j.value("k", false);
  e.st = parse_status(j.value("st", std::string{})).value_or(status::pending);
  e.clawback = j.value("cb", false);
  s.entries[order_id] = e;
}

json header_to_json(const state& s) {
  return json{{"id", s.affiliate_id},    {"v", s.version},
              {"updated", s.updated_at}, {"pend", s.sums.pending},
              {"inv", s.sums.invalid},   {"set", s.sums.settled},
              {"claw", s.sums.clawback}};
}

void to_json(nlohmann::json& j, const state& s) {
  j = header_to_json(s);
  json entries = json::object();
  for (const auto& [order_id, e] : s.entries) {
    entries[order_id] = entries_to_json(s, order_id);
  }
  j["entries"] = std::move(entries);
}

void from_json(const nlohmann::json& j, state& s) {
  state r;
  r.affiliate_id = j.value("id", std::string{});
  r.version = j.value("v", std::uint64_t{0});
  r.updated_at = j.value("updated", millis{0});
  r.sums.pending = j.value("pend", std::int64_t{0});
  r.sums.invalid = j.value("inv", std::int64_t{0});
  r.sums.settled = j.value("set", std::int64_t{0});
  r.sums.clawback = j.value("claw", std::int64_t{0});
  if (auto i = j.find("entries"); i != j.end() && i->is_object()) {
    for (const auto& [order_id, x] : i->items()) {
      entries_from_json(x, order_id, r);
    }
  }
  s = std::move(r);
}

} // namespace ordo::actors::attribution
