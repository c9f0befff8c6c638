#pragma once

// Typed messages between actors: each message is one struct, declared in
// its receiver's header, that names its type and lists its fields once.
// The sender builds the struct (`envelope_to`), the receiver reads the same
// struct back (`decode_one_of`), so a field renamed or retyped on one side
// only is a compile error, and no field is encoded or checked by hand.
//
// A message `M` has
//
//   static constexpr const char* type = "release";   // the envelope's type
//   template <class F> void fields(F& f) {
//     f("order_id", order_id);           // required
//     f("token", token);
//     f.optional("pay_deadline", pay_deadline);  // absent = its default
//   }
//
// and, when a well-typed body can still be wrong, a check:
//
//   const char* invalid() const;   // nullptr = fine, else why not
//
// A field is a std::string, an integer, a bool, an `item_kind`, a
// `std::vector` or `std::optional` of such, or a struct with a `fields()` of
// its own (written as an object). An optional field may also be null. The body
// is the JSON object the envelope carries: the form an outbox entry is stored
// in and a peer node receives, so messages stored by an earlier version read
// back as long as their field names did not change. A string that must not be
// empty says so in `invalid()`.

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/errc.hpp"
#include "actors/vocabulary.hpp"

namespace ordo::actors {

namespace codec {

template <class T, class = void>
struct has_fields : std::false_type {};

struct probe {
  template <class T>
  void operator()(const char*, T&) {}
  template <class T>
  void optional(const char*, T&) {}
};

template <class T>
struct has_fields<
  T, std::void_t<decltype(std::declval<T&>().fields(std::declval<probe&>()))>>
  : std::true_type {};

template <class T, class = void>
struct has_check : std::false_type {};

template <class T>
struct has_check<T, std::void_t<decltype(std::declval<const T&>().invalid())>>
  : std::true_type {};

template <class T, class = void>
struct has_type : std::false_type {};

template <class T>
struct has_type<T, std::void_t<decltype(T::type)>> : std::true_type {};

/// The message's type; "reply" for a reply's payload, which has none.
template <class T>
const char* type_of() {
  if constexpr (has_type<T>::value) {
    return T::type;
  } else {
    return "reply";
  }
}

inline nlohmann::json value(const std::string& v) {
  return v;
}
inline nlohmann::json value(std::int64_t v) {
  return v;
}
inline nlohmann::json value(std::uint64_t v) {
  return v;
}
inline nlohmann::json value(bool v) {
  return v;
}
inline nlohmann::json value(item_kind v) {
  return to_string(v);
}
template <class T>
nlohmann::json value(const std::vector<T>& v);
template <class T>
nlohmann::json value(const std::optional<T>& v);
template <class T, class = std::enable_if_t<has_fields<T>::value>>
nlohmann::json value(const T& v);

bool read(const nlohmann::json& j, std::string& v);
bool read(const nlohmann::json& j, std::int64_t& v);
bool read(const nlohmann::json& j, std::uint64_t& v);
bool read(const nlohmann::json& j, bool& v);
bool read(const nlohmann::json& j, item_kind& v);
template <class T>
bool read(const nlohmann::json& j, std::vector<T>& v);
template <class T>
bool read(const nlohmann::json& j, std::optional<T>& v);
template <class T, class = std::enable_if_t<has_fields<T>::value>>
bool read(const nlohmann::json& j, T& v);

/// Writes each field into a JSON object; an optional field only when it
/// differs from its default.
class writer {
public:
  explicit writer(nlohmann::json& out) : out_(out) {}

  template <class T>
  void operator()(const char* key, const T& v) {
    out_[key] = value(v);
  }
  template <class T>
  void optional(const char* key, const T& v) {
    if (!(v == T{})) {
      out_[key] = value(v);
    }
  }

private:
  nlohmann::json& out_;
};

/// Reads each field from a JSON object; remembers the first one missing or
/// of the wrong type.
class reader {
public:
  explicit reader(const nlohmann::json& in) : in_(in) {}

  template <class T>
  void operator()(const char* key, T& v) {
    take(key, v, true);
  }
  template <class T>
  void optional(const char* key, T& v) {
    take(key, v, false);
  }
  /// The first bad field, or nullptr.
  const char* bad() const noexcept {
    return bad_;
  }

private:
  template <class T>
  void take(const char* key, T& v, bool required) {
    if (bad_ != nullptr) {
      return;
    }
    auto i = in_.find(key);
    // An optional field may also be null.
    bool absent = i == in_.end() || (!required && i->is_null());
    if (absent ? required : !read(*i, v)) {
      bad_ = key;
    }
  }

  const nlohmann::json& in_;
  const char* bad_ = nullptr;
};

template <class T>
nlohmann::json value(const std::vector<T>& v) {
  auto out = nlohmann::json::array();
  for (const auto& x : v) {
    out.push_back(value(x));
  }
  return out;
}

template <class T>
nlohmann::json value(const std::optional<T>& v) {
  return v ? value(*v) : nlohmann::json{};
}

template <class T, class>
nlohmann::json value(const T& v) {
  auto out = nlohmann::json::object();
  writer w{out};
  // fields() only reads through the writer.
  const_cast<T&>(v).fields(w);
  return out;
}

template <class T>
bool read(const nlohmann::json& j, std::vector<T>& v) {
  if (!j.is_array()) {
    return false;
  }
  v.clear();
  v.reserve(j.size());
  for (const auto& x : j) {
    if (!read(x, v.emplace_back())) {
      return false;
    }
  }
  return true;
}

template <class T>
bool read(const nlohmann::json& j, std::optional<T>& v) {
  return read(j, v.emplace());
}

template <class T, class>
bool read(const nlohmann::json& j, T& v) {
  if (!j.is_object()) {
    return false;
  }
  reader r{j};
  v.fields(r);
  if (r.bad() != nullptr) {
    return false;
  }
  if constexpr (has_check<T>::value) {
    return v.invalid() == nullptr;
  }
  return true;
}

} // namespace codec

/// The JSON body of message `m`.
template <class M>
nlohmann::json body_of(const M& m) {
  return codec::value(m);
}

/// The bad_request of a message of `type` that `who` (the receiving kind)
/// cannot read, and why.
inline error undecodable(const char* who, const std::string& type,
                         const std::string& why) {
  return error{errc::bad_request,
               std::string{who} + " cannot decode '" + type + "': " + why};
}

/// Reads message `M` from `body`, checked; the error names the bad field
/// or what the check refused. `who` (the receiving kind) prefixes it.
template <class M>
result<M> read_body(const char* who, const nlohmann::json& body) {
  auto refuse = [who](const std::string& why) {
    return undecodable(who, codec::type_of<M>(), why);
  };
  if (!body.is_object()) {
    return refuse("body is not an object");
  }
  M m;
  codec::reader r{body};
  m.fields(r);
  if (r.bad() != nullptr) {
    return refuse(std::string{"missing or malformed '"} + r.bad() + "'");
  }
  if constexpr (codec::has_check<M>::value) {
    if (const char* why = m.invalid()) {
      return refuse(why);
    }
  }
  return m;
}

/// An envelope carrying `m` to `to`; the sender's outbox numbering gives
/// it its id.
template <class M>
envelope envelope_to(address to, const M& m) {
  return envelope{"", std::move(to), M::type, body_of(m)};
}

/// Decodes `msg` as whichever of `Ms` has its type, as an `Input`; nullopt
/// when none has.
template <class Input, class... Ms>
std::optional<result<Input>> decode_one_of(const char* who,
                                           const envelope& msg) {
  std::optional<result<Input>> out;
  auto try_one = [&](auto tag) {
    using M = typename decltype(tag)::type;
    if (!out && msg.type == M::type) {
      auto m = read_body<M>(who, msg.body);
      out = m ? result<Input>{Input{std::move(m.value())}}
              : result<Input>{m.err()};
    }
  };
  (try_one(std::common_type<Ms>{}), ...);
  return out;
}

} // namespace ordo::actors
