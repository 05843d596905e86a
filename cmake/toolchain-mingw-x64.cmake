# toolchain-mingw-x64.cmake - Windows x64 with MinGW-w64, tests under Wine.
#   cmake -S . -B build/win-x64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-mingw-x64.cmake
set(XSHM_MINGW_TRIPLE x86_64-w64-mingw32)
set(XSHM_CMOCKA_TARGET win-x64)
set(CMAKE_SYSTEM_PROCESSOR AMD64)
include(${CMAKE_CURRENT_LIST_DIR}/mingw-common.cmake)
