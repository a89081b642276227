// A million random operations per flavour against a std::unordered_map model:
// inserts (by handle and by key), removals (drop, take, remove, take),
// replaces, reads through handles and keys, contains on random keys, and
// leak/adopt. After every operation the slab's length must equal the model's.
#include <catch2/catch.hpp>

#include <nexus/slab/slab.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <unordered_map>
#include <vector>

using nexus::slab::Key;

namespace {

NEXUS_SLAB_ALLOCATOR(model_alloc, std::uint64_t);

// Adapters giving the direct slab and the per-thread allocator one interface.
template <class SlabPtr>
struct DirectApi {
    SlabPtr slab;
    using Owner = nexus::slab::Handle<std::uint64_t>;
    std::optional<Owner> try_insert(std::uint64_t v) { return slab->try_insert(v); }
    Key try_insert_key(std::uint64_t v) { return slab->try_emplace_key(v); }
    void remove(Key k) { slab->remove(k); }
    std::uint64_t take(Key k) { return slab->take(k); }
    std::uint64_t& at(Key k) { return (*slab)[k]; }
    bool contains(Key k) { return slab->contains(k); }
    const std::uint64_t* get(Key k) { return slab->get(k); }
    Owner adopt(Key k) { return slab->adopt(k); }
    std::size_t size() { return slab->size(); }
};

struct ThreadApi {
    using Owner = model_alloc::Slot;
    std::optional<Owner> try_insert(std::uint64_t v) { return model_alloc::try_insert(v); }
    Key try_insert_key(std::uint64_t v) {
        auto s = model_alloc::try_insert(v);
        return s ? s->release() : Key::NONE;
    }
    void remove(Key k) { model_alloc::remove(k); }
    std::uint64_t take(Key k) { return model_alloc::take(k); }
    std::uint64_t& at(Key k) { return model_alloc::get_unchecked(k); }
    bool contains(Key k) { return model_alloc::contains(k); }
    const std::uint64_t* get(Key k) { return model_alloc::get(k); }
    Owner adopt(Key k) { return model_alloc::adopt(k); }
    std::size_t size() { return model_alloc::size(); }
};

// Returns the number of disagreements with the model (0 expected).
template <class Api>
long run(Api& api, std::size_t capacity, std::uint32_t key_range, std::uint64_t seed, long ops) {
    std::mt19937_64 rng(seed);
    std::unordered_map<std::uint32_t, std::uint64_t> model;
    struct Live {
        Key key;
        std::optional<typename Api::Owner> owner;  // empty: owned by key
    };
    std::vector<Live> live;
    long bad = 0;
    auto expect = [&](bool ok) { bad += ok ? 0 : 1; };
    auto pick = [&]() -> std::size_t { return static_cast<std::size_t>(rng() % live.size()); };
    auto drop_at = [&](std::size_t i) {
        std::swap(live[i], live.back());
        live.pop_back();
    };

    for (long op = 0; op < ops; ++op) {
        const std::uint64_t value = rng();
        // Drift the fill level up and down through the capacity.
        const bool grow_phase = (op / 50'000) % 2 == 0;
        const unsigned r = static_cast<unsigned>(rng() % 100);
        if (live.empty() || r < (grow_phase ? 45u : 25u)) {
            const bool full = model.size() >= capacity;
            if (rng() % 2) {
                auto h = api.try_insert(value);
                expect(h.has_value() != full);
                if (h) {
                    const Key k = h->key();
                    expect(model.emplace(k.index(), value).second);  // a live key is never handed out twice
                    expect(**h == value);
                    live.push_back({k, std::move(h)});
                }
            } else {
                const Key k = api.try_insert_key(value);
                expect(k.has_value() != full);
                if (k.has_value()) {
                    expect(model.emplace(k.index(), value).second);
                    live.push_back({k, std::nullopt});
                }
            }
        } else if (r < 55) {  // remove one way or another
            const std::size_t i = pick();
            Live& l = live[i];
            const std::uint64_t want = model.at(l.key.index());
            switch (rng() % 3) {
                case 0:
                    if (l.owner)
                        l.owner->reset();
                    else
                        api.remove(l.key);
                    break;
                case 1:
                    if (l.owner)
                        expect(l.owner->take() == want);
                    else
                        expect(api.take(l.key) == want);
                    break;
                default:
                    if (l.owner)
                        api.remove(l.owner->release());
                    else
                        expect(api.take(l.key) == want);
                    break;
            }
            model.erase(l.key.index());
            drop_at(i);
        } else if (r < 65) {  // replace / write
            Live& l = live[pick()];
            if (l.owner)
                expect(l.owner->replace(value) == model[l.key.index()]);
            else
                api.at(l.key) = value;
            model[l.key.index()] = value;
        } else if (r < 80) {  // read through both paths
            Live& l = live[pick()];
            const std::uint64_t want = model.at(l.key.index());
            expect(api.at(l.key) == want);
            expect(api.get(l.key) != nullptr && *api.get(l.key) == want);
            if (l.owner)
                expect(l.owner->value() == want && l.owner->key() == l.key && l.owner->get() == &api.at(l.key));
        } else if (r < 95) {  // contains on any key, live or not
            const Key k = rng() % 64 == 0 ? Key::NONE : Key::from_index(static_cast<std::uint32_t>(rng() % key_range));
            const auto it = model.find(k.index());
            expect(api.contains(k) == (it != model.end()));
            expect((api.get(k) != nullptr) == (it != model.end()));
        } else {  // ownership changes hands: handle <-> key
            Live& l = live[pick()];
            if (l.owner) {
                expect(l.owner->release() == l.key);
                l.owner.reset();
            } else {
                l.owner = api.adopt(l.key);
            }
        }
        expect(api.size() == model.size());
    }
    for (Live& l : live) {
        if (l.owner)
            l.owner->reset();
        else
            api.remove(l.key);
    }
    expect(api.size() == 0);
    return bad;
}

constexpr long kOps = 1'000'000;

}  // namespace

TEST_CASE("differential: direct bounded slab vs unordered_map", "[differential]") {
    DirectApi<std::unique_ptr<nexus::slab::BoundedSlab<std::uint64_t>>> api{
        std::make_unique<nexus::slab::BoundedSlab<std::uint64_t>>(5000)};
    CHECK(run(api, 5000, 6000, 1, kOps) == 0);
}

TEST_CASE("differential: direct unbounded slab vs unordered_map", "[differential]") {
    // Chunks of 64 and a 5000-cell limit: growth happens throughout the run.
    DirectApi<std::unique_ptr<nexus::slab::UnboundedSlab<std::uint64_t>>> api{
        std::make_unique<nexus::slab::UnboundedSlab<std::uint64_t>>(
            nexus::slab::UnboundedConfig{.chunk_capacity = 64, .max_capacity = 5000})};
    CHECK(run(api, 5000, 6000, 2, kOps) == 0);  // exactly 5000: the 79th chunk of 64 is used in part
}

TEST_CASE("differential: per-thread bounded allocator vs unordered_map", "[differential]") {
    model_alloc::init().bounded(5000).build();
    ThreadApi api;
    CHECK(run(api, 5000, 6000, 3, kOps) == 0);
    REQUIRE(model_alloc::shutdown().ok());
}

TEST_CASE("differential: per-thread unbounded allocator vs unordered_map", "[differential]") {
    model_alloc::init().unbounded().chunk_capacity(64).max_capacity(5000).build();
    ThreadApi api;
    CHECK(run(api, 5000, 6000, 4, kOps) == 0);
    REQUIRE(model_alloc::shutdown().ok());
}
