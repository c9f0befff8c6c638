#include "app/sandbox_provider.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <nlohmann/json.hpp>

#include "gateway/listener.hpp"

namespace ordo::app {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using nlohmann::json;

using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

/// One refund (by refund_id), close (by order_id) or SMS (by
/// notification_id) as recorded.
struct record {
  std::string order_id;
  std::string txn_id;         ///< refunds
  std::int64_t amount = 0;    ///< refunds
  std::string template_name;  ///< SMS
  std::string text;           ///< SMS
  std::uint32_t received = 0; ///< times recorded as new
  std::uint32_t attempts = 0; ///< POSTs carrying the id, failures included
};

/// The recorded calls and the journal. Confined to the I/O thread (and to
/// start-up before it runs).
class ledger {
public:
  /// Opens and replays `path` ("" = memory only); false and `*err` when the
  /// file cannot be opened.
  bool open(const std::string& path, std::string* err) {
    if (path.empty()) {
      return true;
    }
    bool torn = false;
    {
      std::ifstream in{path, std::ios::binary};
      std::string line;
      while (std::getline(in, line)) {
        torn = in.eof(); // the last line had no newline
        auto j = json::parse(line, nullptr, false);
        if (!j.is_object()) {
          continue; // torn by a kill mid-write, never answered "recorded"
        }
        auto kind = j.value("kind", "");
        if (kind == "refund") {
          auto& r = refunds_[j.value("refund_id", "")];
          r.order_id = j.value("order_id", "");
          r.txn_id = j.value("txn_id", "");
          r.amount = j.value("amount", std::int64_t{0});
          ++r.received;
        } else if (kind == "close") {
          ++closes_[j.value("order_id", "")].received;
        } else if (kind == "sms") {
          auto& r = sms_[j.value("notification_id", "")];
          r.order_id = j.value("order_id", "");
          r.template_name = j.value("template", "");
          r.text = j.value("text", "");
          ++r.received;
        }
      }
    }
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      *err = "cannot open --data " + path + ": " + std::strerror(errno);
      return false;
    }
    if (torn && !append("")) {
      *err = "cannot write --data " + path + ": " + std::strerror(errno);
      return false;
    }
    return true;
  }

  ~ledger() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }

  /// Records a first-seen refund; false if the journal write failed.
  bool add_refund(const std::string& id, record r) {
    json line{{"kind", "refund"},
              {"refund_id", id},
              {"txn_id", r.txn_id},
              {"amount", r.amount},
              {"order_id", r.order_id}};
    if (!append(line.dump())) {
      return false;
    }
    r.received = 1;
    refunds_[id] = std::move(r);
    return true;
  }

  /// Records a first-seen close; false if the journal write failed.
  bool add_close(const std::string& order_id) {
    if (!append(json{{"kind", "close"}, {"order_id", order_id}}.dump())) {
      return false;
    }
    closes_[order_id].received = 1;
    return true;
  }

  /// Records a first-seen SMS; false if the journal write failed.
  bool add_sms(const std::string& id, record r) {
    json line{{"kind", "sms"},
              {"notification_id", id},
              {"order_id", r.order_id},
              {"template", r.template_name},
              {"text", r.text}};
    if (!append(line.dump())) {
      return false;
    }
    r.received = 1;
    sms_[id] = std::move(r);
    return true;
  }

  record* find_refund(const std::string& id) {
    auto i = refunds_.find(id);
    return i == refunds_.end() ? nullptr : &i->second;
  }
  record* find_close(const std::string& order_id) {
    auto i = closes_.find(order_id);
    return i == closes_.end() ? nullptr : &i->second;
  }
  record* find_sms(const std::string& id) {
    auto i = sms_.find(id);
    return i == sms_.end() ? nullptr : &i->second;
  }

  json calls() const {
    json refunds = json::array();
    for (const auto& [id, r] : refunds_) {
      refunds.push_back({{"refund_id", id},
                         {"txn_id", r.txn_id},
                         {"amount", r.amount},
                         {"order_id", r.order_id},
                         {"received", r.received},
                         {"attempts", r.attempts}});
    }
    json closes = json::array();
    for (const auto& [id, r] : closes_) {
      closes.push_back(
        {{"order_id", id}, {"received", r.received}, {"attempts", r.attempts}});
    }
    json sms = json::array();
    for (const auto& [id, r] : sms_) {
      sms.push_back({{"notification_id", id},
                     {"order_id", r.order_id},
                     {"template", r.template_name},
                     {"text", r.text},
                     {"received", r.received},
                     {"attempts", r.attempts}});
    }
    return {{"refunds", std::move(refunds)},
            {"closes", std::move(closes)},
            {"sms", std::move(sms)}};
  }

private:
  /// Appends `line` and a newline, then fsyncs. Memory only: true.
  bool append(const std::string& line) {
    if (fd_ < 0) {
      return true;
    }
    auto text = line + "\n";
    std::size_t done = 0;
    while (done < text.size()) {
      auto n = ::write(fd_, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return false;
      }
      done += static_cast<std::size_t>(n);
    }
    return ::fsync(fd_) == 0;
  }

  int fd_ = -1;
  std::map<std::string, record> refunds_;
  std::map<std::string, record> closes_;
  std::map<std::string, record> sms_;
};

response reply(const request& req, http::status status, const json& body) {
  response res{status, req.version()};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::server, "ordo-sandbox-provider");
  res.body() = body.dump();
  res.keep_alive(req.keep_alive());
  res.prepare_payload();
  return res;
}

response error_reply(const request& req, http::status status,
                     const std::string& code, const std::string& message) {
  return reply(req, status, json{{"error", code}, {"message", message}});
}

/// The endpoints. Confined to the I/O thread.
class endpoints {
public:
  endpoints(const sandbox_provider_options& opts, ledger& calls)
    : opts_(opts), calls_(calls),
      rng_(opts.seed != 0 ? opts.seed : std::random_device{}()) {}

  response answer(const request& req) {
    auto target = std::string{req.target()};
    target = target.substr(0, target.find('?'));
    if (target == "/calls") {
      if (req.method() != http::verb::get) {
        return error_reply(req, http::status::method_not_allowed,
                           "method_not_allowed", "use GET /calls");
      }
      auto j = calls_.calls();
      j["requests"] = requests_;
      j["failed"] = failed_;
      j["duplicates"] = duplicates_;
      return reply(req, http::status::ok, j);
    }
    auto kind = target == "/refund"  ? call_kind::refund
                : target == "/close" ? call_kind::close
                : target == "/sms"   ? call_kind::sms
                                     : call_kind::none;
    if (kind == call_kind::none) {
      return error_reply(req, http::status::not_found, "not_found",
                         "no endpoint " + target);
    }
    if (req.method() != http::verb::post) {
      return error_reply(req, http::status::method_not_allowed,
                         "method_not_allowed", "use POST " + target);
    }
    ++requests_;
    auto body = json::parse(req.body(), nullptr, false);
    if (!body.is_object()) {
      return error_reply(req, http::status::bad_request, "bad_request",
                         "the body must be a JSON object");
    }
    auto bad = checked(body, kind);
    if (!bad.empty()) {
      return error_reply(req, http::status::bad_request, "bad_request", bad);
    }
    bool fail = opts_.fail_rate > 0 && unit_(rng_) < opts_.fail_rate;
    bool before = fail && unit_(rng_) < 0.5;
    auto unavailable = [&](const char* when) {
      ++failed_;
      return error_reply(req, http::status::service_unavailable, "unavailable",
                         std::string{"injected failure ("} + when + ")");
    };
    if (before) {
      return unavailable("before recording");
    }
    std::string result = "recorded";
    bool written = record_call(kind, body, &result);
    if (!written) {
      return error_reply(req, http::status::internal_server_error, "internal",
                         "cannot write the journal");
    }
    if (result == "duplicate") {
      ++duplicates_;
    }
    if (fail) {
      return unavailable("after recording");
    }
    return reply(req, http::status::ok, json{{"result", result}});
  }

private:
  enum class call_kind { none, refund, close, sms };

  /// Records a checked call in the journal, or counts a repeat of one
  /// (`*result` "duplicate"). False if the journal cannot be written.
  bool record_call(call_kind kind, const json& body, std::string* result) {
    if (kind == call_kind::refund) {
      auto id = body["refund_id"].get<std::string>();
      if (auto* r = calls_.find_refund(id)) {
        *result = "duplicate";
        ++r->attempts;
        return true;
      }
      record r;
      r.order_id = body.value("order_id", "");
      r.txn_id = body["txn_id"].get<std::string>();
      r.amount = body["amount"].get<std::int64_t>();
      r.attempts = 1;
      return calls_.add_refund(id, std::move(r));
    }
    if (kind == call_kind::close) {
      auto id = body["order_id"].get<std::string>();
      if (auto* r = calls_.find_close(id)) {
        *result = "duplicate";
        ++r->attempts;
        return true;
      }
      if (!calls_.add_close(id)) {
        return false;
      }
      calls_.find_close(id)->attempts = 1;
      return true;
    }
    auto id = body["notification_id"].get<std::string>();
    if (auto* r = calls_.find_sms(id)) {
      *result = "duplicate";
      ++r->attempts;
      return true;
    }
    record r;
    r.order_id = body["order_id"].get<std::string>();
    r.template_name = body["template"].get<std::string>();
    r.text = body["text"].get<std::string>();
    r.attempts = 1;
    return calls_.add_sms(id, std::move(r));
  }

  /// Why `body` is not a valid call of `kind`; "" when it is.
  static std::string checked(const json& body, call_kind kind) {
    auto text = [&](const char* name) {
      auto i = body.find(name);
      return i != body.end() && i->is_string()
             && !i->get<std::string>().empty();
    };
    if (kind == call_kind::close) {
      return text("order_id") ? "" : "order_id must be a non-empty string";
    }
    if (kind == call_kind::sms) {
      if (!text("notification_id") || !text("order_id")) {
        return "notification_id and order_id must be non-empty strings";
      }
      for (const char* name : {"template", "text"}) {
        auto i = body.find(name);
        if (i == body.end() || !i->is_string()) {
          return std::string{name} + " must be a string";
        }
      }
      return "";
    }
    if (!text("refund_id") || !text("txn_id")) {
      return "refund_id and txn_id must be non-empty strings";
    }
    auto amount = body.find("amount");
    if (amount == body.end() || !amount->is_number_integer()) {
      return "amount must be an integer";
    }
    auto order = body.find("order_id");
    if (order != body.end() && !order->is_string()) {
      return "order_id must be a string";
    }
    return "";
  }

  const sandbox_provider_options& opts_;
  ledger& calls_;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> unit_{0.0, 1.0};
  std::uint64_t requests_ = 0;
  std::uint64_t failed_ = 0;
  std::uint64_t duplicates_ = 0;
};

/// One keep-alive connection: read, answer (after the latency), write,
/// repeat. Confined to the I/O thread; kept alive by its pending handlers.
class session : public std::enable_shared_from_this<session> {
public:
  session(tcp::socket&& socket, endpoints& routes, std::int64_t latency_ms)
    : stream_(std::move(socket)), timer_(stream_.get_executor()),
      routes_(routes), latency_ms_(latency_ms) {}

  void read() {
    req_ = {};
    stream_.expires_after(std::chrono::seconds{60});
    http::async_read(
      stream_, buffer_, req_,
      [self = shared_from_this()](beast::error_code ec, std::size_t) {
        if (ec) {
          return self->close();
        }
        self->res_ = self->routes_.answer(self->req_);
        self->delay();
      });
  }

private:
  void delay() {
    if (latency_ms_ <= 0) {
      return write();
    }
    stream_.expires_never();
    timer_.expires_after(std::chrono::milliseconds{latency_ms_});
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec) {
        return self->close();
      }
      self->write();
    });
  }

  void write() {
    stream_.expires_after(std::chrono::seconds{30});
    http::async_write(
      stream_, res_,
      [self = shared_from_this()](beast::error_code ec, std::size_t) {
        if (ec || !self->res_.keep_alive()) {
          return self->close();
        }
        self->read();
      });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  request req_;
  response res_;
  endpoints& routes_;
  const std::int64_t latency_ms_;
};

class provider_impl final : public sandbox_provider {
public:
  explicit provider_impl(const sandbox_provider_options& opts)
    : opts_(opts), routes_(opts_, calls_), work_(asio::make_work_guard(ioc_)),
      listener_(ioc_, "sandbox-provider") {}

  ~provider_impl() override {
    stop();
  }

  bool listen(std::string* err) {
    if (!(opts_.fail_rate >= 0 && opts_.fail_rate <= 1)) {
      *err = "fail rate must be in [0, 1]";
      return false;
    }
    if (opts_.latency_ms < 0) {
      *err = "latency must not be negative";
      return false;
    }
    if (!calls_.open(opts_.data_file, err)) {
      return false;
    }
    return listener_.listen(opts_.host, opts_.port, err);
  }

  void run() {
    listener_.accept([this](tcp::socket socket) {
      std::make_shared<session>(std::move(socket), routes_, opts_.latency_ms)
        ->read();
    });
    thread_ = std::thread{[this] {
      gateway::run_io(ioc_, "sandbox-provider");
    }};
  }

  std::uint16_t port() const override {
    return listener_.port();
  }

  void stop() override {
    if (stopped_) {
      return;
    }
    stopped_ = true;
    work_.reset();
    ioc_.stop();
    if (thread_.joinable()) {
      thread_.join();
    }
    listener_.close();
  }

private:
  // Constant after construction.
  const sandbox_provider_options opts_;
  // Confined to the I/O thread once it runs.
  ledger calls_;
  endpoints routes_;
  // Declared after what the sessions use, so destroyed (with its pending
  // handlers and their sessions) before it.
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  gateway::listener listener_;
  std::thread thread_;
  bool stopped_ = false;
};

} // namespace

std::unique_ptr<sandbox_provider>
sandbox_provider::start(const sandbox_provider_options& opts,
                        std::string* err) {
  try {
    auto p = std::make_unique<provider_impl>(opts);
    if (!p->listen(err)) {
      return nullptr;
    }
    p->run();
    return p;
  } catch (const std::exception& e) {
    *err = std::string{"cannot start the sandbox provider: "} + e.what();
    return nullptr;
  }
}

} // namespace ordo::app
