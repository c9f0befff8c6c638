#include "gateway/client.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cctype>
#include <cerrno>
#include <sstream>
#include <stdexcept>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

namespace ordo::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

} // namespace

header_list bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

std::string response::header(std::string_view name) const {
  auto it = headers.find(lower(name));
  return it == headers.end() ? std::string() : it->second;
}

std::string response::error() const {
  if (json.is_object() && json.contains("error") && json["error"].is_string()) {
    return json["error"].get<std::string>();
  }
  return {};
}

// Each operation is async, run to completion on a private io_context:
// tcp_stream's timeouts only apply to async operations.
struct client::impl {
  std::string host;
  std::uint16_t port = 0;
  std::chrono::milliseconds limit{};
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  bool open = false;

  /// Runs the queued async operation to completion.
  void run(const beast::error_code& ec, const char* what) {
    ioc.restart();
    ioc.run();
    if (ec) {
      open = false;
      throw std::runtime_error(std::string(what) + ": " + ec.message());
    }
  }

  void connect() {
    beast::error_code ignored;
    stream.socket().close(ignored);
    buffer.clear();
    tcp::resolver resolver(ioc);
    auto endpoints = resolver.resolve(host, std::to_string(port));
    beast::error_code ec;
    stream.expires_after(limit);
    stream.async_connect(endpoints,
                         [&](beast::error_code e, const tcp::endpoint&) {
                           ec = e;
                         });
    run(ec, "connect");
    open = true;
  }

  void write(std::string_view bytes) {
    if (!open) {
      connect();
    }
    beast::error_code ec;
    stream.expires_after(limit);
    asio::async_write(stream, asio::buffer(bytes.data(), bytes.size()),
                      [&](beast::error_code e, std::size_t) {
                        ec = e;
                      });
    run(ec, "write");
  }

  response read() {
    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    beast::error_code ec;
    stream.expires_after(limit);
    http::async_read(stream, buffer, parser,
                     [&](beast::error_code e, std::size_t) {
                       ec = e;
                     });
    run(ec, "read");
    auto msg = parser.release();
    response r;
    r.status = msg.result_int();
    for (const auto& field : msg) {
      auto name = field.name_string();
      r.headers[lower({name.data(), name.size()})] = std::string(field.value());
    }
    r.body = std::move(msg.body());
    r.json = nlohmann::json::parse(r.body, nullptr, false);
    if (r.json.is_discarded()) {
      r.json = nullptr;
    }
    r.keep_alive = msg.keep_alive();
    if (!r.keep_alive) {
      open = false;
    }
    return r;
  }
};

client::client(std::uint16_t port, std::string host,
               std::chrono::milliseconds timeout)
  : impl_(std::make_unique<impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
  impl_->limit = timeout;
  impl_->connect();
}

client::~client() = default;

response client::request(std::string_view method, std::string_view target,
                         std::string_view body, const header_list& headers) {
  http::request<http::string_body> req;
  req.method_string(beast::string_view(method.data(), method.size()));
  req.target(beast::string_view(target.data(), target.size()));
  req.version(11);
  req.set(http::field::host, impl_->host + ":" + std::to_string(impl_->port));
  bool has_type = false;
  for (const auto& [name, value] : headers) {
    req.insert(name, value);
    has_type = has_type || lower(name) == "content-type";
  }
  if (!body.empty() && !has_type) {
    req.set(http::field::content_type, "application/json");
  }
  req.body() = std::string(body);
  req.prepare_payload();
  std::ostringstream wire;
  wire << req;
  impl_->write(wire.str());
  return impl_->read();
}

response client::get(std::string_view target, const header_list& headers) {
  return request("GET", target, {}, headers);
}

response client::post(std::string_view target, std::string_view body,
                      const header_list& headers) {
  return request("POST", target, body, headers);
}

response client::put(std::string_view target, std::string_view body,
                     const header_list& headers) {
  return request("PUT", target, body, headers);
}

void client::send_raw(std::string_view bytes) {
  impl_->write(bytes);
}

response client::read_response() {
  return impl_->read();
}

bool client::closed_by_peer(std::chrono::milliseconds wait) {
  if (!impl_->open) {
    return true;
  }
  if (impl_->buffer.size() > 0) {
    return false;
  }
  // Peek without disturbing the stream: EOF or an error means closed.
  int fd = impl_->stream.socket().native_handle();
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  int ready = ::poll(&p, 1, static_cast<int>(wait.count()));
  if (ready <= 0) {
    return false;
  }
  char byte;
  auto n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) {
    return false;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    return false;
  }
  impl_->open = false;
  return true;
}

void client::reconnect() {
  impl_->connect();
}

void client::timeout(std::chrono::milliseconds t) {
  impl_->limit = t;
}

} // namespace ordo::gateway
