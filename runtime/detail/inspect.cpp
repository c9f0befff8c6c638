#include "runtime/detail/inspect.hpp"

#include <functional>
#include <map>
#include <stdexcept>

#include "runtime/detail/kinds.hpp"
#include "runtime/detail/relay.hpp"
#include "storage/keys.hpp"
#include "storage/store.hpp"

namespace ordo::runtime::detail {

namespace {

using reader = std::function<void(storage::store&, actor_view&)>;

/// Loads the whole state of `v.id` (entries included) as its kind stores it.
template <class Kind>
reader state_reader() {
  return [](storage::store& db, actor_view& v) {
    typename Kind::state s;
    Kind::init(s, v.id);
    Kind::restore(db, v.id, s);
    v.version = s.version;
    v.state = nlohmann::json(s);
  };
}

const std::map<std::string, reader>& readers() {
  static const std::map<std::string, reader> table = [] {
    std::map<std::string, reader> t;
    all_kinds::each([&](auto tag) {
      using kind = typename decltype(tag)::type;
      t.emplace(kind::name, state_reader<kind>());
    });
    return t;
  }();
  return table;
}

nlohmann::json unpack(std::string_view bytes, const std::string& what) {
  auto j = storage::codec::unpack(bytes);
  if (j.is_discarded()) {
    throw std::runtime_error{"unreadable " + what};
  }
  return j;
}

} // namespace

bool read_stored(storage::store& db, actor_view& v, std::size_t journal_keep) {
  auto r = readers().find(v.kind);
  if (r == readers().end()) {
    return false;
  }
  v.exists = db.get(storage::cf::actors, storage::keys::owner(v.kind, v.id))
               .has_value();
  r->second(db, v);
  auto prefix = storage::keys::owner_prefix(v.kind, v.id);
  db.scan(storage::cf::journal, prefix,
          [&](std::string_view, std::string_view value) {
            auto j = unpack(value, "journal entry of " + v.kind + "/" + v.id);
            v.journal.push_back(
              {j.value("v", std::uint64_t{0}), j.value("e", std::string{}),
               j.value("c", std::string{}), j.value("t", actors::millis{0})});
            return true;
          });
  if (v.journal.size() > journal_keep) {
    v.journal.erase(v.journal.begin(),
                    v.journal.end()
                      - static_cast<std::ptrdiff_t>(journal_keep));
  }
  db.scan(storage::cf::timers, prefix,
          [&](std::string_view key, std::string_view value) {
            auto due = storage::keys::from_be64(value);
            v.timers.push_back({std::string{key.substr(prefix.size())},
                                static_cast<actors::millis>(due.value_or(0))});
            return true;
          });
  return true;
}

std::vector<outbox_message> scan_outbox(storage::store& db,
                                        const actors::address& from) {
  std::vector<outbox_message> out;
  db.scan(storage::cf::outbox, "", [&](std::string_view k, std::string_view v) {
    auto seq = storage::keys::from_be64(k);
    if (!seq) {
      return true;
    }
    if (auto e = relay::decode(*seq, v); e && e->from == from) {
      outbox_message m;
      m.seq = e->seq;
      m.from = e->from;
      m.msg = std::move(e->msg);
      out.push_back(std::move(m));
    }
    return true;
  });
  return out;
}

} // namespace ordo::runtime::detail
