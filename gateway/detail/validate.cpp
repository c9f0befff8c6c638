#include "gateway/detail/validate.hpp"

#include <algorithm>
#include <initializer_list>
#include <map>
#include <set>

#include "gateway/detail/crypto.hpp"
#include "gateway/detail/errors.hpp"

namespace ordo::gateway::detail {

namespace {

using json = nlohmann::json;

const char* type_name(const json& v) noexcept {
  if (v.is_number_float()) {
    return "a non-integer number";
  }
  if (v.is_number()) {
    return "an integer";
  }
  return v.type_name(); // "string", "boolean", "null", "object", "array"
}

/// Reads the fields of one JSON object; `where` prefixes field names in
/// messages ("items[2].").
class object_reader {
public:
  object_reader(const json& obj, std::string where,
                std::initializer_list<const char*> known)
    : obj_(obj), where_(std::move(where)) {
    for (const auto& [key, value] : obj_.items()) {
      bool ok = false;
      for (const char* k : known) {
        ok = ok || key == k;
      }
      if (!ok) {
        bad_request("unknown field " + where_ + key);
      }
    }
  }

  /// The field, or nullptr when absent or null (and not `required`).
  const json* get(const char* name, bool required) const {
    auto it = obj_.find(name);
    if (it == obj_.end() || it->is_null()) {
      if (required) {
        bad_request(field(name) + " is required");
      }
      return nullptr;
    }
    return &*it;
  }

  std::string id(const char* name, bool required) const {
    const json* v = get(name, required);
    if (v == nullptr) {
      return {};
    }
    if (!v->is_string() || !valid_id(v->get_ref<const std::string&>())) {
      bad_request(field(name) + " must be a string of 1-"
                  + std::to_string(limits::id_length)
                  + " printable ASCII characters without spaces or '/'");
    }
    return v->get<std::string>();
  }

  std::string string(const char* name, bool required) const {
    const json* v = get(name, required);
    if (v == nullptr) {
      return {};
    }
    if (!v->is_string()) {
      bad_request(field(name) + " must be a string, not " + type_name(*v));
    }
    return v->get<std::string>();
  }

  std::int64_t integer(const char* name, std::int64_t lo,
                       std::int64_t hi) const {
    const json* v = get(name, true);
    bool in_range = false;
    if (v->is_number_unsigned()) {
      auto u = v->get<std::uint64_t>();
      in_range = u <= static_cast<std::uint64_t>(hi)
                 && static_cast<std::int64_t>(u) >= lo;
    } else if (v->is_number_integer()) {
      auto i = v->get<std::int64_t>();
      in_range = i >= lo && i <= hi;
    } else {
      bad_request(field(name) + " must be an integer, not " + type_name(*v));
    }
    if (!in_range) {
      bad_request(field(name) + " must be an integer in " + std::to_string(lo)
                  + ".." + std::to_string(hi));
    }
    return v->get<std::int64_t>();
  }

  std::string field(const char* name) const {
    return where_ + name;
  }

private:
  const json& obj_;
  std::string where_;
};

bool printable(char c) noexcept {
  return c >= 0x20 && c <= 0x7e;
}

/// UTF-8 code points in `s` (the parser has checked it is valid UTF-8).
std::size_t characters(std::string_view s) noexcept {
  std::size_t n = 0;
  for (char c : s) {
    n += (static_cast<unsigned char>(c) & 0xc0) != 0x80 ? 1 : 0;
  }
  return n;
}

bool blank(std::string_view s) noexcept {
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
      return false;
    }
  }
  return true;
}

} // namespace

bool valid_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > limits::id_length) {
    return false;
  }
  for (char c : id) {
    if (c <= 0x20 || c >= 0x7f || c == '/') {
      return false;
    }
  }
  return true;
}

std::string path_id(const params& args, std::string_view name) {
  auto it = args.find(name);
  if (it == args.end() || !valid_id(it->second)) {
    bad_request("path parameter " + std::string(name) + " must be 1-"
                + std::to_string(limits::id_length)
                + " printable ASCII characters without spaces or '/'");
  }
  return it->second;
}

std::string query_id(std::string_view target, std::string_view name) {
  auto query = query_of(target);
  for (const auto& [key, value] : query) {
    if (key != name) {
      bad_request("unknown query parameter " + key);
    }
  }
  auto it = query.find(name);
  if (it == query.end() || !valid_id(it->second)) {
    bad_request("query parameter " + std::string(name) + " must be 1-"
                + std::to_string(limits::id_length)
                + " printable ASCII characters without spaces or '/'");
  }
  return it->second;
}

/// A query integer `name` in 1..max.
static std::size_t count_param(const std::string& name,
                               const std::string& value, std::size_t max) {
  bool digits = !value.empty() && value.size() <= 6;
  for (char ch : value) {
    digits = digits && ch >= '0' && ch <= '9';
  }
  auto n = digits ? std::stoul(value) : 0;
  if (n < 1 || n > max) {
    bad_request(name + " must be an integer in 1.." + std::to_string(max));
  }
  return n;
}

outbox_query parse_outbox_query(std::string_view target) {
  outbox_query q;
  for (const auto& [key, value] : query_of(target)) {
    if (key == "state") {
      if (value != "pending" && value != "dead") {
        bad_request("state must be pending or dead");
      }
      q.dead = value == "dead";
    } else if (key == "limit") {
      q.limit = count_param(key, value, 10'000);
    } else if (key != "node") { // which node answers: routes.cpp
      bad_request("unknown query parameter " + key);
    }
  }
  return q;
}

std::size_t parse_limit_query(std::string_view target, std::size_t fallback,
                              std::size_t max) {
  auto limit = fallback;
  for (const auto& [key, value] : query_of(target)) {
    if (key == "node") {
      continue; // which node answers: routes.cpp
    }
    if (key != "limit") {
      bad_request("unknown query parameter " + key);
    }
    limit = count_param(key, value, max);
  }
  return limit;
}

std::string parse_cluster_query(std::string_view target) {
  std::string id;
  for (const auto& [key, value] : query_of(target)) {
    if (key != "order_id") {
      bad_request("unknown query parameter " + key);
    }
    if (!valid_id(value)) {
      bad_request("order_id must be 1-" + std::to_string(limits::id_length)
                  + " printable ASCII characters without spaces or '/'");
    }
    id = value;
  }
  return id;
}

std::uint64_t path_seq(const params& args, std::string_view name) {
  auto it = args.find(name);
  bool digits = it != args.end() && !it->second.empty()
                && it->second.size() <= 18 && it->second.front() != '0';
  for (char ch : digits ? it->second : std::string{}) {
    digits = digits && ch >= '0' && ch <= '9';
  }
  if (!digits) {
    bad_request("path parameter " + std::string(name)
                + " must be an outbox seq: a positive decimal integer");
  }
  return std::stoull(it->second);
}

std::string operator_name(std::string_view header, bool required) {
  if (header.empty() && !required) {
    return "unnamed";
  }
  bool ok = !header.empty() && header.size() <= 64;
  for (char c : header) {
    ok = ok && printable(c);
  }
  if (!ok) {
    bad_request("header X-Ordo-Operator is required: the name this action "
                "is recorded under, 1-64 printable ASCII characters");
  }
  return std::string{header};
}

page_query parse_page_query(std::string_view target) {
  page_query q;
  for (const auto& [key, value] : query_of(target)) {
    if (key == "limit") {
      q.limit = count_param(key, value, 100);
    } else if (key == "cursor") {
      bool hex = !value.empty() && value.size() <= 600;
      for (char ch : value) {
        hex = hex && ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'));
      }
      if (!hex) {
        bad_request("cursor must be a next_cursor this server gave out");
      }
      q.cursor = value;
    } else {
      bad_request("unknown query parameter " + key);
    }
  }
  return q;
}

std::size_t parse_top_query(std::string_view target, std::size_t max) {
  std::size_t top = std::min<std::size_t>(10, max);
  for (const auto& [key, value] : query_of(target)) {
    if (key != "top") {
      bad_request("unknown query parameter " + key);
    }
    top = count_param(key, value, max);
  }
  return top;
}

void check_idempotency_key(std::string_view key) {
  bool ok = !key.empty() && key.size() <= limits::key_length;
  for (char c : key) {
    ok = ok && printable(c);
  }
  if (!ok) {
    bad_request("header Idempotency-Key is required: 1-"
                + std::to_string(limits::key_length)
                + " printable ASCII characters");
  }
}

json parse_object(std::string_view body) {
  if (blank(body)) {
    bad_request("request body must be a JSON object");
  }
  json j;
  try {
    j = json::parse(body);
  } catch (const json::out_of_range&) {
    // A number no double can hold (1e400, a 400-digit integer): the
    // client's error, and the number is not quoted back.
    bad_request("a number in the request body is out of range");
  }
  if (!j.is_object()) {
    bad_request(std::string("request body must be a JSON object, not ")
                + type_name(j));
  }
  return j;
}

actors::inventory::put parse_put_sku(std::string_view body) {
  json j = parse_object(body);
  object_reader r(j, "", {"price", "stock", "kind"});
  actors::inventory::put cmd;
  cmd.price = r.integer("price", 0, limits::price);
  cmd.stock = r.integer("stock", 0, limits::stock);
  if (r.get("kind", false) != nullptr) {
    auto kind = actors::parse_item_kind(r.string("kind", true));
    if (!kind) {
      bad_request("kind must be \"goods\" or \"service\"");
    }
    cmd.kind = *kind;
  }
  return cmd;
}

actors::coupon::put parse_put_coupon(std::string_view body) {
  json j = parse_object(body);
  object_reader r(j, "", {"user_id", "discount", "min_amount"});
  actors::coupon::put cmd;
  cmd.user_id = r.id("user_id", true);
  cmd.discount = r.integer("discount", 1, limits::amount);
  if (r.get("min_amount", false) != nullptr) {
    cmd.min_amount = r.integer("min_amount", 0, limits::amount);
  }
  return cmd;
}

actors::order::create parse_create_order(std::string_view body) {
  json j = parse_object(body);
  object_reader r(j, "",
                  {"user_id", "items", "coupon_id", "affiliate_id", "captcha"});
  actors::order::create cmd;
  cmd.user_id = r.id("user_id", true);

  const json& items = *r.get("items", true);
  if (!items.is_array()) {
    bad_request("items must be an array, not " + std::string(type_name(items)));
  }
  if (items.empty() || items.size() > limits::items) {
    bad_request("items must have 1.." + std::to_string(limits::items)
                + " entries");
  }
  // A SKU listed twice is one line with the summed quantity (the order
  // state machine merges them; the limit applies to the sum).
  for (std::size_t i = 0; i < items.size(); ++i) {
    std::string where = "items[" + std::to_string(i) + "]";
    if (!items[i].is_object()) {
      bad_request(where + " must be an object, not " + type_name(items[i]));
    }
    object_reader item(items[i], where + ".", {"sku", "quantity"});
    actors::order::requested_item line;
    line.sku = item.id("sku", true);
    line.quantity = item.integer("quantity", 1, limits::quantity);
    cmd.items.push_back(std::move(line));
  }
  // The quantity limit is on the SKU: its lines add up (at most 100 x 10^6,
  // no overflow).
  std::map<std::string, std::int64_t> per_sku;
  for (const auto& line : cmd.items) {
    if ((per_sku[line.sku] += line.quantity) > limits::quantity) {
      bad_request("items: the quantities of sku " + line.sku
                  + " add up to more than " + std::to_string(limits::quantity));
    }
  }

  cmd.coupon_id = r.id("coupon_id", false);
  cmd.affiliate_id = r.id("affiliate_id", false);
  if (const json* captcha = r.get("captcha", false)) {
    if (!captcha->is_object()) {
      bad_request("captcha must be an object, not "
                  + std::string(type_name(*captcha)));
    }
    object_reader c(*captcha, "captcha.", {"id", "answer"});
    cmd.captcha_id = c.id("id", true);
    cmd.captcha_answer = c.string("answer", true);
    if (cmd.captcha_answer.size() > limits::id_length) {
      bad_request("captcha.answer must be at most "
                  + std::to_string(limits::id_length) + " bytes");
    }
  }
  // Canonical: keys sorted (std::map), no whitespace, and an optional field
  // sent as null hashes like one left out. The captcha answers the limiter,
  // not the order: a retry with or without it is the same request.
  j.erase("captcha");
  for (const char* optional : {"coupon_id", "affiliate_id"}) {
    auto it = j.find(optional);
    if (it != j.end() && it->is_null()) {
      j.erase(it);
    }
  }
  cmd.fingerprint = sha256_hex(j.dump());
  return cmd;
}

actors::order::cancel parse_cancel(std::string_view body) {
  actors::order::cancel cmd;
  if (blank(body)) {
    return cmd;
  }
  json j = parse_object(body);
  object_reader r(j, "", {"reason"});
  cmd.reason = r.string("reason", false);
  if (characters(cmd.reason) > limits::reason_length) {
    bad_request("reason must be at most "
                + std::to_string(limits::reason_length) + " characters");
  }
  for (char c : cmd.reason) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      bad_request("reason must not contain control characters");
    }
  }
  return cmd;
}

payment_notice parse_payment_callback(std::string_view body) {
  json j = parse_object(body);
  object_reader r(j, "", {"txn_id", "order_id", "amount", "status"});
  payment_notice out;
  out.pay.txn_id = r.id("txn_id", true);
  out.order_id = r.id("order_id", true);
  out.pay.amount = r.integer("amount", 0, limits::amount);
  auto status = r.string("status", true);
  if (status != "SUCCESS" && status != "FAILED") {
    bad_request("status must be \"SUCCESS\" or \"FAILED\"");
  }
  out.pay.success = status == "SUCCESS";
  return out;
}

} // namespace ordo::gateway::detail
