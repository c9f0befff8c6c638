#pragma once

// Whether one JSON value shows everything another shows: an actor's
// inspection against the API's rendering of the same object.
//
// Threading: pure functions.

#include <string>

#include <nlohmann/json.hpp>

namespace ordo::test {

/// True when `part` is within `whole`: equal scalars; arrays of one size
/// whose elements are each within the other's; objects where every key of
/// `part` is in `whole` with a value within it (`whole` may have more).
/// Otherwise false, with the path of the first difference in `*where`.
inline bool json_within(const nlohmann::json& part, const nlohmann::json& whole,
                        std::string* where, const std::string& path = "") {
  auto differs = [&](const std::string& at) {
    *where = at + ": " + part.dump() + " vs " + whole.dump();
    return false;
  };
  if (part.is_object()) {
    if (!whole.is_object()) {
      return differs(path);
    }
    for (const auto& [key, value] : part.items()) {
      auto i = whole.find(key);
      if (i == whole.end()) {
        *where = path + "/" + key + ": missing";
        return false;
      }
      if (!json_within(value, *i, where, path + "/" + key)) {
        return false;
      }
    }
    return true;
  }
  if (part.is_array()) {
    if (!whole.is_array() || whole.size() != part.size()) {
      return differs(path);
    }
    for (std::size_t i = 0; i < part.size(); ++i) {
      if (!json_within(part[i], whole[i], where,
                       path + "/" + std::to_string(i))) {
        return false;
      }
    }
    return true;
  }
  return part == whole ? true : differs(path);
}

} // namespace ordo::test
