# mingw-common.cmake - shared part of the MinGW-w64 toolchain files.
# The including file sets XSHM_MINGW_TRIPLE and XSHM_CMOCKA_TARGET first.

set(CMAKE_SYSTEM_NAME Windows)

set(CMAKE_C_COMPILER ${XSHM_MINGW_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${XSHM_MINGW_TRIPLE}-g++)
set(CMAKE_RC_COMPILER ${XSHM_MINGW_TRIPLE}-windres)

# CMocka for this target is cross-compiled by scripts/bootstrap.sh into
# $XSHM_CACHE/cmocka-<target> (default ~/.cache/xshm/cmocka-<target>).
if(DEFINED ENV{XSHM_CACHE})
    set(_xshm_cache "$ENV{XSHM_CACHE}")
else()
    set(_xshm_cache "$ENV{HOME}/.cache/xshm")
endif()

set(CMAKE_FIND_ROOT_PATH /usr/${XSHM_MINGW_TRIPLE} "${_xshm_cache}/cmocka-${XSHM_CMOCKA_TARGET}")
# Packages the user points at (an installed xshm for Windows, say) are found
# through CMAKE_PREFIX_PATH as on a native build.
list(APPEND CMAKE_FIND_ROOT_PATH ${CMAKE_PREFIX_PATH})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Tests run under Wine: x64 programs under the 64-bit loader itself (with
# wine32 installed, /usr/bin/wine starts them through a 32-bit launcher,
# start.exe /exec, whose process then stands between a test and its
# program), x86 programs under /usr/bin/wine, which picks wine32's loader.
if(XSHM_MINGW_TRIPLE MATCHES "^x86_64")
    find_program(XSHM_WINE NAMES wine64 wine PATHS /usr/lib/wine /usr/bin NO_DEFAULT_PATH
                 NO_CMAKE_FIND_ROOT_PATH)
else()
    find_program(XSHM_WINE NAMES wine PATHS /usr/bin /usr/lib/wine NO_CMAKE_FIND_ROOT_PATH)
endif()
if(XSHM_WINE)
    set(CMAKE_CROSSCOMPILING_EMULATOR "${XSHM_WINE}")
endif()
