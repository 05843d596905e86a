# check-static-symbols.cmake - the static library defines, as global
# symbols, the public API (every function SHM_API declares in shm_ipc.h) and
# internal names starting with xshm_, nothing else: a program linking
# libxshm_static statically may define its own plat_*, shm_segment_* or
# anything else outside those two name spaces.
#
#   cmake -DNM=<nm> -DLIB=<libxshm_static.a> -DHEADER=<shm_ipc.h> -P check-static-symbols.cmake

if(NOT NM OR NOT LIB OR NOT HEADER)
    message(FATAL_ERROR "usage: cmake -DNM=... -DLIB=... -DHEADER=... -P check-static-symbols.cmake")
endif()

# The API: "SHM_API <type> *?shm_name(" in the header.
file(STRINGS "${HEADER}" _decls REGEX "^SHM_API .*[ *]shm_[a-z0-9_]+\\(")
set(_api "")
foreach(_d IN LISTS _decls)
    string(REGEX MATCH "shm_[a-z0-9_]+\\(" _n "${_d}")
    string(REPLACE "(" "" _n "${_n}")
    list(APPEND _api "${_n}")
endforeach()
list(LENGTH _api _napi)
if(_napi LESS 10)
    message(FATAL_ERROR "found only ${_napi} SHM_API functions in ${HEADER}")
endif()

execute_process(COMMAND "${NM}" -g --defined-only "${LIB}"
    RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _err)
if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "${NM} failed on ${LIB}: ${_err}")
endif()
string(REPLACE "\n" ";" _lines "${_out}")
set(_bad "")
set(_seen "")
set(_count 0)
foreach(_l IN LISTS _lines)
    # "<address> <type> <name>"; 32-bit Windows decorates C names with '_'.
    if(NOT _l MATCHES "^[0-9a-fA-F]+ [A-Za-z] (.+)$")
        continue()
    endif()
    set(_sym "${CMAKE_MATCH_1}")
    string(REGEX REPLACE "^_" "" _plain "${_sym}")
    math(EXPR _count "${_count} + 1")
    if(_plain MATCHES "^xshm_")
        continue()
    endif()
    list(FIND _api "${_plain}" _i)
    if(_i GREATER -1)
        list(APPEND _seen "${_plain}")
        continue()
    endif()
    # Symbols the compiler emits for its own use (MinGW: .refptr.*, __imp_*;
    # i386 position-independent code: __x86.get_pc_thunk.*, weak and hidden)
    if(_sym MATCHES "^(\\.refptr\\.|__imp_|\\.weak\\.|__x86\\.get_pc_thunk\\.)")
        continue()
    endif()
    list(APPEND _bad "${_sym}")
endforeach()
if(_bad)
    list(JOIN _bad "\n  " _badtext)
    message(FATAL_ERROR "global symbols of ${LIB} outside the API and the xshm_ prefix:\n  ${_badtext}")
endif()
foreach(_n IN LISTS _api)
    list(FIND _seen "${_n}" _i)
    if(_i EQUAL -1)
        message(FATAL_ERROR "${_n} is declared SHM_API in ${HEADER} but not defined by ${LIB}")
    endif()
endforeach()
message(STATUS "${_count} global symbols: ${_napi} API functions, the rest xshm_")
