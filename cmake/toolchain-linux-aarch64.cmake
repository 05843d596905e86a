# toolchain-linux-aarch64.cmake - Linux aarch64 (ARM64) with Debian's cross
# compiler (gcc-aarch64-linux-gnu, libc6-dev-arm64-cross); the tests run
# under qemu-user (qemu-aarch64).
#   cmake -S . -B build/linux-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-linux-aarch64.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(XSHM_CROSS_TRIPLE aarch64-linux-gnu)
set(XSHM_CROSS_SYSROOT /usr/${XSHM_CROSS_TRIPLE})

set(CMAKE_C_COMPILER ${XSHM_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${XSHM_CROSS_TRIPLE}-g++)

# CMocka for aarch64 is cross-compiled by scripts/bootstrap.sh into
# $XSHM_CACHE/cmocka-linux-arm64 (default ~/.cache/xshm/cmocka-linux-arm64).
if(DEFINED ENV{XSHM_CACHE})
    set(_xshm_cache "$ENV{XSHM_CACHE}")
else()
    set(_xshm_cache "$ENV{HOME}/.cache/xshm")
endif()

# Libraries, headers and packages come from the aarch64 tree only, never
# from the host's x86_64 ones.
set(CMAKE_FIND_ROOT_PATH ${XSHM_CROSS_SYSROOT} "${_xshm_cache}/cmocka-linux-arm64")
list(APPEND CMAKE_FIND_ROOT_PATH ${CMAKE_PREFIX_PATH})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Tests run under qemu-user, which finds the aarch64 dynamic loader and
# libraries in the cross sysroot (-L).
find_program(XSHM_QEMU NAMES qemu-aarch64 qemu-aarch64-static NO_CMAKE_FIND_ROOT_PATH)
if(XSHM_QEMU)
    set(CMAKE_CROSSCOMPILING_EMULATOR "${XSHM_QEMU};-L;${XSHM_CROSS_SYSROOT}")
endif()
