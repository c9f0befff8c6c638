#include "actors/dispatcher.hpp"

#include <algorithm>
#include <cstdint>
#include <utility>

#include <nlohmann/json.hpp>

#include "actors/detail/support.hpp"
#include "actors/order.hpp"

namespace ordo::actors {

namespace {

using nlohmann::json;

using detail::field;
using detail::get_int;
using detail::get_string;

} // namespace

namespace dispatcher {

namespace {

using detail::config_of;

/// Records a state change: journal event, version bump, timestamp, and the
/// outbox and request ids that derive from the new version.
void commit(state& s, outcome& o, std::string event, const context& ctx) {
  actors::detail::record(s, o, std::move(event), ctx.now,
                         std::string{kind} + "/" + s.order_id);
  auto prefix = std::string{kind} + "/" + s.order_id + "#"
                + std::to_string(s.version) + ".req.";
  for (std::size_t i = 0; i < o.requests.size(); ++i) {
    o.requests[i].id = prefix + std::to_string(i);
  }
}

address pool() {
  return address{technicians::kind, technicians::pool_id};
}

struct handler {
  state& s;
  const context& ctx;

  const config& cfg() const {
    return config_of(ctx);
  }

  /// Refuses a message about another order (see detail::foreign).
  bool foreign(const std::string& order_id, outcome& o) {
    return detail::foreign(s, order_id, "dispatcher", o);
  }

  void arm(outcome& o, millis due) {
    s.due = due;
    o.timers.push_back(timer_op{timer_name, due});
  }

  /// Back to waiting for the timer: `recheck_delay` from now, doubled for
  /// every failure in a row (no technician configured must not mean a check
  /// every few seconds forever), at most `max_recheck_delay`.
  void retry_later(outcome& o) {
    s.waiting = step::timer;
    auto delay = cfg().recheck_delay;
    for (std::uint32_t i = 0; i < s.retries && delay < cfg().max_recheck_delay;
         ++i) {
      delay *= 2;
    }
    ++s.retries;
    arm(o, ctx.now + std::min(delay, cfg().max_recheck_delay));
  }

  void recall(outcome& o) {
    o.outbox.push_back(envelope_to(pool(), technicians::recall{s.dispatch_id}));
  }

  /// PENDING -> SUPPRESSED. If an assign went out, its technician (if any)
  /// is recalled: the answer may have been lost or be still on its way.
  void suppress(outcome& o) {
    s.st = status::suppressed;
    s.waiting = step::timer;
    arm(o, 0);
    if (s.assign_requested) {
      recall(o);
    }
    o.signals.emplace_back("dispatch_suppressed");
  }

  bool pending() const {
    return s.exists && s.st == status::pending;
  }

  outcome operator()(const order_paid& p) {
    outcome o;
    o.cause = "order_paid at=" + std::to_string(p.at);
    if (foreign(p.order_id, o) || s.exists) {
      return o;
    }
    s.exists = true;
    s.dispatch_id = dispatch_id(s.order_id);
    s.paid_at = p.at > 0 ? p.at : ctx.now;
    if (s.refunded) {
      s.st = status::suppressed;
      o.signals.emplace_back("dispatch_suppressed");
      o.cause += " (order already refunded)";
      commit(s, o, "suppressed", ctx);
      return o;
    }
    s.st = status::pending;
    s.waiting = step::timer;
    arm(o, s.paid_at + cfg().dispatch_delay);
    commit(s, o, "dispatch_pending", ctx);
    return o;
  }

  outcome operator()(const order_refunded& r) {
    outcome o;
    o.cause = "order_refunded";
    if (foreign(r.order_id, o) || s.refunded) {
      return o;
    }
    s.refunded = true;
    if (pending()) {
      suppress(o);
      commit(s, o, "suppressed", ctx);
      return o;
    }
    if (s.exists && s.st == status::assigned) {
      s.st = status::recalled;
      recall(o);
      o.signals.emplace_back("dispatch_recalled");
      commit(s, o, "recalled", ctx);
      return o;
    }
    commit(s, o, "refund_noted", ctx);
    return o;
  }

  outcome operator()(const check&) {
    outcome o;
    o.cause = std::string{"timer "} + timer_name;
    if (!pending() || ctx.now < s.due) {
      return o; // stale
    }
    bool again = s.waiting != step::timer;
    s.waiting = step::status;
    o.requests.push_back(
      envelope_to(address{order::kind, s.order_id}, order::status_query{}));
    // Stays armed: if an answer is lost, the check runs again.
    arm(o, ctx.now + cfg().recheck_delay);
    commit(s, o, again ? "rechecking" : "checking", ctx);
    return o;
  }

  outcome operator()(const status_reply& r) {
    outcome o;
    o.cause = "status.reply "
              + (r.err ? std::string{"error="} + to_string(r.err->code)
                       : "status=" + r.status);
    if (!pending() || s.waiting != step::status) {
      return o; // a late or repeated answer
    }
    if (r.err && r.err->code != errc::not_found) {
      retry_later(o);
      commit(s, o, "check_failed", ctx);
      return o;
    }
    if (r.err || (r.status != "PAID" && r.status != "DISPATCHED")) {
      suppress(o);
      commit(s, o, "suppressed", ctx);
      return o;
    }
    s.waiting = step::assign;
    s.assign_requested = true;
    o.requests.push_back(
      envelope_to(pool(), technicians::assign{s.dispatch_id}));
    arm(o, ctx.now + cfg().recheck_delay);
    commit(s, o, "assigning", ctx);
    return o;
  }

  outcome operator()(const assign_reply& r) {
    outcome o;
    o.cause = "assign.reply "
              + (r.err ? std::string{"error="} + to_string(r.err->code)
                       : "technician=" + r.technician);
    if (!pending() || s.waiting != step::assign) {
      return o; // a late or repeated answer
    }
    if (r.err || r.technician.empty()) {
      retry_later(o);
      bool nobody = r.err && r.err->code == errc::unavailable;
      if (nobody) {
        o.signals.emplace_back("dispatch_no_technician");
      }
      commit(s, o, nobody ? "no_technician" : "assign_failed", ctx);
      return o;
    }
    s.st = status::assigned;
    s.retries = 0;
    s.technician = r.technician;
    s.waiting = step::timer;
    arm(o, 0);
    o.outbox.push_back(
      envelope_to(address{order::kind, s.order_id},
                  order::dispatched{s.dispatch_id, s.technician}));
    o.signals.emplace_back("dispatch_assigned");
    commit(s, o, "assigned", ctx);
    return o;
  }
};

step parse_step(const std::string& s) {
  if (s == "status") {
    return step::status;
  }
  if (s == "assign") {
    return step::assign;
  }
  return step::timer;
}

} // namespace

const char* to_string(step w) noexcept {
  switch (w) {
    case step::timer: return "timer";
    case step::status: return "status";
    case step::assign: return "assign";
  }
  return "timer";
}

const char* to_string(status s) noexcept {
  switch (s) {
    case status::pending: return "PENDING";
    case status::assigned: return "ASSIGNED";
    case status::suppressed: return "SUPPRESSED";
    case status::recalled: return "RECALLED";
  }
  return "PENDING";
}

std::optional<status> parse_status(const std::string& s) noexcept {
  for (auto st : {status::pending, status::assigned, status::suppressed,
                  status::recalled}) {
    if (s == to_string(st)) {
      return st;
    }
  }
  return std::nullopt;
}

std::string dispatch_id(const std::string& order_id) {
  return order_id + ":dispatch";
}

outcome handle(state& s, const input& in, const context& ctx) {
  return std::visit(handler{s, ctx}, in);
}

result<input> decode(const envelope& msg) {
  const auto& b = msg.body;
  if (!b.is_object()) {
    return detail::malformed("dispatcher", msg, "body is not an object");
  }
  if (msg.type == "timer") {
    if (get_string(b, "name") != std::optional<std::string>{timer_name}) {
      return detail::malformed("dispatcher", msg, "unknown timer");
    }
    return input{check{}};
  }
  if (msg.type == "status.reply") {
    order::status_answer a;
    auto err = detail::reply_payload(b, a);
    return input{status_reply{std::move(err), std::move(a.status)}};
  }
  if (msg.type == "assign.reply") {
    technicians::assigned a;
    auto err = detail::reply_payload(b, a);
    return input{assign_reply{std::move(err), std::move(a.technician)}};
  }
  if (auto in
      = decode_one_of<input, order_paid, order_refunded>("dispatcher", msg)) {
    return std::move(*in);
  }
  return detail::malformed("dispatcher", msg, "unknown message type");
}

const char* order_paid::invalid() const {
  return order_id.empty() ? "missing 'order_id'"
         : at < 0         ? "'at' must be a non-negative integer"
                          : nullptr;
}

const char* order_refunded::invalid() const {
  return order_id.empty() ? "missing 'order_id'" : nullptr;
}

// Stored form:
//   {"order","v","updated","exists","id","tech","st","paid","wait","due",
//    "asked","refunded"}
void to_json(nlohmann::json& j, const state& s) {
  j = json{{"order", s.order_id},          {"v", s.version},
           {"updated", s.updated_at},      {"exists", s.exists},
           {"id", s.dispatch_id},          {"tech", s.technician},
           {"st", to_string(s.st)},        {"paid", s.paid_at},
           {"wait", to_string(s.waiting)}, {"due", s.due},
           {"asked", s.assign_requested},  {"refunded", s.refunded},
           {"retries", s.retries}};
}

void from_json(const nlohmann::json& j, state& s) {
  state r;
  r.order_id = j.value("order", std::string{});
  r.version = j.value("v", std::uint64_t{0});
  r.updated_at = j.value("updated", millis{0});
  r.exists = j.value("exists", false);
  r.dispatch_id = j.value("id", std::string{});
  r.technician = j.value("tech", std::string{});
  r.st = parse_status(j.value("st", std::string{})).value_or(status::pending);
  r.paid_at = j.value("paid", millis{0});
  r.waiting = parse_step(j.value("wait", std::string{}));
  r.due = j.value("due", millis{0});
  r.assign_requested = j.value("asked", false);
  r.refunded = j.value("refunded", false);
  r.retries = j.value("retries", std::uint32_t{0});
  s = std::move(r);
}

} // namespace dispatcher

namespace technicians {

namespace {

/// Records a state change (see detail::record; the pool sends nothing).
void commit(state& s, outcome& o, std::string event, const context& ctx) {
  actors::detail::record(s, o, std::move(event), ctx.now,
                         std::string{kind} + "/" + s.id);
}

/// The configured names, empty ones and repeats dropped, in order.
std::vector<std::string> roster(const context& ctx) {
  std::vector<std::string> names;
  if (ctx.cfg == nullptr) {
    return names;
  }
  for (const auto& n : ctx.cfg->names) {
    if (!n.empty() && std::find(names.begin(), names.end(), n) == names.end()) {
      names.push_back(n);
    }
  }
  return names;
}

std::int64_t load_of(const state& s, const std::string& name) {
  auto i = s.load.find(name);
  return i == s.load.end() ? 0 : i->second;
}

/// The least-loaded of `names`; among equals, the first after `s.last` in
/// name order (round-robin). `names` must not be empty.
const std::string& pick(const state& s, const std::vector<std::string>& names) {
  auto least = load_of(s, names.front());
  for (const auto& n : names) {
    least = std::min(least, load_of(s, n));
  }
  auto last = std::find(names.begin(), names.end(), s.last);
  std::size_t start = last == names.end()
                        ? 0
                        : static_cast<std::size_t>(last - names.begin()) + 1;
  for (std::size_t k = 0; k < names.size(); ++k) {
    const auto& n = names[(start + k) % names.size()];
    if (load_of(s, n) == least) {
      return n;
    }
  }
  return names.front(); // unreachable: some name has the least load
}

struct handler {
  state& s;
  const context& ctx;

  outcome operator()(const assign& a) {
    outcome o;
    o.cause = "assign dispatch=" + a.dispatch_id;
    if (a.dispatch_id.empty()) {
      o.err = error{errc::bad_request, "assign needs a dispatch_id"};
      return o;
    }
    if (auto i = s.assignments.find(a.dispatch_id); i != s.assignments.end()) {
      if (!i->second.active) {
        o.err = error{errc::invalid_transition,
                      "dispatch " + a.dispatch_id + " was recalled"};
        return o;
      }
      o.reply = body_of(assigned{i->second.technician});
      return o; // a repeat: the same technician
    }
    auto names = roster(ctx);
    if (names.empty()) {
      o.err = error{errc::unavailable, "no technician is configured"};
      return o;
    }
    auto name = pick(s, names);
    s.assignments[a.dispatch_id] = assignment{name, true};
    ++s.load[name];
    s.last = name;
    o.reply = body_of(assigned{name});
    o.cause += " technician=" + name;
    commit(s, o, "assigned", ctx);
    return o;
  }

  outcome operator()(const recall& r) {
    outcome o;
    o.cause = "recall dispatch=" + r.dispatch_id;
    auto i = s.assignments.find(r.dispatch_id);
    if (i == s.assignments.end()) {
      // Overtook its assign (or nobody was assigned): block a late assign.
      s.assignments[r.dispatch_id] = assignment{"", false};
      commit(s, o, "recalled_before_assign", ctx);
      return o;
    }
    if (!i->second.active) {
      return o; // a repeat
    }
    i->second.active = false;
    auto& n = s.load[i->second.technician];
    n = std::max<std::int64_t>(0, n - 1);
    o.cause += " technician=" + i->second.technician;
    commit(s, o, "recalled", ctx);
    return o;
  }
};

} // namespace

outcome handle(state& s, const input& in, const context& ctx) {
  return std::visit(handler{s, ctx}, in);
}

result<input> decode(const envelope& msg) {
  if (auto in = decode_one_of<input, assign, recall>("technicians", msg)) {
    return std::move(*in);
  }
  return detail::malformed("technicians", msg, "unknown message type");
}

const char* assign::invalid() const {
  return dispatch_id.empty() ? "missing 'dispatch_id'" : nullptr;
}

const char* recall::invalid() const {
  return dispatch_id.empty() ? "missing 'dispatch_id'" : nullptr;
}

bool balanced(const state& s) noexcept {
  std::map<std::string, std::int64_t> active;
  for (const auto& [id, a] : s.assignments) {
    if (a.active) {
      ++active[a.technician];
    }
  }
  for (const auto& [name, n] : s.load) {
    if (n < 0 || n != (active.count(name) ? active.at(name) : 0)) {
      return false;
    }
  }
  for (const auto& [name, n] : active) {
    if (s.load.count(name) == 0) {
      return false;
    }
  }
  return true;
}

// Stored form:
//   header      {"id","v","updated","load":{name:n},"last"}
//   assignment  {"t","a"}  (one record per dispatch id)
//   whole       header + {"entries":{dispatch_id: assignment}}
const std::string& subject(const input& in) noexcept {
  return std::visit(
    [](const auto& x) -> const std::string& {
      return x.dispatch_id;
    },
    in);
}

json entries_to_json(const state& s, const std::string& dispatch_id) {
  auto i = s.assignments.find(dispatch_id);
  if (i == s.assignments.end()) {
    return json{};
  }
  return json{{"t", i->second.technician}, {"a", i->second.active}};
}

void entries_from_json(const json& j, const std::string& dispatch_id,
                       state& s) {
  if (!j.is_object()) {
    return;
  }
  s.assignments[dispatch_id]
    = assignment{j.value("t", std::string{}), j.value("a", false)};
}

json header_to_json(const state& s) {
  return json{{"id", s.id},
              {"v", s.version},
              {"updated", s.updated_at},
              {"load", s.load},
              {"last", s.last}};
}

void to_json(nlohmann::json& j, const state& s) {
  j = header_to_json(s);
  json entries = json::object();
  for (const auto& [id, a] : s.assignments) {
    entries[id] = entries_to_json(s, id);
  }
  j["entries"] = std::move(entries);
}

void from_json(const nlohmann::json& j, state& s) {
  state r;
  r.id = j.value("id", std::string{});
  r.version = j.value("v", std::uint64_t{0});
  r.updated_at = j.value("updated", millis{0});
  if (auto i = j.find("load"); i != j.end() && i->is_object()) {
    for (const auto& [name, n] : i->items()) {
      if (n.is_number_integer()) {
        r.load[name] = n.get<std::int64_t>();
      }
    }
  }
  r.last = j.value("last", std::string{});
  if (auto i = j.find("entries"); i != j.end() && i->is_object()) {
    for (const auto& [id, x] : i->items()) {
      entries_from_json(x, id, r);
    }
  }
  s = std::move(r);
}

} // namespace technicians

} // namespace ordo::actors
