# toolchain-mingw-x86.cmake - Windows x86 with MinGW-w64, tests under Wine
# (needs wine32).
#   cmake -S . -B build/win-x86 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-mingw-x86.cmake
set(XSHM_MINGW_TRIPLE i686-w64-mingw32)
set(XSHM_CMOCKA_TARGET win-x86)
set(CMAKE_SYSTEM_PROCESSOR X86)
# i686 (cmpxchg8b) or newer is needed for lock-free 64-bit atomics; SSE2
# gives single-instruction 64-bit loads and stores.
set(CMAKE_C_FLAGS_INIT "-march=i686 -msse2")
set(CMAKE_CXX_FLAGS_INIT "-march=i686 -msse2")
include(${CMAKE_CURRENT_LIST_DIR}/mingw-common.cmake)
