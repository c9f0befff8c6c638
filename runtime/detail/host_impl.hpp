#pragma once

// Member definitions of directory<Kind> that run inside a host actor.
// Included at the end of host.hpp only.

namespace ordo::runtime::detail {

// One line a second at most, with the count of those left out: a disk short
// of space fails every actor's commit.
inline void log_failed_commit(const char* kind, const std::string& id,
                              const std::string& why) {
  static std::atomic<std::int64_t> next_ms{0};
  static std::atomic<std::uint64_t> unlogged{0};
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
               .count();
  auto due = next_ms.load();
  if (now < due || !next_ms.compare_exchange_strong(due, now + 1000)) {
    unlogged.fetch_add(1);
    return;
  }
  auto line = std::string{"commit failed for "} + kind + "/" + actors::clip(id)
              + ": " + why + "; reloading its state";
  if (auto n = unlogged.exchange(0)) {
    line += " (and " + std::to_string(n)
            + " more actors since the last such line)";
  }
  log::error("runtime", line);
}

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
// Also the nudge of a failed commit, so the host recovers without waiting
// for its next mail.
template <class Kind>
void directory<Kind>::idle(host_actor<Kind>* self, directory* dir) {
  auto& st = self->core;
  if (st.failed_epoch.load() == st.epoch) {
    recover(self, dir);
  }
  if (!Kind::busy(st.s) && !st.deferred && st.settled.load() == st.submitted
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
    log::error("runtime", std::string{"unreadable state of "} + Kind::name + "/"
                            + actors::clip(st.id) + ": "
                            + actors::clip(e.what()));
    st.broken = true;
  }
}

// A batch of this epoch failed, so `s` may hold what storage never got, and
// the turns computed on it failed too: answer those still waiting, drop
// `s` and read it back. The epoch's batches still queued are dropped by the
// commit thread, so what is read is final for that epoch.
template <class Kind>
void directory<Kind>::recover(host_actor<Kind>* self, directory* dir) {
  auto& st = self->core;
  if (st.deferred) {
    for (auto& w : *st.deferred) {
      if (w.done) {
        w.done(aftermath<Kind>::unwritten("storage: a commit of this actor "
                                          "failed"),
               nullptr);
      }
    }
    st.deferred.reset();
  }
  ++st.epoch;
  st.broken = false;
  // restore leaves a state alone when nothing is stored (an order still
  // being created): start from a fresh one, or the failed turns' transient
  // parts (a create in progress) would survive.
  st.s = typename Kind::state{};
  if (st.loaded) {
    load(self, dir);
  }
  dir->env_.metrics->add("recovered");
}

/// Adds a transition's writes: the state as the kind stores it, and the
/// journal entry of its event, with every journal_trim_every transitions
/// one range delete that retires all but the last `journal_keep` entries
/// (so at most journal_keep + journal_trim_every - 1 are kept, at the cost
/// of one record per that many turns instead of one per turn).
template <class Kind>
void write_transition(const std::string& id, const typename Kind::state& s,
                      const typename Kind::before& was,
                      const typename Kind::input& in,
                      const actors::outcome& out, actors::millis now,
                      std::uint64_t journal_keep, storage::batch& b) {
  Kind::persist(s, was, in, b);
  b.put(storage::cf::journal, storage::keys::journal(Kind::name, id, s.version),
        storage::codec::pack(
          {{"v", s.version}, {"e", out.event}, {"c", out.cause}, {"t", now}}));
  if (s.version > journal_keep && s.version % journal_trim_every == 0) {
    b.del_range(
      storage::cf::journal, storage::keys::journal(Kind::name, id, 0),
      storage::keys::journal(Kind::name, id, s.version - journal_keep + 1));
  }
}

/// A fired timer's record goes, unless it was armed again since (a later
/// due) or the turn arms or disarms it: then the turn's own write is the
/// last word on it, and neither the read nor the delete is needed.
template <class Kind>
void retire_fired_timer(storage::store& db, const std::string& id,
                        const mail<Kind>& m, const actors::outcome& out,
                        storage::batch& b) {
  if (m.timer_due <= 0 || sets_timer(out, m.timer_name)) {
    return;
  }
  auto key = storage::keys::owned(Kind::name, id, m.timer_name);
  auto stored = db.get(storage::cf::timers, key);
  if (stored
      && storage::keys::from_be64(*stored)
           == static_cast<std::uint64_t>(m.timer_due)) {
    b.del(storage::cf::timers, std::move(key));
  }
}

/// Adds what the turn sends, adds to others' sums and arms or disarms, and
/// hands the sends, timers and requests to `after` for once it is durable.
template <class Kind>
void write_effects(services& env, const std::string& id, actors::outcome& out,
                   storage::batch& b, aftermath<Kind>& after) {
  for (auto& msg : out.outbox) {
    relay::entry e{env.outbox->next_seq(), after.self, std::move(msg)};
    b.put(storage::cf::outbox, storage::keys::be64(e.seq), relay::encode(e));
    after.outbox.push_back(std::move(e));
  }
  write_additions(out.additions, b);
  for (auto& t : out.timers) {
    auto key = storage::keys::owned(Kind::name, id, t.name);
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
}

/// Answers the mail, or parks it while the turn waits for answers of its
/// own (out.defer_tag); answers the parked mails the turn resolves. Adds
/// the state to `after` if an answer wants it.
template <class Kind>
void answer_or_defer(host_core<Kind>& st, mail<Kind>& m, actors::outcome& out,
                     aftermath<Kind>& after) {
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
}

/// True if the mail `dedupe_key` names was applied already (durably, or by
/// a turn still committing: then `after` waits for that commit).
template <class Kind>
bool directory<Kind>::applied_before(directory* dir, const std::string& id,
                                     const std::string& dedupe_key,
                                     aftermath<Kind>& after) {
  if (dir->consuming(id, dedupe_key)) {
    after.repeat_of = dedupe_key;
    return true;
  }
  return dir->env_.db->get(storage::cf::dedupe, dedupe_key).has_value();
}

template <class Kind>
void directory<Kind>::turn(host_actor<Kind>* self, directory* dir,
                           mail<Kind>& m) {
  auto& st = self->core;
  auto& env = dir->env_;
  st.received.fetch_add(1);
  if (st.failed_epoch.load() == st.epoch) {
    recover(self, dir);
  }
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
    if (applied_before(dir, st.id, dedupe_key, after)) {
      // Answered once the original turn is surely durable.
      after.answers.push_back(
        {std::move(m.done), {std::nullopt, "duplicate", {}}, m.want_state});
      if (m.want_state) {
        after.view = std::make_shared<typename Kind::state>(Kind::view(st.s));
      }
      submit(self, dir, std::move(b), std::move(after));
      return;
    }
  }
  auto now = env.time->now();
  auto was = Kind::remember(st.s);
  auto out = Kind::handle(st.s, m.in, now, dir->cfg_);
  if (!out.event.empty()) {
    write_transition<Kind>(st.id, st.s, was, m.in, out, now, env.journal_keep,
                           b);
  }
  if (!dedupe_key.empty()) {
    b.put(storage::cf::dedupe, dedupe_key,
          storage::keys::be64(static_cast<std::uint64_t>(now)));
    dir->begin_consuming(st.id, dedupe_key);
    after.consumed = std::move(dedupe_key);
  }
  retire_fired_timer<Kind>(*env.db, st.id, m, out, b);
  write_effects<Kind>(env, st.id, out, b, after);
  answer_or_defer<Kind>(st, m, out, after);
  submit(self, dir, std::move(b), std::move(after));
}

template <class Kind>
void directory<Kind>::submit(host_actor<Kind>* self, directory* dir,
                             storage::batch b, aftermath<Kind> after) {
  auto& st = self->core;
  auto& env = dir->env_;
  auto seq = ++st.submitted;
  // settled before failed_epoch: a failure stores them the other way round.
  if (b.empty() && st.settled.load() == seq - 1
      && st.failed_epoch.load() != st.epoch) {
    // Nothing to write and nothing in flight: answer now.
    st.settled.store(seq);
    after.run(env);
    return;
  }
  // `me` keeps the host object, and so `core`, alive.
  auto me = caf::actor_cast<caf::actor>(self);
  auto* core = &self->core;
  auto epoch = st.epoch;
  b.only_if([core, epoch] {
    return core->failed_epoch.load(std::memory_order_relaxed) != epoch;
  });
  env.db->commit(std::move(b), [after = std::move(after), core, seq, epoch, dir,
                                me](const storage::status& s) mutable {
    if (!after.consumed.empty()) {
      // Durable now (then the store has it) or never written.
      dir->end_consuming(core->id, after.consumed);
    }
    if (s.ok()) {
      core->settled.store(seq);
      if constexpr (std::is_same_v<Kind, order_kind>) {
        if (dir->env_.touched != nullptr) {
          dir->env_.touched->add(core->id);
        }
      }
      after.run(dir->env_);
      return;
    }
    bool first = core->failed_epoch.exchange(epoch) != epoch;
    core->settled.store(seq);
    if (first) {
      log_failed_commit(Kind::name, core->id, s.message());
    }
    after.fail(s.message());
    if (first) {
      caf::anon_send(me, idle_atom::value);
    }
  });
}

// A resident order costs its actor object (with the core inside) in one
// tcmalloc size class of 1,536 B; a byte more and it takes 1,792.
static_assert(sizeof(caf::actor_storage<host_actor<order_kind>>) <= 1536,
              "an order host outgrew its allocator size class");

} // namespace ordo::runtime::detail
