# check-dll-imports.cmake - xshm.dll must import system DLLs only, so that a
# program needs nothing beside it (no libgcc_s_*.dll, libwinpthread-1.dll,
# libstdc++-6.dll of the MinGW-w64 runtime).
#
#   cmake -DOBJDUMP=<objdump> -DDLL=<xshm.dll> -P check-dll-imports.cmake
#
# Or build the DLL first, in BINARY_DIR, from SOURCE_DIR with the toolchain
# file TOOLCHAIN but the C compiler CC (another thread model of the same
# MinGW-w64, e.g. x86_64-w64-mingw32-gcc-posix, whose _Thread_local goes
# through libwinpthread):
#
#   cmake -DOBJDUMP=... -DSOURCE_DIR=... -DBINARY_DIR=... -DTOOLCHAIN=...
#         -DCC=... -P check-dll-imports.cmake

if(NOT OBJDUMP)
    message(FATAL_ERROR "usage: cmake -DOBJDUMP=... -DDLL=... -P check-dll-imports.cmake")
endif()

if(CC)
    file(MAKE_DIRECTORY "${BINARY_DIR}")
    # The toolchain file names the compiler itself: override it after.
    set(_toolchain "${BINARY_DIR}/toolchain-thread-model.cmake")
    file(WRITE "${_toolchain}" "include(\"${TOOLCHAIN}\")\nset(CMAKE_C_COMPILER \"${CC}\")\n")
    execute_process(
        COMMAND "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${BINARY_DIR}"
                "-DCMAKE_TOOLCHAIN_FILE=${_toolchain}" -DCMAKE_BUILD_TYPE=Release
                -DXSHM_WERROR=ON -DXSHM_BUILD_TESTS=OFF -DXSHM_BUILD_EXAMPLES=OFF
                -DXSHM_BUILD_TOOLS=OFF
        RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _out)
    if(NOT _rc EQUAL 0)
        message(FATAL_ERROR "configuring with ${CC} failed:\n${_out}")
    endif()
    execute_process(COMMAND "${CMAKE_COMMAND}" --build "${BINARY_DIR}" --target xshm -j 2
                    RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _out)
    if(NOT _rc EQUAL 0)
        message(FATAL_ERROR "building xshm.dll with ${CC} failed:\n${_out}")
    endif()
    set(DLL "${BINARY_DIR}/xshm.dll")
    execute_process(COMMAND "${CC}" -v ERROR_VARIABLE _v OUTPUT_QUIET)
    string(REGEX MATCH "Thread model: [a-z0-9]+" _model "${_v}")
    message(STATUS "${CC}: ${_model}")
endif()

execute_process(COMMAND "${OBJDUMP}" -p "${DLL}" RESULT_VARIABLE _rc OUTPUT_VARIABLE _dump
                ERROR_VARIABLE _err)
if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "${OBJDUMP} -p ${DLL} failed: ${_err}")
endif()
string(REGEX MATCHALL "DLL Name: [^\r\n]+" _lines "${_dump}")
if(NOT _lines)
    message(FATAL_ERROR "${DLL}: no imports found (not a DLL?)")
endif()
set(_bad "")
foreach(_line IN LISTS _lines)
    string(REGEX REPLACE "^DLL Name: *" "" _name "${_line}")
    string(STRIP "${_name}" _name)
    string(TOLOWER "${_name}" _lower)
    message(STATUS "${DLL} imports ${_name}")
    if(NOT _lower MATCHES "^(kernel32|advapi32|msvcrt|ucrtbase|ntdll|api-ms-win-[a-z0-9-]+)\\.dll$")
        list(APPEND _bad "${_name}")
    endif()
endforeach()
if(_bad)
    message(FATAL_ERROR "${DLL} imports DLLs that are not part of Windows: ${_bad}")
endif()
