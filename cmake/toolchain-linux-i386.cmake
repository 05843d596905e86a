# toolchain-linux-i386.cmake - Linux i386 with the host gcc -m32
# (gcc-multilib); the binaries run natively.
#   cmake -S . -B build/linux-x86 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-linux-i386.cmake
set(CMAKE_C_COMPILER gcc)
set(CMAKE_CXX_COMPILER g++)
# i686 (cmpxchg8b) or newer is needed for lock-free 64-bit atomics; SSE2
# gives single-instruction 64-bit loads and stores.
set(CMAKE_C_FLAGS_INIT "-m32 -march=i686 -msse2")
set(CMAKE_CXX_FLAGS_INIT "-m32 -march=i686 -msse2")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-m32")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-m32")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "-m32")
# The kernel headers (<linux/futex.h> -> <asm/types.h>) need an asm folder
# that gcc -m32 finds: Debian's gcc-multilib adds the link /usr/include/asm
# -> x86_64-linux-gnu/asm (whose headers serve i386 as well), but it cannot
# be installed beside the aarch64 cross compiler. Without it, a folder of
# the build tree holds the same link, searched after the system's folders.
if(NOT EXISTS /usr/include/asm AND NOT EXISTS /usr/include/i386-linux-gnu/asm
   AND EXISTS /usr/include/x86_64-linux-gnu/asm)
    set(_xshm_asm_dir "${CMAKE_BINARY_DIR}/i386-include")
    if(NOT EXISTS "${_xshm_asm_dir}/asm")
        file(MAKE_DIRECTORY "${_xshm_asm_dir}")
        file(CREATE_LINK /usr/include/x86_64-linux-gnu/asm "${_xshm_asm_dir}/asm" SYMBOLIC)
    endif()
    string(APPEND CMAKE_C_FLAGS_INIT " -idirafter ${_xshm_asm_dir}")
    string(APPEND CMAKE_CXX_FLAGS_INIT " -idirafter ${_xshm_asm_dir}")
endif()
# Never pick a 64-bit library (such as Debian's libcmocka) by mistake.
set(CMAKE_IGNORE_PATH /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu)

# CMocka for i386 is built by scripts/bootstrap.sh (Debian's libcmocka-dev is
# 64-bit only); it comes first in the search path.
if(DEFINED ENV{XSHM_CACHE})
    set(_xshm_cache "$ENV{XSHM_CACHE}")
else()
    set(_xshm_cache "$ENV{HOME}/.cache/xshm")
endif()
list(PREPEND CMAKE_PREFIX_PATH "${_xshm_cache}/cmocka-linux-x86")
