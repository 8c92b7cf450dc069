#pragma once
// TOOLHOST_API marks what Toolhost::host exports: the classes and functions of its public headers
// that a program linking it uses. The library is compiled with hidden visibility, so in a shared
// build (BUILD_SHARED_LIBS=ON, libtoolhost.so) only these declarations leave it. In a static
// build the target defines TOOLHOST_STATIC for itself and everything that links it (an INTERFACE
// definition, also in the installed package), and the macro is empty: nothing changes for code
// linked into a program. Without TOOLHOST_STATIC (a shared build, or headers used without CMake)
// it gives default visibility, which is also harmless when linking the static library.
//
// ELF and Mach-O only (GCC and Clang): toolhost loads plugins with dlopen and does not build on
// Windows, so there is no dllexport/dllimport branch.
#if defined(TOOLHOST_STATIC)
#define TOOLHOST_API
#else
#define TOOLHOST_API __attribute__((visibility("default")))
#endif
