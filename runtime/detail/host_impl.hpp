#pragma once

// Member definitions of directory<Kind> that run inside a host actor.
// Included at the end of host.hpp only.

namespace ordo::runtime::detail {

template <class Kind>
void host_actor<Kind>::initialize() {
  // What event_based_actor::initialize does, with a behavior shared by
  // every host of the kind and never freed (hosts may outlive static
  // destruction); consume() takes the mail before it is matched.
  caf::scheduled_actor::initialize();
  setf(is_initialized_flag);
  static const auto* shared = new caf::behavior{[](idle_atom) {}};
  do_become(*shared, true);
}

template <class Kind>
caf::invoke_message_result host_actor<Kind>::consume(caf::mailbox_element& x) {
  auto& content = x.content();
  if (content.match_elements<mail<Kind>>()) {
    directory<Kind>::turn(this, dir, content.get_mutable_as<mail<Kind>>(0));
    return caf::invoke_message_result::consumed;
  }
  if (content.match_elements<idle_atom>()) {
    directory<Kind>::idle(this, dir);
    return caf::invoke_message_result::consumed;
  }
  return caf::scheduled_actor::consume(x);
}

// From the directory's sweep; a busy host stays until a later sweep.
template <class Kind>
void directory<Kind>::idle(host_actor<Kind>* self, directory* dir) {
  auto& st = self->core;
  if (!Kind::busy(st.s) && !st.deferred && st.durable.load() == st.submitted
      && dir->try_passivate(st.id, st.received.load(), self->address())) {
    self->quit();
  }
}

template <class Kind>
void directory<Kind>::load(host_actor<Kind>* self, directory* dir) {
  auto& st = self->core;
  st.loaded = true;
  Kind::init(st.s, st.id);
  try {
    Kind::restore(*dir->env_.db, st.id, st.s);
  } catch (const std::exception& e) {
    // Refuse to run on a state we cannot read: better an error than wrong.
    std::cerr << "ordo: unreadable state of " << Kind::name << "/" << st.id
              << ": " << e.what() << "\n";
    st.broken = true;
  }
}

template <class Kind>
bool directory<Kind>::consumed(host_actor<Kind>* self, directory* dir,
                               const std::string& key) {
  auto& st = self->core;
  return dir->consuming(st.id, key)
         || dir->env_.db->get(storage::cf::dedupe, key).has_value();
}

template <class Kind>
void directory<Kind>::turn(host_actor<Kind>* self, directory* dir,
                           mail<Kind>& m) {
  auto& st = self->core;
  auto& env = dir->env_;
  st.received.fetch_add(1);
  if (!st.loaded) {
    load(self, dir);
  }
  aftermath<Kind> after;
  after.self = {Kind::name, st.id};
  storage::batch b;
  if (st.broken) {
    after.answers.push_back(
      {std::move(m.done),
       {actors::error{actors::errc::internal, "unreadable stored state"},
        {},
        {}},
       false});
    submit(self, dir, std::move(b), std::move(after));
    return;
  }
  std::string dedupe_key;
  if (!m.dedupe_id.empty()) {
    dedupe_key = storage::keys::owned(Kind::name, st.id, m.dedupe_id);
  }
  if (!dedupe_key.empty() && consumed(self, dir, dedupe_key)) {
    // Already applied: answer once the original turn is surely durable.
    after.answers.push_back(
      {std::move(m.done), {std::nullopt, "duplicate", {}}, m.want_state});
    if (m.want_state) {
      after.view = std::make_shared<typename Kind::state>(Kind::view(st.s));
    }
    submit(self, dir, std::move(b), std::move(after));
    return;
  }
  auto now = env.time->now();
  auto out = Kind::handle(st.s, m.in, now, dir->cfg_);
  if (!out.event.empty()) {
    Kind::persist(st.s, m.in, b);
    b.put(
      storage::cf::journal,
      storage::keys::journal(Kind::name, st.id, st.s.version),
      storage::codec::pack(
        {{"v", st.s.version}, {"e", out.event}, {"c", out.cause}, {"t", now}}));
    if (st.s.version > env.journal_keep) {
      // Bounded: each transition retires the one `journal_keep` before it.
      b.del(storage::cf::journal,
            storage::keys::journal(Kind::name, st.id,
                                   st.s.version - env.journal_keep));
    }
  }
  if (!dedupe_key.empty()) {
    b.put(storage::cf::dedupe, dedupe_key,
          storage::keys::be64(static_cast<std::uint64_t>(now)));
    dir->begin_consuming(st.id, dedupe_key);
    after.consumed = std::move(dedupe_key);
  }
  if (m.timer_due > 0) {
    auto key = storage::keys::owned(Kind::name, st.id, m.timer_name);
    auto stored = env.db->get(storage::cf::timers, key);
    if (stored
        && storage::keys::from_be64(*stored)
             == static_cast<std::uint64_t>(m.timer_due)) {
      b.del(storage::cf::timers, std::move(key));
    }
  }
  for (auto& msg : out.outbox) {
    relay::entry e{env.outbox->next_seq(), after.self, std::move(msg)};
    b.put(storage::cf::outbox, storage::keys::be64(e.seq), relay::encode(e));
    after.outbox.push_back(std::move(e));
  }
  for (auto& t : out.timers) {
    auto key = storage::keys::owned(Kind::name, st.id, t.name);
    if (t.due > 0) {
      b.put(storage::cf::timers, std::move(key),
            storage::keys::be64(static_cast<std::uint64_t>(t.due)));
    } else {
      b.del(storage::cf::timers, std::move(key));
    }
  }
  after.timers = std::move(out.timers);
  after.requests = std::move(out.requests);
  for (auto& sig : out.signals) {
    env.metrics->add(sig);
  }
  bool want_state = false;
  if (!out.defer_tag.empty()) {
    if (!st.deferred) {
      st.deferred = std::vector<typename host_core<Kind>::waiter>{};
    }
    auto& waiting = *st.deferred;
    bool joined = std::any_of(waiting.begin(), waiting.end(), [&](auto& w) {
      return w.tag == out.defer_tag;
    });
    waiting.push_back({out.defer_tag, std::move(m.done), m.want_state, joined});
  } else {
    after.answers.push_back({std::move(m.done),
                             {out.err, out.result, std::move(out.reply)},
                             m.want_state});
    want_state = m.want_state;
  }
  for (auto& res : out.resolves) {
    if (!st.deferred) {
      break;
    }
    auto& waiting = *st.deferred;
    for (auto i = waiting.begin(); i != waiting.end();) {
      if (i->tag == res.tag) {
        after.answers.push_back({std::move(i->done),
                                 {res.err, i->joined ? "joined" : "", {}},
                                 i->want_state});
        want_state = want_state || i->want_state;
        i = waiting.erase(i);
      } else {
        ++i;
      }
    }
  }
  if (st.deferred && st.deferred->empty()) {
    st.deferred.reset();
  }
  if (want_state) {
    after.view = std::make_shared<typename Kind::state>(Kind::view(st.s));
  }
  submit(self, dir, std::move(b), std::move(after));
}

template <class Kind>
void directory<Kind>::submit(host_actor<Kind>* self, directory* dir,
                             storage::batch b, aftermath<Kind> after) {
  auto& st = self->core;
  auto& env = dir->env_;
  auto seq = ++st.submitted;
  if (b.empty() && st.durable.load() == seq - 1) {
    // Nothing to write and nothing in flight: answer now.
    st.durable.store(seq);
    after.run(env);
    return;
  }
  // `me` keeps the host object, and so `core`, alive.
  auto me = caf::actor_cast<caf::actor>(self);
  auto* core = &self->core;
  env.db->commit(std::move(b), [after = std::move(after), core, seq, dir,
                                me](const storage::status& s) mutable {
    if (!after.consumed.empty()) {
      // Durable now (then the store has it) or never written.
      dir->end_consuming(core->id, after.consumed);
    }
    if (s.ok()) {
      core->durable.store(seq);
      after.run(dir->env_);
      return;
    }
    std::cerr << "ordo: commit failed for " << Kind::name << "/" << core->id
              << ": " << s.message() << "\n";
    after.fail(s.message());
    dir->evict(core->id, me.address());
    caf::anon_send_exit(me, caf::exit_reason::user_shutdown);
  });
}

// A resident order costs its actor object (with the core inside) in one
// tcmalloc size class of 1,536 B; a byte more and it takes 1,792.
static_assert(sizeof(caf::actor_storage<host_actor<order_kind>>) <= 1536,
              "an order host outgrew its allocator size class");

} // namespace ordo::runtime::detail
