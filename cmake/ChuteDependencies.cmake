# chute_require(<package> <what it is for> <Debian package> <ConanCenter reference> [find_package args...])
#
# find_package() for one native dependency; when it is missing, stops the configure with one message that
# names the library, what chute needs it for, and where to get it (the Debian -dev package or Conan),
# instead of CMake's generic "Could not find a package configuration file" text.
function(chute_require package purpose debian conan)
  find_package(${package} ${ARGN} QUIET)
  if(NOT ${package}_FOUND)
    message(FATAL_ERROR
      "chute needs ${package} (${purpose}) and CMake did not find it.\n"
      "  On Debian or Ubuntu:  apt-get install ${debian}\n"
      "  With Conan:           conan install . --build=missing  (ConanCenter: ${conan}), then configure with the\n"
      "                        generated conan_toolchain.cmake (third_party/README.md)\n"
      "  Elsewhere: install it and point CMAKE_PREFIX_PATH at its prefix.")
  endif()
endfunction()

get_filename_component(CHUTE_SOURCE_ROOT "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)

# The version, from python/chute/_version.py (the one place it is written). A wheel build gets it from
# scikit-build-core as SKBUILD_PROJECT_VERSION, read from the same file.
function(chute_read_version out)
  if(DEFINED SKBUILD_PROJECT_VERSION)
    set(${out} "${SKBUILD_PROJECT_VERSION}" PARENT_SCOPE)
    return()
  endif()
  file(STRINGS "${CHUTE_SOURCE_ROOT}/python/chute/_version.py" line REGEX "^__version__ = ")
  if(NOT line MATCHES "^__version__ = \"([0-9][^\"]*)\"")
    message(FATAL_ERROR "python/chute/_version.py: no __version__ = \"X.Y.Z\" line")
  endif()
  set(${out} "${CMAKE_MATCH_1}" PARENT_SCOPE)
endfunction()
