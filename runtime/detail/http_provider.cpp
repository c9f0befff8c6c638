#include "runtime/detail/http_provider.hpp"

#include <nlohmann/json.hpp>

#include "runtime/detail/http_post.hpp"
#include "runtime/detail/sandbox.hpp"

namespace ordo::runtime::detail {

http_provider::http_provider(std::unique_ptr<http_poster> poster,
                             const router& targets)
  : poster_(std::move(poster)), targets_(targets) {}

http_provider::~http_provider() {
  stop();
}

std::unique_ptr<http_provider>
http_provider::start(const http_provider_options& opts, const router& targets,
                     std::string* err) {
  auto url = parse_http_url(opts.url, "payment provider", err);
  if (!url) {
    return nullptr;
  }
  http_post_options po;
  po.max_connections = opts.max_connections;
  po.timeout = opts.timeout;
  po.name = "payment provider";
  auto poster = http_poster::start(std::move(*url), po, err);
  if (!poster) {
    return nullptr;
  }
  return std::unique_ptr<http_provider>{
    new http_provider{std::move(poster), targets}};
}

void http_provider::deliver(const actors::envelope& msg, std::string,
                            reply_fn done) {
  auto fail = [&](std::string why) {
    if (done) {
      done({actors::error{actors::errc::bad_request, std::move(why)}, {}, {}});
    }
  };
  if (msg.body.value("order_id", "").empty()) {
    return fail("payment provider: " + msg.type + " without order_id");
  }
  if (msg.type != "close" && msg.type != "refund") {
    return fail("payment provider: unknown call " + msg.type);
  }
  if (msg.type == "refund" && msg.body.value("refund_id", "").empty()) {
    return fail("payment provider: refund without refund_id");
  }
  bool answer = true;
  if (auto f = fault_draw("payment.call")) {
    if (f->action == fault_action::error) {
      if (done) {
        done({actors::error{actors::errc::unavailable,
                            "payment provider: injected fault at payment.call"},
              {},
              {}});
      }
      return;
    }
    if (f->action == fault_action::delay) {
      delayer_.after(f->delay_ms, [this, msg, done = std::move(done)] {
        call(msg, done, true);
      });
      return;
    }
    answer = false; // drop: the call is made; its answer is lost
  }
  call(msg, std::move(done), answer);
}

void http_provider::call(const actors::envelope& msg, reply_fn done,
                         bool answer) {
  auto order_id = msg.body.value("order_id", "");
  auto unavailable = [done](const std::string& why) {
    if (done) {
      done({actors::error{actors::errc::unavailable, why}, {}, {}});
    }
  };
  if (msg.type == "close") {
    poster_->post("/close", nlohmann::json{{"order_id", order_id}}.dump(),
                  [done, unavailable, answer](bool ok, const std::string& why) {
                    if (!answer) {
                      return;
                    }
                    if (!ok) {
                      unavailable(why);
                    } else if (done) {
                      done({});
                    }
                  });
    return;
  }
  auto refund_id = msg.body.value("refund_id", "");
  auto body = nlohmann::json{
    {"refund_id", refund_id},
    {"txn_id", msg.body.value("txn_id", "")},
    {"amount", msg.body.value("amount", std::int64_t{0})},
    {"order_id",
     order_id}}.dump();
  auto* targets = &targets_;
  poster_->post("/refund", std::move(body),
                [targets, order_id, refund_id, done, unavailable,
                 answer](bool ok, const std::string& why) {
                  if (!answer) {
                    return;
                  }
                  if (!ok) {
                    unavailable(why);
                  } else {
                    confirm_refund(*targets, order_id, refund_id, done);
                  }
                });
}

http_provider::figures http_provider::stats() const {
  auto p = poster_->stats();
  figures f;
  f.calls = p.calls;
  f.succeeded = p.succeeded;
  f.failed = p.failed;
  f.connections = p.connections;
  return f;
}

void http_provider::stop() {
  delayer_.stop(); // first: a delayed call would post
  poster_->stop();
}

} // namespace ordo::runtime::detail
