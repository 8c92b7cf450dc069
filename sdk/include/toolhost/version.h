/* toolhost plugin ABI — version and linkage macros.
 *
 * This header is part of the stable C ABI. It compiles as C11 and as C++20.
 *
 * Versioning rule: the host accepts a plugin whose ABI major equals its own and whose ABI minor
 * is less than or equal to its own, and rejects anything else with a message that names both
 * versions and the file.
 *
 * Rationale: a minor release only ever appends fields at the end of structs (see struct_size in
 * every struct) or adds extensions looked up by id, so a newer host can always read an older
 * plugin's structs. A newer plugin may rely on host fields an older host does not have, so it is
 * refused instead of half-working.
 */
#ifndef TOOLHOST_VERSION_H
#define TOOLHOST_VERSION_H

#define TOOLHOST_ABI_VERSION_MAJOR 1
#define TOOLHOST_ABI_VERSION_MINOR 1

/* Calling convention of every function pointer in the ABI. Empty on the platforms toolhost
 * supports today (System V x86-64 / AArch64); kept so the header can pin one later. */
#ifndef TOOLHOST_ABI
#define TOOLHOST_ABI
#endif

/* Marks the one symbol a plugin exports. Plugins are built with hidden visibility, so nothing
 * else leaves the library. */
#if defined(_WIN32)
#define TOOLHOST_EXPORT __declspec(dllexport)
#else
#define TOOLHOST_EXPORT __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
#define TOOLHOST_EXTERN_C extern "C"
#define TOOLHOST_EXTERN_C_BEGIN extern "C" {
#define TOOLHOST_EXTERN_C_END }
#else
#define TOOLHOST_EXTERN_C
#define TOOLHOST_EXTERN_C_BEGIN
#define TOOLHOST_EXTERN_C_END
#endif

#endif /* TOOLHOST_VERSION_H */
