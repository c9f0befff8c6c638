#include "log/log.hpp"

#include <array>
#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>
#include <spdlog/logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>

namespace ordo::log {

namespace {

constexpr std::array<std::string_view, 5> level_names{"trace", "debug", "info",
                                                      "warn", "error"};

std::string_view name_of(level l) {
  return level_names[static_cast<std::size_t>(l)];
}

spdlog::level::level_enum to_spdlog(level l) {
  switch (l) {
    case level::trace: return spdlog::level::trace;
    case level::debug: return spdlog::level::debug;
    case level::info: return spdlog::level::info;
    case level::warn: return spdlog::level::warn;
    case level::error: return spdlog::level::err;
  }
  return spdlog::level::err;
}

/// Writes formatted lines to stderr or to a test's stream.
/// Threading: out_ is guarded by mutex_ (base_sink's, held around sink_it_).
class target_sink final : public spdlog::sinks::base_sink<std::mutex> {
public:
  void set_target(std::ostream* out) {
    std::lock_guard<std::mutex> guard(mutex_);
    out_ = out;
  }

protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    if (out_ != nullptr) {
      out_->write(line.data(), static_cast<std::streamsize>(line.size()));
      out_->flush();
      return;
    }
    // stdio's stderr (unbuffered): one write per line, and fd 2 wherever the
    // process has pointed it.
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
  }

  void flush_() override {
    if (out_ != nullptr) {
      out_->flush();
    } else {
      std::fflush(stderr);
    }
  }

private:
  std::ostream* out_ = nullptr;
};

/// The one logger. Threading: spdlog's logger and sink lock for themselves;
/// fmt_ is atomic.
struct state {
  std::shared_ptr<target_sink> sink = std::make_shared<target_sink>();
  spdlog::logger logger{"ordo", sink};
  std::atomic<format> fmt{format::text};

  state() {
    apply(level::info, format::text);
  }

  void apply(level min, format f) {
    // spdlog formats the time; the rest of the line is the payload, built
    // by write(). JSON's payload closes the object the pattern opens.
    const char* pattern = f == format::json
                            ? "{\"ts\":\"%Y-%m-%dT%H:%M:%S.%eZ\",%v"
                            : "%Y-%m-%dT%H:%M:%S.%eZ %v";
    logger.set_formatter(std::make_unique<spdlog::pattern_formatter>(
      pattern, spdlog::pattern_time_type::utc, "\n"));
    logger.set_level(to_spdlog(min));
    fmt.store(f);
  }
};

/// Never destroyed: threads may still log while statics are destroyed.
state& the_state() {
  static state* s = new state;
  return *s;
}

/// `s` with every control character escaped (\n, \r, \t, \xNN), so that it
/// stays on its line.
void append_escaped(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c != 0x7f) {
      out += ch;
      continue;
    }
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\x";
        out += hex[c >> 4];
        out += hex[c & 0xf];
    }
  }
}

/// `s` as a JSON string: quoted, escaped, invalid UTF-8 replaced.
std::string json_string(std::string_view s) {
  return nlohmann::json(std::string{s})
    .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string text_payload(level l, std::string_view component,
                         std::string_view message) {
  std::string out{name_of(l)};
  out += ' ';
  append_escaped(out, component);
  out += ": ";
  append_escaped(out, message);
  return out;
}

std::string json_payload(level l, std::string_view component,
                         std::string_view message) {
  std::string out = "\"level\":\"";
  out += name_of(l);
  out += "\",\"component\":";
  out += json_string(component);
  out += ",\"msg\":";
  out += json_string(message);
  out += '}';
  return out;
}

} // namespace

bool parse_level(std::string_view name, level* out) {
  for (std::size_t i = 0; i < level_names.size(); ++i) {
    if (name == level_names[i]) {
      *out = static_cast<level>(i);
      return true;
    }
  }
  return false;
}

bool parse_format(std::string_view name, format* out) {
  if (name == "text") {
    *out = format::text;
  } else if (name == "json") {
    *out = format::json;
  } else {
    return false;
  }
  return true;
}

void configure(level min, format fmt, std::ostream* out) {
  auto& s = the_state();
  s.sink->set_target(out);
  s.apply(min, fmt);
}

bool enabled(level l) noexcept {
  return the_state().logger.should_log(to_spdlog(l));
}

void write(level l, std::string_view component,
           std::string_view message) noexcept {
  auto& s = the_state();
  auto lvl = to_spdlog(l);
  if (!s.logger.should_log(lvl)) {
    return;
  }
  try {
    auto payload = s.fmt.load() == format::json
                     ? json_payload(l, component, message)
                     : text_payload(l, component, message);
    s.logger.log(lvl, spdlog::string_view_t{payload.data(), payload.size()});
  } catch (...) {
    // Out of memory building the line: it is lost, the caller goes on.
  }
}

} // namespace ordo::log
