#include "runtime/detail/oplog.hpp"

#include <atomic>
#include <deque>

#include "storage/keys.hpp"
#include "storage/store.hpp"

namespace ordo::runtime::detail {

namespace {

constexpr std::string_view oplog_prefix = "oplog/";

} // namespace

void append(storage::batch& b, const operator_action& a) {
  static std::atomic<std::uint64_t> counter{0};
  auto key = std::string{oplog_prefix}
             + storage::keys::be64(static_cast<std::uint64_t>(a.at))
             + storage::keys::be64(counter.fetch_add(1));
  b.put(storage::cf::aux, std::move(key),
        storage::codec::pack({{"at", a.at},
                              {"who", a.who},
                              {"action", a.action},
                              {"subject", a.subject},
                              {"detail", a.detail}}));
}

std::vector<operator_action> read_oplog(storage::store& db, std::size_t limit) {
  std::deque<operator_action> newest;
  db.scan(
    storage::cf::aux, oplog_prefix, [&](std::string_view, std::string_view v) {
      auto j = storage::codec::unpack(v);
      if (j.is_discarded() || !j.is_object()) {
        return true;
      }
      newest.push_back(
        {j.value("at", actors::millis{0}), j.value("who", std::string{}),
         j.value("action", std::string{}), j.value("subject", std::string{}),
         j.value("detail", std::string{})});
      if (newest.size() > limit) {
        newest.pop_front();
      }
      return true;
    });
  return {newest.rbegin(), newest.rend()};
}

} // namespace ordo::runtime::detail
