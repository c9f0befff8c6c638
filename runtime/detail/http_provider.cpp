#include "runtime/detail/http_provider.hpp"

#include <nlohmann/json.hpp>

#include "actors/provider.hpp"
#include "runtime/detail/builtin_provider.hpp"
#include "runtime/detail/http_post.hpp"
#include "runtime/detail/payment_call.hpp"

namespace ordo::runtime::detail {

http_provider::http_provider(std::unique_ptr<http_poster> poster,
                             const switchboard& targets)
  : poster_(std::move(poster)), targets_(targets) {}

http_provider::~http_provider() {
  stop();
}

std::unique_ptr<http_provider>
http_provider::start(const http_provider_options& opts,
                     const switchboard& targets, std::string* err) {
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
  payment_call(
    delayer_, msg, std::move(done),
    [this](const actors::provider::input& c, reply_fn done, bool answer) {
      call(c, std::move(done), answer);
    });
}

void http_provider::call(const actors::provider::input& c, reply_fn done,
                         bool answer) {
  auto unavailable = [done](const std::string& why) {
    if (done) {
      done({actors::error{actors::errc::unavailable, why}, {}, {}});
    }
  };
  if (const auto* close = std::get_if<actors::provider::close>(&c)) {
    poster_->post("/close", actors::body_of(*close).dump(),
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
  const auto& refund = std::get<actors::provider::refund>(c);
  auto order_id = refund.order_id;
  auto refund_id = refund.refund_id;
  auto* targets = &targets_;
  poster_->post("/refund", actors::body_of(refund).dump(),
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
