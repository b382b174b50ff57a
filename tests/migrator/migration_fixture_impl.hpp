#pragma once

#include <sys/wait.h>
#include <unistd.h>

namespace orgquake::test {

template <typename Body>
int in_child_process(const MigrationFixture& fixture, Body body) {
  const pid_t pid = fork();
  if (pid == 0) {
    int code = 0;
    try {
      auto client = fixture.connect();
      body(*client);
    } catch (...) {
      code = 3;
    }
    // No destructors, no atexit: the parent's test framework must not run here.
    _exit(code);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

}  // namespace orgquake::test
