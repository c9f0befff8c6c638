#include "runtime/faults.hpp"

#include <algorithm>
#include <charconv>
#include <csignal>
#include <cstring>
#include <limits>
#include <unistd.h>

namespace ordo::runtime {

namespace {

constexpr std::uint32_t max_delay_ms = 600'000;

constexpr unsigned bit(fault_action a) {
  return 1u << static_cast<unsigned>(a);
}

constexpr unsigned all_actions
  = bit(fault_action::crash) | bit(fault_action::error)
    | bit(fault_action::delay) | bit(fault_action::drop);

constexpr fault_action every_action[]
  = {fault_action::crash, fault_action::error, fault_action::delay,
     fault_action::drop};

std::optional<fault_action> action_of(std::string_view s) {
  for (auto a : every_action) {
    if (s == to_string(a)) {
      return a;
    }
  }
  return std::nullopt;
}

const fault_point* find_point(std::string_view name) {
  for (const auto& p : fault_points()) {
    if (name == p.name) {
      return &p;
    }
  }
  return nullptr;
}

std::string known_points() {
  std::string out;
  for (const auto& p : fault_points()) {
    out += (out.empty() ? "" : ", ") + std::string{p.name};
  }
  return out;
}

std::string actions_of(const fault_point& p) {
  std::string out;
  for (auto a : every_action) {
    if (p.supports(a)) {
      out += (out.empty() ? "" : ", ") + std::string{to_string(a)};
    }
  }
  return out;
}

bool fail(std::string* why, std::string message) {
  if (why != nullptr) {
    *why = std::move(message);
  }
  return false;
}

/// Checks every field of `r` against the point table and the ranges.
bool check(const fault_rule& r, std::string* why) {
  const auto* p = find_point(r.point);
  if (p == nullptr) {
    return fail(why, "unknown fault point '" + r.point
                       + "' (known: " + known_points() + ")");
  }
  if (!p->supports(r.action)) {
    return fail(why, "fault point " + r.point + " does not support "
                       + to_string(r.action) + " (it supports " + actions_of(*p)
                       + ")");
  }
  if (r.action == fault_action::delay) {
    if (r.delay_ms < 1 || r.delay_ms > max_delay_ms) {
      return fail(why, "fault " + r.point
                         + ": a delay needs a duration from 1 ms to "
                         + std::to_string(max_delay_ms / 1000) + " s");
    }
  } else if (r.delay_ms != 0) {
    return fail(why, "fault " + r.point + ": only delay takes a duration");
  }
  // Written so that NaN fails too.
  if (!(r.probability > 0.0 && r.probability <= 1.0)) {
    return fail(why,
                "fault " + r.point + ": the probability must be in (0, 1]");
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

/// Whole-string unsigned decimal; nullopt for anything else or overflow.
std::optional<std::uint64_t> digits(std::string_view s) {
  std::uint64_t v = 0;
  if (s.empty()) {
    return std::nullopt;
  }
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size()) {
    return std::nullopt;
  }
  return v;
}

/// "250ms" or "2s" in ms; nullopt otherwise (and above max_delay_ms).
std::optional<std::uint32_t> duration_ms(std::string_view s) {
  std::uint64_t scale = 1;
  if (s.size() > 2 && s.substr(s.size() - 2) == "ms") {
    s.remove_suffix(2);
  } else if (s.size() > 1 && s.back() == 's') {
    s.remove_suffix(1);
    scale = 1000;
  } else {
    return std::nullopt;
  }
  auto n = digits(s);
  if (!n || *n > max_delay_ms / scale || *n * scale < 1) {
    return std::nullopt;
  }
  return static_cast<std::uint32_t>(*n * scale);
}

/// One item of a spec: POINT=ACTION[:DURATION][@PROBABILITY][#COUNT].
bool parse_item(std::string_view item, fault_rule* r, std::string* why) {
  auto bad = [&](const std::string& what) {
    return fail(why, "fault '" + std::string{item} + "': " + what);
  };
  auto eq = item.find('=');
  if (eq == std::string_view::npos) {
    return bad("expected POINT=ACTION[:DURATION][@PROBABILITY][#COUNT]");
  }
  r->point = std::string{trim(item.substr(0, eq))};
  if (r->point.empty()) {
    return bad("no point before '='");
  }
  auto rest = item.substr(eq + 1);
  auto end = rest.find_first_of(":@#");
  auto action = trim(rest.substr(0, end));
  auto a = action_of(action);
  if (!a) {
    return bad("unknown action '" + std::string{action}
               + "' (crash, error, delay or drop)");
  }
  r->action = *a;
  rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
  // Each optional part in grammar order: marker, then text up to the next.
  auto part = [&rest](char marker,
                      const char* next) -> std::optional<std::string_view> {
    if (rest.empty() || rest.front() != marker) {
      return std::nullopt;
    }
    auto stop = rest.find_first_of(next, 1);
    auto text
      = rest.substr(1, stop == std::string_view::npos ? stop : stop - 1);
    rest
      = stop == std::string_view::npos ? std::string_view{} : rest.substr(stop);
    return text;
  };
  if (auto d = part(':', "@#")) {
    if (r->action != fault_action::delay) {
      return bad("only delay takes a duration");
    }
    auto ms = duration_ms(*d);
    if (!ms) {
      return bad("the duration '" + std::string{*d}
                 + "' must be like 250ms or 2s, from 1 ms to "
                 + std::to_string(max_delay_ms / 1000) + " s");
    }
    r->delay_ms = *ms;
  } else if (r->action == fault_action::delay) {
    return bad("delay needs a duration (delay:250ms)");
  }
  if (auto p = part('@', "#")) {
    double v = 0;
    auto [e, ec] = std::from_chars(p->data(), p->data() + p->size(), v);
    if (p->empty() || ec != std::errc{} || e != p->data() + p->size()
        || !(v > 0.0 && v <= 1.0)) {
      return bad("the probability '" + std::string{*p}
                 + "' must be a number in (0, 1]");
    }
    r->probability = v;
  }
  if (auto c = part('#', "")) {
    auto n = digits(*c);
    if (!n) {
      return bad("the count '" + std::string{*c}
                 + "' must be a whole number >= 0 (0 = unlimited)");
    }
    r->count = *n;
  }
  if (!rest.empty()) {
    return bad("unexpected '" + std::string{rest}
               + "' (the parts go :DURATION, then @PROBABILITY, then #COUNT)");
  }
  return check(*r, why);
}

} // namespace

const char* to_string(fault_action a) noexcept {
  switch (a) {
    case fault_action::crash: return "crash";
    case fault_action::error: return "error";
    case fault_action::delay: return "delay";
    case fault_action::drop: return "drop";
  }
  return "?";
}

const std::vector<fault_point>& fault_points() {
  static const std::vector<fault_point> points{
    {"store.before_commit",
     bit(fault_action::crash) | bit(fault_action::error)
       | bit(fault_action::delay),
     "storage commit thread, before a group commit is written"},
    {"store.after_commit", bit(fault_action::crash) | bit(fault_action::delay),
     "storage commit thread, after the WAL write, before the callbacks"},
    {"store.before_sync", bit(fault_action::crash) | bit(fault_action::delay),
     "storage syncer, before it fsyncs the WAL"},
    {"store.before_read",
     bit(fault_action::crash) | bit(fault_action::error)
       | bit(fault_action::delay),
     "where the node reads storage for a request (a GET, an existence "
     "check)"},
    {"store.disk_low", bit(fault_action::error),
     "storage commit thread, where the free-space guard looks at the disk"},
    {"gateway.before_reply", all_actions,
     "HTTP session, just before a reply is written"},
    {"relay.deliver", all_actions,
     "outbox relay, where a delivery is handed to its destination"},
    {"payment.call", all_actions,
     "payment adapter (HTTP provider, sandbox), each close or refund"},
    {"sms.call", all_actions, "SMS adapter (webhook, log sink), each sms"},
    {"cluster.forward", all_actions,
     "cluster mesh, where a request or message is sent to another node"},
    {"audit.before_orders", bit(fault_action::delay),
     "auditor, after reading the SKUs, coupons and affiliates, before the "
     "orders"},
  };
  return points;
}

// --- faults ------------------------------------------------------------------

faults::faults() : rng_(std::random_device{}()) {}

faults& faults::global() {
  // Never destroyed: points may fire on threads that outlive static
  // destruction.
  static auto* registry = new faults;
  return *registry;
}

bool faults::arm(const fault_rule& r, std::string* why) {
  if (!check(r, why)) {
    return false;
  }
  fault_rule armed = r;
  armed.fired = 0;
  std::lock_guard<std::mutex> guard{mu_};
  auto i = std::lower_bound(rules_.begin(), rules_.end(), armed.point,
                            [](const fault_rule& x, const std::string& p) {
                              return x.point < p;
                            });
  if (i != rules_.end() && i->point == armed.point) {
    *i = std::move(armed);
  } else {
    rules_.insert(i, std::move(armed));
  }
  armed_.store(static_cast<std::uint32_t>(rules_.size()),
               std::memory_order_relaxed);
  return true;
}

bool faults::clear(std::string_view point) {
  std::lock_guard<std::mutex> guard{mu_};
  auto i = std::find_if(rules_.begin(), rules_.end(), [&](const fault_rule& x) {
    return x.point == point;
  });
  if (i == rules_.end()) {
    return false;
  }
  rules_.erase(i);
  armed_.store(static_cast<std::uint32_t>(rules_.size()),
               std::memory_order_relaxed);
  return true;
}

void faults::clear_all() {
  std::lock_guard<std::mutex> guard{mu_};
  rules_.clear();
  armed_.store(0, std::memory_order_relaxed);
}

std::vector<fault_rule> faults::list() const {
  std::lock_guard<std::mutex> guard{mu_};
  return rules_;
}

void faults::seed(std::uint64_t s) {
  std::lock_guard<std::mutex> guard{mu_};
  rng_.seed(s);
}

std::optional<fault_effect> faults::draw(const char* point) {
  std::string_view name{point};
  std::lock_guard<std::mutex> guard{mu_};
  auto i = std::find_if(rules_.begin(), rules_.end(), [&](const fault_rule& x) {
    return x.point == name;
  });
  if (i == rules_.end()) {
    return std::nullopt;
  }
  if (i->probability < 1.0) {
    std::uniform_real_distribution<double> u{0.0, 1.0};
    if (!(u(rng_) < i->probability)) {
      return std::nullopt;
    }
  }
  ++i->fired;
  fault_effect e{i->action, i->delay_ms};
  if (i->count > 0 && --i->count == 0) {
    rules_.erase(i);
    armed_.store(static_cast<std::uint32_t>(rules_.size()),
                 std::memory_order_relaxed);
  }
  return e;
}

void faults::crash(const char* point) noexcept {
  // Only async-signal-safe calls: no stdio buffer is flushed.
  static constexpr char head[] = "ordo: injected crash at fault point ";
  auto ignored = ::write(STDERR_FILENO, head, sizeof head - 1);
  ignored = ::write(STDERR_FILENO, point, std::strlen(point));
  ignored = ::write(STDERR_FILENO, "\n", 1);
  static_cast<void>(ignored); // nothing to do if stderr is gone
  ::raise(SIGKILL);
  ::_exit(137); // not reached: SIGKILL cannot be caught
}

std::function<bool(const char* point)> storage_fault_hook() {
  return [](const char* point) {
    return fault_hit(point) == fault_action::error;
  };
}

// --- spec and JSON -----------------------------------------------------------

bool parse_fault_spec(std::string_view spec, std::vector<fault_rule>* out,
                      std::string* why) {
  std::vector<fault_rule> rules;
  if (!trim(spec).empty()) {
    for (;;) {
      auto comma = spec.find(',');
      auto item = trim(spec.substr(0, comma));
      if (item.empty()) {
        return fail(why, "fault spec: empty item (stray ',')");
      }
      fault_rule r;
      if (!parse_item(item, &r, why)) {
        return false;
      }
      for (const auto& seen : rules) {
        if (seen.point == r.point) {
          return fail(why, "fault spec: point " + r.point + " given twice");
        }
      }
      rules.push_back(std::move(r));
      if (comma == std::string_view::npos) {
        break;
      }
      spec.remove_prefix(comma + 1);
    }
  }
  if (out != nullptr) {
    out->insert(out->end(), rules.begin(), rules.end());
  }
  return true;
}

bool rule_from_json(const nlohmann::json& j, fault_rule* out,
                    std::string* why) {
  if (!j.is_object()) {
    return fail(why, "a fault rule must be a JSON object");
  }
  for (const auto& [key, value] : j.items()) {
    if (key != "point" && key != "action" && key != "delay_ms"
        && key != "probability" && key != "count" && key != "fired") {
      return fail(why, "fault rule: unknown field '" + key
                         + "' (point, action, delay_ms, probability, count)");
    }
  }
  fault_rule r;
  auto p = j.find("point");
  if (p == j.end() || !p->is_string()) {
    return fail(why, "fault rule: \"point\" must be a string");
  }
  r.point = p->get<std::string>();
  auto a = j.find("action");
  if (a == j.end() || !a->is_string()) {
    return fail(why, "fault rule: \"action\" must be a string");
  }
  auto action = action_of(a->get<std::string>());
  if (!action) {
    return fail(why, "fault rule: unknown action '" + a->get<std::string>()
                       + "' (crash, error, delay or drop)");
  }
  r.action = *action;
  auto whole = [](const nlohmann::json& v) -> std::optional<std::uint64_t> {
    if (v.is_number_unsigned()) {
      return v.get<std::uint64_t>();
    }
    if (v.is_number_integer() && v.get<std::int64_t>() >= 0) {
      return static_cast<std::uint64_t>(v.get<std::int64_t>());
    }
    return std::nullopt;
  };
  if (auto d = j.find("delay_ms"); d != j.end()) {
    if (r.action != fault_action::delay) {
      return fail(why, "fault rule: only delay takes delay_ms");
    }
    auto ms = whole(*d);
    if (!ms || *ms < 1 || *ms > max_delay_ms) {
      return fail(why, "fault rule: \"delay_ms\" must be a whole number from "
                       "1 to "
                         + std::to_string(max_delay_ms));
    }
    r.delay_ms = static_cast<std::uint32_t>(*ms);
  } else if (r.action == fault_action::delay) {
    return fail(why, "fault rule: delay needs \"delay_ms\"");
  }
  if (auto pr = j.find("probability"); pr != j.end()) {
    if (!pr->is_number()) {
      return fail(why,
                  "fault rule: \"probability\" must be a number in (0, 1]");
    }
    r.probability = pr->get<double>();
  }
  if (auto c = j.find("count"); c != j.end()) {
    auto n = whole(*c);
    if (!n) {
      return fail(why, "fault rule: \"count\" must be a whole number >= 0 "
                       "(0 = unlimited)");
    }
    r.count = *n;
  }
  if (!check(r, why)) {
    return false;
  }
  if (out != nullptr) {
    *out = std::move(r);
  }
  return true;
}

nlohmann::json rule_to_json(const fault_rule& r) {
  nlohmann::json j{{"point", r.point}, {"action", to_string(r.action)}};
  if (r.action == fault_action::delay) {
    j["delay_ms"] = r.delay_ms;
  }
  j["probability"] = r.probability;
  j["count"] = r.count;
  j["fired"] = r.fired;
  return j;
}

// --- fault_delayer -----------------------------------------------------------

fault_delayer::~fault_delayer() {
  stop();
}

void fault_delayer::after(std::uint32_t ms, std::function<void()> fn) {
  std::unique_lock<std::mutex> lock{mu_};
  if (stopped_) {
    lock.unlock();
    fn = nullptr; // destroyed unrun, outside the lock
    return;
  }
  heap_.push_back(
    {std::chrono::steady_clock::now() + std::chrono::milliseconds{ms}, next_++,
     std::move(fn)});
  std::push_heap(heap_.begin(), heap_.end(), later{});
  if (!thread_.joinable()) {
    thread_ = std::thread{[this] {
      run();
    }};
  }
  cv_.notify_one();
}

void fault_delayer::stop() {
  std::vector<item> dropped;
  std::thread thread;
  {
    std::lock_guard<std::mutex> guard{mu_};
    stopped_ = true;
    dropped.swap(heap_);
    thread = std::move(thread_);
  }
  cv_.notify_all();
  if (thread.joinable()) {
    thread.join();
  }
  // `dropped` goes here, outside the lock: its functions' captures may
  // answer somebody as they are destroyed.
}

void fault_delayer::run() {
  std::unique_lock<std::mutex> lock{mu_};
  while (!stopped_) {
    if (heap_.empty()) {
      cv_.wait(lock);
      continue;
    }
    if (heap_.front().due > std::chrono::steady_clock::now()) {
      cv_.wait_until(lock, heap_.front().due);
      continue;
    }
    std::pop_heap(heap_.begin(), heap_.end(), later{});
    auto fn = std::move(heap_.back().fn);
    heap_.pop_back();
    lock.unlock();
    fn();
    fn = nullptr;
    lock.lock();
  }
}

} // namespace ordo::runtime
