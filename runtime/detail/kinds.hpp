#pragma once

// How the generic host (host.hpp) sees each actor kind of actors/: the
// state machine's types and functions under one name, and how its state is
// stored. Adding an actor kind means writing a `spec` here (its types and
// functions, and how the node's options configure it) and one entry in
// `all_kinds` at the end: the node derives everything else from that list.
//
// Two storage layouts (family `actors`, see storage/keys.hpp):
//   snapshot_kind (order, coupon, notifier, dispatcher, limiter):
//     owner                 -> the whole state
//   ledger_kind (sku, affiliate, technicians): actors that keep one
//   entry per order (dispatch) and may hold many:
//     owner                 -> the header (counters, sums)
//     owner NUL "e/" entry  -> one entry, so a hot actor's turn writes two
//                              small records, not all its entries
//   report_kind: sums that orders add to in their own batches (below).
// A top-level order's turn that changes what its entry of the user's order
// index shows (family aux, storage/keys.hpp) writes the entry in the same
// batch: the list a user reads is never older than the order.

#include <algorithm>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/attribution.hpp"
#include "actors/coupon.hpp"
#include "actors/dispatcher.hpp"
#include "actors/inventory.hpp"
#include "actors/limiter.hpp"
#include "actors/notifier.hpp"
#include "actors/order.hpp"
#include "actors/reports.hpp"
#include "runtime/node.hpp"
#include "storage/keys.hpp"
#include "storage/store.hpp"

namespace ordo::runtime::detail {

/// Reads the record at `key` into `j`; false if absent, throws if unreadable.
inline bool read_record(storage::store& db, const std::string& key,
                        nlohmann::json& j) {
  auto bytes = db.get(storage::cf::actors, key);
  if (!bytes) {
    return false;
  }
  j = storage::codec::unpack(*bytes);
  if (j.is_discarded()) {
    throw std::runtime_error{"record " + key + " is not MessagePack"};
  }
  return true;
}

/// Writes a turn's additions (actors::outcome::additions) into its batch:
/// each adds to the sums at its owner's record `part`.
inline void write_additions(const std::vector<actors::addition>& adds,
                            storage::batch& b) {
  for (const auto& a : adds) {
    b.add(storage::cf::actors, storage::keys::owned(a.to.kind, a.to.id, a.part),
          storage::codec::sums(a.values));
  }
}

/// True if the turn that produced `o` arms or disarms its timer `name`.
inline bool sets_timer(const actors::outcome& o, const std::string& name) {
  return std::any_of(o.timers.begin(), o.timers.end(),
                     [&](const actors::timer_op& t) {
                       return t.name == name;
                     });
}

/// Names a kind in a walk over a kind_list.
template <class Kind>
struct kind_tag {
  using type = Kind;
};

/// The parts shared by every layout. `Spec` names the state machine:
///   state, input, config; name; id (pointer to the state's id member);
///   handle_fn and decode_fn (the machine's handle and decode).
template <class Spec>
struct kind_base {
  using spec = Spec;
  using state = typename Spec::state;
  using input = typename Spec::input;
  using config = typename Spec::config;
  static constexpr const char* name = Spec::name;
  /// Where its actors live in a cluster.
  static constexpr placement place = Spec::place;

  /// The machine's config from the node's options.
  static config configure(const node_options& o) {
    return Spec::configure(o);
  }
  static void init(state& s, const std::string& id) {
    s.*Spec::id = id;
  }
  static actors::outcome handle(state& s, const input& in, actors::millis now,
                                const config& cfg) {
    return Spec::handle_fn(s, in, {now, &cfg});
  }
  static actors::result<input> decode(const actors::envelope& msg) {
    return Spec::decode_fn(msg);
  }
  /// What `persist` must know of the state as the turn found it: nothing,
  /// unless a kind writes a record only when part of its state changed.
  struct before {};
  static before remember(const state&) {
    return {};
  }
  /// True while a turn waits for answers; the actor must stay in memory.
  static bool busy(const state&) {
    return false;
  }
  /// What a reply carries of the state.
  static state view(const state& s) {
    return s;
  }
};

/// The whole state as one record.
template <class Spec>
struct snapshot_kind : kind_base<Spec> {
  using state = typename Spec::state;
  using input = typename Spec::input;

  using before = typename kind_base<Spec>::before;

  /// Adds the writes of a turn that changed the state.
  static void persist(const state& s, const before&, const input&,
                      storage::batch& b) {
    b.put(storage::cf::actors, storage::keys::owner(Spec::name, s.*Spec::id),
          storage::codec::pack(nlohmann::json(s)));
  }
  /// Loads the stored state of `id` into `s` (left as is when nothing is
  /// stored); throws if unreadable. Also the read path that does not
  /// activate an actor.
  static void restore(storage::store& db, const std::string& id, state& s) {
    nlohmann::json j;
    if (read_record(db, storage::keys::owner(Spec::name, id), j)) {
      j.get_to(s);
    }
  }
};

template <class Spec, class = void>
struct has_pack_header : std::false_type {};
template <class Spec>
struct has_pack_header<Spec, std::void_t<decltype(Spec::pack_header)>>
  : std::true_type {};

/// Whether a ledger spec keeps records of its own besides header and
/// entries (persist_more writes them in the turn's batch, restore_more
/// reads them back after the entries).
template <class Spec, class = void>
struct has_more_records : std::false_type {};
template <class Spec>
struct has_more_records<Spec, std::void_t<decltype(Spec::persist_more)>>
  : std::true_type {};

/// A header record plus one record per entry. `Spec` also names the
/// machine's header_to_json, entries_to_json, entries_from_json and subject.
template <class Spec>
struct ledger_kind : kind_base<Spec> {
  using state = typename Spec::state;
  using input = typename Spec::input;

  using before = typename kind_base<Spec>::before;

  static std::string entry_key(const std::string& id,
                               const std::string& entry) {
    return storage::keys::owned(Spec::name, id, "e/" + entry);
  }
  static void persist(const state& s, const before&, const input& in,
                      storage::batch& b) {
    const auto& id = s.*Spec::id;
    b.put(storage::cf::actors, storage::keys::owner(Spec::name, id),
          pack_header(s));
    if constexpr (has_more_records<Spec>::value) {
      Spec::persist_more(s, in, b);
    }
    const auto& entry = Spec::subject(in);
    if (entry.empty()) {
      return;
    }
    auto j = Spec::entries_to_json(s, entry);
    if (j.is_null()) {
      b.del(storage::cf::actors, entry_key(id, entry));
    } else {
      b.put(storage::cf::actors, entry_key(id, entry), storage::codec::pack(j));
    }
  }
  /// The header record: the spec's own writer when it has one (the same
  /// bytes, without building the JSON value), else header_to_json packed.
  static std::string pack_header(const state& s) {
    if constexpr (has_pack_header<Spec>::value) {
      return Spec::pack_header(s);
    } else {
      return storage::codec::pack(Spec::header_to_json(s));
    }
  }
  static void restore(storage::store& db, const std::string& id, state& s) {
    nlohmann::json j;
    if (!read_record(db, storage::keys::owner(Spec::name, id), j)) {
      return;
    }
    j.get_to(s);
    auto prefix = storage::keys::owned(Spec::name, id, "e/");
    db.scan(storage::cf::actors, prefix,
            [&](std::string_view key, std::string_view value) {
              auto e = storage::codec::unpack(value);
              if (e.is_discarded()) {
                throw std::runtime_error{"unreadable entry of "
                                         + std::string{Spec::name} + " " + id};
              }
              Spec::entries_from_json(e, std::string{key.substr(prefix.size())},
                                      s);
              return true;
            });
    if constexpr (has_more_records<Spec>::value) {
      Spec::restore_more(db, id, s);
    }
  }
};

/// The admin SMS's timing, shared by orders and the notifier actors.
inline actors::notifier::config notify_config(const node_options& o) {
  return {o.notify_delay, o.notify_ttl, o.recheck_delay};
}

struct order_spec {
  using state = actors::order::state;
  using input = actors::order::input;
  using config = actors::order::config;
  static constexpr const char* name = actors::order::kind;
  static constexpr placement place = placement::order_id;
  static constexpr auto id = &state::order_id;
  static constexpr auto handle_fn = &actors::order::handle;
  static constexpr auto decode_fn = &actors::order::decode;
  static config configure(const node_options& o) {
    // An order's reservations outlive its deadline by a minute (by the
    // payment timeout, if that is shorter: an orphan of a create cut short
    // by a crash holds its stock no longer than twice that), and last
    // reservation_ttl from the create at least.
    auto hold = std::max<actors::millis>(
      std::min<actors::millis>(60'000, o.payment_timeout),
      o.reservation_ttl - o.payment_timeout);
    return {o.payment_timeout, hold,           o.commission_ppm,
            o.flash_window,    o.saga_timeout, notify_config(o)};
  }
};

/// What a user's order index shows of an order (the value of
/// keys::user_order): the one list of the entry's fields.
struct index_fields {
  actors::order::status st = actors::order::status::none;
  std::int64_t payable = 0;
  actors::millis created_at = 0;
  std::string cancel_reason;

  static index_fields of(const actors::order::state& s) {
    return {s.st, s.payable, s.created_at, s.cancel_reason};
  }
  friend bool operator==(const index_fields& a, const index_fields& b) {
    return a.st == b.st && a.payable == b.payable
           && a.created_at == b.created_at
           && a.cancel_reason == b.cancel_reason;
  }
};

inline nlohmann::json index_entry(const index_fields& f) {
  return {{"st", actors::order::to_string(f.st)},
          {"pay", f.payable},
          {"created", f.created_at},
          {"reason", f.cancel_reason}};
}

/// Reads an index entry back; throws if unreadable.
inline index_fields read_index_entry(std::string_view value) {
  auto e = storage::codec::unpack(value);
  if (e.is_discarded() || !e.is_object()) {
    throw std::runtime_error{"unreadable order index entry"};
  }
  index_fields f;
  f.st = actors::order::parse_status(e.value("st", ""));
  f.payable = e.value("pay", std::int64_t{0});
  f.created_at = e.value("created", actors::millis{0});
  f.cancel_reason = e.value("reason", "");
  return f;
}

struct order_kind : snapshot_kind<order_spec> {
  /// What the order's index entry shows; nullopt: it has none (a child
  /// of a split, or not created).
  using before = std::optional<index_fields>;
  static before remember(const state& s) {
    if (!s.parent_id.empty() || s.st == actors::order::status::none) {
      return std::nullopt;
    }
    return index_fields::of(s);
  }
  /// The snapshot, and the index entry when the turn changed what it shows
  /// (a payment does; the admin SMS's turns do not).
  static void persist(const state& s, const before& was, const input& in,
                      storage::batch& b) {
    snapshot_kind<order_spec>::persist(s, {}, in, b);
    auto now = remember(s);
    if (now && !(now == was)) {
      b.put(storage::cf::aux,
            storage::keys::user_order(s.user_id, s.created_at, s.order_id),
            storage::codec::pack(index_entry(*now)));
    }
  }
  static bool busy(const state& s) {
    return actors::order::busy(s);
  }
  static state view(const state& s) {
    auto v = s;
    v.creating.reset();
    return v;
  }
};

struct sku_spec {
  using state = actors::inventory::state;
  using input = actors::inventory::input;
  using config = actors::inventory::config;
  static constexpr const char* name = actors::inventory::kind;
  static constexpr placement place = placement::hashed_id;
  static constexpr auto id = &state::sku;
  static constexpr auto handle_fn = &actors::inventory::handle;
  static constexpr auto decode_fn = &actors::inventory::decode;
  static config configure(const node_options& o) {
    return {o.reservation_ttl};
  }
  static constexpr auto header_to_json = &actors::inventory::header_to_json;
  static constexpr auto entries_to_json = &actors::inventory::entries_to_json;
  static constexpr auto entries_from_json
    = &actors::inventory::entries_from_json;
  static constexpr auto subject = &actors::inventory::subject;
  /// The expiry timer's turn releases every reservation due, not only the
  /// subject's: their entries go too.
  static void persist_more(const state& s, const input&, storage::batch& b) {
    for (const auto& order_id : s.expired_now) {
      b.del(storage::cf::actors,
            ledger_kind<sku_spec>::entry_key(s.sku, order_id));
    }
  }
  static void restore_more(storage::store&, const std::string&, state&) {}
};

struct sku_kind : ledger_kind<sku_spec> {
  /// Replies carry the counters, not the reservations.
  static state view(const state& s) {
    state v;
    v.sku = s.sku;
    v.exists = s.exists;
    v.version = s.version;
    v.price = s.price;
    v.kind = s.kind;
    v.stocked = s.stocked;
    v.available = s.available;
    v.reserved = s.reserved;
    v.sold = s.sold;
    v.updated_at = s.updated_at;
    return v;
  }
};

struct coupon_spec {
  using state = actors::coupon::state;
  using input = actors::coupon::input;
  using config = actors::coupon::config;
  static constexpr const char* name = actors::coupon::kind;
  static constexpr placement place = placement::hashed_id;
  static constexpr auto id = &state::coupon_id;
  static constexpr auto handle_fn = &actors::coupon::handle;
  static constexpr auto decode_fn = &actors::coupon::decode;
  /// A lock outlives its order's payment deadline, so only the locks of
  /// orders that never came to exist (a crash mid-create) lapse.
  static config configure(const node_options& o) {
    return {o.payment_timeout + 60'000};
  }
};
using coupon_kind = snapshot_kind<coupon_spec>;

struct affiliate_spec {
  using state = actors::attribution::state;
  using input = actors::attribution::input;
  using config = actors::attribution::config;
  static constexpr const char* name = actors::attribution::kind;
  static constexpr placement place = placement::hashed_id;
  static constexpr auto id = &state::affiliate_id;
  static constexpr auto handle_fn = &actors::attribution::handle;
  static constexpr auto decode_fn = &actors::attribution::decode;
  static config configure(const node_options&) {
    return {};
  }
  static constexpr auto header_to_json = &actors::attribution::header_to_json;
  static constexpr auto entries_to_json = &actors::attribution::entries_to_json;
  static constexpr auto entries_from_json
    = &actors::attribution::entries_from_json;
  static constexpr auto subject = &actors::attribution::subject;
};
using affiliate_kind = ledger_kind<affiliate_spec>;

struct notifier_spec {
  using state = actors::notifier::state;
  using input = actors::notifier::input;
  using config = actors::notifier::config;
  static constexpr const char* name = actors::notifier::kind;
  static constexpr placement place = placement::order_id;
  static constexpr auto id = &state::order_id;
  static constexpr auto handle_fn = &actors::notifier::handle;
  static constexpr auto decode_fn = &actors::notifier::decode;
  /// Orders keep their admin SMS; the notifier actors serve the orders
  /// stored before they did.
  static config configure(const node_options& o) {
    return notify_config(o);
  }
};
using notifier_kind = snapshot_kind<notifier_spec>;

struct dispatcher_spec {
  using state = actors::dispatcher::state;
  using input = actors::dispatcher::input;
  using config = actors::dispatcher::config;
  static constexpr const char* name = actors::dispatcher::kind;
  static constexpr placement place = placement::order_id;
  static constexpr auto id = &state::order_id;
  static constexpr auto handle_fn = &actors::dispatcher::handle;
  static constexpr auto decode_fn = &actors::dispatcher::decode;
  static config configure(const node_options& o) {
    return {o.dispatch_delay, o.recheck_delay};
  }
};
using dispatcher_kind = snapshot_kind<dispatcher_spec>;

struct technicians_spec {
  using state = actors::technicians::state;
  using input = actors::technicians::input;
  using config = actors::technicians::config;
  static constexpr const char* name = actors::technicians::kind;
  static constexpr placement place = placement::hashed_id;
  static constexpr auto id = &state::id;
  static constexpr auto handle_fn = &actors::technicians::handle;
  static constexpr auto decode_fn = &actors::technicians::decode;
  static config configure(const node_options& o) {
    return {o.technicians};
  }
  static constexpr auto header_to_json = &actors::technicians::header_to_json;
  static constexpr auto entries_to_json = &actors::technicians::entries_to_json;
  static constexpr auto entries_from_json
    = &actors::technicians::entries_from_json;
  static constexpr auto subject = &actors::technicians::subject;
};
using technicians_kind = ledger_kind<technicians_spec>;

struct limiter_spec {
  using state = actors::limiter::state;
  using input = actors::limiter::input;
  using config = actors::limiter::config;
  static constexpr const char* name = actors::limiter::kind;
  static constexpr placement place = placement::hashed_id;
  static constexpr auto id = &state::user_id;
  static constexpr auto handle_fn = &actors::limiter::handle;
  static constexpr auto decode_fn = &actors::limiter::decode;
  /// The rate limit is counted by the node's admission (node.cpp, admit)
  /// from the order index; the limiter actor only keeps the captcha.
  static config configure(const node_options& o) {
    config c;
    c.max_orders = 0;
    c.window = o.rate_window;
    c.captcha_after = o.captcha_after;
    c.verifier = o.captcha;
    return c;
  }
};
using limiter_kind = snapshot_kind<limiter_spec>;

struct report_spec {
  using state = actors::reports::state;
  using input = actors::reports::input;
  using config = actors::reports::config;
  static constexpr const char* name = actors::reports::kind;
  static constexpr placement place = placement::shard_name;
  static constexpr auto id = &state::shard;
  static constexpr auto handle_fn = &actors::reports::handle;
  static constexpr auto decode_fn = &actors::reports::decode;
  static config configure(const node_options&) {
    return {actors::reports::max_top_users};
  }
};

/// A report shard is counted by the turns of orders, as additions to its
/// sums in their batches (actors/reports.hpp, "Storage"); its own turns
/// (messages from orders of earlier versions) count the same way, through
/// their additions, and write nothing else.
struct report_kind : kind_base<report_spec> {
  static void persist(const state&, const before&, const input&,
                      storage::batch&) {}
  /// The header and user entries earlier versions wrote, plus the sums;
  /// `top` ranked from the users' counts.
  static void restore(storage::store& db, const std::string& id, state& s) {
    nlohmann::json j;
    if (read_record(db, storage::keys::owner(name, id), j)) {
      j.get_to(s);
    }
    s.shard = id;
    auto prefix = storage::keys::owner_prefix(name, id);
    db.scan(storage::cf::actors, prefix,
            [&](std::string_view key, std::string_view value) {
              std::string part{key.substr(prefix.size())};
              if (part.rfind("e/", 0) == 0) {
                auto e = storage::codec::unpack(value);
                if (e.is_discarded()) {
                  throw std::runtime_error{"unreadable entry of report " + id};
                }
                actors::reports::entries_from_json(e, part.substr(2), s);
                return true;
              }
              if (part == "top") {
                return true; // an earlier version's ranking: ranked below
              }
              auto sums = storage::codec::read_sums(value);
              if (!sums || !actors::reports::add_sums(s, part, *sums)) {
                throw std::runtime_error{"unreadable record " + part
                                         + " of report " + id};
              }
              return true;
            });
    actors::reports::rank_top(s, actors::reports::max_top_users);
  }
};

/// A list of actor kinds, walked at compile time.
template <class... Kinds>
struct kind_list {
  /// Calls `f(kind_tag<K>{})` for each kind K, in order.
  template <class F>
  static void each(F&& f) {
    (f(kind_tag<Kinds>{}), ...);
  }
  /// `Template<Kinds...>`, e.g. a tuple of one thing per kind.
  template <template <class...> class Template>
  using apply = Template<Kinds...>;
};

/// Every actor kind a node hosts: the one list a new kind is added to. The
/// node derives from it its directories (configured by each spec's
/// `configure`), the routing of messages by kind name, the inspection of
/// stored state (inspect.cpp), the counters of /metrics and the kinds
/// `ordo inspect` and the console offer (actor_kinds()).
using all_kinds
  = kind_list<order_kind, sku_kind, coupon_kind, affiliate_kind, notifier_kind,
              dispatcher_kind, technicians_kind, limiter_kind, report_kind>;

} // namespace ordo::runtime::detail
