#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <boost/fiber/all.hpp>
#include <boost/test/unit_test.hpp>

#include "tests/failpoints/fixture.hpp"

using namespace orgquake::failpoints;
using namespace std::chrono_literals;

namespace {

// Writes `text` to `fd` when destroyed: proves whether a scope unwound.
struct WritesOnDestruction {
  int fd;
  std::string text;
  ~WritesOnDestruction() { [[maybe_unused]] auto written = ::write(fd, text.data(), text.size()); }
};

std::string read_until_eof(int fd) {
  std::string all;
  char buffer[256];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) return all;
    all.append(buffer, static_cast<std::size_t>(n));
  }
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(actions, testing::CleanRegistry, *boost::unit_test::label("fast"))

BOOST_AUTO_TEST_CASE(return_throws_injected_error_with_name_and_text) {
  set("migrate.after_litellm_team_new", "return(team service down)");
  try {
    ORGQUAKE_FAILPOINT(migrate_after_litellm_team_new);
    BOOST_FAIL("return(...) did not throw");
  } catch (const std::runtime_error& error) {
    // Migrator code meets it as an ordinary error of the step.
    const auto* injected = dynamic_cast<const InjectedError*>(&error);
    BOOST_TEST_REQUIRE(injected != nullptr);
    BOOST_TEST(injected->failpoint() == "migrate.after_litellm_team_new");
    BOOST_TEST(injected->text() == "team service down");
    BOOST_TEST(std::string(error.what()) ==
               "failpoint migrate.after_litellm_team_new: team service down");
  }
}

BOOST_AUTO_TEST_CASE(return_without_text_still_names_the_failpoint) {
  set("lock.before_acquire", "return");
  try {
    ORGQUAKE_FAILPOINT(lock_before_acquire);
    BOOST_FAIL("return did not throw");
  } catch (const InjectedError& error) {
    BOOST_TEST(error.text() == "");
    BOOST_TEST(std::string(error.what()) == "failpoint lock.before_acquire: injected error");
  }
}

BOOST_AUTO_TEST_CASE(off_lets_the_caller_through) {
  set("migrate.after_commit", "off");
  BOOST_CHECK_NO_THROW(ORGQUAKE_FAILPOINT(migrate_after_commit));
}

BOOST_AUTO_TEST_CASE(sleep_suspends_only_the_calling_fiber) {
  set("lookup.after_load", "sleep(200)");
  bool other_finished = false;
  bool other_finished_before_sleeper_woke = false;
  const auto start = std::chrono::steady_clock::now();
  boost::fibers::fiber sleeper([&] {
    ORGQUAKE_FAILPOINT(lookup_after_load);
    other_finished_before_sleeper_woke = other_finished;
  });
  boost::fibers::fiber other([&] {
    for (int i = 0; i < 3; ++i) boost::this_fiber::yield();
    other_finished = true;
  });
  sleeper.join();
  other.join();
  BOOST_TEST(other_finished_before_sleeper_woke);
  BOOST_TEST((std::chrono::steady_clock::now() - start >= 200ms));
}

BOOST_AUTO_TEST_CASE(yield_lets_another_fiber_of_the_thread_run) {
  auto interleaving = [] {
    std::vector<std::string> order;
    boost::fibers::fiber first([&] {
      order.push_back("first:before");
      ORGQUAKE_FAILPOINT(lock_after_acquire);
      order.push_back("first:after");
    });
    boost::fibers::fiber second([&] { order.push_back("second"); });
    first.join();
    second.join();
    return order;
  };
  BOOST_TEST(interleaving() == (std::vector<std::string>{"first:before", "first:after", "second"}),
             boost::test_tools::per_element());
  set("lock.after_acquire", "yield");
  BOOST_TEST(interleaving() == (std::vector<std::string>{"first:before", "second", "first:after"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(pause_holds_the_fiber_until_release_while_others_run) {
  set("migrate.before_commit", "pause");
  bool passed = false;
  boost::fibers::fiber paused([&] {
    ORGQUAKE_FAILPOINT(migrate_before_commit);
    passed = true;
  });
  // This (main) fiber keeps running while the other is paused.
  while (paused_count("migrate.before_commit") == 0) boost::this_fiber::yield();
  for (int i = 0; i < 20; ++i) boost::this_fiber::yield();
  BOOST_TEST(!passed);
  BOOST_TEST(paused_count("migrate.before_commit") == 1u);

  release("migrate.before_commit");
  paused.join();
  BOOST_TEST(passed);
  BOOST_TEST(paused_count("migrate.before_commit") == 0u);
}

BOOST_AUTO_TEST_CASE(release_is_not_a_permit_and_clear_releases) {
  set("lookup.before_release", "pause");
  int passes = 0;
  boost::fibers::fiber caller([&] {
    for (int i = 0; i < 2; ++i) {
      ORGQUAKE_FAILPOINT(lookup_before_release);
      ++passes;
    }
  });
  while (paused_count("lookup.before_release") == 0) boost::this_fiber::yield();
  release("lookup.before_release");
  while (passes < 1) boost::this_fiber::yield();
  // The second pass pauses again: the release was used up by the first.
  while (paused_count("lookup.before_release") == 0) boost::this_fiber::yield();
  BOOST_TEST(passes == 1);
  clear("lookup.before_release");
  caller.join();
  BOOST_TEST(passes == 2);
}

BOOST_AUTO_TEST_CASE(pause_on_another_thread_is_released_from_this_one) {
  set("lock.before_release", "pause");
  std::atomic<bool> passed = false;
  std::thread worker([&] {
    ORGQUAKE_FAILPOINT(lock_before_release);
    passed = true;
  });
  // Bounded wait: a few seconds is far more than a thread needs to get there.
  for (int i = 0; i < 5000 && paused_count("lock.before_release") == 0; ++i) {
    std::this_thread::sleep_for(1ms);
  }
  BOOST_TEST(paused_count("lock.before_release") == 1u);
  BOOST_TEST(!passed);
  release_all();
  worker.join();
  BOOST_TEST(passed);
}

BOOST_AUTO_TEST_CASE(crash_kills_the_process_with_sigkill_after_the_observer_hears_of_it) {
  int pipe_fds[2];
  BOOST_TEST_REQUIRE(::pipe(pipe_fds) == 0);
  const pid_t child = ::fork();
  BOOST_TEST_REQUIRE(child >= 0);
  if (child == 0) {
    // Only the child arms the crash, so this test process cannot die of it.
    ::close(pipe_fds[0]);
    try {
      const int fd = pipe_fds[1];
      set_observer([fd](const Hit& hit) {
        const std::string line =
            "observed " + std::string(hit.failpoint) + " " + std::string(keyword_of(hit.action));
        [[maybe_unused]] auto written = ::write(fd, line.data(), line.size());
      });
      set("migrate.after_commit", "crash");
      WritesOnDestruction unwound{fd, "; destructor ran"};
      ORGQUAKE_FAILPOINT(migrate_after_commit);
    } catch (...) {
    }
    ::_exit(3);
  }
  ::close(pipe_fds[1]);
  const std::string output = read_until_eof(pipe_fds[0]);
  ::close(pipe_fds[0]);
  int status = 0;
  BOOST_TEST_REQUIRE(::waitpid(child, &status, 0) == child);
  BOOST_TEST(WIFSIGNALED(status));
  BOOST_TEST(WTERMSIG(status) == SIGKILL);
  BOOST_TEST(output == "observed migrate.after_commit crash");
}

BOOST_AUTO_TEST_SUITE_END()
