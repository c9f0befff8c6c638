#pragma once

// boxed<T>: an optional T kept on the heap, copied by value. For members of
// a state that are usually absent (a create in progress, a saga): an empty
// box is one pointer, where std::optional<T> always holds sizeof(T), and a
// state lives in every resident actor.

#include <memory>
#include <utility>

namespace ordo::actors {

template <class T>
class boxed {
public:
  boxed() = default;
  boxed(const boxed& other) : p_(copy(other)) {}
  boxed(boxed&&) noexcept = default;
  boxed& operator=(const boxed& other) {
    if (this != &other) {
      p_ = copy(other);
    }
    return *this;
  }
  boxed& operator=(boxed&&) noexcept = default;
  ~boxed() = default;

  boxed& operator=(T value) {
    p_ = std::make_unique<T>(std::move(value));
    return *this;
  }

  bool has_value() const noexcept {
    return p_ != nullptr;
  }
  explicit operator bool() const noexcept {
    return has_value();
  }
  T& operator*() noexcept {
    return *p_;
  }
  const T& operator*() const noexcept {
    return *p_;
  }
  T* operator->() noexcept {
    return p_.get();
  }
  const T* operator->() const noexcept {
    return p_.get();
  }
  void reset() noexcept {
    p_.reset();
  }

private:
  static std::unique_ptr<T> copy(const boxed& other) {
    return other.p_ ? std::make_unique<T>(*other.p_) : nullptr;
  }

  std::unique_ptr<T> p_;
};

} // namespace ordo::actors
