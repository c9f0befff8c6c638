#include "actors/limiter.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "actors/detail/support.hpp"

namespace ordo::actors::limiter {

namespace {

using detail::config_of;
using detail::get_string;
using nlohmann::json;

/// 64-bit FNV-1a over the bytes of `user_id`, then of `now` and `issued`
/// (little-endian): the seed of the next challenge, the same on every node.
std::uint64_t challenge_seed(const std::string& user_id, millis now,
                             std::uint64_t issued) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  auto byte = [&h](std::uint8_t b) {
    h ^= b;
    h *= 0x100000001b3ull;
  };
  for (char c : user_id) {
    byte(static_cast<std::uint8_t>(c));
  }
  auto word = [&byte](std::uint64_t w) {
    for (int i = 0; i < 8; ++i) {
      byte(static_cast<std::uint8_t>(w >> (8 * i)));
    }
  };
  word(static_cast<std::uint64_t>(now));
  word(issued);
  return h;
}

/// The low 32 bits of `x` as 8 lowercase hex digits.
std::string hex32(std::uint64_t x) {
  static const char digits[] = "0123456789abcdef";
  std::string out(8, '0');
  for (int i = 7; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = digits[x & 0xf];
    x >>= 4;
  }
  return out;
}

const captcha::verifier& verifier_of(const config& cfg) {
  return cfg.verifier != nullptr ? *cfg.verifier : captcha::arithmetic();
}

bool expired(const captcha::challenge& c, const config& cfg, millis now) {
  return cfg.challenge_ttl > 0 && now - c.issued_at >= cfg.challenge_ttl;
}

/// The index of the first admission still inside the window at `now`
/// (those before it are stale).
std::size_t first_live(const state& s, const config& cfg, millis now) {
  auto horizon = now - std::max<millis>(cfg.window, 0);
  std::size_t i = 0;
  while (i < s.admitted.size() && s.admitted[i].at <= horizon) {
    ++i;
  }
  return i;
}

} // namespace

std::optional<millis> over_rate(const std::vector<millis>& recent,
                                const config& cfg, millis now) {
  if (cfg.max_orders == 0) {
    return std::nullopt;
  }
  auto horizon = now - std::max<millis>(cfg.window, 0);
  std::size_t live = 0;
  auto oldest = std::numeric_limits<millis>::max();
  for (auto at : recent) {
    if (at > horizon) {
      ++live;
      oldest = std::min(oldest, at);
    }
  }
  if (live < cfg.max_orders) {
    return std::nullopt;
  }
  return std::max<millis>(1, oldest + std::max<millis>(cfg.window, 0) - now);
}

error rate_limited(const config& cfg, millis retry) {
  return error{errc::rate_limited,
               "at most " + std::to_string(cfg.max_orders) + " orders per "
                 + std::to_string(cfg.window) + " ms; retry in "
                 + std::to_string(retry) + " ms"};
}

namespace {

/// What the user is shown: never the expected answer.
json challenge_reply(const captcha::challenge& c) {
  return json{{"challenge", {{"id", c.id}, {"question", c.question}}}};
}

struct handler {
  state& s;
  const context& ctx;

  /// Records a state change (see detail::record), dropping the admissions
  /// before `live` that fell out of the window.
  void commit(outcome& o, std::string event, std::size_t live) {
    s.admitted.erase(s.admitted.begin(),
                     s.admitted.begin() + static_cast<std::ptrdiff_t>(live));
    detail::record(s, o, std::move(event), ctx.now,
                   std::string{kind} + "/" + s.user_id);
  }

  /// Opens a new challenge, replacing any open one.
  const captcha::challenge& issue(const config& cfg, outcome& o) {
    auto seed = challenge_seed(s.user_id, ctx.now, s.issued);
    ++s.issued;
    auto c = verifier_of(cfg).issue(seed);
    c.id = "ch" + std::to_string(s.issued) + "-" + hex32(seed);
    c.issued_at = ctx.now;
    s.challenge = std::move(c);
    o.signals.emplace_back("captcha_issued");
    return *s.challenge;
  }

  outcome operator()(const admit& a) {
    const auto& cfg = config_of(ctx);
    outcome o;
    auto streak = static_cast<std::uint64_t>(
      std::count_if(a.cancel_run.begin(), a.cancel_run.end(), [this](millis t) {
        return t > s.solved_at;
      }));
    o.cause = "admit order=" + a.order_id + " streak=" + std::to_string(streak);
    if (a.order_id.empty()) {
      o.err = error{errc::bad_request, "admit needs an order_id"};
      return o;
    }
    auto live = first_live(s, cfg, ctx.now);
    bool repeat
      = std::any_of(s.admitted.begin() + static_cast<std::ptrdiff_t>(live),
                    s.admitted.end(), [&a](const admission& x) {
                      return x.order_id == a.order_id;
                    });
    if (repeat) {
      o.result = "admitted";
      return o; // a retry of the same create counts once
    }
    if (cfg.max_orders > 0 && s.admitted.size() - live >= cfg.max_orders) {
      auto retry = std::max<millis>(
        1, s.admitted[live].at + std::max<millis>(cfg.window, 0) - ctx.now);
      o.err = rate_limited(cfg, retry);
      o.reply = json{{"retry_after_ms", retry}};
      o.signals.emplace_back("order_rate_limited");
      o.cause += " (rate limited)";
      return o;
    }
    std::string event = "admitted";
    if (cfg.captcha_after > 0 && streak >= cfg.captcha_after) {
      bool open
        = s.challenge.has_value() && !expired(*s.challenge, cfg, ctx.now);
      if (a.captcha) {
        bool known = open && a.captcha->id == s.challenge->id;
        if (!known || !verifier_of(cfg).verify(*s.challenge, a.captcha->text)) {
          o.err = error{errc::captcha_required,
                        known ? "wrong captcha answer; solve the new challenge"
                              : "unknown or expired captcha challenge; solve "
                                "the new challenge"};
          o.reply = challenge_reply(issue(cfg, o));
          o.signals.emplace_back("captcha_failed");
          o.cause += " (captcha failed)";
          commit(o, "challenge_issued", live);
          return o;
        }
        s.solved_at = ctx.now;
        s.challenge.reset();
        o.signals.emplace_back("captcha_solved");
        event = "captcha_solved_admitted";
      } else {
        o.err = error{errc::captcha_required,
                      "after " + std::to_string(streak)
                        + " consecutive cancellations the next order needs "
                          "a solved captcha"};
        o.cause += " (captcha required)";
        if (open) {
          o.reply = challenge_reply(*s.challenge);
          return o; // shown again, nothing changes
        }
        o.reply = challenge_reply(issue(cfg, o));
        commit(o, "challenge_issued", live);
        return o;
      }
    }
    bool changed = event != "admitted";
    if (s.challenge) {
      s.challenge.reset(); // the run was broken: the question is moot
      changed = true;
    }
    if (cfg.max_orders > 0) {
      // In time order even if the clock stepped back since the last one.
      auto at = std::upper_bound(s.admitted.begin(), s.admitted.end(), ctx.now,
                                 [](millis t, const admission& x) {
                                   return t < x.at;
                                 });
      s.admitted.insert(at, admission{ctx.now, a.order_id});
      changed = true;
    }
    o.result = "admitted";
    if (changed) {
      commit(o, std::move(event), live);
    }
    return o;
  }

  outcome operator()(const withdraw& w) {
    outcome o;
    o.cause = "withdraw order=" + w.order_id;
    o.result = "withdrawn";
    auto i = std::find_if(s.admitted.begin(), s.admitted.end(),
                          [&w](const admission& x) {
                            return x.order_id == w.order_id;
                          });
    if (i == s.admitted.end()) {
      return o;
    }
    s.admitted.erase(i);
    commit(o, "withdrawn", first_live(s, config_of(ctx), ctx.now));
    return o;
  }
};

} // namespace

bool refused_outright(errc code) noexcept {
  return code == errc::bad_request || code == errc::not_found
         || code == errc::insufficient_stock
         || code == errc::coupon_unavailable;
}

outcome handle(state& s, const input& in, const context& ctx) {
  return std::visit(handler{s, ctx}, in);
}

result<input> decode(const envelope& msg) {
  if (auto in = decode_one_of<input, admit, withdraw>(kind, msg)) {
    return std::move(*in);
  }
  return detail::malformed(kind, msg, "unknown message type");
}

const char* answer::invalid() const {
  return id.empty() ? "'captcha' needs string 'id' and 'answer'" : nullptr;
}

const char* admit::invalid() const {
  return order_id.empty() ? "missing 'order_id'" : nullptr;
}

const char* withdraw::invalid() const {
  return order_id.empty() ? "missing 'order_id'" : nullptr;
}

// Stored form:
//   {"user","v","updated","adm":[{"at","order"}...],"solved",
//    "ch":{"id","q","exp","at"} | null,"issued"}
// "adm" oldest first; "ch" keeps the expected answer ("exp"), which only the
// state ever holds.
std::vector<millis> cancel_run(const std::vector<recent_order>& newest_first,
                               std::size_t max) {
  std::vector<millis> run;
  for (const auto& o : newest_first) {
    if (run.size() == max || o.st != order::status::cancelled
        || o.cancel_reason == "timeout") {
      break; // a timeout is no user cancel
    }
    run.push_back(o.created_at);
  }
  return run;
}

void to_json(nlohmann::json& j, const state& s) {
  json adm = json::array();
  for (const auto& a : s.admitted) {
    adm.push_back(json{{"at", a.at}, {"order", a.order_id}});
  }
  json ch;
  if (s.challenge) {
    ch = json{{"id", s.challenge->id},
              {"q", s.challenge->question},
              {"exp", s.challenge->expected},
              {"at", s.challenge->issued_at}};
  }
  j = json{{"user", s.user_id},       {"v", s.version},
           {"updated", s.updated_at}, {"adm", std::move(adm)},
           {"solved", s.solved_at},   {"ch", std::move(ch)},
           {"issued", s.issued}};
}

void from_json(const nlohmann::json& j, state& s) {
  state r;
  r.user_id = j.value("user", std::string{});
  r.version = j.value("v", std::uint64_t{0});
  r.updated_at = j.value("updated", millis{0});
  if (auto i = j.find("adm"); i != j.end() && i->is_array()) {
    for (const auto& x : *i) {
      if (x.is_object()) {
        r.admitted.push_back(
          admission{x.value("at", millis{0}), x.value("order", std::string{})});
      }
    }
  }
  r.solved_at = j.value("solved", millis{0});
  if (auto i = j.find("ch"); i != j.end() && i->is_object()) {
    captcha::challenge c;
    c.id = i->value("id", std::string{});
    c.question = i->value("q", std::string{});
    c.expected = i->value("exp", std::string{});
    c.issued_at = i->value("at", millis{0});
    r.challenge = std::move(c);
  }
  r.issued = j.value("issued", std::uint64_t{0});
  s = std::move(r);
}

} // namespace ordo::actors::limiter
