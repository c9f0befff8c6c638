#include "runtime/detail/http_post.hpp"

#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "log/log.hpp"

namespace ordo::runtime::detail {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

bool all_digits(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  return true;
}

bool host_char(char c, bool v6) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
      || (c >= '0' && c <= '9')) {
    return true;
  }
  return v6 ? c == ':' || c == '.' : c == '.' || c == '-' || c == '_';
}

/// One request waiting for, or using, a connection. Confined to the I/O
/// thread.
struct call {
  std::string target; ///< the URL's path and the request's
  std::string body;
  http_poster::callback done;
  bool retried = false; ///< already repeated once on a fresh connection
};

/// One keep-alive connection. Confined to the I/O thread.
struct connection {
  explicit connection(asio::io_context& ioc) : resolver(ioc), stream(ioc) {}
  tcp::resolver resolver;
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  http::request<http::string_body> req;
  http::response<http::string_body> res;
};

} // namespace

bool closed_by_peer(const boost::system::error_code& ec) noexcept {
  return ec == http::error::end_of_stream || ec == asio::error::eof
         || ec == asio::error::connection_reset
         || ec == asio::error::broken_pipe;
}

std::optional<http_url>
parse_http_url(std::string_view url, std::string_view what, std::string* why) {
  auto fail = [&](std::string detail) -> std::optional<http_url> {
    *why = "invalid " + std::string{what} + " URL '" + std::string{url}
           + "': " + detail + " (expected http://HOST:PORT[/PATH])";
    return std::nullopt;
  };
  constexpr std::string_view scheme = "http://";
  if (url.substr(0, scheme.size()) != scheme) {
    return fail("must start with http:// (https is not supported)");
  }
  auto rest = url.substr(scheme.size());
  auto slash = rest.find_first_of("/?#");
  auto authority = rest.substr(0, slash);
  auto path
    = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  if (path.find_first_of("?#") != std::string_view::npos) {
    return fail("no query or fragment allowed");
  }
  if (authority.find('@') != std::string_view::npos) {
    return fail("no user info allowed");
  }
  http_url u;
  std::string_view host;
  std::string_view port;
  bool v6 = !authority.empty() && authority.front() == '[';
  if (v6) {
    auto close = authority.find(']');
    if (close == std::string_view::npos) {
      return fail("unterminated '[' in the host");
    }
    host = authority.substr(1, close - 1);
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return fail("unexpected text after the host");
      }
      port = after.substr(1);
      if (port.empty()) {
        return fail("empty port");
      }
    }
  } else {
    auto colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) {
        return fail("empty port");
      }
    }
  }
  if (host.empty()) {
    return fail("no host");
  }
  for (char c : host) {
    if (!host_char(c, v6)) {
      return fail("bad character in the host");
    }
  }
  if (!port.empty()) {
    if (port.size() > 5 || !all_digits(port)) {
      return fail("the port must be a number 1..65535");
    }
    auto value = std::stoul(std::string{port});
    if (value < 1 || value > 65535) {
      return fail("the port must be a number 1..65535");
    }
    u.port = static_cast<std::uint16_t>(value);
  }
  u.host = std::string{host};
  while (!path.empty() && path.back() == '/') {
    path.remove_suffix(1);
  }
  u.path = std::string{path};
  return u;
}

struct http_poster::impl {
  impl(const http_post_options& o, http_url u)
    : opts(o), url(std::move(u)),
      host_field((url.host.find(':') != std::string::npos ? "[" + url.host + "]"
                                                          : url.host)
                 + ":" + std::to_string(url.port)),
      work(asio::make_work_guard(ioc)) {}

  void run() {
    thread = std::thread{[this] {
      for (;;) {
        try {
          ioc.run();
          return;
        } catch (const std::exception& e) {
          log::error(opts.name, std::string{"I/O thread: "} + e.what());
        } catch (...) {
          log::error(opts.name, "I/O thread: unknown error");
        }
      }
    }};
  }

  void stop() {
    std::lock_guard<std::mutex> guard{stop_mu};
    if (stopped) {
      return;
    }
    stopped = true;
    work.reset();
    ioc.stop();
    if (thread.joinable()) {
      thread.join();
    }
    // No I/O thread runs now: drop what is left (handlers still queued in
    // the io_context go with it).
    waiting.clear();
    for (auto& c : idle) {
      beast::error_code ignored;
      c->stream.socket().close(ignored);
    }
    idle.clear();
  }

  /// Queues `k` and starts what the pool allows. I/O thread only.
  void submit(call k) {
    waiting.push_back(std::move(k));
    pump();
  }

  void pump() {
    while (!waiting.empty()) {
      std::shared_ptr<connection> c;
      if (!idle.empty()) {
        c = std::move(idle.back());
        idle.pop_back();
      } else if (open < opts.max_connections) {
        c = std::make_shared<connection>(ioc);
        ++open;
        connections.store(open);
      } else {
        return; // a connection coming back will pump again
      }
      auto k = std::move(waiting.front());
      waiting.pop_front();
      attempt(std::move(c), std::move(k));
    }
  }

  void attempt(std::shared_ptr<connection> c, call k) {
    calls.fetch_add(1, std::memory_order_relaxed);
    auto& req = c->req;
    req = {};
    req.method(http::verb::post);
    req.target(k.target);
    req.version(11);
    req.set(http::field::host, host_field);
    req.set(http::field::content_type, "application/json");
    req.set(http::field::user_agent, "ordo");
    req.keep_alive(true);
    req.body() = k.body;
    req.prepare_payload();
    // One deadline for the whole exchange (connect, write, read).
    c->stream.expires_after(std::chrono::milliseconds{opts.timeout});
    bool reused = c->stream.socket().is_open();
    if (reused) {
      write(std::move(c), std::move(k), true);
      return;
    }
    auto* r = &c->resolver;
    r->async_resolve(
      url.host, std::to_string(url.port), tcp::resolver::numeric_service,
      [this, c = std::move(c), k = std::move(k)](
        beast::error_code ec, tcp::resolver::results_type found) mutable {
        if (ec) {
          return failed_on(std::move(c), std::move(k), ec, false);
        }
        auto* s = &c->stream;
        s->async_connect(
          found, [this, c = std::move(c), k = std::move(k)](
                   beast::error_code ec2, const tcp::endpoint&) mutable {
            if (ec2) {
              return failed_on(std::move(c), std::move(k), ec2, false);
            }
            write(std::move(c), std::move(k), false);
          });
      });
  }

  void write(std::shared_ptr<connection> c, call k, bool reused) {
    auto* conn = c.get();
    http::async_write(
      conn->stream, conn->req,
      [this, c = std::move(c), k = std::move(k), reused](beast::error_code ec,
                                                         std::size_t) mutable {
        if (ec) {
          return failed_on(std::move(c), std::move(k), ec, reused);
        }
        auto* conn2 = c.get();
        conn2->res = {};
        http::async_read(conn2->stream, conn2->buffer, conn2->res,
                         [this, c = std::move(c), k = std::move(k),
                          reused](beast::error_code ec2, std::size_t) mutable {
                           if (ec2) {
                             return failed_on(std::move(c), std::move(k), ec2,
                                              reused);
                           }
                           answered(std::move(c), std::move(k));
                         });
      });
  }

  void answered(std::shared_ptr<connection> c, call k) {
    auto status = c->res.result_int();
    auto excerpt = c->res.body().substr(0, 200);
    if (c->res.keep_alive()) {
      c->stream.expires_never();
      idle.push_back(std::move(c));
    } else {
      close(*c);
    }
    if (status >= 200 && status < 300) {
      succeeded.fetch_add(1, std::memory_order_relaxed);
      k.done(true, {});
    } else {
      failed.fetch_add(1, std::memory_order_relaxed);
      k.done(false, opts.name + " answered " + std::to_string(status)
                      + (excerpt.empty() ? "" : ": " + excerpt));
    }
    pump();
  }

  void failed_on(std::shared_ptr<connection> c, call k,
                 const beast::error_code& ec, bool reused) {
    close(*c);
    if (reused && !k.retried && closed_by_peer(ec)) {
      k.retried = true;
      waiting.push_front(std::move(k));
    } else {
      failed.fetch_add(1, std::memory_order_relaxed);
      k.done(false, opts.name + " " + host_field + ": " + ec.message());
    }
    pump();
  }

  void close(connection& c) {
    beast::error_code ignored;
    c.stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    c.stream.socket().close(ignored);
    --open;
    connections.store(open);
  }

  // Constant after construction.
  const http_post_options opts;
  const http_url url;
  const std::string host_field;

  // Declared before everything holding sockets, destroyed after them.
  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  std::thread thread;

  // Confined to the I/O thread (or to stop() once it has ended).
  std::deque<call> waiting;
  std::vector<std::shared_ptr<connection>> idle;
  std::size_t open = 0; ///< connections open or opening

  std::atomic<std::uint64_t> calls{0};
  std::atomic<std::uint64_t> succeeded{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::size_t> connections{0};

  std::mutex stop_mu;
  bool stopped = false; // guarded by stop_mu
};

http_poster::http_poster(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

http_poster::~http_poster() {
  stop();
}

std::unique_ptr<http_poster> http_poster::start(http_url url,
                                                const http_post_options& opts,
                                                std::string* err) {
  if (url.host.empty()) {
    *err = opts.name + ": no host";
    return nullptr;
  }
  if (opts.max_connections < 1 || opts.timeout < 1) {
    *err = opts.name + ": max_connections and timeout must be positive";
    return nullptr;
  }
  auto p = std::unique_ptr<http_poster>{
    new http_poster{std::make_unique<impl>(opts, std::move(url))}};
  p->impl_->run();
  return p;
}

void http_poster::post(std::string path, std::string json_body, callback done) {
  call k;
  k.target = impl_->url.path + path;
  if (k.target.empty()) {
    k.target = "/";
  }
  k.body = std::move(json_body);
  k.done = std::move(done);
  asio::post(impl_->ioc, [i = impl_.get(), k = std::move(k)]() mutable {
    i->submit(std::move(k));
  });
}

http_poster::figures http_poster::stats() const {
  figures f;
  f.calls = impl_->calls.load();
  f.succeeded = impl_->succeeded.load();
  f.failed = impl_->failed.load();
  f.connections = impl_->connections.load();
  return f;
}

void http_poster::stop() {
  impl_->stop();
}

} // namespace ordo::runtime::detail
