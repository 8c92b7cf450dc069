#pragma once
// TOOLHOST_SERVE_API marks what Toolhost::serve exports, as TOOLHOST_API does for Toolhost::host
// (<toolhost/export.hpp> explains both): empty when TOOLHOST_SERVE_STATIC is defined (a static
// build defines it for the library and everything that links it), default visibility otherwise.
#if defined(TOOLHOST_SERVE_STATIC)
#define TOOLHOST_SERVE_API
#else
#define TOOLHOST_SERVE_API __attribute__((visibility("default")))
#endif
