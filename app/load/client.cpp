#include "app/load/client.hpp"

#include <exception>
#include <utility>

#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include "gateway/client.hpp"
#include "runtime/detail/http_post.hpp"

namespace ordo::app::load {

namespace beast = boost::beast;
namespace http = beast::http;

std::int64_t micros(clock_type::duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

double seconds(clock_type::duration d) {
  return std::chrono::duration<double>(d).count();
}

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

// --- connection --------------------------------------------------------------

void connection::send(std::string wire, reply_fn done) {
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

void connection::connect() {
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

void connection::write() {
  stream_.expires_after(request_timeout);
  asio::async_write(stream_, asio::buffer(wire_),
                    [this](beast::error_code ec, std::size_t) {
                      if (ec) {
                        return fail(ec);
                      }
                      read();
                    });
}

void connection::read() {
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

void connection::fail(beast::error_code ec) {
  close();
  if (reused_ && runtime::detail::closed_by_peer(ec)) {
    reused_ = false;
    connect();
    return;
  }
  reply_.failure = ec == beast::error::timeout ? "timeout" : ec.message();
  finish();
}

void connection::close() {
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.socket().close(ignored);
  buffer_.clear();
  open_ = false;
}

void connection::finish() {
  reply_.done = clock_type::now();
  auto r = std::move(reply_);
  auto done = std::move(done_);
  done_ = nullptr;
  done(r); // may send the next request on this connection
}

// --- pool --------------------------------------------------------------------

pool::pool(asio::io_context& ioc, const tcp::resolver::results_type& where,
           std::size_t size)
  : ioc_(ioc) {
  for (std::size_t i = 0; i < size; ++i) {
    connections_.push_back(std::make_unique<connection>(ioc, where));
  }
}

void pool::batch(std::size_t n,
                 const std::function<std::string(std::size_t)>& make,
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
  for (auto& c : connections_) {
    pump(*c);
  }
  ioc_.restart();
  ioc_.run();
}

reply pool::fetch(std::string wire) {
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

reply blocking_get(const std::string& host, std::uint16_t port,
                   const std::string& target, const std::string& bearer) {
  reply r;
  try {
    gateway::client c{port, host, request_timeout};
    auto res = c.get(target, gateway::bearer(bearer));
    r.status = res.status;
    r.body = std::move(res.body);
  } catch (const std::exception& e) {
    r.failure = e.what();
  }
  return r;
}

} // namespace ordo::app::load
