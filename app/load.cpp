#include "app/load.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <ostream>
#include <random>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <nlohmann/json.hpp>

#include "gateway/detail/crypto.hpp"
#include "runtime/detail/http_post.hpp"

namespace ordo::app {

std::optional<load_workload> parse_workload(std::string_view text) noexcept {
  if (text == "steady") {
    return load_workload::steady;
  }
  if (text == "flash-cancel") {
    return load_workload::flash_cancel;
  }
  if (text == "race") {
    return load_workload::race;
  }
  if (text == "hot-sku") {
    return load_workload::hot_sku;
  }
  return std::nullopt;
}

const char* to_string(load_workload w) noexcept {
  switch (w) {
    case load_workload::steady: return "steady";
    case load_workload::flash_cancel: return "flash-cancel";
    case load_workload::race: return "race";
    case load_workload::hot_sku: return "hot-sku";
  }
  return "?";
}

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using nlohmann::json;
using ojson = nlohmann::ordered_json;
using clock_type = std::chrono::steady_clock;
using time_point = clock_type::time_point;

/// Stock of every load SKU: far more than any run sells.
constexpr std::int64_t sku_stock = 1'000'000'000;
/// Price of every load SKU, cents.
constexpr std::int64_t sku_price = 100;
/// Share of flash-cancel flows whose payment races the cancel.
constexpr double flash_pay_share = 0.3;
/// One request's limit (connect, write, read); beyond it the answer is lost.
constexpr std::chrono::seconds request_timeout{10};
/// How long the check waits for the node's outbox to drain.
constexpr std::chrono::seconds settle_limit{30};
/// How long the check re-reads orders whose refund is still pending.
constexpr std::chrono::seconds refund_limit{10};
/// Violations printed (and kept in the JSON) by the check.
constexpr std::size_t max_examples = 20;

std::int64_t micros(clock_type::duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

double seconds(clock_type::duration d) {
  return std::chrono::duration<double>(d).count();
}

/// `x` rounded to `digits` decimals (for JSON that people read).
double rounded(double x, int digits) {
  double scale = std::pow(10.0, digits);
  return std::round(x * scale) / scale;
}

// --- latency histogram -----------------------------------------------------

/// Latencies in microseconds, log-bucketed like HdrHistogram: exact below
/// 128 µs, then 64 linear sub-buckets per power of two (at most 1.6% off).
/// Confined to the I/O thread.
class histogram {
public:
  void record(std::int64_t us) {
    auto v = static_cast<std::uint64_t>(std::max<std::int64_t>(us, 0));
    auto i = index(v);
    if (i >= counts_.size()) {
      counts_.resize(i + 1, 0);
    }
    ++counts_[i];
    ++total_;
    sum_ += v;
    max_ = std::max(max_, v);
  }

  std::uint64_t count() const {
    return total_;
  }

  /// The value at quantile `q` in (0, 1]: the middle of its bucket (never
  /// above the largest value recorded); 0 when empty.
  std::uint64_t quantile(double q) const {
    if (total_ == 0) {
      return 0;
    }
    auto rank
      = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total_)));
    rank = std::clamp<std::uint64_t>(rank, 1, total_);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        return std::min(lower(i) + (width(i) - 1) / 2, max_);
      }
    }
    return max_;
  }

  std::uint64_t max() const {
    return max_;
  }

  double mean() const {
    return total_ == 0
             ? 0.0
             : static_cast<double>(sum_) / static_cast<double>(total_);
  }

private:
  static std::size_t index(std::uint64_t v) {
    if (v < 128) {
      return static_cast<std::size_t>(v);
    }
    unsigned msb = 63 - static_cast<unsigned>(__builtin_clzll(v)); // >= 7
    unsigned shift = msb - 6;                                      // >= 1
    auto sub = v >> shift; // in [64, 128)
    return 128 + (shift - 1) * 64 + static_cast<std::size_t>(sub - 64);
  }
  static std::uint64_t lower(std::size_t i) {
    if (i < 128) {
      return i;
    }
    auto shift = (i - 128) / 64 + 1;
    return static_cast<std::uint64_t>((i - 128) % 64 + 64) << shift;
  }
  static std::uint64_t width(std::size_t i) {
    return i < 128 ? 1 : std::uint64_t{1} << ((i - 128) / 64 + 1);
  }

  std::vector<std::uint64_t> counts_;
  std::uint64_t total_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t max_ = 0;
};

// --- the wire --------------------------------------------------------------

/// One request's answer, or why there was none.
struct reply {
  /// The HTTP status; 0 when no answer came (see `failure`).
  unsigned status = 0;
  /// Why no answer came ("timeout", "Connection refused", ...).
  std::string failure;
  std::string body;
  time_point sent;
  time_point done;
};

using reply_fn = std::function<void(reply&)>;

/// One keep-alive HTTP/1.1 connection, one request at a time; it connects
/// on first use and again after an error or a `Connection: close`. A
/// request on a connection that sat idle, failing as if the server had
/// closed it meanwhile (its idle timeout), is sent once more on a fresh
/// one: the check reads orders on connections idle since the run began.
/// Every request the generator sends may repeat (idempotency keys, the
/// provider's payment ids, cancels and reads).
/// Confined to the I/O thread; must outlive its pending request.
class connection {
public:
  connection(asio::io_context& ioc, const tcp::resolver::results_type& where)
    : where_(where), stream_(ioc) {}

  /// Sends `wire` (a complete request) and calls `done` with its answer.
  /// Precondition: no request of this connection is in flight.
  void send(std::string wire, reply_fn done) {
    wire_ = std::move(wire);
    done_ = std::move(done);
    reply_ = reply{};
    reply_.sent = clock_type::now();
    reused_ = open_;
    if (open_) {
      write();
      return;
    }
    connect();
  }

private:
  void connect() {
    stream_.expires_after(request_timeout);
    stream_.async_connect(
      where_, [this](beast::error_code ec, const tcp::endpoint&) {
        if (ec) {
          return fail(ec);
        }
        beast::error_code ignored;
        stream_.socket().set_option(tcp::no_delay(true), ignored);
        open_ = true;
        write();
      });
  }

  void write() {
    stream_.expires_after(request_timeout);
    asio::async_write(stream_, asio::buffer(wire_),
                      [this](beast::error_code ec, std::size_t) {
                        if (ec) {
                          return fail(ec);
                        }
                        read();
                      });
  }

  void read() {
    parser_.emplace();
    parser_->body_limit(boost::none); // the check reads long lists
    http::async_read(stream_, buffer_, *parser_,
                     [this](beast::error_code ec, std::size_t) {
                       if (ec) {
                         return fail(ec);
                       }
                       auto& msg = parser_->get();
                       reply_.status = msg.result_int();
                       reply_.body = std::move(msg.body());
                       if (!msg.keep_alive()) {
                         close();
                       }
                       finish();
                     });
  }

  void fail(beast::error_code ec) {
    close();
    if (reused_ && runtime::detail::closed_by_peer(ec)) {
      reused_ = false;
      connect();
      return;
    }
    reply_.failure = ec == beast::error::timeout ? "timeout" : ec.message();
    finish();
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
    buffer_.clear();
    open_ = false;
  }

  void finish() {
    reply_.done = clock_type::now();
    auto r = std::move(reply_);
    auto done = std::move(done_);
    done_ = nullptr;
    done(r); // may send the next request on this connection
  }

  const tcp::resolver::results_type& where_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
  std::string wire_;
  reply_fn done_;
  reply reply_;
  bool open_ = false;
  /// The request went out on a connection opened for an earlier one.
  bool reused_ = false;
};

/// A request as bytes. `headers` are complete lines ("Name: value\r\n").
std::string make_request(std::string_view method, std::string_view target,
                         const std::string& host, std::string_view headers,
                         std::string_view body) {
  std::string s;
  s.reserve(128 + headers.size() + body.size());
  s.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: ");
  s.append(host).append("\r\n").append(headers);
  if (!body.empty()) {
    s.append("Content-Type: application/json\r\n");
  }
  s.append("Content-Length: ").append(std::to_string(body.size()));
  s.append("\r\n\r\n").append(body);
  return s;
}

/// The value of the first `"name":` in `body` (the gateway's compact JSON)
/// when it is a string without escapes.
std::optional<std::string> string_field(std::string_view body,
                                        std::string_view name) {
  std::string key = "\"" + std::string{name} + "\":";
  auto at = body.find(key);
  if (at == std::string_view::npos) {
    return std::nullopt;
  }
  auto i = at + key.size();
  while (i < body.size() && body[i] == ' ') {
    ++i;
  }
  if (i >= body.size() || body[i] != '"') {
    return std::nullopt;
  }
  auto end = body.find('"', i + 1);
  if (end == std::string_view::npos) {
    return std::nullopt;
  }
  auto value = body.substr(i + 1, end - i - 1);
  if (value.find('\\') != std::string_view::npos) {
    return std::nullopt;
  }
  return std::string{value};
}

/// The value of the first `"name":` in `body` when it is an integer.
std::optional<std::int64_t> int_field(std::string_view body,
                                      std::string_view name) {
  std::string key = "\"" + std::string{name} + "\":";
  auto at = body.find(key);
  if (at == std::string_view::npos) {
    return std::nullopt;
  }
  auto i = at + key.size();
  while (i < body.size() && body[i] == ' ') {
    ++i;
  }
  bool neg = i < body.size() && body[i] == '-';
  i += neg ? 1 : 0;
  if (i >= body.size() || body[i] < '0' || body[i] > '9') {
    return std::nullopt;
  }
  std::int64_t v = 0;
  for (; i < body.size() && body[i] >= '0' && body[i] <= '9'; ++i) {
    v = v * 10 + (body[i] - '0');
  }
  return neg ? -v : v;
}

/// "STATUS CODE" of an error answer ("409 insufficient_stock"), or
/// "net WHY" when none came.
std::string error_kind(const reply& r) {
  if (r.status == 0) {
    return "net " + r.failure;
  }
  auto code = string_field(r.body, "error");
  return std::to_string(r.status) + (code ? " " + *code : "");
}

// --- what the client was told ----------------------------------------------

/// What one request of a flow was answered, as the check reads it.
enum class answer : std::uint8_t {
  none,         ///< not sent
  captured,     ///< payment: 200 "captured"
  refunded,     ///< payment: 200 "refunded"
  duplicate,    ///< payment: 200 "duplicate"
  cancelled,    ///< cancel: 200 with the order CANCELLED
  already_paid, ///< cancel: 409 already_paid
  other,        ///< a definite answer that is none of the above
  unknown,      ///< no answer, or a 5xx: it may or may not have landed
};

const char* to_string(answer a) {
  switch (a) {
    case answer::none: return "none";
    case answer::captured: return "captured";
    case answer::refunded: return "refunded";
    case answer::duplicate: return "duplicate";
    case answer::cancelled: return "cancelled";
    case answer::already_paid: return "already_paid";
    case answer::other: return "other";
    case answer::unknown: return "unknown";
  }
  return "?";
}

answer payment_answer(const reply& r) {
  if (r.status == 0 || r.status >= 500) {
    return answer::unknown;
  }
  if (r.status != 200) {
    return answer::other;
  }
  auto result = string_field(r.body, "result");
  if (result == "captured") {
    return answer::captured;
  }
  if (result == "refunded") {
    return answer::refunded;
  }
  if (result == "duplicate") {
    return answer::duplicate;
  }
  return answer::other;
}

answer cancel_answer(const reply& r) {
  if (r.status == 0 || r.status >= 500) {
    return answer::unknown;
  }
  if (r.status == 200) {
    return string_field(r.body, "status") == "CANCELLED" ? answer::cancelled
                                                         : answer::other;
  }
  if (r.status == 409 && string_field(r.body, "error") == "already_paid") {
    return answer::already_paid;
  }
  return answer::other;
}

/// One order of the run and what its flow was told.
struct order_record {
  enum class created : std::uint8_t { pending, yes, refused, unknown };

  std::uint64_t n = 0;   ///< user id and key: load-<run>-<n>
  std::uint32_t sku = 0; ///< load-<sku>
  created create = created::pending;
  bool create_retried = false; ///< by the check, to learn a lost answer
  std::string order_id;
  std::int64_t payable = 0;
  answer pay = answer::none;    ///< the payment callback
  answer retry = answer::none;  ///< race: the provider's retry of it
  answer cancel = answer::none; ///< the cancel
};

// --- statistics --------------------------------------------------------------

enum op : std::size_t { op_create, op_pay, op_cancel, op_flow, op_count };
constexpr std::array<const char*, op_count> op_names{"create", "pay", "cancel",
                                                     "flow"};

/// One operation's figures over the measured window.
struct op_stats {
  histogram latency;        ///< answered requests (or finished flows)
  std::uint64_t count = 0;  ///< finished, errors included
  std::uint64_t errors = 0; ///< see error_kinds
  std::map<std::string, std::uint64_t> error_kinds;
  std::map<std::string, std::uint64_t> outcomes;
};

// --- the check's verdict -----------------------------------------------------

struct check_result {
  bool ran = false;
  bool settled = false;
  std::int64_t backlog = -1; ///< the outbox backlog at the last poll
  std::uint64_t orders = 0;
  std::uint64_t paid = 0;
  std::uint64_t cancelled = 0;
  std::uint64_t pending = 0;
  std::uint64_t refunds = 0;
  std::uint64_t closes = 0;
  std::uint64_t retried_creates = 0;
  std::size_t skus = 0;
  std::map<std::string, std::uint64_t> violations;
  std::vector<std::string> examples;

  bool passed() const {
    return ran && violations.empty();
  }

  void violate(const std::string& rule, const std::string& detail) {
    ++violations[rule];
    if (examples.size() < max_examples) {
      examples.push_back(rule + ": " + detail);
    }
  }
};

/// What the check keeps of one order it read back.
struct order_view {
  bool read = false;    ///< false: unreadable (already a violation)
  std::string status;   ///< as read
  int refunds_owed = 0; ///< its payments REFUNDED or REFUND_PENDING
};

/// A SKU's counters as GET /v1/skus/{sku} shows them.
struct sku_counts {
  std::int64_t stocked = 0;
  std::int64_t available = 0;
  std::int64_t reserved = 0;
  std::int64_t sold = 0;
};

std::optional<sku_counts> parse_sku(const std::string& body) {
  auto j = json::parse(body, nullptr, false);
  if (!j.is_object()) {
    return std::nullopt;
  }
  try {
    return sku_counts{j.at("stocked").get<std::int64_t>(),
                      j.at("available").get<std::int64_t>(),
                      j.at("reserved").get<std::int64_t>(),
                      j.at("sold").get<std::int64_t>()};
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

/// Judges one order read back (`order`, GET /v1/orders/{id}) against what
/// its flow was told; records violations in `out` and returns its status.
std::string judge_order(const order_record& rec, const json& order,
                        check_result& out) {
  const auto& id = rec.order_id;
  auto status = order.value("status", "");
  auto reason
    = order.contains("cancel_reason") && order["cancel_reason"].is_string()
        ? order["cancel_reason"].get<std::string>()
        : std::string{};
  auto told = [&] {
    return std::string{" (pay "} + to_string(rec.pay) + ", retry "
           + to_string(rec.retry) + ", cancel " + to_string(rec.cancel)
           + ", status " + status + ")";
  };
  auto any_pay = [&](answer a) {
    return rec.pay == a || rec.retry == a;
  };
  bool captured = any_pay(answer::captured);
  bool refunded = any_pay(answer::refunded);
  bool pay_maybe = captured || any_pay(answer::unknown);
  bool cancel_maybe
    = rec.cancel == answer::cancelled || rec.cancel == answer::unknown;

  if (captured && rec.cancel == answer::cancelled) {
    out.violate("captured_and_cancelled", id + told());
  }
  if (captured && status != "PAID") {
    out.violate("captured_not_paid", id + told());
  }
  if (rec.cancel == answer::cancelled && status != "CANCELLED") {
    out.violate("cancelled_not_cancelled", id + told());
  }
  if (refunded && status != "CANCELLED") {
    out.violate("refunded_not_cancelled", id + told());
  }
  if (rec.cancel == answer::already_paid && status != "PAID") {
    out.violate("already_paid_not_paid", id + told());
  }
  if (rec.retry != answer::none && rec.retry != answer::duplicate
      && rec.retry != answer::unknown
      && (rec.pay == answer::captured || rec.pay == answer::refunded)) {
    out.violate("retry_not_duplicate", id + told());
  }
  if (status == "PAID") {
    if (!pay_maybe) {
      out.violate("paid_unexplained", id + told());
    }
  } else if (status == "CANCELLED") {
    if (!cancel_maybe && reason != "timeout") {
      out.violate("cancel_unexplained", id + told());
    }
  } else if (status == "PENDING_PAYMENT") {
    if (captured || refunded || rec.cancel == answer::cancelled
        || rec.cancel == answer::already_paid) {
      out.violate("pending_unexplained", id + told());
    }
  } else {
    out.violate("status_unexplained", id + told());
  }

  // The order's own record of payments: the one txn of the flow.
  std::map<std::string, int> by_status;
  auto payments
    = order.contains("payments") ? order["payments"] : json::array();
  for (const auto& p : payments) {
    if (p.value("txn_id", "") != "t-" + id
        || p.value("amount", std::int64_t{-1}) != rec.payable) {
      out.violate("payment_record", id + " holds " + p.dump());
    }
    ++by_status[p.value("status", "")];
  }
  if (status == "PAID"
      && (payments.size() != 1 || by_status["CAPTURED"] != 1)) {
    out.violate("payment_record",
                id + " is PAID with payments " + payments.dump());
  }
  if (refunded && by_status["REFUNDED"] + by_status["REFUND_PENDING"] != 1) {
    out.violate("payment_record",
                id + " was answered refunded, payments " + payments.dump());
  }
  if (status == "PENDING_PAYMENT" && !payments.empty()) {
    out.violate("payment_record",
                id + " is pending with payments " + payments.dump());
  }
  return status;
}

/// Whether `order` still waits for its refund to be confirmed.
bool refund_pending(const json& order) {
  if (!order.contains("payments") || !order["payments"].is_array()) {
    return false;
  }
  for (const auto& p : order["payments"]) {
    if (p.value("status", "") == "REFUND_PENDING") {
      return true;
    }
  }
  return false;
}

/// Refunds the order's payments say are owed (REFUNDED or REFUND_PENDING).
int refunds_owed(const json& order) {
  int n = 0;
  if (order.contains("payments") && order["payments"].is_array()) {
    for (const auto& p : order["payments"]) {
      auto s = p.value("status", "");
      n += s == "REFUNDED" || s == "REFUND_PENDING" ? 1 : 0;
    }
  }
  return n;
}

// --- the generator -----------------------------------------------------------

/// Runs one `ordo load`. Confined to the thread that calls run().
class generator {
public:
  generator(const load_options& opts, std::ostream& out, std::ostream& err)
    : opts_(opts), out_(out), err_(err),
      host_header_((opts.host.find(':') != std::string::npos
                      ? "[" + opts.host + "]"
                      : opts.host)
                   + ":" + std::to_string(opts.port)) {
    std::random_device rd;
    rng_.seed(opts.seed != 0 ? opts.seed : (std::uint64_t{rd()} << 32) | rd());
    char run[16];
    std::snprintf(run, sizeof run, "%08x", rd());
    run_ = run;
    if (opts_.workload == load_workload::hot_sku) {
      opts_.skus = 1;
    }
    live_ = ::isatty(STDERR_FILENO) == 1;
  }

  int run() {
    std::ofstream json_out;
    if (!opts_.json_file.empty()) {
      json_out.open(opts_.json_file, std::ios::trunc);
      if (!json_out) {
        err_ << "ordo load: --json: cannot write " << opts_.json_file << "\n";
        return 2;
      }
    }
    if (!setup()) {
      return 1;
    }
    load();
    check_result verdict;
    if (opts_.check) {
      verdict = check();
    }
    print_summary(verdict);
    if (json_out.is_open()) {
      json_out << summary_json(verdict).dump(2) << "\n";
      json_out.close();
      if (!json_out) {
        err_ << "ordo load: --json: cannot write " << opts_.json_file << "\n";
        return 2;
      }
    }
    return !opts_.check || verdict.passed() ? 0 : 1;
  }

private:
  /// One flow runner: its connections and the flow it runs now.
  struct runner {
    runner(asio::io_context& ioc, const tcp::resolver::results_type& where)
      : main(ioc, where), side(ioc, where), timer(ioc) {}

    connection main;
    connection side; ///< the second request of a race
    asio::steady_timer timer;
    // The current flow.
    order_record* rec = nullptr;
    time_point due;      ///< when it was due (open loop) or started
    time_point next_due; ///< open loop: when the next one is due
    bool counted = false;
    bool failed = false;
    std::string first_error;
    int pending = 0; ///< branches still running
    bool plan_pay = false;
  };

  std::string user(const order_record& rec) const {
    return "load-" + run_ + "-" + std::to_string(rec.n);
  }
  static std::string sku_name(std::size_t k) {
    return "load-" + std::to_string(k);
  }
  std::string request(std::string_view method, std::string_view target,
                      std::string_view headers = {},
                      std::string_view body = {}) const {
    return make_request(method, target, host_header_, headers, body);
  }
  std::string admin_headers() const {
    return "Authorization: Bearer " + opts_.admin_token + "\r\n";
  }
  std::string create_request(const order_record& rec) const {
    auto u = user(rec);
    auto body = R"({"user_id":")" + u + R"(","items":[{"sku":")"
                + sku_name(rec.sku) + R"(","quantity":1}]})";
    return request("POST", "/v1/orders", "Idempotency-Key: " + u + "\r\n",
                   body);
  }
  std::string payment_request(const std::string& order_id,
                              std::int64_t amount) const {
    auto body = R"({"txn_id":"t-)" + order_id + R"(","order_id":")" + order_id
                + R"(","amount":)" + std::to_string(amount)
                + R"(,"status":"SUCCESS"})";
    return request(
      "POST", "/v1/payments/callback",
      "X-Ordo-Signature: "
        + gateway::detail::payment_signature(opts_.payment_secret, body)
        + "\r\n",
      body);
  }

  // --- setup -----------------------------------------------------------------

  /// Resolves the node, puts the SKUs, reads their baseline and probes the
  /// payment secret; prints why not and returns false when it cannot.
  bool setup() {
    struct rlimit lim {};
    if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
      lim.rlim_cur = lim.rlim_max; // up to 2 sockets a runner
      // Best effort: without it, sockets beyond the limit fail to connect
      // and show up as "net" errors.
      static_cast<void>(::setrlimit(RLIMIT_NOFILE, &lim));
    }
    try {
      tcp::resolver resolver{ioc_};
      where_ = resolver.resolve(opts_.host, std::to_string(opts_.port));
    } catch (const std::exception& e) {
      err_ << "ordo load: cannot resolve " << opts_.host << ": " << e.what()
           << "\n";
      return false;
    }
    auto pool = std::min<std::size_t>(opts_.connections, 32);
    for (std::size_t i = 0; i < pool; ++i) {
      pool_.push_back(std::make_unique<connection>(ioc_, where_));
    }
    auto fails = [&](const std::string& what, const reply& r) {
      err_ << "ordo load: http://" << host_header_ << ": " << what << ": "
           << (r.status == 0 ? r.failure
                             : std::to_string(r.status) + " " + r.body)
           << "\n";
      if (r.status == 401) {
        err_ << "ordo load: give the node's admin token (--admin-token or "
                "ORDO_ADMIN_TOKEN)\n";
      }
      return false;
    };
    auto body = json{{"price", sku_price}, {"stock", sku_stock}}.dump();
    std::vector<reply> answers(opts_.skus);
    batch(
      opts_.skus,
      [&](std::size_t k) {
        return request("PUT", "/v1/skus/" + sku_name(k), admin_headers(), body);
      },
      [&](std::size_t k, reply& r) {
        answers[k] = std::move(r);
      });
    for (std::size_t k = 0; k < opts_.skus; ++k) {
      if (answers[k].status != 200) {
        return fails("PUT /v1/skus/" + sku_name(k), answers[k]);
      }
    }
    baseline_.resize(opts_.skus);
    batch(
      opts_.skus,
      [&](std::size_t k) {
        return request("GET", "/v1/skus/" + sku_name(k), admin_headers());
      },
      [&](std::size_t k, reply& r) {
        answers[k] = std::move(r);
      });
    for (std::size_t k = 0; k < opts_.skus; ++k) {
      auto counts = parse_sku(answers[k].body);
      if (answers[k].status != 200 || !counts) {
        return fails("GET /v1/skus/" + sku_name(k), answers[k]);
      }
      baseline_[k] = *counts;
    }
    // A callback for an order that does not exist: 404 once the signature
    // is accepted, 401 when the secret is wrong.
    auto probe = fetch(payment_request("load-" + run_ + "-probe", 1));
    if (probe.status == 401) {
      err_ << "ordo load: the node refuses the payment signature: give its "
              "--payment-secret (or ORDO_PAYMENT_SECRET)\n";
      return false;
    }
    if (probe.status != 404) {
      return fails("probing POST /v1/payments/callback", probe);
    }
    return true;
  }

  /// Sends requests 0..n-1 (`make(i)`) over the pool, one in flight per
  /// connection, hands each answer to `handle(i, answer)` and returns when
  /// all are answered.
  void batch(std::size_t n, const std::function<std::string(std::size_t)>& make,
             const std::function<void(std::size_t, reply&)>& handle) {
    std::size_t next = 0;
    std::function<void(connection&)> pump = [&](connection& c) {
      if (next >= n) {
        return;
      }
      auto i = next++;
      c.send(make(i), [&, i](reply& r) {
        handle(i, r);
        pump(c);
      });
    };
    for (auto& c : pool_) {
      pump(*c);
    }
    ioc_.restart();
    ioc_.run();
  }

  /// Sends one request over the pool and returns its answer.
  reply fetch(std::string wire) {
    reply got;
    batch(
      1,
      [&](std::size_t) {
        return wire;
      },
      [&](std::size_t, reply& r) {
        got = std::move(r);
      });
    return got;
  }

  // --- load ----------------------------------------------------------------

  void load() {
    for (std::size_t i = 0; i < opts_.connections; ++i) {
      runners_.push_back(std::make_unique<runner>(ioc_, where_));
    }
    start_ = clock_type::now();
    measure_from_ = start_ + std::chrono::milliseconds{opts_.warmup_ms};
    end_ = measure_from_ + std::chrono::milliseconds{opts_.duration_ms};
    if (opts_.rate > 0) {
      period_ = std::chrono::duration_cast<clock_type::duration>(
        std::chrono::duration<double>(static_cast<double>(opts_.connections)
                                      / opts_.rate));
    }
    asio::signal_set signals{ioc_, SIGINT, SIGTERM};
    signals.async_wait([this](beast::error_code ec, int) {
      if (!ec) {
        interrupted_ = true; // the window ends now
        end_ = std::max(measure_from_, std::min(end_, clock_type::now()));
        err_ << "\nordo load: interrupted, finishing the flows in flight\n";
        for (auto& r : runners_) {
          r->timer.cancel();
        }
      }
    });
    asio::steady_timer ticker{ioc_};
    on_idle_ = [&] {
      ticker.cancel();
      signals.cancel();
    };
    active_ = runners_.size();
    for (std::size_t i = 0; i < runners_.size(); ++i) {
      auto& r = *runners_[i];
      if (opts_.rate > 0) {
        r.next_due = start_
                     + std::chrono::duration_cast<clock_type::duration>(
                       std::chrono::duration<double>(static_cast<double>(i)
                                                     / opts_.rate));
      }
      next_flow(r);
    }
    std::function<void()> tick = [&] {
      ticker.expires_at(start_ + std::chrono::seconds{++ticks_});
      ticker.async_wait([&](beast::error_code ec) {
        // A tick already due when the last runner retired is not cancelled.
        if (!ec && active_ > 0) {
          progress();
          tick();
        }
      });
    };
    tick();
    ioc_.restart();
    ioc_.run();
    on_idle_ = nullptr;
    progress(true);
    runners_.clear();
  }

  /// Starts the runner's next flow, waits for it to be due, or retires the
  /// runner when the run is over.
  void next_flow(runner& r) {
    auto now = clock_type::now();
    if (opts_.rate <= 0) {
      if (interrupted_ || now >= end_) {
        return retire();
      }
      return start_flow(r, now);
    }
    if (interrupted_ || now >= end_ || r.next_due >= end_) {
      if (r.next_due < end_ && !interrupted_) {
        missed_ += static_cast<std::uint64_t>(
          (end_ - r.next_due + period_ - clock_type::duration{1}) / period_);
      }
      return retire();
    }
    if (now >= r.next_due) {
      return start_flow(r, r.next_due); // late: latency counts from due
    }
    r.timer.expires_at(r.next_due);
    r.timer.async_wait([this, &r](beast::error_code) {
      next_flow(r); // on cancel (a signal) it retires
    });
  }

  void retire() {
    if (--active_ == 0 && on_idle_) {
      on_idle_();
    }
  }

  void start_flow(runner& r, time_point due) {
    records_.emplace_back();
    auto& rec = records_.back();
    rec.n = records_.size();
    rec.sku = static_cast<std::uint32_t>(rng_() % opts_.skus);
    r.rec = &rec;
    r.due = due;
    r.next_due = due + period_;
    r.counted = due >= measure_from_;
    r.failed = false;
    r.first_error.clear();
    r.pending = 0;
    double draw = unit_(rng_);
    r.plan_pay = opts_.workload == load_workload::flash_cancel
                   ? draw < flash_pay_share
                   : draw < opts_.pay_ratio;
    r.main.send(create_request(rec), [this, &r](reply& rep) {
      auto& rec = *r.rec;
      std::optional<std::string> error;
      if (rep.status == 201 || rep.status == 200) {
        auto id = string_field(rep.body, "order_id");
        auto payable = int_field(rep.body, "payable");
        if (id && payable) {
          rec.create = order_record::created::yes;
          rec.order_id = std::move(*id);
          rec.payable = *payable;
        } else {
          rec.create = order_record::created::unknown;
          error = std::to_string(rep.status) + " unreadable order";
        }
      } else {
        rec.create = rep.status == 0 || rep.status >= 500
                       ? order_record::created::unknown
                       : order_record::created::refused;
        error = error_kind(rep);
      }
      account(op_create, r, rep, r.due, error, "created");
      if (rec.create != order_record::created::yes) {
        return end_flow(r);
      }
      after_create(r);
    });
  }

  void after_create(runner& r) {
    auto join = [this, &r] {
      if (--r.pending == 0) {
        end_flow(r);
      }
    };
    switch (opts_.workload) {
      case load_workload::steady:
      case load_workload::hot_sku:
        r.pending = 1;
        if (r.plan_pay) {
          pay(r, r.main, false, join);
        } else {
          cancel(r, r.main, join);
        }
        return;
      case load_workload::flash_cancel:
        r.pending = r.plan_pay ? 2 : 1;
        if (r.plan_pay) {
          pay(r, r.side, false, join);
        }
        cancel(r, r.main, join);
        return;
      case load_workload::race:
        r.pending = 2;
        pay(r, r.main, false, [this, &r, join] {
          pay(r, r.main, true, join); // the provider retries the callback
        });
        cancel(r, r.side, join);
        return;
    }
  }

  void pay(runner& r, connection& c, bool retry, std::function<void()> then) {
    c.send(payment_request(r.rec->order_id, r.rec->payable),
           [this, &r, retry, then = std::move(then)](reply& rep) {
             auto a = payment_answer(rep);
             auto& rec = *r.rec;
             (retry ? rec.retry : rec.pay) = a;
             std::optional<std::string> error;
             if (a == answer::other || a == answer::unknown) {
               error = error_kind(rep);
               if (rep.status == 200) {
                 *error += " result="
                           + string_field(rep.body, "result").value_or("?");
               }
             } else if (retry && a != answer::duplicate
                        && (rec.pay == answer::captured
                            || rec.pay == answer::refunded)) {
               error = std::string{"retry answered "} + to_string(a);
             }
             account(op_pay, r, rep, rep.sent, error, to_string(a));
             then();
           });
  }

  void cancel(runner& r, connection& c, std::function<void()> then) {
    c.send(request("POST", "/v1/orders/" + r.rec->order_id + "/cancel"),
           [this, &r, then = std::move(then)](reply& rep) {
             auto a = cancel_answer(rep);
             r.rec->cancel = a;
             std::optional<std::string> error;
             if (a == answer::other || a == answer::unknown) {
               error = error_kind(rep);
             }
             account(op_cancel, r, rep, rep.sent, error, to_string(a));
             then();
           });
  }

  void end_flow(runner& r) {
    ++flows_done_;
    if (r.counted) {
      auto& s = stats_[op_flow];
      ++s.count;
      s.latency.record(micros(clock_type::now() - r.due));
      const auto& rec = *r.rec;
      const char* how = rec.create != order_record::created::yes ? "not_created"
                        : rec.pay == answer::captured            ? "paid"
                        : rec.cancel == answer::cancelled        ? "cancelled"
                                                                 : "unsettled";
      ++s.outcomes[how];
      if (r.failed) {
        ++s.errors;
        ++s.error_kinds[r.first_error];
      }
    }
    next_flow(r);
  }

  /// Counts one answered request of the runner's flow.
  void account(op o, runner& r, const reply& rep, time_point from,
               const std::optional<std::string>& error, const char* outcome) {
    ++requests_done_;
    if (error) {
      ++errors_seen_;
      if (!r.failed) {
        r.failed = true;
        r.first_error = std::string{op_names[o]} + " " + *error;
      }
    }
    if (!r.counted) {
      return;
    }
    auto& s = stats_[o];
    ++s.count;
    if (rep.status != 0) {
      s.latency.record(micros(rep.done - from));
    }
    if (error) {
      ++s.errors;
      ++s.error_kinds[*error];
    } else {
      ++s.outcomes[outcome];
    }
  }

  /// The progress line, once a second: rates over the last second, errors
  /// since the start. `final`: the totals of the whole load instead.
  void progress(bool final = false) {
    auto now = clock_type::now();
    char line[200];
    if (final) {
      std::snprintf(line, sizeof line,
                    "ordo load: %5.1fs done     flows %llu  requests %llu  "
                    "errors %llu",
                    seconds(now - start_),
                    static_cast<unsigned long long>(flows_done_),
                    static_cast<unsigned long long>(requests_done_),
                    static_cast<unsigned long long>(errors_seen_));
    } else {
      auto since = last_tick_at_ == time_point{} ? start_ : last_tick_at_;
      double dt = std::max(1e-3, seconds(now - since));
      auto mid = since + (now - since) / 2; // the phase of the past second
      std::snprintf(
        line, sizeof line,
        "ordo load: %5.1fs %-8s flows/s %8.0f  req/s %8.0f  errors %llu",
        seconds(now - start_),
        mid < measure_from_ ? "warm-up" : (mid < end_ ? "measure" : "drain"),
        static_cast<double>(flows_done_ - last_flows_) / dt,
        static_cast<double>(requests_done_ - last_requests_) / dt,
        static_cast<unsigned long long>(errors_seen_));
      last_tick_at_ = now;
      last_flows_ = flows_done_;
      last_requests_ = requests_done_;
    }
    if (live_) {
      err_ << "\r" << line << "\033[K" << (final ? "\n" : "") << std::flush;
    } else {
      err_ << line << "\n";
    }
  }

  // --- check -----------------------------------------------------------------

  check_result check() {
    check_result res;
    res.ran = true;
    res.skus = opts_.skus;
    // Creates without an answer: the same key and body again tell whether
    // the order exists (200) or create it now (201, then pending).
    std::vector<order_record*> lost;
    for (auto& rec : records_) {
      if (rec.create == order_record::created::unknown) {
        lost.push_back(&rec);
      }
    }
    batch(
      lost.size(),
      [&](std::size_t i) {
        return create_request(*lost[i]);
      },
      [&](std::size_t i, reply& r) {
        auto& rec = *lost[i];
        rec.create_retried = true;
        auto id = string_field(r.body, "order_id");
        auto payable = int_field(r.body, "payable");
        if ((r.status == 200 || r.status == 201) && id && payable) {
          rec.create = order_record::created::yes;
          rec.order_id = *id;
          rec.payable = *payable;
        } else if (r.status >= 400 && r.status < 500) {
          rec.create = order_record::created::refused;
        } else {
          res.violate("create_unresolved",
                      user(rec) + ": retry answered " + error_kind(r));
        }
      });
    res.retried_creates = lost.size();

    settle(res);

    std::vector<order_record*> orders;
    for (auto& rec : records_) {
      if (rec.create == order_record::created::yes) {
        orders.push_back(&rec);
      }
    }
    res.orders = orders.size();
    if (orders.empty()) {
      res.violate("no_orders", "the run created no order: nothing to check");
    }
    // Each order is judged as it is read, and only what the later checks
    // need is kept. A refund confirmed by the provider reaches its order a
    // moment later: such orders are read again, bounded.
    std::vector<order_view> views(orders.size());
    std::vector<std::int64_t> paid(opts_.skus, 0), pending(opts_.skus, 0);
    auto take = [&](std::size_t i, const reply& r, bool last) {
      const auto& rec = *orders[i];
      auto j = json::parse(r.body, nullptr, false);
      if (r.status != 200 || !j.is_object()) {
        res.violate("order_unreadable", rec.order_id + ": " + error_kind(r));
        return true;
      }
      if (refund_pending(j) && !last) {
        return false;
      }
      if (refund_pending(j)) {
        res.violate("refund_unconfirmed",
                    rec.order_id + " still holds " + j["payments"].dump());
      }
      auto& v = views[i];
      v.read = true;
      v.status = judge_order(rec, j, res);
      v.refunds_owed = refunds_owed(j);
      if (v.status == "PAID") {
        ++res.paid;
        ++paid[rec.sku];
      } else if (v.status == "CANCELLED") {
        ++res.cancelled;
      } else if (v.status == "PENDING_PAYMENT") {
        ++res.pending;
        ++pending[rec.sku];
      }
      return true;
    };
    std::vector<std::size_t> waiting(orders.size());
    for (std::size_t i = 0; i < waiting.size(); ++i) {
      waiting[i] = i;
    }
    auto until = clock_type::now() + refund_limit;
    while (!waiting.empty()) {
      bool last = clock_type::now() >= until;
      std::vector<std::size_t> again;
      batch(
        waiting.size(),
        [&](std::size_t k) {
          return request("GET", "/v1/orders/" + orders[waiting[k]]->order_id);
        },
        [&](std::size_t k, reply& r) {
          if (!take(waiting[k], r, last)) {
            again.push_back(waiting[k]);
          }
        });
      waiting = std::move(again);
      if (!waiting.empty()) {
        std::this_thread::sleep_for(std::chrono::milliseconds{100});
      }
    }
    std::unordered_map<std::string, std::size_t> index; // id → orders[i]
    for (std::size_t i = 0; i < orders.size(); ++i) {
      index[orders[i]->order_id] = i;
    }

    check_provider(orders, views, index, res);
    check_skus(paid, pending, res);
    return res;
  }

  /// An admin GET of `target` on every node: the one under load (through
  /// the pool) and the --node others (one blocking request each).
  std::vector<reply> everywhere(const std::string& target) {
    std::vector<reply> out;
    out.push_back(fetch(request("GET", target, admin_headers())));
    for (const auto& [host, port] : opts_.others) {
      out.push_back(fetch_at(host, port, target));
    }
    return out;
  }

  reply fetch_at(const std::string& host, std::uint16_t port,
                 const std::string& target) const {
    reply r;
    try {
      asio::io_context ioc;
      beast::tcp_stream stream{ioc};
      stream.expires_after(std::chrono::seconds{10});
      tcp::resolver resolver{ioc};
      stream.connect(resolver.resolve(host, std::to_string(port)));
      http::request<http::string_body> req{http::verb::get, target, 11};
      req.set(http::field::host, host + ":" + std::to_string(port));
      req.set(http::field::authorization, "Bearer " + opts_.admin_token);
      http::write(stream, req);
      beast::flat_buffer buf;
      http::response<http::string_body> res;
      http::read(stream, buf, res);
      r.status = res.result_int();
      r.body = std::move(res.body());
    } catch (const std::exception& e) {
      r.failure = e.what();
    }
    return r;
  }

  /// Polls every node's outbox until nothing is left to deliver, bounded.
  void settle(check_result& res) {
    auto until = clock_type::now() + settle_limit;
    for (;;) {
      std::optional<std::int64_t> backlog = 0;
      reply r;
      for (auto& got : everywhere("/v1/admin/outbox?limit=1")) {
        auto b = got.status == 200 ? int_field(got.body, "backlog")
                                   : std::optional<std::int64_t>{};
        backlog = backlog && b ? std::optional<std::int64_t>{*backlog + *b}
                               : std::nullopt;
        if (!b) {
          r = std::move(got);
        }
      }
      res.backlog = backlog.value_or(-1);
      if (backlog == 0) {
        res.settled = true;
        return;
      }
      if (clock_type::now() >= until) {
        res.violate("not_settled",
                    "the outbox still held "
                      + (backlog ? std::to_string(*backlog) + " messages"
                                 : "? (" + error_kind(r) + ")")
                      + " after " + std::to_string(settle_limit.count())
                      + " s");
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{100});
    }
  }

  /// One refund per refunded payment, none for a paid order, one close per
  /// cancelled order, in the built-in sandbox provider's record.
  void check_provider(const std::vector<order_record*>& orders,
                      const std::vector<order_view>& views,
                      const std::unordered_map<std::string, std::size_t>& index,
                      check_result& res) {
    auto calls = json::array();
    for (const auto& r : everywhere("/v1/admin/sandbox/calls")) {
      auto j = json::parse(r.body, nullptr, false);
      if (r.status != 200 || !j.is_object() || !j.contains("calls")) {
        res.violate("provider_unreadable",
                    "GET /v1/admin/sandbox/calls: " + error_kind(r));
        return;
      }
      for (auto& c : j["calls"]) {
        calls.push_back(std::move(c));
      }
    }
    std::vector<int> refunds(orders.size(), 0), closes(orders.size(), 0);
    for (const auto& c : calls) {
      auto order_id = c.value("order_id", json{}).is_string()
                        ? c["order_id"].get<std::string>()
                        : std::string{};
      auto at = index.find(order_id);
      if (at == index.end()) {
        continue; // not of this run
      }
      const auto& rec = *orders[at->second];
      if (c.value("kind", "") == "refund") {
        ++refunds[at->second];
        ++res.refunds;
        if (c.value("txn_id", json{}) != "t-" + rec.order_id
            || c.value("amount", std::int64_t{-1}) != rec.payable) {
          res.violate("refund_mismatch", c.dump());
        }
      } else if (c.value("kind", "") == "close") {
        ++closes[at->second];
        ++res.closes;
      }
    }
    bool expected_calls = false;
    for (std::size_t i = 0; i < orders.size(); ++i) {
      if (!views[i].read) {
        continue;
      }
      const auto& rec = *orders[i];
      const auto& status = views[i].status;
      bool told_refunded
        = rec.pay == answer::refunded || rec.retry == answer::refunded;
      int owed = views[i].refunds_owed;
      if (told_refunded && owed != 1) {
        owed = 1; // judged already (payment_record); expect the refund too
      }
      expected_calls = expected_calls || owed > 0 || status == "CANCELLED";
      if (refunds[i] != owed) {
        res.violate("refund_count", rec.order_id + ": " + std::to_string(owed)
                                      + " refund(s) owed, the provider got "
                                      + std::to_string(refunds[i]));
      }
      if (closes[i] != (status == "CANCELLED" ? 1 : 0)) {
        res.violate("close_count", rec.order_id + " (" + status
                                     + "): " + std::to_string(closes[i])
                                     + " close call(s)");
      }
    }
    if (expected_calls && calls.empty()) {
      res.violate("provider_unreadable",
                  "the built-in sandbox recorded no calls: is the node "
                  "using an external --payment-provider?");
    }
  }

  /// Stock conservation, and the run's sales and reservations, per SKU.
  void check_skus(const std::vector<std::int64_t>& paid,
                  const std::vector<std::int64_t>& pending, check_result& res) {
    std::vector<reply> answers(opts_.skus);
    batch(
      opts_.skus,
      [&](std::size_t k) {
        return request("GET", "/v1/skus/" + sku_name(k), admin_headers());
      },
      [&](std::size_t k, reply& r) {
        answers[k] = std::move(r);
      });
    for (std::size_t k = 0; k < opts_.skus; ++k) {
      auto name = sku_name(k);
      auto s = parse_sku(answers[k].body);
      if (answers[k].status != 200 || !s) {
        res.violate("sku_unreadable", name + ": " + error_kind(answers[k]));
        continue;
      }
      const auto& base = baseline_[k];
      if (s->available + s->reserved + s->sold != s->stocked
          || s->stocked != sku_stock) {
        res.violate("stock_conservation",
                    name + ": available " + std::to_string(s->available)
                      + " + reserved " + std::to_string(s->reserved)
                      + " + sold " + std::to_string(s->sold) + " vs stocked "
                      + std::to_string(s->stocked));
      }
      if (s->sold - base.sold != paid[k]) {
        res.violate("sold_mismatch",
                    name + ": sold grew by "
                      + std::to_string(s->sold - base.sold) + ", the run has "
                      + std::to_string(paid[k]) + " PAID orders of it");
      }
      if (s->reserved - base.reserved != pending[k]) {
        res.violate("reserved_mismatch",
                    name + ": reserved grew by "
                      + std::to_string(s->reserved - base.reserved)
                      + ", the run has " + std::to_string(pending[k])
                      + " pending orders of it");
      }
    }
  }

  // --- summary -------------------------------------------------------------

  double window_s() const {
    return std::max(1e-3, seconds(end_ - measure_from_));
  }

  void print_summary(const check_result& v) {
    char line[256];
    out_ << "ordo load: " << to_string(opts_.workload) << ", ";
    if (opts_.rate > 0) {
      out_ << "open loop at " << opts_.rate << " flows/s over ";
    } else {
      out_ << "closed loop over ";
    }
    out_ << opts_.connections << " connections, " << rounded(window_s(), 2)
         << " s measured after " << static_cast<double>(opts_.warmup_ms) / 1000
         << " s warm-up" << (interrupted_ ? " (interrupted)" : "") << ", run "
         << run_ << "\n";
    std::snprintf(line, sizeof line, "%-8s %9s %10s %9s %9s %9s %9s %9s %8s\n",
                  "op", "count", "per s", "p50 ms", "p90 ms", "p99 ms",
                  "p99.9 ms", "max ms", "errors");
    out_ << line;
    for (std::size_t o = 0; o < op_count; ++o) {
      const auto& s = stats_[o];
      const auto& h = s.latency;
      auto ms = [](std::uint64_t us) {
        return static_cast<double>(us) / 1000.0;
      };
      std::snprintf(line, sizeof line,
                    "%-8s %9llu %10.1f %9.2f %9.2f %9.2f %9.2f %9.2f %8llu\n",
                    op_names[o], static_cast<unsigned long long>(s.count),
                    static_cast<double>(s.count) / window_s(),
                    ms(h.quantile(0.5)), ms(h.quantile(0.9)),
                    ms(h.quantile(0.99)), ms(h.quantile(0.999)), ms(h.max()),
                    static_cast<unsigned long long>(s.errors));
      out_ << line;
    }
    std::uint64_t requests = stats_[op_create].count + stats_[op_pay].count
                             + stats_[op_cancel].count;
    std::snprintf(line, sizeof line,
                  "requests %.1f/s; flows %.1f/s; missed (open loop, not "
                  "started in time) %llu\n",
                  static_cast<double>(requests) / window_s(),
                  static_cast<double>(stats_[op_flow].count) / window_s(),
                  static_cast<unsigned long long>(missed_));
    out_ << line;
    out_ << "outcomes:";
    for (std::size_t o = 0; o < op_count; ++o) {
      out_ << " " << op_names[o];
      for (const auto& [k, n] : stats_[o].outcomes) {
        out_ << " " << k << "=" << n;
      }
      out_ << (o + 1 < op_count ? ";" : "\n");
    }
    bool any = false;
    for (std::size_t o = 0; o < op_flow; ++o) {
      for (const auto& [k, n] : stats_[o].error_kinds) {
        out_ << (any ? "; " : "errors: ") << op_names[o] << " " << k << " x"
             << n;
        any = true;
      }
    }
    out_ << (any ? "\n" : "errors: none\n");
    if (!opts_.check) {
      out_ << "check: skipped (--no-check)\n";
      return;
    }
    std::ostringstream facts;
    facts << v.orders << " orders (" << v.paid << " PAID, " << v.cancelled
          << " CANCELLED, " << v.pending << " pending), " << v.skus << " SKUs, "
          << v.refunds << " refunds, " << v.closes << " closes";
    if (v.retried_creates > 0) {
      facts << ", " << v.retried_creates << " unanswered creates retried";
    }
    if (v.passed()) {
      out_ << "check: passed: " << facts.str() << "\n";
      return;
    }
    std::uint64_t total = 0;
    for (const auto& [rule, n] : v.violations) {
      total += n;
    }
    out_ << "check: FAILED: " << total << " violation(s):";
    for (const auto& [rule, n] : v.violations) {
      out_ << " " << rule << "=" << n;
    }
    out_ << "; " << facts.str() << "\n";
    for (const auto& e : v.examples) {
      out_ << "  " << e << "\n";
    }
  }

  ojson summary_json(const check_result& v) const {
    ojson ops = ojson::object();
    for (std::size_t o = 0; o < op_count; ++o) {
      const auto& s = stats_[o];
      const auto& h = s.latency;
      auto ms = [](std::uint64_t us) {
        return rounded(static_cast<double>(us) / 1000.0, 3);
      };
      ops[op_names[o]]
        = {{"count", s.count},
           {"per_s", rounded(static_cast<double>(s.count) / window_s(), 1)},
           {"errors", s.errors},
           {"latency_ms",
            {{"p50", ms(h.quantile(0.5))},
             {"p90", ms(h.quantile(0.9))},
             {"p99", ms(h.quantile(0.99))},
             {"p99_9", ms(h.quantile(0.999))},
             {"max", ms(h.max())},
             {"mean", rounded(h.mean() / 1000.0, 3)}}},
           {"outcomes", s.outcomes},
           {"errors_by_code", s.error_kinds}};
    }
    std::uint64_t requests = stats_[op_create].count + stats_[op_pay].count
                             + stats_[op_cancel].count;
    ojson j{
      {"workload", to_string(opts_.workload)},
      {"mode", opts_.rate > 0 ? "open" : "closed"},
      {"connections", opts_.connections},
      {"rate", opts_.rate > 0 ? ojson(opts_.rate) : ojson(nullptr)},
      {"duration_s", static_cast<double>(opts_.duration_ms) / 1000},
      {"warmup_s", static_cast<double>(opts_.warmup_ms) / 1000},
      {"measured_s", rounded(window_s(), 3)},
      {"interrupted", interrupted_},
      {"run", run_},
      {"flows_per_s",
       rounded(static_cast<double>(stats_[op_flow].count) / window_s(), 1)},
      {"requests_per_s",
       rounded(static_cast<double>(requests) / window_s(), 1)},
      {"missed", missed_},
      {"operations", std::move(ops)}};
    if (!opts_.check) {
      j["check"] = {{"ran", false}};
      return j;
    }
    j["check"]
      = {{"ran", true},           {"passed", v.passed()},
         {"settled", v.settled},  {"orders", v.orders},
         {"paid", v.paid},        {"cancelled", v.cancelled},
         {"pending", v.pending},  {"refunds", v.refunds},
         {"closes", v.closes},    {"retried_creates", v.retried_creates},
         {"skus", v.skus},        {"violations", v.violations},
         {"examples", v.examples}};
    return j;
  }

  // Constant after construction.
  load_options opts_;
  std::ostream& out_;
  std::ostream& err_;
  const std::string host_header_;
  std::string run_;
  bool live_ = false;

  // Everything below is confined to the calling thread.
  asio::io_context ioc_;
  tcp::resolver::results_type where_;
  std::vector<std::unique_ptr<connection>> pool_; ///< setup and check
  std::vector<std::unique_ptr<runner>> runners_;  ///< during load()
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> unit_{0.0, 1.0};
  std::vector<sku_counts> baseline_;
  std::deque<order_record> records_; ///< stable addresses
  std::array<op_stats, op_count> stats_;

  time_point start_, measure_from_, end_;
  clock_type::duration period_{0};
  std::size_t active_ = 0;
  std::function<void()> on_idle_;
  bool interrupted_ = false;
  std::uint64_t missed_ = 0;
  // Progress.
  long ticks_ = 0;
  std::uint64_t flows_done_ = 0;
  std::uint64_t requests_done_ = 0;
  std::uint64_t errors_seen_ = 0;
  time_point last_tick_at_;
  std::uint64_t last_flows_ = 0;
  std::uint64_t last_requests_ = 0;
};

} // namespace

int run_load(const load_options& opts, std::ostream& out, std::ostream& err) {
  try {
    generator g{opts, out, err};
    return g.run();
  } catch (const std::exception& e) {
    err << "ordo load: " << e.what() << "\n";
    return 1;
  }
}

} // namespace ordo::app
