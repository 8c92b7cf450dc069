// Linked into the test and benchmark executables only (never into a library): they run from the
// build tree, where the host cannot find toolhost-worker next to them or where it is installed, so
// they point TOOLHOST_WORKER at the one this build made, unless the environment already names one.
#include <cstdlib>

namespace {
const int worker_env_set = ::setenv("TOOLHOST_WORKER", TOOLHOST_BUILD_TREE_WORKER, 0);
}  // namespace
