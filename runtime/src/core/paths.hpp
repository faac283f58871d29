// paths.hpp — where weft keeps and finds things: the home directory and connector directories.
#pragma once

#include <string>
#include <vector>

namespace weft::paths {

// WEFT_HOME, else $HOME/.weft.
std::string default_home();

// The built-in connectors directory (<exe>/../lib/weft/connectors), then each entry of
// WEFT_CONNECTORS_PATH (colon-separated). Directories that do not exist are kept: the loader
// reports them.
std::vector<std::string> default_connector_dirs();

// The directory of the running executable (from /proc/self/exe).
std::string executable_dir();

// Creates dir (and parents) with mode 0700 when missing. False with a reason on failure.
bool ensure_private_dir(const std::string& dir, std::string& error);

}  // namespace weft::paths
