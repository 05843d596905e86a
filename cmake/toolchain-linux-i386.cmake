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
