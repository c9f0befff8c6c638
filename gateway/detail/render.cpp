#include "gateway/detail/render.hpp"

#include <cstdio>
#include <functional>
#include <map>

#include "actors/limiter.hpp"
#include "actors/reports.hpp"

namespace ordo::gateway::detail {

namespace {

using ojson = nlohmann::ordered_json;

ojson or_null(const std::string& s) {
  return s.empty() ? ojson(nullptr) : ojson(s);
}

ojson time_or_null(actors::millis t) {
  return t == 0 ? ojson(nullptr) : ojson(format_time(t));
}

/// Report tallies under GET /v1/reports/sales's names: {"placed", "paid",
/// "cancelled", "refunded", "manual_intervention", "flash_cancels" (each
/// {"count", "amount"}), "top_flash_cancel_users": [{"user_id", "count"}]}.
ojson render_tallies(const actors::reports::totals& t) {
  auto tally = [](const actors::reports::tally& x) {
    return ojson{{"count", x.count}, {"amount", x.amount}};
  };
  ojson top = ojson::array();
  for (const auto& u : t.top) {
    top.push_back({{"user_id", u.user_id}, {"count", u.count}});
  }
  return {{"placed", tally(t.placed)},
          {"paid", tally(t.paid)},
          {"cancelled", tally(t.cancelled)},
          {"refunded", tally(t.refunded)},
          {"manual_intervention", tally(t.manual)},
          {"flash_cancels", tally(t.flash)},
          {"top_flash_cancel_users", std::move(top)}};
}

/// Floor division for possibly negative numerators.
std::int64_t floor_div(std::int64_t a, std::int64_t b) noexcept {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

} // namespace

std::string format_time(actors::millis t) {
  // Days since the epoch → civil date (H. Hinnant, "chrono-compatible
  // low-level date algorithms").
  std::int64_t days = floor_div(t, 86'400'000);
  std::int64_t ms_of_day = t - days * 86'400'000;
  std::int64_t z = days + 719468;
  std::int64_t era = floor_div(z, 146097);
  std::int64_t doe = z - era * 146097;
  std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  std::int64_t y = yoe + era * 400;
  std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  std::int64_t mp = (5 * doy + 2) / 153;
  std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
  std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2 ? 1 : 0;

  char buf[160];
  std::snprintf(
    buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03lldZ",
    static_cast<long long>(y), static_cast<long long>(m),
    static_cast<long long>(d), static_cast<long long>(ms_of_day / 3'600'000),
    static_cast<long long>(ms_of_day / 60'000 % 60),
    static_cast<long long>(ms_of_day / 1000 % 60),
    static_cast<long long>(ms_of_day % 1000));
  return buf;
}

ojson render(const actors::order::state& o) {
  ojson items = ojson::array();
  for (const auto& i : o.items) {
    items.push_back({{"sku", i.sku},
                     {"quantity", i.quantity},
                     {"unit_price", i.unit_price},
                     {"kind", actors::to_string(i.kind)}});
  }
  ojson payments = ojson::array();
  for (const auto& p : o.payments) {
    payments.push_back({{"txn_id", p.txn_id},
                        {"amount", p.amount},
                        {"status", actors::order::to_string(p.status)}});
  }
  ojson j;
  j["order_id"] = o.order_id;
  j["user_id"] = o.user_id;
  j["status"] = actors::order::to_string(o.st);
  j["version"] = o.version;
  j["items"] = std::move(items);
  j["amount"] = o.amount;
  j["discount"] = o.discount;
  j["payable"] = o.payable;
  j["coupon_id"] = or_null(o.coupon_id);
  j["affiliate_id"] = or_null(o.affiliate_id);
  j["parent_id"] = or_null(o.parent_id);
  ojson children = ojson::array();
  ojson child_orders = ojson::array();
  for (const auto& c : o.children) {
    children.push_back(c.order_id);
    child_orders.push_back({{"order_id", c.order_id},
                            {"kind", actors::to_string(c.kind)},
                            {"payable", c.payable},
                            {"status", actors::order::to_string(c.st)}});
  }
  j["children"] = std::move(children);
  if (!o.children.empty()) {
    // Extension: what the parent last heard from each child.
    j["child_orders"] = std::move(child_orders);
  }
  j["created_at"] = time_or_null(o.created_at);
  j["updated_at"] = time_or_null(o.updated_at);
  j["pay_deadline"] = time_or_null(o.pay_deadline);
  j["cancel_reason"] = or_null(o.cancel_reason);
  j["payments"] = std::move(payments);
  j["technician"] = or_null(o.technician);
  if (o.saga) {
    j["saga"] = {{"op", o.saga->op}, {"reason", o.saga->reason}};
  }
  if (o.manual_reason) {
    j["manual_reason"] = *o.manual_reason;
  }
  return j;
}

ojson render(const actors::inventory::state& s) {
  ojson j;
  j["sku"] = s.sku;
  j["price"] = s.price;
  j["kind"] = actors::to_string(s.kind);
  j["stocked"] = s.stocked;
  j["available"] = s.available;
  j["reserved"] = s.reserved;
  j["sold"] = s.sold;
  return j;
}

ojson render(const actors::coupon::state& s) {
  ojson j;
  j["coupon_id"] = s.coupon_id;
  j["user_id"] = s.user_id;
  j["discount"] = s.discount;
  j["min_amount"] = s.min_amount;
  j["status"] = actors::coupon::to_string(s.st);
  j["order_id"] = or_null(s.order_id);
  return j;
}

ojson render(const actors::notifier::state& s) {
  ojson list = ojson::array();
  for (const auto* n : {&s.new_order, &s.cancel_notice}) {
    if (!*n) {
      continue;
    }
    ojson e;
    e["notification_id"] = (*n)->notification_id;
    e["order_id"] = s.order_id;
    e["template"] = (*n)->template_name;
    e["status"] = actors::notifier::to_string((*n)->st);
    e["created_at"] = time_or_null((*n)->created_at);
    e["sent_at"] = time_or_null((*n)->sent_at);
    list.push_back(std::move(e));
  }
  ojson j;
  j["notifications"] = std::move(list);
  return j;
}

ojson render(const actors::dispatcher::state& s) {
  ojson list = ojson::array();
  if (s.exists) {
    ojson e;
    e["dispatch_id"] = s.dispatch_id;
    e["order_id"] = s.order_id;
    e["technician"] = or_null(s.technician);
    e["status"] = actors::dispatcher::to_string(s.st);
    e["paid_at"] = time_or_null(s.paid_at);
    list.push_back(std::move(e));
  }
  ojson j;
  j["dispatches"] = std::move(list);
  return j;
}

ojson render(const actors::attribution::state& s) {
  ojson entries = ojson::array();
  for (const auto& [order_id, e] : s.entries) {
    entries.push_back({{"order_id", order_id},
                       {"amount", e.amount},
                       {"status", actors::attribution::to_string(e.st)},
                       {"clawback", e.clawback}});
  }
  ojson j;
  j["affiliate_id"] = s.affiliate_id;
  j["pending"] = s.sums.pending;
  j["invalid"] = s.sums.invalid;
  j["settled"] = s.sums.settled;
  j["clawback"] = s.sums.clawback;
  j["entries"] = std::move(entries);
  return j;
}

namespace {

std::string address_name(const actors::address& a) {
  return a.id.empty() ? a.kind : a.kind + "/" + a.id;
}

} // namespace

ojson render(const actors::auditor::report& r) {
  ojson open = ojson::array();
  ojson healed = ojson::array();
  for (const auto& v : r.violations) {
    (v.healed ? healed : open)
      .push_back(
        {{"rule", v.rule}, {"subject", v.subject}, {"detail", v.detail}});
  }
  ojson j;
  j["ok"] = open.empty();
  j["violations"] = std::move(open);
  j["healed"] = std::move(healed);
  return j;
}

// --- inspection: each kind's state under the API's names --------------------
//
// An order, SKU, coupon, notifier, dispatcher and affiliate show exactly what
// their GET endpoint shows, plus the internal fields an operator needs; the
// kinds the API does not render yet (technicians, limiter, report) have one
// rendering here. Counters are numbers; 64-bit tokens and fingerprints are
// decimal strings (a JavaScript number, the console's, holds 53 bits);
// times RFC 3339 or null.

namespace {

ojson u64_text(std::uint64_t v) {
  return std::to_string(v);
}

ojson inspection(const actors::notifier::state& s);

ojson inspection(const actors::order::state& o) {
  auto j = render(o);
  for (std::size_t i = 0; i < o.children.size(); ++i) {
    auto& c = j["child_orders"][i];
    c["version"] = o.children[i].version;
    c["refused"] = or_null(o.children[i].refused);
  }
  if (o.saga) {
    j["saga"]["started_at"] = time_or_null(o.saga->started_at);
  }
  for (std::size_t i = 0; i < o.payments.size(); ++i) {
    j["payments"][i]["refund_id"] = or_null(o.payments[i].refund_id);
  }
  j["fingerprint"] = u64_text(o.fingerprint);
  j["token"] = u64_text(o.token);
  // The admin SMS it keeps (what GET /v1/notifications shows, and more).
  auto sms = actors::order::sms_of(o);
  j["sms"] = sms ? inspection(*sms) : ojson(nullptr);
  return j;
}

ojson inspection(const actors::inventory::state& s) {
  auto j = render(s);
  ojson held = ojson::array();
  for (const auto& [order_id, r] : s.reservations) {
    held.push_back({{"order_id", order_id},
                    {"quantity", r.quantity},
                    {"token", u64_text(r.token)},
                    {"expires_at", time_or_null(r.expires_at)}});
  }
  ojson short_of = ojson::array();
  for (const auto& [order_id, quantity] : s.shortfalls) {
    short_of.push_back({{"order_id", order_id}, {"quantity", quantity}});
  }
  j["reservations"] = std::move(held);
  j["shortfalls"] = std::move(short_of);
  j["updated_at"] = time_or_null(s.updated_at);
  return j;
}

ojson inspection(const actors::coupon::state& s) {
  auto j = render(s);
  // As stored, even where it disagrees with the status (the auditor's
  // coupon_holder check): that is when an operator looks.
  j["lock"] = s.token == 0 && s.lock_expires_at == 0
                ? ojson(nullptr)
                : ojson{{"token", u64_text(s.token)},
                        {"expires_at", time_or_null(s.lock_expires_at)}};
  j["conflicts"] = s.conflicts;
  j["updated_at"] = time_or_null(s.updated_at);
  return j;
}

ojson inspection(const actors::notifier::state& s) {
  auto j = render(s);
  std::size_t i = 0;
  for (const auto* n : {&s.new_order, &s.cancel_notice}) {
    if (*n) {
      j["notifications"][i++]["in_flight"] = (*n)->in_flight;
    }
  }
  j["order_id"] = s.order_id;
  j["order_cancelled"] = s.cancelled;
  j["awaiting_status"] = s.checking;
  j["check_due_at"] = time_or_null(s.due);
  j["updated_at"] = time_or_null(s.updated_at);
  return j;
}

ojson inspection(const actors::dispatcher::state& s) {
  auto j = render(s);
  j["order_id"] = s.order_id;
  j["waiting_for"] = actors::dispatcher::to_string(s.waiting);
  j["check_due_at"] = time_or_null(s.due);
  j["assign_requested"] = s.assign_requested;
  j["order_refunded"] = s.refunded;
  j["retries"] = s.retries;
  j["updated_at"] = time_or_null(s.updated_at);
  return j;
}

ojson inspection(const actors::attribution::state& s) {
  auto j = render(s);
  std::size_t i = 0;
  for (const auto& [order_id, e] : s.entries) {
    j["entries"][i++]["amount_known"] = e.known;
  }
  j["updated_at"] = time_or_null(s.updated_at);
  return j;
}

ojson inspection(const actors::technicians::state& s) {
  ojson load = ojson::array();
  for (const auto& [name, n] : s.load) {
    load.push_back({{"technician", name}, {"active_assignments", n}});
  }
  ojson assignments = ojson::array();
  for (const auto& [dispatch_id, a] : s.assignments) {
    assignments.push_back({{"dispatch_id", dispatch_id},
                           {"technician", or_null(a.technician)},
                           {"active", a.active}});
  }
  ojson j;
  j["id"] = s.id;
  j["load"] = std::move(load);
  j["last_assigned"] = or_null(s.last);
  j["assignments"] = std::move(assignments);
  j["updated_at"] = time_or_null(s.updated_at);
  return j;
}

/// The expected answer of the open challenge stays out: the verifier's
/// secret, never shown.
ojson inspection(const actors::limiter::state& s) {
  ojson admitted = ojson::array();
  for (const auto& a : s.admitted) {
    admitted.push_back(
      {{"order_id", a.order_id}, {"admitted_at", time_or_null(a.at)}});
  }
  ojson challenge = nullptr;
  if (s.challenge) {
    challenge = {{"id", s.challenge->id},
                 {"question", s.challenge->question},
                 {"issued_at", time_or_null(s.challenge->issued_at)}};
  }
  ojson j;
  j["user_id"] = s.user_id;
  j["admitted"] = std::move(admitted);
  j["challenge"] = std::move(challenge);
  j["challenges_issued"] = s.issued;
  j["captcha_solved_at"] = time_or_null(s.solved_at);
  j["updated_at"] = time_or_null(s.updated_at);
  return j;
}

ojson inspection(const actors::reports::state& s) {
  ojson by_user = ojson::array();
  for (const auto& [user_id, n] : s.flash_by_user) {
    by_user.push_back({{"user_id", user_id}, {"count", n}});
  }
  ojson j;
  j["shard"] = s.shard;
  j.update(render_tallies(
    {s.placed, s.paid, s.cancelled, s.refunded, s.manual, s.flash, s.top}));
  j["flash_cancels_by_user"] = std::move(by_user);
  j["updated_at"] = time_or_null(s.updated_at);
  return j;
}

/// Decodes a state as its kind stores it and renders it for inspection.
template <class State>
ojson inspected(const nlohmann::json& stored) {
  State s;
  stored.get_to(s);
  return inspection(s);
}

/// Renders a state stored by one kind.
using state_renderer = ojson (*)(const nlohmann::json& stored);

/// The renderings by actor kind: adding a kind is adding its line here.
const std::map<std::string, state_renderer, std::less<>>& inspections() {
  static const std::map<std::string, state_renderer, std::less<>> table{
    {actors::order::kind, &inspected<actors::order::state>},
    {actors::inventory::kind, &inspected<actors::inventory::state>},
    {actors::coupon::kind, &inspected<actors::coupon::state>},
    {actors::attribution::kind, &inspected<actors::attribution::state>},
    {actors::notifier::kind, &inspected<actors::notifier::state>},
    {actors::dispatcher::kind, &inspected<actors::dispatcher::state>},
    {actors::technicians::kind, &inspected<actors::technicians::state>},
    {actors::limiter::kind, &inspected<actors::limiter::state>},
    {actors::reports::kind, &inspected<actors::reports::state>},
  };
  return table;
}

/// `stored` under the API's names; unchanged for a kind without a
/// rendering, or a state its kind's codec cannot read.
ojson inspection_of(const std::string& kind, const nlohmann::json& stored) {
  auto r = inspections().find(kind);
  if (r == inspections().end()) {
    return stored;
  }
  try {
    return r->second(stored);
  } catch (const nlohmann::json::exception&) {
    return stored;
  }
}

} // namespace

ojson render(const runtime::actor_view& v) {
  ojson journal = ojson::array();
  for (const auto& t : v.journal) {
    journal.push_back({{"version", t.version},
                       {"event", t.event},
                       {"cause", t.cause},
                       {"at", time_or_null(t.at)}});
  }
  ojson timers = ojson::array();
  for (const auto& t : v.timers) {
    timers.push_back({{"name", t.name}, {"due_at", time_or_null(t.due)}});
  }
  ojson outbox = ojson::array();
  for (const auto& m : v.outbox) {
    outbox.push_back({{"seq", m.seq},
                      {"id", m.msg.id},
                      {"to", address_name(m.msg.to)},
                      {"type", m.msg.type},
                      {"attempts", m.attempts},
                      {"last_error", or_null(m.last_error)}});
  }
  ojson j;
  j["kind"] = v.kind;
  j["id"] = v.id;
  j["exists"] = v.exists;
  j["active"] = v.active;
  j["version"] = v.version;
  j["state"] = inspection_of(v.kind, v.state);
  j["journal"] = std::move(journal);
  j["timers"] = std::move(timers);
  j["outbox"] = std::move(outbox);
  j["mailbox_size"]
    = v.mailbox_size < 0 ? ojson(nullptr) : ojson(v.mailbox_size);
  return j;
}

ojson render(const std::vector<runtime::outbox_message>& held,
             const runtime::node_stats& stats) {
  ojson list = ojson::array();
  for (const auto& m : held) {
    list.push_back({{"seq", m.seq},
                    {"id", m.msg.id},
                    {"from", address_name(m.from)},
                    {"to", address_name(m.msg.to)},
                    {"type", m.msg.type},
                    {"body", m.msg.body},
                    {"attempts", m.attempts},
                    {"last_error", or_null(m.last_error)},
                    {"dead", m.dead},
                    {"age_ms", m.age_ms}});
  }
  ojson j;
  j["backlog"] = stats.outbox_backlog;
  j["dead_letters"] = stats.outbox_dead_letters;
  j["oldest_ms"] = stats.outbox_oldest_ms;
  j["messages"] = std::move(list);
  return j;
}

ojson render(const std::vector<runtime::sent_sms>& sent) {
  ojson list = ojson::array();
  for (const auto& m : sent) {
    list.push_back({{"notification_id", m.notification_id},
                    {"order_id", m.order_id},
                    {"template", m.template_name},
                    {"text", m.text},
                    {"received", m.received}});
  }
  ojson j;
  j["sms"] = std::move(list);
  return j;
}

ojson render(const std::vector<runtime::provider_call>& calls) {
  ojson list = ojson::array();
  for (const auto& c : calls) {
    ojson e;
    e["kind"] = c.kind;
    e["id"] = c.id;
    e["order_id"] = or_null(c.order_id);
    e["txn_id"] = or_null(c.txn_id);
    e["amount"] = c.amount;
    e["received"] = c.received;
    list.push_back(std::move(e));
  }
  ojson j;
  j["calls"] = std::move(list);
  return j;
}

ojson render(const runtime::user_orders_page& page) {
  ojson orders = ojson::array();
  for (const auto& o : page.orders) {
    orders.push_back({{"order_id", o.order_id},
                      {"status", actors::order::to_string(o.status)},
                      {"payable", o.payable},
                      {"created_at", time_or_null(o.created_at)}});
  }
  return {{"orders", std::move(orders)},
          {"next_cursor", or_null(page.next_cursor)}};
}

ojson render(const runtime::sales_report& r) {
  auto j = render_tallies(r.totals);
  j["flash_cancels"]["window_seconds"] = r.flash_window / 1000;
  return j;
}

ojson render(const std::vector<runtime::outbox_destination>& destinations) {
  ojson list = ojson::array();
  for (const auto& d : destinations) {
    list.push_back({{"to", address_name(d.to)},
                    {"pending", d.pending},
                    {"oldest_ms", d.oldest_ms},
                    {"attempts_max", d.attempts_max},
                    {"last_error", or_null(d.last_error)}});
  }
  return list;
}

ojson render(const std::optional<runtime::audit_run>& run) {
  ojson j = render(run ? run->report : actors::auditor::report{});
  j["at"] = run ? time_or_null(run->at) : ojson(nullptr);
  j["trigger"]
    = run ? ojson(run->scheduled ? "scheduled" : "request") : ojson(nullptr);
  return j;
}

ojson render(const std::vector<runtime::operator_action>& log) {
  ojson list = ojson::array();
  for (const auto& a : log) {
    list.push_back({{"at", time_or_null(a.at)},
                    {"operator", a.who},
                    {"action", a.action},
                    {"subject", a.subject},
                    {"detail", a.detail}});
  }
  return {{"entries", std::move(list)}};
}

} // namespace ordo::gateway::detail
