# Install rules and the Toolhost CMake package:
#   find_package(Toolhost CONFIG) -> Toolhost::sdk, Toolhost::host, Toolhost::serve, toolhost_add_plugin(),
#   from an install prefix or, through export(), from the build tree
include(CMakePackageConfigHelpers)

set(TOOLHOST_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/Toolhost")

install(TARGETS toolhost_sdk toolhost_host toolhost_serve
    EXPORT ToolhostTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS toolhost RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
# Exported as Toolhost::worker, so that a program embedding the host can hand its path to the
# loader ($<TARGET_FILE:Toolhost::worker>) wherever the package was installed.
install(TARGETS toolhost-worker EXPORT ToolhostTargets
    RUNTIME DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/toolhost COMPONENT runtime)
install(DIRECTORY sdk/include/ host/include/ host/serve/include/ "${TOOLHOST_GENERATED_INCLUDE_DIR}/"
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)
install(EXPORT ToolhostTargets
    NAMESPACE Toolhost::
    DESTINATION ${TOOLHOST_CMAKE_DIR}
    COMPONENT dev)

configure_package_config_file(cmake/ToolhostConfig.cmake.in
    "${PROJECT_BINARY_DIR}/ToolhostConfig.cmake"
    INSTALL_DESTINATION ${TOOLHOST_CMAKE_DIR})
write_basic_package_version_file("${PROJECT_BINARY_DIR}/ToolhostConfigVersion.cmake"
    COMPATIBILITY SameMajorVersion)
install(FILES
    "${PROJECT_BINARY_DIR}/ToolhostConfig.cmake"
    "${PROJECT_BINARY_DIR}/ToolhostConfigVersion.cmake"
    sdk/cmake/ToolhostPlugin.cmake
    sdk/cmake/toolhost_plugin.map
    DESTINATION ${TOOLHOST_CMAKE_DIR}
    COMPONENT dev)

# The same package from the build tree, without installing: find_package(Toolhost) with
# Toolhost_DIR=<build dir> (fmt and spdlog do the same).
export(EXPORT ToolhostTargets NAMESPACE Toolhost:: FILE "${PROJECT_BINARY_DIR}/ToolhostTargets.cmake")
configure_file(sdk/cmake/ToolhostPlugin.cmake "${PROJECT_BINARY_DIR}/ToolhostPlugin.cmake" COPYONLY)
configure_file(sdk/cmake/toolhost_plugin.map "${PROJECT_BINARY_DIR}/toolhost_plugin.map" COPYONLY)

install(FILES conf/toolhost.json DESTINATION ${CMAKE_INSTALL_SYSCONFDIR}/toolhost COMPONENT runtime)
# The Rust SDK crate, for plugin authors (a path dependency; `toolhost new --lang rust` points at it).
install(DIRECTORY sdk/rust/toolhost-sdk/ DESTINATION ${CMAKE_INSTALL_DATADIR}/toolhost/rust/toolhost-sdk
    COMPONENT sdk PATTERN target EXCLUDE)
