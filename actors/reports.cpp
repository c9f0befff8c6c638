#include "actors/reports.hpp"

#include <algorithm>
#include <cstdint>
#include <utility>

#include <nlohmann/json.hpp>

#include "actors/detail/support.hpp"

namespace ordo::actors::reports {

namespace {

using detail::get_int;
using detail::get_string;
using nlohmann::json;

constexpr event_kind all_kinds[]
  = {event_kind::placed, event_kind::paid, event_kind::cancelled,
     event_kind::refunded, event_kind::manual};

/// The order of `top`: most flash cancels first, ties by user_id ascending.
bool ranks_before(const user_count& a, const user_count& b) {
  return a.count > b.count || (a.count == b.count && a.user_id < b.user_id);
}

/// The first `n` users of `counts`, ranked.
std::vector<user_count> rank(const std::map<std::string, std::int64_t>& counts,
                             std::size_t n) {
  std::vector<user_count> all;
  all.reserve(counts.size());
  for (const auto& [user_id, count] : counts) {
    all.push_back(user_count{user_id, count});
  }
  auto keep = std::min(n, all.size());
  std::partial_sort(all.begin(), all.begin() + keep, all.end(), ranks_before);
  all.resize(keep);
  return all;
}

tally& tally_of(state& s, event_kind k) {
  switch (k) {
    case event_kind::placed: return s.placed;
    case event_kind::paid: return s.paid;
    case event_kind::cancelled: return s.cancelled;
    case event_kind::refunded: return s.refunded;
    case event_kind::manual: return s.manual;
  }
  return s.placed;
}

void add(tally& t, std::int64_t amount) {
  ++t.count;
  t.amount += amount;
}

void add(tally& t, const tally& x) {
  t.count += x.count;
  t.amount += x.amount;
}

struct handler {
  state& s;
  const context& ctx;

  outcome operator()(const record& r) {
    outcome o;
    o.cause = std::string{to_string(r.what)} + " order=" + r.order_id
              + " user=" + r.user_id + " amount=" + std::to_string(r.amount)
              + (r.flash ? " (flash cancel)" : "");
    // count() refuses a record handle() would refuse, adding nothing.
    if (auto err = count(r, o)) {
      o.err = std::move(err);
      return o;
    }
    add(tally_of(s, r.what), r.amount);
    if (r.flash) {
      add(s.flash, r.amount);
      ++s.flash_by_user[r.user_id];
      // Only messages of earlier versions come here: ranking everyone is
      // simpler than keeping the ranking incrementally.
      rank_top(s, detail::config_of(ctx).top_n);
    }
    detail::record(s, o, "counted", ctx.now, std::string{kind} + "/" + s.shard);
    return o;
  }
};

json tally_to_json(const tally& t) {
  return json{{"n", t.count}, {"a", t.amount}};
}

tally tally_from_json(const json& j, const char* key) {
  tally t;
  if (auto i = j.find(key); i != j.end() && i->is_object()) {
    t.count = i->value("n", std::int64_t{0});
    t.amount = i->value("a", std::int64_t{0});
  }
  return t;
}

bool is_lower_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/// The index of a tally in the sums after the count of records (sums_part):
/// count at 1 + 2i, amount at 2 + 2i.
constexpr std::size_t tally_count = 6;
constexpr std::size_t sums_size = 1 + 2 * tally_count;

tally* tallies(state& s, std::size_t i) {
  tally* all[tally_count]
    = {&s.placed, &s.paid, &s.cancelled, &s.refunded, &s.manual, &s.flash};
  return all[i];
}

std::size_t slot_of(event_kind k) {
  return static_cast<std::size_t>(k); // placed .. manual, in that order
}

} // namespace

std::optional<error> count(const record& r, outcome& o) {
  if (r.order_id.empty() || r.amount < 0) {
    return error{errc::bad_request,
                 "a report record needs an order_id and a non-negative amount"};
  }
  if (r.flash && (r.what != event_kind::cancelled || r.user_id.empty())) {
    return error{errc::bad_request,
                 "a flash cancel is a cancel and needs a user_id"};
  }
  address shard{kind, shard_of(r.order_id)};
  std::vector<std::int64_t> sums(sums_size, 0);
  sums[0] = 1;
  sums[1 + 2 * slot_of(r.what)] = 1;
  sums[2 + 2 * slot_of(r.what)] = r.amount;
  if (r.flash) {
    sums[1 + 2 * (tally_count - 1)] = 1;
    sums[2 + 2 * (tally_count - 1)] = r.amount;
    o.additions.push_back({shard, user_part + r.user_id, {1}});
  }
  o.additions.push_back({std::move(shard), sums_part, std::move(sums)});
  return std::nullopt;
}

bool add_sums(state& s, const std::string& part,
              const std::vector<std::int64_t>& sums) {
  if (part == sums_part) {
    if (sums.size() < sums_size) {
      return false;
    }
    s.version += static_cast<std::uint64_t>(sums[0]);
    for (std::size_t i = 0; i < tally_count; ++i) {
      tallies(s, i)->count += sums[1 + 2 * i];
      tallies(s, i)->amount += sums[2 + 2 * i];
    }
    return true;
  }
  std::string_view p{part};
  if (p.substr(0, 2) == user_part && p.size() > 2 && !sums.empty()) {
    s.flash_by_user[part.substr(2)] += sums[0];
    return true;
  }
  return false;
}

void rank_top(state& s, std::size_t top_n) {
  s.top = rank(s.flash_by_user, top_n);
}

const char* to_string(event_kind k) noexcept {
  switch (k) {
    case event_kind::placed: return "placed";
    case event_kind::paid: return "paid";
    case event_kind::cancelled: return "cancelled";
    case event_kind::refunded: return "refunded";
    case event_kind::manual: return "manual";
  }
  return "placed";
}

outcome handle(state& s, const input& in, const context& ctx) {
  return std::visit(handler{s, ctx}, in);
}

result<input> decode(const envelope& msg) {
  const event_kind* what = nullptr;
  for (const auto& k : all_kinds) {
    if (msg.type == to_string(k)) {
      what = &k;
    }
  }
  if (what == nullptr) {
    return detail::malformed(kind, msg, "unknown message type");
  }
  const auto& b = msg.body;
  if (!b.is_object()) {
    return detail::malformed(kind, msg, "body is not an object");
  }
  auto order_id = get_string(b, "order_id");
  if (!order_id || order_id->empty()) {
    return detail::malformed(kind, msg, "missing 'order_id'");
  }
  auto user_id = get_string(b, "user_id");
  if (!user_id) {
    return detail::malformed(kind, msg, "missing 'user_id'");
  }
  auto amount = get_int(b, "amount");
  if (!amount || *amount < 0) {
    return detail::malformed(kind, msg, "needs a non-negative 'amount'");
  }
  bool flash = false;
  if (const auto* f = detail::field(b, "flash")) {
    if (!f->is_boolean()) {
      return detail::malformed(kind, msg, "'flash' is not a boolean");
    }
    flash = f->get<bool>();
  }
  return input{record{*what, *order_id, *user_id, *amount, flash}};
}

// Stored form of earlier versions (the runtime reads it, writes only sums;
// reports.hpp, "Storage"), and of the whole state for tools and tests:
//   tally   {"n": count, "a": amount}
//   header  {"shard","v","updated","placed","paid","cancelled","refunded",
//            "manual","flash": tally}   (before: also "top")
//   top     [{"u": user_id, "n": count}]   (its own record, written when a
//                                           turn changed it)
//   entry   count                 (one record per user with a flash cancel)
//   whole   header + {"top": top, "users":{user_id: entry}}
json top_to_json(const state& s) {
  json top = json::array();
  for (const auto& u : s.top) {
    top.push_back(json{{"u", u.user_id}, {"n", u.count}});
  }
  return top;
}

void top_from_json(const json& j, state& s) {
  if (!j.is_array()) {
    return;
  }
  s.top.clear();
  for (const auto& u : j) {
    if (u.is_object()) {
      s.top.push_back(
        user_count{u.value("u", std::string{}), u.value("n", std::int64_t{0})});
    }
  }
}

json header_to_json(const state& s) {
  return json{{"shard", s.shard},
              {"v", s.version},
              {"updated", s.updated_at},
              {"placed", tally_to_json(s.placed)},
              {"paid", tally_to_json(s.paid)},
              {"cancelled", tally_to_json(s.cancelled)},
              {"refunded", tally_to_json(s.refunded)},
              {"manual", tally_to_json(s.manual)},
              {"flash", tally_to_json(s.flash)}};
}

json entries_to_json(const state& s, const std::string& user_id) {
  auto i = s.flash_by_user.find(user_id);
  if (i == s.flash_by_user.end()) {
    return json{};
  }
  return json(i->second);
}

void entries_from_json(const json& j, const std::string& user_id, state& s) {
  if (!j.is_number_integer()) {
    return;
  }
  s.flash_by_user[user_id] = j.get<std::int64_t>();
}

void to_json(nlohmann::json& j, const state& s) {
  j = header_to_json(s);
  j["top"] = top_to_json(s);
  json users = json::object();
  for (const auto& [user_id, count] : s.flash_by_user) {
    users[user_id] = entries_to_json(s, user_id);
  }
  j["users"] = std::move(users);
}

void from_json(const nlohmann::json& j, state& s) {
  state r;
  if (!j.is_object()) {
    s = std::move(r);
    return;
  }
  r.shard = j.value("shard", std::string{});
  r.version = j.value("v", std::uint64_t{0});
  r.updated_at = j.value("updated", millis{0});
  r.placed = tally_from_json(j, "placed");
  r.paid = tally_from_json(j, "paid");
  r.cancelled = tally_from_json(j, "cancelled");
  r.refunded = tally_from_json(j, "refunded");
  r.manual = tally_from_json(j, "manual");
  r.flash = tally_from_json(j, "flash");
  if (auto i = j.find("top"); i != j.end()) {
    top_from_json(*i, r); // the whole form, or a header stored before top
                          // had its own record
  }
  if (auto i = j.find("users"); i != j.end() && i->is_object()) {
    for (const auto& [user_id, x] : i->items()) {
      entries_from_json(x, user_id, r);
    }
  }
  s = std::move(r);
}

state header_only(const totals& t) {
  state s;
  s.placed = t.placed;
  s.paid = t.paid;
  s.cancelled = t.cancelled;
  s.refunded = t.refunded;
  s.manual = t.manual;
  s.flash = t.flash;
  s.top = t.top;
  return s;
}

totals merge(const std::vector<state>& shards, std::size_t top_n) {
  totals t;
  std::map<std::string, std::int64_t> users;
  for (const auto& s : shards) {
    add(t.placed, s.placed);
    add(t.paid, s.paid);
    add(t.cancelled, s.cancelled);
    add(t.refunded, s.refunded);
    add(t.manual, s.manual);
    add(t.flash, s.flash);
    if (!s.flash_by_user.empty()) {
      for (const auto& [user_id, count] : s.flash_by_user) {
        users[user_id] += count;
      }
    } else {
      for (const auto& u : s.top) {
        users[u.user_id] += u.count;
      }
    }
  }
  t.top = rank(users, top_n);
  return t;
}

std::string shard_of(const std::string& order_id) {
  if (order_id.size() > 6 && order_id[0] == 'o' && order_id[5] == '-'
      && std::all_of(order_id.begin() + 1, order_id.begin() + 5,
                     is_lower_hex)) {
    return order_id.substr(0, 5);
  }
  return shard_name(0);
}

std::string shard_name(std::uint32_t p) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string name = "o";
  for (int shift = 12; shift >= 0; shift -= 4) {
    name.push_back(digits[(p >> shift) & 0xf]);
  }
  return name;
}

} // namespace ordo::actors::reports
