#include "actors/notifier.hpp"

#include <cstdint>
#include <utility>

#include <nlohmann/json.hpp>

#include "actors/detail/support.hpp"
#include "actors/order.hpp"
#include "actors/planted.hpp"

namespace ordo::actors::notifier {

namespace {

using detail::field;
using detail::get_int;
using detail::get_string;
using nlohmann::json;

using detail::config_of;

/// Records a state change: journal event, version bump, timestamp, and the
/// outbox and request ids that derive from the new version.
void commit(state& s, outcome& o, std::string event, const context& ctx) {
  detail::record(s, o, std::move(event), ctx.now,
                 std::string{kind} + "/" + s.order_id);
  auto prefix = std::string{kind} + "/" + s.order_id + "#"
                + std::to_string(s.version) + ".req.";
  for (std::size_t i = 0; i < o.requests.size(); ++i) {
    o.requests[i].id = prefix + std::to_string(i);
  }
}

/// Statuses of an order that still wants its admin told about it.
bool live(const std::string& order_status) {
  return order_status == "PENDING_PAYMENT" || order_status == "PAID"
         || order_status == "DISPATCHED" || order_status == "COMPLETED";
}

std::string text_of(const notification& n, const std::string& order_id) {
  if (n.template_name == cancelled_template) {
    return "ordo: order " + order_id + " was cancelled";
  }
  return "ordo: new order " + order_id;
}

notification make(const std::string& order_id, const char* tmpl, millis at) {
  notification n;
  n.notification_id = notification_id(order_id, tmpl);
  n.template_name = tmpl;
  n.created_at = at;
  return n;
}

struct handler {
  state& s;
  const context& ctx;

  const config& cfg() const {
    return config_of(ctx);
  }

  bool too_old(const notification& n) const {
    return ctx.now - n.created_at > cfg().notify_ttl;
  }

  /// Refuses a message about another order (see detail::foreign).
  bool foreign(const std::string& order_id, outcome& o) {
    return detail::foreign(s, order_id, "notifier", o);
  }

  void arm(outcome& o, millis due) {
    s.due = due;
    o.timers.push_back(timer_op{timer_name, due});
  }

  /// The new_order notice leaves the waiting phase (not by sending).
  void stop_waiting(outcome& o) {
    s.checking = false;
    arm(o, 0);
  }

  void suppress(outcome& o) {
    s.new_order->st = status::suppressed;
    stop_waiting(o);
    o.signals.emplace_back("sms_suppressed");
  }

  void expire(notification& n, outcome& o) {
    n.st = status::expired;
    n.in_flight = false;
    o.signals.emplace_back("sms_expired");
  }

  /// Hands `n` to the SMS adapter, or expires it if it is too old. True if
  /// it was sent.
  bool send(notification& n, outcome& o) {
    if (too_old(n)) {
      expire(n, o);
      return false;
    }
    n.in_flight = true;
    o.outbox.push_back(envelope_to(
      address{"sms", ""}, sms{n.notification_id, s.order_id, n.template_name,
                              text_of(n, s.order_id), ctx.owner}));
    return true;
  }

  /// True while new_order waits for its timer or its status answer.
  bool waiting() const {
    return s.new_order && s.new_order->st == status::pending
           && !s.new_order->in_flight;
  }

  outcome operator()(const order_created& c) {
    outcome o;
    o.cause = "order_created at=" + std::to_string(c.at);
    if (foreign(c.order_id, o) || s.new_order) {
      return o;
    }
    s.new_order
      = make(s.order_id, new_order_template, c.at > 0 ? c.at : ctx.now);
    if (s.cancelled) {
      // The cancel overtook the create: nothing will ever be sent.
      s.new_order->st = status::suppressed;
      o.signals.emplace_back("sms_suppressed");
      o.cause += " (order already cancelled)";
      commit(s, o, "suppressed", ctx);
      return o;
    }
    arm(o, s.new_order->created_at
             + (planted::on(planted::sms_before_cooling) ? 0
                                                         : cfg().notify_delay));
    commit(s, o, "new_order_pending", ctx);
    return o;
  }

  outcome operator()(const order_cancelled& c) {
    outcome o;
    o.cause = "order_cancelled at=" + std::to_string(c.at);
    if (foreign(c.order_id, o) || s.cancelled) {
      return o;
    }
    s.cancelled = true;
    if (!s.new_order) {
      commit(s, o, "cancel_noted", ctx);
      return o;
    }
    auto& n = *s.new_order;
    if (n.st == status::pending && !n.in_flight) {
      suppress(o);
      commit(s, o, "suppressed", ctx);
      return o;
    }
    if (n.st == status::pending || n.st == status::sent) {
      s.cancel_notice
        = make(s.order_id, cancelled_template, c.at > 0 ? c.at : ctx.now);
      if (n.st == status::pending) {
        commit(s, o, "cancel_notice_queued", ctx);
        return o;
      }
      bool sent = send(*s.cancel_notice, o);
      commit(s, o, sent ? "cancel_notice_requested" : "cancel_notice_expired",
             ctx);
      return o;
    }
    commit(s, o, "cancel_noted", ctx); // new_order SUPPRESSED or EXPIRED
    return o;
  }

  outcome operator()(const check&) {
    outcome o;
    o.cause = std::string{"timer "} + timer_name;
    if (!waiting() || ctx.now < s.due) {
      return o; // stale
    }
    if (too_old(*s.new_order)) {
      expire(*s.new_order, o);
      stop_waiting(o);
      commit(s, o, "expired", ctx);
      return o;
    }
    bool again = s.checking;
    s.checking = true;
    o.requests.push_back(
      envelope_to(address{order::kind, s.order_id}, order::status_query{}));
    // Stays armed: if the answer is lost, the check runs again.
    arm(o, ctx.now + cfg().recheck_delay);
    commit(s, o, again ? "rechecking" : "checking", ctx);
    return o;
  }

  outcome operator()(const status_reply& r) {
    outcome o;
    o.cause = "status.reply "
              + (r.err ? std::string{"error="} + to_string(r.err->code)
                       : "status=" + r.status);
    if (!waiting() || !s.checking) {
      return o; // a late or repeated answer
    }
    s.checking = false;
    if (r.err && r.err->code != errc::not_found) {
      if (too_old(*s.new_order)) {
        expire(*s.new_order, o);
        stop_waiting(o);
        commit(s, o, "expired", ctx);
        return o;
      }
      arm(o, ctx.now + cfg().recheck_delay);
      commit(s, o, "check_failed", ctx);
      return o;
    }
    if (r.err || !live(r.status)) {
      suppress(o);
      commit(s, o, "suppressed", ctx);
      return o;
    }
    stop_waiting(o);
    bool sent = send(*s.new_order, o);
    commit(s, o, sent ? "sms_requested" : "expired", ctx);
    return o;
  }

  outcome operator()(const sms_sent& m) {
    outcome o;
    o.cause = "sms_sent " + m.notification_id;
    notification* n = nullptr;
    for (auto* x : {&s.new_order, &s.cancel_notice}) {
      if (*x && (*x)->notification_id == m.notification_id) {
        n = &**x;
      }
    }
    if (n == nullptr || n->st != status::pending || !n->in_flight) {
      return o; // unknown, or a repeat
    }
    n->st = status::sent;
    n->sent_at = ctx.now;
    n->in_flight = false;
    o.signals.emplace_back("sms_sent");
    std::string event = n->template_name + "_sent";
    if (n->template_name == new_order_template && s.cancel_notice
        && s.cancel_notice->st == status::pending
        && !s.cancel_notice->in_flight) {
      // The queued cancel notice may go now that new_order is out.
      bool sent = send(*s.cancel_notice, o);
      event += sent ? "+cancel_notice_requested" : "+cancel_notice_expired";
    }
    commit(s, o, std::move(event), ctx);
    return o;
  }
};

// -- decoding helpers: never throw -------------------------------------------

status_reply decode_status_reply(const json& b) {
  order::status_answer a;
  auto err = detail::reply_payload(b, a);
  return status_reply{std::move(err), std::move(a.status)};
}

status parse_or(const std::string& s, status fallback) {
  return parse_status(s).value_or(fallback);
}

json notification_to_json(const notification& n) {
  return json{{"id", n.notification_id}, {"tpl", n.template_name},
              {"st", to_string(n.st)},   {"created", n.created_at},
              {"sent", n.sent_at},       {"fly", n.in_flight}};
}

std::optional<notification> notification_from_json(const json& j,
                                                   const char* key) {
  auto i = j.find(key);
  if (i == j.end() || !i->is_object()) {
    return std::nullopt;
  }
  notification n;
  n.notification_id = i->value("id", std::string{});
  n.template_name = i->value("tpl", std::string{});
  n.st = parse_or(i->value("st", std::string{}), status::pending);
  n.created_at = i->value("created", millis{0});
  n.sent_at = i->value("sent", millis{0});
  n.in_flight = i->value("fly", false);
  return n;
}

} // namespace

const char* to_string(status s) noexcept {
  switch (s) {
    case status::pending: return "PENDING";
    case status::sent: return "SENT";
    case status::suppressed: return "SUPPRESSED";
    case status::expired: return "EXPIRED";
  }
  return "PENDING";
}

std::optional<status> parse_status(const std::string& s) noexcept {
  for (auto st :
       {status::pending, status::sent, status::suppressed, status::expired}) {
    if (s == to_string(st)) {
      return st;
    }
  }
  return std::nullopt;
}

std::string notification_id(const std::string& order_id,
                            const std::string& template_name) {
  return order_id + ":" + template_name;
}

outcome handle(state& s, const input& in, const context& ctx) {
  return std::visit(handler{s, ctx}, in);
}

result<input> decode(const envelope& msg) {
  const auto& b = msg.body;
  if (!b.is_object()) {
    return detail::malformed("notifier", msg, "body is not an object");
  }
  if (msg.type == "timer") {
    if (get_string(b, "name") != std::optional<std::string>{timer_name}) {
      return detail::malformed("notifier", msg, "unknown timer");
    }
    return input{check{}};
  }
  if (msg.type == "status.reply") {
    return input{decode_status_reply(b)};
  }
  if (auto in = decode_one_of<input, sms_sent, order_created, order_cancelled>(
        "notifier", msg)) {
    return std::move(*in);
  }
  return detail::malformed("notifier", msg, "unknown message type");
}

const char* order_created::invalid() const {
  return order_id.empty() ? "missing 'order_id'"
         : at < 0         ? "'at' must be a non-negative integer"
                          : nullptr;
}

const char* order_cancelled::invalid() const {
  return order_created{order_id, at}.invalid();
}

const char* sms_sent::invalid() const {
  return notification_id.empty() ? "missing 'notification_id'" : nullptr;
}

const char* sms::invalid() const {
  if (notification_id.empty() || order_id.empty()) {
    return "notification_id and order_id must be non-empty strings";
  }
  if (!confirm_to.empty() && confirm_to != "order" && confirm_to != kind) {
    return "confirm_to must be \"order\" or \"notifier\"";
  }
  return nullptr;
}

// Stored form:
//   {"order","v","updated","cancelled","checking","due",
//    "new_order":N,"cancel":N}   N = {"id","tpl","st","created","sent","fly"}
void to_json(nlohmann::json& j, const state& s) {
  j = json{{"order", s.order_id},     {"v", s.version},
           {"updated", s.updated_at}, {"cancelled", s.cancelled},
           {"checking", s.checking},  {"due", s.due}};
  if (s.new_order) {
    j["new_order"] = notification_to_json(*s.new_order);
  }
  if (s.cancel_notice) {
    j["cancel"] = notification_to_json(*s.cancel_notice);
  }
}

void from_json(const nlohmann::json& j, state& s) {
  state r;
  r.order_id = j.value("order", std::string{});
  r.version = j.value("v", std::uint64_t{0});
  r.updated_at = j.value("updated", millis{0});
  r.cancelled = j.value("cancelled", false);
  r.checking = j.value("checking", false);
  r.due = j.value("due", millis{0});
  r.new_order = notification_from_json(j, "new_order");
  r.cancel_notice = notification_from_json(j, "cancel");
  s = std::move(r);
}

namespace {

std::uint8_t pack_one(const std::optional<notification>& n) noexcept {
  if (!n) {
    return 0;
  }
  auto code = static_cast<std::uint8_t>(1 + static_cast<int>(n->st));
  return n->in_flight ? code | packed::in_flight_bit : code;
}

std::optional<notification> unpack_one(std::uint8_t code,
                                       const std::string& order_id,
                                       const char* tmpl, millis created_at,
                                       millis sent_at) {
  if (code == 0) {
    return std::nullopt;
  }
  auto n = make(order_id, tmpl, created_at);
  n.st = static_cast<status>((code & ~packed::in_flight_bit) - 1);
  n.in_flight = (code & packed::in_flight_bit) != 0;
  n.sent_at = sent_at;
  return n;
}

} // namespace

packed pack(const state& s) noexcept {
  packed p;
  p.updated_at = s.updated_at;
  p.due = s.due;
  p.version = static_cast<std::uint32_t>(s.version);
  p.cancelled = s.cancelled;
  p.checking = s.checking;
  p.new_order = pack_one(s.new_order);
  if (s.new_order) {
    p.new_order_sent_at = s.new_order->sent_at;
  }
  p.cancel_notice = pack_one(s.cancel_notice);
  if (s.cancel_notice) {
    p.cancel_created_at = s.cancel_notice->created_at;
    p.cancel_sent_at = s.cancel_notice->sent_at;
  }
  return p;
}

state unpack(const packed& p, const std::string& order_id, millis created_at) {
  state s;
  s.order_id = order_id;
  s.version = p.version;
  s.updated_at = p.updated_at;
  s.due = p.due;
  s.cancelled = p.cancelled;
  s.checking = p.checking;
  s.new_order = unpack_one(p.new_order, order_id, new_order_template,
                           created_at, p.new_order_sent_at);
  s.cancel_notice = unpack_one(p.cancel_notice, order_id, cancelled_template,
                               p.cancel_created_at, p.cancel_sent_at);
  return s;
}

} // namespace ordo::actors::notifier
