#include <sqlite3.h>

#include <iostream>
#include <string>
#include <vector>

#include "cli/command.hpp"
#include "plugin/probe.hpp"

int main(int argc, char** argv) {
  // Before SQLite initialises: no up-front page-cache block per connection (SQLite's default is 20
  // pages, about 87 KB, at a connection's first read); pages are allocated as they are used. The
  // daemon holds several connections (runs, its checkpointer, the vault) that mostly touch a few.
  (void)sqlite3_config(SQLITE_CONFIG_PAGECACHE, nullptr, 0, 0);
  std::vector<std::string> args(argv + 1, argv + argc);
  // Hidden: the daemon runs `weft __probe-connector FILE` to try a connector in a child process
  // (plugin/probe.hpp) before loading it into itself.
  if (args.size() == 2 && args[0] == "__probe-connector") return weft::plugin::probe_main(args[1], std::cout);
  return weft::cli::dispatch(args, std::cout, std::cerr);
}
