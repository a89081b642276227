// Runs a function in a forked child and reports how it ended and what it wrote
// to stderr, so a test can assert that a misuse aborts with the right message.
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <string>

namespace nexus::test {

struct Death {
    bool aborted = false;  // ended by SIGABRT
    int exit_code = -1;    // when it exited normally
    std::string err;       // everything written to stderr
};

template <class F>
Death run_in_child(F&& body) {
    int fds[2];
    if (pipe(fds) != 0) std::abort();
    const pid_t pid = fork();
    if (pid < 0) std::abort();
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        // The test framework's own report of the abort is not wanted here:
        // default SIGABRT handling, and its stdout discarded.
        std::signal(SIGABRT, SIG_DFL);
        if (const int devnull = open("/dev/null", O_WRONLY); devnull >= 0) dup2(devnull, STDOUT_FILENO);
        body();
        std::_Exit(0);
    }
    close(fds[1]);
    Death d;
    char buf[4096];
    for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) d.err.append(buf, static_cast<std::size_t>(n));
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    d.aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
    if (WIFEXITED(status)) d.exit_code = WEXITSTATUS(status);
    return d;
}

}  // namespace nexus::test
