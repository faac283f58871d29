#include <iostream>
#include <string>
#include <vector>

#include "cli/command.hpp"
#include "plugin/probe.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  // Hidden: the daemon runs `weft __probe-connector FILE` to try a connector in a child process
  // (plugin/probe.hpp) before loading it into itself.
  if (args.size() == 2 && args[0] == "__probe-connector") return weft::plugin::probe_main(args[1], std::cout);
  return weft::cli::dispatch(args, std::cout, std::cerr);
}
