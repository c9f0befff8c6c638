#include "storage/store.hpp"

#include <algorithm>
#include <utility>

#include "storage/detail/rocks_store.hpp"

namespace ordo::storage {

le_histogram::le_histogram(std::vector<double> bounds)
  : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void le_histogram::observe(double v) {
  // The first bound not below v: its bucket is (previous bound, bound]; none
  // (or NaN, which compares below nothing) is the bucket above the last.
  auto i
    = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  ++counts_[static_cast<std::size_t>(i)];
  sum_ += v;
}

histogram_data le_histogram::data() const {
  histogram_data out;
  out.bounds = bounds_;
  out.counts = counts_;
  out.sum = sum_;
  for (auto c : counts_) {
    out.count += c;
  }
  return out;
}

std::unique_ptr<store> store::open(const store_options& opts,
                                   std::string* err) {
  return detail::rocks_store::open(opts, err);
}

} // namespace ordo::storage
