#include "runtime/detail/sms.hpp"

#include <algorithm>
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "actors/notifier.hpp"
#include "log/log.hpp"
#include "storage/keys.hpp"
#include "storage/store.hpp"

namespace ordo::runtime::detail {

namespace {

constexpr std::string_view prefix = "sms/";
constexpr std::string_view count_key = "sms-count";

nlohmann::json to_json(const sms_record& r) {
  return {{"order", r.order_id},
          {"template", r.template_name},
          {"text", r.text},
          {"n", r.received},
          {"to", r.confirm_to}};
}

/// A stored record of `id`; received 0 when `bytes` is unreadable.
sms_record from_record(std::string id, std::string_view bytes) {
  sms_record r;
  r.notification_id = std::move(id);
  auto j = storage::codec::unpack(bytes);
  if (!j.is_object()) {
    return r;
  }
  r.order_id = j.value("order", "");
  r.template_name = j.value("template", "");
  r.text = j.value("text", "");
  r.received = j.value("n", std::uint32_t{0});
  r.confirm_to = j.value("to", std::string{"notifier"});
  return r;
}

/// `s` as a JSON string (quotes and escapes, invalid UTF-8 replaced).
std::string quoted(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false,
                                nlohmann::json::error_handler_t::replace);
}

/// `s` bare when it is a plain token, quoted otherwise, so the line stays
/// one line of key=value pairs.
std::string token(const std::string& s) {
  if (s.empty()) {
    return quoted(s);
  }
  for (unsigned char c : s) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f) {
      return quoted(s);
    }
  }
  return s;
}

/// Delivers "sms_sent" to the sender of `r` and hands its reply to `done`.
/// Without a dedupe id: the SMS machine ignores a repeat of it
/// (actors/notifier.hpp), so the receiver's turn writes no dedupe record.
void confirm_sms(const switchboard& targets, const sms_record& r,
                 reply_fn done) {
  auto sent = actors::envelope_to(
    {r.confirm_to, r.order_id}, actors::notifier::sms_sent{r.notification_id});
  targets.deliver(sent, "", std::move(done));
}

void answer(const reply_fn& done, actors::errc code, std::string why) {
  if (done) {
    done({actors::error{code, std::move(why)}, {}, {}});
  }
}

} // namespace

sms_sink::sms_sink(const switchboard& targets, storage::store* db,
                   std::unique_ptr<http_poster> poster, line_fn log)
  : targets_(targets), db_(db), poster_(std::move(poster)),
    log_(std::move(log)) {}

sms_sink::~sms_sink() {
  stop();
}

std::unique_ptr<sms_sink> sms_sink::start_webhook(const std::string& url,
                                                  const switchboard& targets,
                                                  std::string* err,
                                                  http_post_options opts) {
  auto parsed = parse_http_url(url, "--sms-webhook", err);
  if (!parsed) {
    return nullptr;
  }
  opts.name = "sms webhook";
  auto poster = http_poster::start(std::move(*parsed), opts, err);
  if (!poster) {
    return nullptr;
  }
  return std::unique_ptr<sms_sink>{
    new sms_sink{targets, nullptr, std::move(poster), {}}};
}

std::unique_ptr<sms_sink> sms_sink::log_sink(storage::store& db,
                                             const switchboard& targets,
                                             line_fn log) {
  return std::unique_ptr<sms_sink>{
    new sms_sink{targets, &db, nullptr, std::move(log)}};
}

void sms_sink::load() {
  if (!db_) {
    return;
  }
  std::lock_guard<std::mutex> guard{mu_};
  if (auto bytes = db_->get(storage::cf::aux, count_key)) {
    auto j = storage::codec::unpack(*bytes);
    if (j.is_object()) {
      sent_ = j.value("sent", std::uint64_t{0});
    }
    return;
  }
  // A data directory from before the count: count once (the first record
  // written stores it).
  db_->scan(storage::cf::aux, prefix,
            [this](std::string_view, std::string_view) {
              ++sent_;
              return true;
            });
}

void sms_sink::deliver(const actors::envelope& msg, std::string,
                       reply_fn done) {
  using actors::notifier::sms;
  if (msg.type != sms::type) {
    return answer(done, actors::errc::bad_request,
                  "sms: unknown message " + msg.type);
  }
  auto m = actors::read_body<sms>("sms", msg.body);
  if (!m) {
    return answer(done, m.err().code, m.err().message);
  }
  auto& s = m.value();
  sms_record r{std::move(s.notification_id),
               std::move(s.order_id),
               std::move(s.template_name),
               std::move(s.text),
               0,
               s.confirm_to.empty() ? actors::notifier::kind
                                    : std::move(s.confirm_to)};
  {
    std::lock_guard<std::mutex> guard{mu_};
    ++deliveries_;
  }
  bool confirm = true;
  if (auto f = fault_draw("sms.call")) {
    if (f->action == fault_action::error) {
      return answer(done, actors::errc::unavailable,
                    "sms: injected fault at sms.call");
    }
    if (f->action == fault_action::delay) {
      delayer_.after(f->delay_ms,
                     [this, r = std::move(r), done = std::move(done)] {
                       send(r, done, true);
                     });
      return;
    }
    confirm = false; // drop: the SMS goes out; its confirmation is lost
  }
  send(std::move(r), std::move(done), confirm);
}

void sms_sink::send(sms_record r, reply_fn done, bool confirm) {
  if (poster_) {
    post(std::move(r), std::move(done), confirm);
  } else {
    record(std::move(r), std::move(done), confirm);
  }
}

void sms_sink::post(sms_record r, reply_fn done, bool confirm) {
  auto body = nlohmann::json{
    {"notification_id", r.notification_id},
    {"order_id", r.order_id},
    {"template", r.template_name},
    {"text",
     r.text}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  poster_->post("", std::move(body),
                [this, r = std::move(r), done = std::move(done),
                 confirm](bool ok, std::string why) mutable {
                  {
                    std::lock_guard<std::mutex> guard{mu_};
                    if (!ok) {
                      ++failures_;
                    } else if (posted_.insert(r.notification_id).second) {
                      ++sent_;
                    }
                  }
                  if (!confirm) {
                    return;
                  }
                  if (!ok) {
                    return answer(done, actors::errc::unavailable,
                                  std::move(why));
                  }
                  confirm_sms(targets_, r, std::move(done));
                });
}

sms_record sms_sink::latest(const std::string& id) const {
  if (auto rec = writing_.find(id)) {
    return std::move(*rec);
  }
  auto bytes = db_->get(storage::cf::aux, std::string{prefix} + id);
  if (!bytes) {
    return sms_record{id, {}, {}, {}, 0, "notifier"};
  }
  auto r = from_record(id, *bytes);
  r.received = std::max<std::uint32_t>(r.received, 1);
  return r;
}

void sms_sink::record(sms_record r, reply_fn done, bool confirm) {
  // Held from the read to the commit's submission: the store commits in
  // submission order, so a repeat's write never lands before the first's.
  // Not mu_, which the callback takes (a closed store calls it at once):
  // the store read runs without it, so the commit thread never waits on it.
  std::lock_guard<std::mutex> submitting{submit_mu_};
  auto last = latest(r.notification_id);
  bool first = last.received == 0;
  if (!first) {
    r = std::move(last); // what was first received is what was sent
  }
  ++r.received;
  storage::batch b;
  if (first) {
    std::lock_guard<std::mutex> guard{mu_};
    ++sent_;
    b.put(storage::cf::aux, std::string{count_key},
          storage::codec::pack({{"sent", sent_}}));
  }
  writing_.begin(r.notification_id, r);
  b.put(storage::cf::aux, std::string{prefix} + r.notification_id,
        storage::codec::pack(to_json(r)));
  db_->commit(std::move(b), [this, r, done = std::move(done), confirm,
                             first](const storage::status& s) mutable {
    writing_.end(r.notification_id);
    if (!s.ok()) {
      {
        std::lock_guard<std::mutex> guard{mu_};
        ++failures_;
      }
      if (confirm) {
        answer(done, actors::errc::internal, "sms: " + s.message());
      }
      return;
    }
    if (first) {
      print(r);
    }
    if (confirm) {
      confirm_sms(targets_, r, std::move(done));
    }
  });
}

void sms_sink::print(const sms_record& r) {
  auto fields = "notification_id=" + token(r.notification_id) + " order_id="
                + token(r.order_id) + " template=" + token(r.template_name)
                + " text=" + quoted(r.text);
  if (log_) {
    log_("ordo sms: " + fields);
  } else {
    log::info("sms", fields);
  }
}

std::vector<sms_record> sms_sink::sent() const {
  std::vector<sms_record> out;
  if (!db_) {
    return out;
  }
  db_->scan(storage::cf::aux, prefix,
            [&](std::string_view k, std::string_view v) {
              auto r = from_record(std::string{k.substr(prefix.size())}, v);
              if (r.received > 0) {
                out.push_back(std::move(r));
              }
              return true;
            });
  return out;
}

sms_sink::figures sms_sink::stats() const {
  std::lock_guard<std::mutex> guard{mu_};
  figures f;
  f.sent = sent_;
  f.deliveries = deliveries_;
  f.failures = failures_;
  return f;
}

void sms_sink::stop() {
  delayer_.stop(); // first: a delayed send would post or commit
  if (poster_) {
    poster_->stop();
  }
}

} // namespace ordo::runtime::detail
