#include "gateway/detail/render.hpp"

#include <cstdio>

namespace ordo::gateway::detail {

namespace {

using ojson = nlohmann::ordered_json;

ojson or_null(const std::string& s) {
  return s.empty() ? ojson(nullptr) : ojson(s);
}

ojson time_or_null(actors::millis t) {
  return t == 0 ? ojson(nullptr) : ojson(format_time(t));
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
  if (!o.manual_reason.empty()) {
    j["manual_reason"] = o.manual_reason;
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
  j["state"] = v.state;
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
  auto tally = [](const actors::reports::tally& t) {
    return ojson{{"count", t.count}, {"amount", t.amount}};
  };
  const auto& t = r.totals;
  ojson top = ojson::array();
  for (const auto& u : t.top) {
    top.push_back({{"user_id", u.user_id}, {"count", u.count}});
  }
  ojson flash = tally(t.flash);
  flash["window_seconds"] = r.flash_window / 1000;
  return {{"placed", tally(t.placed)},
          {"paid", tally(t.paid)},
          {"cancelled", tally(t.cancelled)},
          {"refunded", tally(t.refunded)},
          {"manual_intervention", tally(t.manual)},
          {"flash_cancels", std::move(flash)},
          {"top_flash_cancel_users", std::move(top)}};
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
