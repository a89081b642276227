// `sync replicated` (issue 20, docs/replication.md): parsed and checked in
// the configuration; until the replication is built, nexus-engine refuses to
// serve with it rather than acknowledge orders kept only on this machine.
#include "engine/engine_proc.hpp"

using namespace nexus::test;

namespace {
std::string config_error(const std::string& text) {
    try {
        make_config(text);
    } catch (const en::ConfigError& e) {
        return e.what();
    }
    return "";
}
}  // namespace

TEST_CASE("replication: sync replicated is parsed with its stream and timeout, and checked", "[config][replication]") {
    const std::string base = "instrument X\nuser a password=b\n";
    const auto c =
        make_config(base + "sync replicated\nreplicate_to nats://127.0.0.1:4222/NEXUS\nreplication_timeout_ms 750\n");
    CHECK(c.sync == en::SyncPolicy::Replicated);
    CHECK(c.replicate_to == "nats://127.0.0.1:4222/NEXUS");
    CHECK(c.replication_timeout_ms == 750);
    CHECK(make_config(base).sync == en::SyncPolicy::Os);  // a user who never configures NATS sees no change
    CHECK(make_config(base).replicate_to.empty());

    CHECK(config_error(base + "sync replicated\n") ==
          "test.cfg: sync replicated needs replicate_to nats://HOST[:PORT]/STREAM");
    CHECK(config_error(base + "replicate_to nats://h/S\n") ==
          "test.cfg: replicate_to is set but sync is not 'replicated' (nothing would be replicated)");
    for (const char* bad : {"http://h/S", "nats://h", "nats://h/", "nats:///S", "nats://h/S/sub"}) {
        INFO(bad);
        CHECK(config_error(base + "sync replicated\nreplicate_to " + bad + "\n")
                  .find("test.cfg:4: replicate_to: expected") == 0);
    }
    CHECK(config_error(base + "replication_timeout_ms 0\n").find("test.cfg:3: replication_timeout_ms") == 0);
    CHECK(config_error(base + "sync sometimes\n").find("'os', 'fsync' or 'replicated'") != std::string::npos);
}

TEST_CASE("replication: nexus-engine refuses to serve with sync replicated until it is built",
          "[server][replication]") {
    TempDir dir;
    const std::string cfg = dir.path + "/repl.cfg";
    std::ofstream(cfg) << base_config(dir.path) + "sync replicated\nreplicate_to nats://127.0.0.1:4222/NEXUS\n";
    std::string log;
    CHECK(run_engine({"--config", cfg}, dir.path, &log) == 2);
    CHECK_THAT(log, Catch::Contains("repl.cfg: sync replicated") && Catch::Contains("not built yet") &&
                        Catch::Contains("docs/replication.md"));
    CHECK_FALSE(std::filesystem::exists(dir.path + "/journal-0.nxj"));  // nothing written, nothing acknowledged
}
