/* fixture_no_entry: a valid shared library that exports a function, but no toolhost entry
 * symbol. Built without the plugin version script, so the function really is exported. */
#include <toolhost/version.h>

TOOLHOST_EXPORT int toolhost_fixture_not_a_plugin(int x);

TOOLHOST_EXPORT int toolhost_fixture_not_a_plugin(int x) { return x + 1; }
