#include "actors/message.hpp"

#include <limits>

namespace ordo::actors::codec {

bool read(const nlohmann::json& j, std::string& v) {
  if (!j.is_string()) {
    return false;
  }
  v = j.get<std::string>();
  return true;
}

bool read(const nlohmann::json& j, std::int64_t& v) {
  if (!j.is_number_integer()
      || (j.is_number_unsigned()
          && j.get<std::uint64_t>() > static_cast<std::uint64_t>(
               std::numeric_limits<std::int64_t>::max()))) {
    return false;
  }
  v = j.get<std::int64_t>();
  return true;
}

bool read(const nlohmann::json& j, std::uint64_t& v) {
  if (!j.is_number_integer()
      || (!j.is_number_unsigned() && j.get<std::int64_t>() < 0)) {
    return false;
  }
  v = j.get<std::uint64_t>();
  return true;
}

bool read(const nlohmann::json& j, bool& v) {
  if (!j.is_boolean()) {
    return false;
  }
  v = j.get<bool>();
  return true;
}

bool read(const nlohmann::json& j, item_kind& v) {
  if (!j.is_string()) {
    return false;
  }
  auto k = parse_item_kind(j.get_ref<const std::string&>());
  if (!k) {
    return false;
  }
  v = *k;
  return true;
}

} // namespace ordo::actors::codec
