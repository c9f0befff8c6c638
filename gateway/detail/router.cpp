#include "gateway/detail/router.hpp"

#include <algorithm>
#include <stdexcept>

#include "gateway/detail/errors.hpp"
#include "storage/keys.hpp"

namespace ordo::gateway::detail {

namespace {

std::vector<std::string> split(std::string_view path) {
  // "/a/b" → {"a", "b"}; "/" → {""}; "/a/" → {"a", ""}.
  std::vector<std::string> out;
  path.remove_prefix(1);
  for (;;) {
    auto slash = path.find('/');
    out.emplace_back(path.substr(0, slash));
    if (slash == std::string_view::npos) {
      return out;
    }
    path.remove_prefix(slash + 1);
  }
}

} // namespace

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    int hi = i + 2 < s.size() ? storage::codec::hex_digit(s[i + 1]) : -1;
    int lo = i + 2 < s.size() ? storage::codec::hex_digit(s[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      bad_request("malformed percent-escape in the request target");
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

namespace {

bool is_param(const std::string& segment) noexcept {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

} // namespace

std::string_view path_of(std::string_view target) noexcept {
  return target.substr(0, target.find('?'));
}

params query_of(std::string_view target) {
  params out;
  auto q = target.find('?');
  if (q == std::string_view::npos) {
    return out;
  }
  auto rest = target.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    auto pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{}
                                         : rest.substr(amp + 1);
    if (pair.empty()) {
      continue; // "a=1&&b=2"
    }
    auto eq = pair.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      bad_request("malformed query parameter '" + std::string{pair}
                  + "' (expected name=value)");
    }
    std::string value{pair.substr(eq + 1)};
    std::replace(value.begin(), value.end(), '+', ' ');
    auto name = percent_decode(pair.substr(0, eq));
    if (!out.emplace(name, percent_decode(value)).second) {
      bad_request("query parameter " + name + " given twice");
    }
  }
  return out;
}

void router::add(http::verb method, std::string pattern, handler serve) {
  if (pattern.empty() || pattern.front() != '/') {
    throw std::invalid_argument("route pattern must start with '/': "
                                + pattern);
  }
  route r{method, pattern, split(pattern), std::move(serve)};
  routes_.push_back(std::move(r));
}

router::match router::find(http::verb method, std::string_view target) const {
  auto path = path_of(target);
  if (path.empty() || path.front() != '/') {
    throw api_error(actors::errc::not_found, "no such resource");
  }
  std::vector<std::string> segments = split(path);
  for (auto& s : segments) {
    s = percent_decode(s);
  }

  match best;
  int best_literals = -1;
  std::vector<http::verb> allowed;
  for (const auto& r : routes_) {
    if (r.segments.size() != segments.size()) {
      continue;
    }
    params args;
    int literals = 0;
    bool ok = true;
    for (std::size_t i = 0; ok && i < segments.size(); ++i) {
      const auto& want = r.segments[i];
      if (is_param(want)) {
        ok = !segments[i].empty();
        if (ok) {
          args.emplace(want.substr(1, want.size() - 2), segments[i]);
        }
      } else {
        ok = want == segments[i];
        ++literals;
      }
    }
    if (!ok) {
      continue;
    }
    if (r.method != method) {
      if (std::find(allowed.begin(), allowed.end(), r.method)
          == allowed.end()) {
        allowed.push_back(r.method);
      }
      continue;
    }
    if (literals > best_literals) {
      best_literals = literals;
      best.found = &r;
      best.args = std::move(args);
    }
  }
  if (best.found != nullptr) {
    return best;
  }
  if (allowed.empty()) {
    throw api_error(actors::errc::not_found, "no such resource");
  }
  std::string allow;
  for (auto m : allowed) {
    if (!allow.empty()) {
      allow += ", ";
    }
    allow += std::string(http::to_string(m));
  }
  throw api_error(http::status::method_not_allowed, "method_not_allowed",
                  "allowed: " + allow)
    .with(http::field::allow, allow);
}

} // namespace ordo::gateway::detail
