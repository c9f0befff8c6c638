#include "actors/errc.hpp"

namespace ordo::actors {

const char* to_string(errc e) noexcept {
  switch (e) {
    case errc::bad_request: return "bad_request";
    case errc::unauthorized: return "unauthorized";
    case errc::not_found: return "not_found";
    case errc::insufficient_stock: return "insufficient_stock";
    case errc::coupon_unavailable: return "coupon_unavailable";
    case errc::already_paid: return "already_paid";
    case errc::invalid_transition: return "invalid_transition";
    case errc::idempotency_key_reused: return "idempotency_key_reused";
    case errc::rate_limited: return "rate_limited";
    case errc::captcha_required: return "captcha_required";
    case errc::unavailable: return "unavailable";
    case errc::internal: return "internal";
  }
  return "internal";
}

std::string clip(std::string_view text, std::size_t max) {
  if (text.size() <= max) {
    return std::string{text};
  }
  return std::string{text.substr(0, max)} + "...[+"
         + std::to_string(text.size() - max) + " bytes]";
}

std::optional<errc> parse_errc(const std::string& s) noexcept {
  for (auto e : {errc::bad_request, errc::unauthorized, errc::not_found,
                 errc::insufficient_stock, errc::coupon_unavailable,
                 errc::already_paid, errc::invalid_transition,
                 errc::idempotency_key_reused, errc::rate_limited,
                 errc::captcha_required, errc::unavailable, errc::internal}) {
    if (s == to_string(e)) {
      return e;
    }
  }
  return std::nullopt;
}

} // namespace ordo::actors
