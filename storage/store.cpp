#include "storage/store.hpp"

#include "storage/detail/rocks_store.hpp"

namespace ordo::storage {

std::unique_ptr<store> store::open(const store_options& opts,
                                   std::string* err) {
  return detail::rocks_store::open(opts, err);
}

} // namespace ordo::storage
