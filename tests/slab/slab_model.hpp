// A model-based driver for every slab operation, shared by the random-sequence
// test (test_model.cpp) and the libFuzzer target (tests/fuzz/fuzz_slab.cpp).
//
// The slab holds Items. An Item may own another Item of the same slab by
// handle (a Slot or Handle member) and another by key (removed in its
// destructor), so values form trees, chains across chunks and, through
// handles, cycles that nothing outside owns. Some Items try to insert into
// the slab from their destructor. The driver applies operations chosen by a
// Source (seeded random numbers, or the fuzzer's bytes) to the slab and to a
// plain model (a map of the values that should be alive, and who owns each),
// and after every operation checks that
//   - the slab's size() is the model's count,
//   - the ledger's live instances are exactly the model's values (every
//     construction matched by exactly one destruction, nothing extra alive),
//   - no value was destroyed twice,
// and now and then reads every value back through its key. Teardown
// operations (clear, destroying and re-creating the slab, shutdown and
// re-init, and the final destruction or thread exit) must destroy every value
// once and refuse inserts made meanwhile.
#pragma once

#include <nexus/slab/slab.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "death.hpp"
#include "ledger.hpp"

namespace nexus::test::slab_model {

using nexus::slab::Key;

// What destructors saw. Inserts made while a teardown runs must all be
// refused; and a value owned through a handle member must still be alive
// when its owner's destructor runs (the teardown destroys owners first).
struct TeardownInserts {
    std::atomic<bool> in_teardown{false};
    std::atomic<long> refused{0};
    std::atomic<long> succeeded{0};
    std::atomic<long> owned_died_first{0};
};
inline TeardownInserts& teardown_inserts() {
    static TeardownInserts t;
    return t;
}

template <class Traits>
struct Item {
    Life life;
    std::uint64_t id = 0;
    std::uint64_t payload = 0;
    typename Traits::Owner child;  // owned through a handle of the same slab
    Key child_key;                 // owned by key: removed by this destructor
    bool insert_on_destroy = false;

    Item(std::uint64_t i, std::uint64_t p) noexcept : id(i), payload(p) {}
    // A moved-from Item owns nothing: its destructor must not remove the key
    // or insert (take, take and replace destroy one in the cell).
    Item(Item&& o) noexcept
        : life(std::move(o.life)),
          id(o.id),
          payload(o.payload),
          child(std::move(o.child)),
          child_key(std::exchange(o.child_key, Key::NONE)),
          insert_on_destroy(std::exchange(o.insert_on_destroy, false)) {}
    Item& operator=(Item&& o) noexcept {
        id = o.id;
        payload = o.payload;
        child = std::move(o.child);
        child_key = std::exchange(o.child_key, Key::NONE);
        insert_on_destroy = std::exchange(o.insert_on_destroy, false);
        return *this;
    }
    ~Item() {
        // `life` is the first member, so it is the last destroyed: a value in
        // a cycle, destroyed from inside its partner's destructor, still counts
        // as alive here.
        if (child.has_value() && !ledger().is_alive(child.value().life.serial)) ++teardown_inserts().owned_died_first;
        if (child_key.has_value()) Traits::remove_from_destructor(child_key);
        if (insert_on_destroy) {
            const bool done = Traits::insert_from_destructor();
            if (teardown_inserts().in_teardown) {
                if (done)
                    ++teardown_inserts().succeeded;
                else
                    ++teardown_inserts().refused;
            }
        }
    }
};

// How a slab flavour is built: a bounded capacity, or unbounded chunks and a
// maximum (the model's "full" is exactly that maximum).
struct Shape {
    bool bounded = true;
    std::size_t capacity = 16;       // bounded: the capacity; unbounded: max_capacity
    std::size_t chunk_capacity = 4;  // unbounded only
    std::size_t initial = 0;         // unbounded only: capacity allocated up front
};

template <class Source>
Shape pick_shape(Source& src, bool bounded) {
    Shape s;
    s.bounded = bounded;
    s.capacity = 1 + src.pick(48);
    s.chunk_capacity = 1 + src.pick(7);
    s.initial = src.pick(static_cast<std::uint32_t>(s.capacity + 1));
    return s;
}

// ---- the two flavours ------------------------------------------------------

// A direct slab (bounded or unbounded) with Handles.
template <bool kBounded>
struct DirectTraits {
    using Value = Item<DirectTraits>;
    using Owner = nexus::slab::Handle<Value>;
    using Slab = std::conditional_t<kBounded, nexus::slab::BoundedSlab<Value>, nexus::slab::UnboundedSlab<Value>>;
    static constexpr bool kPerThread = false;
    static inline std::unique_ptr<Slab> slab;
    // The slab for the values' destructors: unique_ptr::reset() forgets its
    // pointer before the slab's destructor runs them.
    static inline Slab* current = nullptr;

    static void remove_from_destructor(Key k) { current->remove(k); }
    static bool insert_from_destructor() {
        const Key k = current->try_emplace_key(std::uint64_t{0}, std::uint64_t{0});
        if (!k.has_value()) return false;
        current->remove(k);
        return true;
    }

    static void create(const Shape& s) {
        if constexpr (kBounded) {
            slab = std::make_unique<Slab>(s.capacity);
        } else {
            slab = std::make_unique<Slab>(nexus::slab::UnboundedConfig{
                .chunk_capacity = s.chunk_capacity, .capacity = s.initial, .max_capacity = s.capacity});
        }
        current = slab.get();
    }
    static void destroy() {
        slab.reset();
        current = nullptr;
    }
    static bool can_clear() { return true; }
    static void clear() { slab->clear(); }

    static std::optional<Owner> try_insert(std::uint64_t id, std::uint64_t p) { return slab->try_emplace(id, p); }
    static Owner insert(std::uint64_t id, std::uint64_t p) { return slab->emplace(id, p); }
    static Key try_insert_key(std::uint64_t id, std::uint64_t p) { return slab->try_emplace_key(id, p); }
    static void remove(Key k) { slab->remove(k); }
    static Value take(Key k) { return slab->take(k); }
    static Owner adopt(Key k) { return slab->adopt(k); }
    static Value& at(Key k) { return (*slab)[k]; }
    static Value* get(Key k) { return slab->get(k); }
    static bool contains(Key k) { return slab->contains(k); }
    static std::size_t size() { return slab->size(); }
    static std::size_t capacity() { return slab->capacity(); }
};

// The per-thread allocator with Slots.
struct ThreadTraits;
NEXUS_SLAB_ALLOCATOR(model_item_alloc, Item<ThreadTraits>);
struct ThreadTraits {
    using Value = Item<ThreadTraits>;
    using Owner = model_item_alloc::Slot;
    using A = model_item_alloc;
    static constexpr bool kPerThread = true;

    static void remove_from_destructor(Key k) { A::remove(k); }
    static bool insert_from_destructor() {
        auto s = A::try_emplace(std::uint64_t{0}, std::uint64_t{0});
        return s.has_value();
    }

    static void create(const Shape& s) {
        if (s.bounded)
            A::init().bounded(s.capacity).build();
        else
            A::init().unbounded().chunk_capacity(s.chunk_capacity).capacity(s.initial).max_capacity(s.capacity).build();
    }
    static void destroy() {}  // the thread's exit does it
    static bool can_clear() { return false; }
    static void clear() {}

    static std::optional<Owner> try_insert(std::uint64_t id, std::uint64_t p) { return A::try_emplace(id, p); }
    static Owner insert(std::uint64_t id, std::uint64_t p) { return A::emplace(id, p); }
    static Key try_insert_key(std::uint64_t id, std::uint64_t p) {
        auto s = A::try_emplace(id, p);
        return s ? s->release() : Key::NONE;
    }
    static void remove(Key k) { A::remove(k); }
    static Value take(Key k) { return A::take(k); }
    static Owner adopt(Key k) { return A::adopt(k); }
    static Value& at(Key k) { return A::get_unchecked(k); }
    static Value* get(Key k) { return A::get(k); }
    static bool contains(Key k) { return A::contains(k); }
    static std::size_t size() { return A::size(); }
    static std::size_t capacity() { return A::capacity(); }
};

// ---- the driver ------------------------------------------------------------

enum class Op : std::uint8_t {
    insert_handle,
    insert_key,
    insert_when_full,
    drop_handle,
    remove_key,
    take_key,
    take,
    replace,
    leak,
    adopt,
    attach_handle,
    attach_key,
    detach_child,
    promote_child,
    remove_child_key,
    make_cycle,
    read,
    probe_key,
    write,
    mark_inserter,
    clear,
    recreate,
    shutdown,
    cross_thread_drop,
    count
};

inline const char* op_name(Op op) {
    static constexpr const char* kNames[] = {"insert_handle", "insert_key",    "insert_when_full",
                                             "drop_handle",   "remove_key",    "take_key",
                                             "take",          "replace",       "leak",
                                             "adopt",         "attach_handle", "attach_key",
                                             "detach_child",  "promote_child", "remove_child_key",
                                             "make_cycle",    "read",          "probe_key",
                                             "write",         "mark_inserter", "clear",
                                             "recreate",      "shutdown",      "cross_thread_drop"};
    static_assert(std::size(kNames) == static_cast<std::size_t>(Op::count));
    return kNames[static_cast<std::size_t>(op)];
}

// Whether an operation can apply to a flavour at all.
inline bool applies(Op op, bool per_thread, bool death_tests) {
    switch (op) {
        case Op::clear:
        case Op::recreate: return !per_thread;
        case Op::shutdown: return per_thread;
        case Op::cross_thread_drop: return death_tests;
        default: return true;
    }
}

template <class Traits, class Source>
class Driver {
public:
    using Value = typename Traits::Value;
    using Owner = typename Traits::Owner;

    Driver(Source& src, bool bounded, bool death_tests) : src_(src), bounded_(bounded), death_tests_(death_tests) {}

    // Runs until the source is exhausted or `max_ops` operations were done,
    // then tears the slab down (the caller ends the thread, for the
    // per-thread flavour). Returns the number of disagreements.
    long run(long max_ops) {
        start(pick_shape(src_, bounded_));
        for (long i = 0; i < max_ops && !src_.done(); ++i) {
            const auto op = static_cast<Op>(src_.pick(static_cast<std::uint32_t>(Op::count)));
            if (step(op)) ++applied_[static_cast<std::size_t>(op)];
            check_counts("after an operation");
            if (src_.pick(16) == 0) check_all_values();
        }
        check_all_values();
        finish();
        return failures_;
    }

    const std::string& first_failure() const { return first_failure_; }
    long operations() const { return ops_; }
    long teardowns() const { return teardowns_; }
    long deaths() const { return deaths_; }
    // Per-thread flavour: values whose destructors will try to insert during
    // the thread's exit (each must be refused).
    long inserters_at_exit() const { return inserters_at_exit_; }
    // How often each operation applied.
    const std::array<long, static_cast<std::size_t>(Op::count)>& applied() const { return applied_; }

private:
    // Who owns a value: an outside handle or key, or another value (its
    // parent) by handle or by key. Values in a cycle own one another.
    enum class Via : std::uint8_t { handle, key, child_handle, child_key };
    struct Node {
        std::uint64_t payload;
        Key key;
        Via via;
        std::uint64_t parent = 0;   // the owning node, for child_* and cycle
        std::uint64_t child_h = 0;  // 0 = none
        std::uint64_t child_k = 0;
        bool inserter = false;
    };

    // ---- bookkeeping ----

    void expect(bool ok, const char* what) {
        if (ok) return;
        if (failures_++ == 0) first_failure_ = std::string(what) + " (operation " + std::to_string(ops_) + ")";
    }

    void check_counts(const char* when) {
        expect(Traits::size() == nodes_.size(), when);
        expect(ledger().alive() == static_cast<long>(nodes_.size()), "ledger: live values differ from the model");
        expect(ledger().double_destroyed() == 0, "ledger: a value was destroyed twice");
        expect(teardown_inserts().owned_died_first == 0, "a value was destroyed before the value owning its handle");
    }

    void check_all_values() {
        for (const auto& [id, n] : nodes_) {
            Value* v = Traits::get(n.key);
            expect(v != nullptr, "a live value's key is not found");
            if (v == nullptr) continue;
            expect(v->id == id && v->payload == n.payload, "a value read back through its key differs");
            expect(Traits::contains(n.key), "contains is false for a live key");
            const std::uint64_t ch = v->child.has_value() ? id_at(v->child.key()) : 0;
            expect(ch == n.child_h, "a value's child handle points elsewhere than the model says");
            expect((v->child_key.has_value() ? id_at(v->child_key) : 0) == n.child_k,
                   "a value's child key differs from the model");
        }
        for (std::size_t i = 0; i < handles_.size(); ++i)
            expect(handles_[i].second.has_value() && handles_[i].second->id == handles_[i].first,
                   "an outside handle does not hold its value");
    }

    std::uint64_t id_at(Key k) {
        for (const auto& [id, n] : nodes_)
            if (n.key == k) return id;
        return ~std::uint64_t{0};
    }

    // The model's side of a value's destruction: it and everything it owns.
    void model_destroy(std::uint64_t id) {
        auto it = nodes_.find(id);
        if (it == nodes_.end()) return;
        const Node n = it->second;
        nodes_.erase(it);
        if (n.child_h) model_destroy(n.child_h);
        if (n.child_k) model_destroy(n.child_k);
    }

    void model_add(std::uint64_t id, std::uint64_t payload, Key k, Via via) {
        for (const auto& [other, n] : nodes_) expect(n.key != k, "a live key was handed out twice");
        nodes_[id] = Node{payload, k, via};
    }

    bool full() const { return nodes_.size() >= shape_.capacity; }
    std::uint64_t payload() { return (std::uint64_t{src_.pick(1u << 30)} << 8) | src_.pick(256); }

    template <class V>
    std::size_t pick_index(const std::vector<V>& v) {
        return static_cast<std::size_t>(src_.pick(static_cast<std::uint32_t>(v.size())));
    }
    std::uint64_t pick_node() {
        auto it = nodes_.begin();
        std::advance(it, src_.pick(static_cast<std::uint32_t>(nodes_.size())));
        return it->first;
    }

    // Is `node` inside the tree rooted at `root` (so attaching root under it
    // would make a cycle)?
    bool under(std::uint64_t node, std::uint64_t root) {
        for (std::size_t steps = 0; steps <= nodes_.size(); ++steps) {
            if (node == root) return true;
            const Node& n = nodes_.at(node);
            if (n.via == Via::handle || n.via == Via::key) return false;
            node = n.parent;
        }
        return false;  // a cycle above: not under root
    }

    void take_handle(std::size_t i) {
        std::swap(handles_[i], handles_.back());
        handles_.pop_back();
    }
    void take_key(std::size_t i) {
        std::swap(keys_[i], keys_.back());
        keys_.pop_back();
    }

    // ---- life of the slab ----

    void start(const Shape& s) {
        shape_ = s;
        Traits::create(s);
        std::size_t want = s.capacity;
        if (!s.bounded) {
            const std::size_t chunks = (s.initial + s.chunk_capacity - 1) / s.chunk_capacity;
            want = std::min(chunks * s.chunk_capacity, s.capacity);
        }
        expect(Traits::capacity() == want, "a new slab's capacity is not what was asked");
    }

    // Clear, destroy or shut down: every value destroyed, each once; inserts
    // by destructors refused.
    // Outside handles must be gone before a teardown: leak them (the slab
    // owns their values then).
    void leak_outside_handles() {
        for (auto& [id, h] : handles_) {
            const Key k = h.release();
            keys_.push_back({id, k});
            nodes_.at(id).via = Via::key;
        }
        handles_.clear();
    }

    void teardown_all(void (*how)()) {
        leak_outside_handles();
        const long refused_before = teardown_inserts().refused;
        long inserters = 0;
        for (const auto& [id, n] : nodes_) inserters += n.inserter;
        teardown_inserts().in_teardown = true;
        how();
        teardown_inserts().in_teardown = false;
        nodes_.clear();
        keys_.clear();
        ++teardowns_;
        expect(teardown_inserts().succeeded == 0, "an insert succeeded during a teardown");
        expect(teardown_inserts().refused - refused_before == inserters, "a destructor's insert was not refused");
        expect(ledger().alive() == 0, "a value survived a teardown");
        expect(ledger().double_destroyed() == 0, "a teardown destroyed a value twice");
        expect(teardown_inserts().owned_died_first == 0, "a value was destroyed before the value owning its handle");
    }

    void finish() {
        if constexpr (Traits::kPerThread) {
            // The thread's exit tears down what is left; the caller checks
            // the ledger after joining.
            leak_outside_handles();
            for (const auto& [id, n] : nodes_) inserters_at_exit_ += n.inserter;
            teardown_inserts().in_teardown = true;
        } else {
            teardown_all(&Traits::destroy);
        }
    }

    // ---- one operation ----

    // Applies one operation; false if it did not apply (its precondition
    // did not hold).
    bool step(Op op) {
        ++ops_;
        switch (op) {
            case Op::insert_handle: {
                const std::uint64_t id = next_id_++, p = payload();
                auto h = Traits::try_insert(id, p);
                expect(h.has_value() != full(), "try_insert disagrees with the model about room");
                if (!h) return false;
                model_add(id, p, h->key(), Via::handle);
                handles_.emplace_back(id, std::move(*h));
                return true;
            }
            case Op::insert_key: {
                const std::uint64_t id = next_id_++, p = payload();
                const Key k = Traits::try_insert_key(id, p);
                expect(k.has_value() != full(), "try_insert_key disagrees with the model about room");
                if (!k.has_value()) return false;
                model_add(id, p, k, Via::key);
                keys_.push_back({id, k});
                return true;
            }
            case Op::insert_when_full: {
                if (!full()) return false;
                const long alive = ledger().alive();
                bool threw = false;
                try {
                    (void)Traits::insert(next_id_++, 1);
                } catch (const nexus::slab::SlabFull&) {
                    threw = shape_.bounded;
                } catch (const nexus::slab::CapacityError&) {
                    threw = !shape_.bounded;
                }
                expect(threw, "insert into a full slab did not throw its flavour's error");
                expect(ledger().alive() == alive, "a refused insert left a value behind");
                return true;
            }
            case Op::drop_handle: {
                if (handles_.empty()) return false;
                const std::size_t i = pick_index(handles_);
                const std::uint64_t id = handles_[i].first;
                handles_[i].second.reset();
                take_handle(i);
                model_destroy(id);
                return true;
            }
            case Op::remove_key: {
                if (keys_.empty()) return false;
                const std::size_t i = pick_index(keys_);
                Traits::remove(keys_[i].second);
                model_destroy(keys_[i].first);
                take_key(i);
                return true;
            }
            case Op::take_key: {
                if (keys_.empty()) return false;
                const std::size_t i = pick_index(keys_);
                const auto [id, k] = keys_[i];
                const std::uint64_t want = nodes_.at(id).payload;
                {
                    Value v = Traits::take(k);  // owns the subtree until the end of this block
                    expect(v.id == id && v.payload == want, "take returned another value");
                }
                model_destroy(id);
                take_key(i);
                return true;
            }
            case Op::take: {
                if (handles_.empty()) return false;
                const std::size_t i = pick_index(handles_);
                const std::uint64_t id = handles_[i].first, want = nodes_.at(id).payload;
                {
                    Value v = handles_[i].second.take();
                    expect(v.id == id && v.payload == want, "take returned another value");
                    expect(!handles_[i].second.has_value(), "take left the handle owning");
                }
                take_handle(i);
                model_destroy(id);
                return true;
            }
            case Op::replace: {
                if (handles_.empty()) return false;
                const std::size_t i = pick_index(handles_);
                const std::uint64_t old_id = handles_[i].first, new_id = next_id_++, p = payload();
                const Key k = nodes_.at(old_id).key;
                {
                    Value old = handles_[i].second.replace(Value(new_id, p));
                    expect(old.id == old_id, "replace returned another value");
                    expect(handles_[i].second.key() == k, "replace moved the value to another cell");
                }
                model_destroy(old_id);  // the old value and what it owned went with it
                model_add(new_id, p, k, Via::handle);
                handles_[i].first = new_id;
                return true;
            }
            case Op::leak: {
                if (handles_.empty()) return false;
                const std::size_t i = pick_index(handles_);
                const std::uint64_t id = handles_[i].first;
                const Key k = handles_[i].second.release();
                expect(k == nodes_.at(id).key, "leak returned another key");
                keys_.push_back({id, k});
                nodes_.at(id).via = Via::key;
                take_handle(i);
                return true;
            }
            case Op::adopt: {
                if (keys_.empty()) return false;
                const std::size_t i = pick_index(keys_);
                const auto [id, k] = keys_[i];
                handles_.emplace_back(id, Traits::adopt(k));
                nodes_.at(id).via = Via::handle;
                take_key(i);
                return true;
            }
            case Op::attach_handle: {  // an outside handle becomes a value's child
                if (handles_.empty() || nodes_.empty()) return false;
                const std::size_t i = pick_index(handles_);
                const std::uint64_t child = handles_[i].first, parent = pick_node();
                if (nodes_.at(parent).child_h != 0 || under(parent, child)) return false;
                Traits::at(nodes_.at(parent).key).child = std::move(handles_[i].second);
                take_handle(i);
                nodes_.at(parent).child_h = child;
                nodes_.at(child).via = Via::child_handle;
                nodes_.at(child).parent = parent;
                return true;
            }
            case Op::attach_key: {  // an outside key becomes a value's child, removed by its destructor
                if (keys_.empty() || nodes_.empty()) return false;
                const std::size_t i = pick_index(keys_);
                const std::uint64_t child = keys_[i].first, parent = pick_node();
                if (nodes_.at(parent).child_k != 0 || under(parent, child)) return false;
                Traits::at(nodes_.at(parent).key).child_key = keys_[i].second;
                take_key(i);
                nodes_.at(parent).child_k = child;
                nodes_.at(child).via = Via::child_key;
                nodes_.at(child).parent = parent;
                return true;
            }
            case Op::detach_child: {  // a value's child handle moves out (this also breaks cycles)
                if (nodes_.empty()) return false;
                const std::uint64_t parent = pick_node();
                const std::uint64_t child = nodes_.at(parent).child_h;
                if (child == 0) return false;
                handles_.emplace_back(child, std::move(Traits::at(nodes_.at(parent).key).child));
                nodes_.at(parent).child_h = 0;
                nodes_.at(child).via = Via::handle;  // if it was in a cycle, the cycle is now a chain it heads
                return true;
            }
            case Op::promote_child: {  // h = std::move(h->child): the value goes, its child takes its place
                if (handles_.empty()) return false;
                const std::size_t i = pick_index(handles_);
                const std::uint64_t id = handles_[i].first;
                const std::uint64_t child = nodes_.at(id).child_h;
                if (child == 0) return false;
                Owner& h = handles_[i].second;
                h = std::move(h->child);  // the assignment destroys the Handle it moves from
                handles_[i].first = child;
                nodes_.at(id).child_h = 0;
                nodes_.at(child).via = Via::handle;
                model_destroy(id);
                expect(h.has_value() && h->id == child, "a handle assigned from its value's child holds another");
                return true;
            }
            case Op::remove_child_key: {  // a value lets go of its keyed child itself
                if (nodes_.empty()) return false;
                const std::uint64_t parent = pick_node();
                const std::uint64_t child = nodes_.at(parent).child_k;
                if (child == 0) return false;
                Value& pv = Traits::at(nodes_.at(parent).key);
                const Key k = std::exchange(pv.child_key, Key::NONE);
                Traits::remove(k);
                nodes_.at(parent).child_k = 0;
                model_destroy(child);
                return true;
            }
            case Op::make_cycle: {  // two values owning each other by handle, nothing outside
                if (nodes_.size() + 2 > shape_.capacity) return false;
                const std::uint64_t a_id = next_id_++, b_id = next_id_++;
                auto a = Traits::try_insert(a_id, 1);
                auto b = Traits::try_insert(b_id, 2);
                expect(a && b, "room for two was there");
                if (!a || !b) return false;
                model_add(a_id, 1, a->key(), Via::child_handle);
                model_add(b_id, 2, b->key(), Via::child_handle);
                Value& av = a->value();
                av.child = std::move(*b);
                av.child->child = std::move(*a);
                nodes_.at(a_id).child_h = b_id;
                nodes_.at(b_id).parent = a_id;
                nodes_.at(b_id).child_h = a_id;
                nodes_.at(a_id).parent = b_id;
                return true;
            }
            case Op::read: {
                if (nodes_.empty()) return false;
                const std::uint64_t id = pick_node();
                const Node& n = nodes_.at(id);
                const Value& v = Traits::at(n.key);
                expect(v.id == id && v.payload == n.payload, "read through a key differs");
                return true;
            }
            case Op::probe_key: {  // contains/get on any key, live or not
                const std::uint32_t r = src_.pick(8);
                const Key k = r == 0   ? Key::NONE
                              : r == 1 ? Key::from_index(0x8000'0000u | src_.pick(64))
                                       : Key::from_index(src_.pick(256));
                bool live = false;
                for (const auto& [id, n] : nodes_) live = live || n.key == k;
                expect(Traits::contains(k) == live, "contains disagrees with the model");
                expect((Traits::get(k) != nullptr) == live, "get disagrees with the model");
                return true;
            }
            case Op::write: {
                if (nodes_.empty()) return false;
                const std::uint64_t id = pick_node();
                const std::uint64_t p = payload();
                Traits::at(nodes_.at(id).key).payload = p;
                nodes_.at(id).payload = p;
                return true;
            }
            case Op::mark_inserter: {
                if (nodes_.empty()) return false;
                const std::uint64_t id = pick_node();
                Traits::at(nodes_.at(id).key).insert_on_destroy = true;
                nodes_.at(id).inserter = true;
                return true;
            }
            case Op::clear: {
                if (!Traits::can_clear() || src_.pick(12) != 0) return false;
                teardown_all(&Traits::clear);
                expect(Traits::size() == 0, "clear left values behind");
                const std::uint64_t id = next_id_++;
                const Key k = Traits::try_insert_key(id, 5);
                expect(k.index() == 0, "after clear() the first key is not 0");
                if (k.has_value()) {
                    model_add(id, 5, k, Via::key);
                    keys_.push_back({id, k});
                }
                return true;
            }
            case Op::recreate: {
                if (Traits::kPerThread || src_.pick(12) != 0) return false;
                teardown_all(&Traits::destroy);
                start(pick_shape(src_, bounded_));
                return true;
            }
            case Op::shutdown: {
                if (!Traits::kPerThread) return false;
                const auto r = model_item_alloc::shutdown();
                expect(r.slots_remaining == nodes_.size(), "shutdown miscounted the slots in use");
                if (!r.ok()) return false;
                expect(!model_item_alloc::is_initialized(), "shutdown left the allocator initialised");
                expect(ledger().alive() == 0, "values alive after a successful shutdown");
                ++teardowns_;
                start(pick_shape(src_, src_.pick(2) == 0));
                return true;
            }
            case Op::cross_thread_drop: {  // checks builds: a handle dropped on another thread aborts
                if (!death_tests_ || handles_.empty() || deaths_ >= 3 || src_.pick(8) != 0) return false;
                Owner& h = handles_[pick_index(handles_)].second;
                const auto d =
                    run_in_child([&h] { std::thread([moved = std::move(h)]() mutable { moved.reset(); }).join(); });
                ++deaths_;
                expect(d.aborted, "a handle dropped on another thread did not abort");
                const std::size_t here = d.err.find("was dropped on thread ");
                expect(here != std::string::npos && d.err.find(" thread ", here + 21) != std::string::npos,
                       "the abort did not name both threads");
                return true;
            }
            case Op::count: break;
        }
        return false;
    }

    Source& src_;
    bool bounded_;
    bool death_tests_;
    Shape shape_;
    std::map<std::uint64_t, Node> nodes_;
    std::vector<std::pair<std::uint64_t, Owner>> handles_;  // outside handles: (id, handle)
    std::vector<std::pair<std::uint64_t, Key>> keys_;       // outside keys: (id, key)
    std::uint64_t next_id_ = 1;
    long failures_ = 0;
    std::string first_failure_;
    long ops_ = 0, teardowns_ = 0, deaths_ = 0, inserters_at_exit_ = 0;
    std::array<long, static_cast<std::size_t>(Op::count)> applied_{};
};

}  // namespace nexus::test::slab_model
