#include "gateway/detail/session.hpp"

#include "gateway/detail/forward.hpp"

#include <utility>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include "gateway/detail/errors.hpp"
#include "log/log.hpp"
#include "runtime/faults.hpp"

namespace ordo::gateway::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

/// The one reply of one request. Delivered at most once from any thread;
/// destroyed undelivered, it answers 500 (a handler or the node lost it).
/// Threading: `delivered_` is atomic; the rest is constant.
class reply_slot {
public:
  reply_slot(std::weak_ptr<session> s, std::shared_ptr<gate> g,
             std::uint64_t seq)
    : session_(std::move(s)), gate_(std::move(g)), seq_(seq) {}
  reply_slot(const reply_slot&) = delete;
  reply_slot& operator=(const reply_slot&) = delete;

  ~reply_slot() {
    if (!delivered_.load()) {
      deliver([]() -> reply {
        throw std::logic_error("request dropped without a reply");
      });
    }
  }

  /// True for the first caller only.
  bool claim() noexcept {
    return !delivered_.exchange(true);
  }

  void deliver(reply_maker make) noexcept {
    if (!claim()) {
      return;
    }
    try {
      std::lock_guard<std::mutex> guard(gate_->mu);
      if (!gate_->open) {
        return; // the server has stopped: drop the reply
      }
      auto s = session_.lock();
      if (!s) {
        return; // the connection is gone
      }
      asio::post(s->executor(), [s, seq = seq_, make = std::move(make)] {
        s->finish(seq, make);
      });
    } catch (const std::exception& e) {
      log::error("gateway",
                 "cannot deliver a reply: " + actors::clip(e.what()));
    }
  }

private:
  const std::weak_ptr<session> session_;
  const std::shared_ptr<gate> gate_;
  const std::uint64_t seq_;
  std::atomic<bool> delivered_{false};
};

bool is_http_error(const beast::error_code& ec) {
  return ec.category()
         == beast::http::make_error_code(http::error::need_more).category();
}

constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";

} // namespace

// --- server_state ----------------------------------------------------------

server_state::server_state(server_options o, router r,
                           std::shared_ptr<request_metrics> m)
  : opts(std::move(o)), routes(std::move(r)), exit(std::make_shared<gate>()),
    requests(std::move(m)) {}

bool server_state::admit(const std::shared_ptr<session>& s) {
  std::lock_guard<std::mutex> guard(mu_);
  if (sessions_.size() >= opts.max_connections) {
    return false;
  }
  sessions_.emplace(s.get(), s);
  return true;
}

void server_state::forget(const session* s) {
  std::shared_ptr<session> last;
  std::lock_guard<std::mutex> guard(mu_);
  auto it = sessions_.find(s);
  if (it != sessions_.end()) {
    last = std::move(it->second); // released after the lock
    sessions_.erase(it);
  }
}

std::unordered_map<const session*, std::shared_ptr<session>>
server_state::take_all() {
  std::lock_guard<std::mutex> guard(mu_);
  return std::exchange(sessions_, {});
}

// --- session ---------------------------------------------------------------

session::session(tcp::socket&& socket, server_state& state)
  : state_(state), executor_(socket.get_executor()),
    stream_(std::move(socket)) {}

void session::start() {
  asio::dispatch(executor_, [self = shared_from_this()] {
    self->read_request();
  });
}

void session::refuse() noexcept {
  static const std::string busy = [] {
    std::string body
      = R"({"error":"unavailable","message":"too many connections"})";
    return "HTTP/1.1 503 Service Unavailable\r\n"
           "Server: ordo\r\n"
           "Content-Type: application/json\r\n"
           "Retry-After: 1\r\n"
           "Connection: close\r\n"
           "Content-Length: "
           + std::to_string(body.size()) + "\r\n\r\n" + body;
  }();
  beast::error_code ignored;
  auto& socket = stream_.socket();
  socket.non_blocking(true, ignored);
  if (!ignored) {
    socket.write_some(asio::buffer(busy), ignored);
  }
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
  closed_ = true;
}

void session::abort() noexcept {
  beast::error_code ec;
  stream_.socket().close(ec);
  closed_ = true;
}

void session::read_request() {
  parser_.emplace();
  parser_->body_limit(state_.opts.body_limit);
  parser_->header_limit(state_.opts.header_limit);
  unread_ = false;
  if (first_ || buffer_.size() > 0) {
    // A new connection gets the header timeout from its first moment; a
    // pipelined request is already arriving.
    first_ = false;
    read_header();
    return;
  }
  // Keep-alive: wait up to the idle timeout for the next request to start.
  stream_.expires_after(state_.opts.idle_timeout);
  stream_.async_read_some(
    buffer_.prepare(4096),
    [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      if (ec) {
        self->close();
        return;
      }
      self->buffer_.commit(n);
      self->read_header();
    });
}

void session::read_header() {
  stream_.expires_after(state_.opts.header_timeout);
  http::async_read_header(
    stream_, buffer_, *parser_,
    [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_header(ec);
    });
}

void session::on_header(beast::error_code ec) {
  if (ec) {
    read_failed(ec);
    return;
  }
  if (parser_->is_done()) {
    dispatch();
    return;
  }
  const auto& header = parser_->get();
  auto expect = header[http::field::expect];
  if (beast::iequals(expect, "100-continue")) {
    stream_.expires_after(state_.opts.write_timeout);
    asio::async_write(
      stream_, asio::buffer(continue_line.data(), continue_line.size()),
      [self = shared_from_this()](beast::error_code ec, std::size_t) {
        if (ec) {
          self->close();
          return;
        }
        self->read_body();
      });
    return;
  }
  read_body();
}

void session::read_body() {
  stream_.expires_after(state_.opts.body_timeout);
  http::async_read(
    stream_, buffer_, *parser_,
    [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_body(ec);
    });
}

void session::on_body(beast::error_code ec) {
  if (ec) {
    read_failed(ec);
    return;
  }
  dispatch();
}

void session::read_failed(beast::error_code ec) {
  started_ = std::chrono::steady_clock::now();
  route_ = unmatched_route;
  method_ = http::verb::unknown;
  unread_ = true;
  keep_alive_ = false;
  version_ = 11;
  std::exception_ptr e;
  if (ec == http::error::body_limit) {
    e = std::make_exception_ptr(
      api_error(http::status::payload_too_large, "payload_too_large",
                "request body exceeds " + std::to_string(state_.opts.body_limit)
                  + " bytes"));
  } else if (ec == http::error::header_limit) {
    e = std::make_exception_ptr(
      api_error(actors::errc::bad_request,
                "request header exceeds "
                  + std::to_string(state_.opts.header_limit) + " bytes"));
  } else if (is_http_error(ec) && ec != http::error::end_of_stream
             && ec != http::error::partial_message) {
    e = std::make_exception_ptr(api_error(
      actors::errc::bad_request, "malformed HTTP request: " + ec.message()));
  } else {
    // Timeout, reset, or the client closed: nobody to answer.
    close();
    return;
  }
  write(to_reply(e), true);
}

void session::dispatch() {
  started_ = std::chrono::steady_clock::now();
  route_ = unmatched_route;
  req_ = parser_->release();
  // Only the cluster mesh may mark a request as forwarded by a peer.
  req_.erase(via_header);
  method_ = req_.method();
  parser_.reset();
  keep_alive_ = req_.keep_alive();
  version_ = req_.version() == 10 ? 10 : 11;
  stream_.expires_never();

  auto slot
    = std::make_shared<reply_slot>(weak_from_this(), state_.exit, ++seq_);
  respond_fn respond = [slot](reply_maker make) {
    slot->deliver(std::move(make));
  };
  try {
    auto target = req_.target();
    auto m = state_.routes.find(req_.method(), {target.data(), target.size()});
    route_ = m.found->pattern;
    m.found->serve(req_, m.args, respond);
  } catch (...) {
    if (slot->claim()) {
      write(to_reply(std::current_exception()), false);
    } else {
      // Answered already: keep that reply; to_reply() logs the failure.
      to_reply(std::current_exception());
    }
  }
}

void session::finish(std::uint64_t seq, const reply_maker& make) {
  if (closed_ || seq != seq_) {
    return;
  }
  reply r;
  try {
    r = make();
  } catch (...) {
    r = to_reply(std::current_exception());
  }
  write(std::move(r), false);
}

void session::write(reply r, bool close) {
  // The write itself: at once, or after a gateway.before_reply delay.
  auto send = [this](reply r, bool close) {
    try {
      res_ = {};
      res_.version(version_);
      res_.result(r.status);
      res_.set(http::field::server, "ordo");
      res_.set(http::field::content_type, "application/json");
      for (auto& [name, value] : r.headers) {
        res_.set(name, value);
      }
      for (auto& [name, value] : r.named_headers) {
        res_.set(name, value);
      }
      res_.body() = std::move(r.body);
      res_.keep_alive(keep_alive_ && !close);
      res_.prepare_payload();
    } catch (const std::exception& e) {
      log::error("gateway", "cannot build a reply: " + actors::clip(e.what()));
      this->close();
      return;
    }
    bool keep = res_.keep_alive();
    stream_.expires_after(state_.opts.write_timeout);
    http::async_write(
      stream_, res_,
      [self = shared_from_this(), keep](beast::error_code ec, std::size_t) {
        self->on_write(ec, keep);
      });
  };
  if (auto f = runtime::fault_draw("gateway.before_reply")) {
    if (f->action == runtime::fault_action::drop) {
      this->close(); // nobody is answered
      return;
    }
    if (f->action == runtime::fault_action::error) {
      r = to_reply(std::make_exception_ptr(
        std::runtime_error("injected fault at gateway.before_reply")));
    } else if (f->action == runtime::fault_action::delay) {
      observe(r.status); // the injected delay is not the server's time
      // A timer on the strand: the I/O thread goes on serving others.
      auto timer = std::make_shared<asio::steady_timer>(
        executor_, std::chrono::milliseconds{f->delay_ms});
      timer->async_wait([self = shared_from_this(), timer, send,
                         r = std::move(r),
                         close](beast::error_code ec) mutable {
        if (!ec && !self->closed_) {
          send(std::move(r), close);
        }
      });
      return;
    }
  }
  observe(r.status);
  send(std::move(r), close);
}

void session::observe(http::status status) noexcept {
  try {
    std::chrono::duration<double> took
      = std::chrono::steady_clock::now() - started_;
    auto method = http::to_string(method_);
    state_.requests->record(route_, {method.data(), method.size()},
                            static_cast<unsigned>(status), took.count());
  } catch (const std::exception& e) {
    log::error("gateway", "cannot record a request: " + actors::clip(e.what()));
  }
}

void session::on_write(beast::error_code ec, bool keep_alive) {
  res_ = {};
  req_ = {};
  if (ec) {
    close();
    return;
  }
  if (!keep_alive) {
    linger();
    return;
  }
  read_request();
}

void session::linger() {
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  if (!unread_) {
    close();
    return;
  }
  // The client may still be sending the body we refused; reading it for a
  // moment lets it see our reply instead of a connection reset.
  stream_.expires_after(std::chrono::seconds(2));
  drain(state_.opts.body_limit);
}

void session::drain(std::size_t budget) {
  stream_.async_read_some(
    asio::buffer(discard_),
    [self = shared_from_this(), budget](beast::error_code ec, std::size_t n) {
      if (ec || n >= budget) {
        self->close();
        return;
      }
      self->drain(budget - n);
    });
}

void session::close() noexcept {
  if (closed_) {
    return;
  }
  closed_ = true;
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.socket().close(ignored);
  state_.forget(this);
}

} // namespace ordo::gateway::detail
