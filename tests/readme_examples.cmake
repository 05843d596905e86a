# tests/readme_examples.cmake - README.md's code blocks as CTest tests (label
# readme), included by tests/CMakeLists.txt. tests/readme_examples.sh sorts
# the blocks at configure time (again whenever README.md changes) and runs
# them; this file registers, for the blocks it finds:
#   readme_blocks           lists every block with what is done with it;
#                           fails on a block it cannot place
#   readme_<name>           a C program: built (an executable against the
#                           shared library, with the project's warnings as
#                           errors) and run as the README says; a C fragment:
#                           compiled only
#   readme_project_<name>   a CMake project: the build installed into a
#                           scratch prefix, the project configured and built
#                           there with the README's commands, its program run
# A block that stops compiling fails its own test, named after the block,
# with the compiler's messages pointing at README.md's lines (the programs
# are built by the test, not by the default build, so that the rest of the
# build and the tests go on). Needs bash; Windows programs run under the
# cross-compiling emulator (Wine), so a native MSVC build has no such tests.

set(_xr_readme "${PROJECT_SOURCE_DIR}/README.md")
set(_xr_script "${CMAKE_CURRENT_SOURCE_DIR}/readme_examples.sh")
if(NOT EXISTS "${_xr_readme}")
    return()
endif()
find_program(XSHM_BASH bash)
if(NOT XSHM_BASH)
    message(STATUS "README examples: not tested (no bash)")
    return()
endif()
set(_xr_emulator "")
if(CMAKE_CROSSCOMPILING)
    set(_xr_emulator ${CMAKE_CROSSCOMPILING_EMULATOR})
endif()
if(WIN32 AND NOT _xr_emulator)
    message(STATUS "README examples: not tested (Windows programs need an emulator here)")
    return()
endif()

set(_xr_dir "${CMAKE_CURRENT_BINARY_DIR}/readme")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_xr_readme}" "${_xr_script}")
execute_process(COMMAND "${XSHM_BASH}" "${_xr_script}" extract "${_xr_readme}" "${_xr_dir}"
                RESULT_VARIABLE _xr_rc OUTPUT_VARIABLE _xr_out ERROR_VARIABLE _xr_out)
if(NOT _xr_rc EQUAL 0)
    message(WARNING "README examples: tests/readme_examples.sh extract failed:\n${_xr_out}")
endif()

# All the readme tests build targets of this build tree: one at a time.
set(_xr_props LABELS readme TIMEOUT 300 RESOURCE_LOCK xshm_readme_build)
if(XSHM_TEST_ENVIRONMENT)
    list(APPEND _xr_props ENVIRONMENT "${XSHM_TEST_ENVIRONMENT}")
endif()

# Building it configures again when README.md changed: each test does so
# first, so that it tests README.md as it is now.
add_custom_target(readme_check)
add_test(NAME readme_blocks
    COMMAND "${XSHM_BASH}" "${_xr_script}" list "${_xr_dir}"
            "${CMAKE_COMMAND}" "${CMAKE_BINARY_DIR}" "$<CONFIG>")
set_tests_properties(readme_blocks PROPERTIES ${_xr_props})

# The flags a program needs to link against a sanitized libxshm.
set(_xr_flags "")
if(XSHM_SANITIZE STREQUAL "address")
    set(_xr_flags "-fsanitize=address,undefined -fno-omit-frame-pointer")
elseif(XSHM_SANITIZE STREQUAL "thread")
    set(_xr_flags "-fsanitize=thread")
endif()

set(_xr_manifest "")
if(EXISTS "${_xr_dir}/manifest")
    file(STRINGS "${_xr_dir}/manifest" _xr_manifest)
endif()
foreach(_xr_entry IN LISTS _xr_manifest)
    # "KIND NAME LINE LANG"; names are [A-Za-z0-9_.-]
    string(REPLACE " " ";" _xr_fields "${_xr_entry}")
    list(GET _xr_fields 0 _xr_kind)
    list(GET _xr_fields 1 _xr_name)
    string(REGEX REPLACE "\\.c$" "" _xr_stem "${_xr_name}")
    string(REGEX REPLACE "[.-]" "_" _xr_stem "${_xr_stem}")
    set(_xr_target "readme_${_xr_stem}")
    if(_xr_kind STREQUAL "program")
        add_executable(${_xr_target} EXCLUDE_FROM_ALL "${_xr_dir}/src/${_xr_name}")
        target_link_libraries(${_xr_target} PRIVATE xshm xshm_build_options)
        add_test(NAME ${_xr_target}
            COMMAND "${XSHM_BASH}" "${_xr_script}" run "${_xr_dir}" "${_xr_name}"
                    "${CMAKE_COMMAND}" "${CMAKE_BINARY_DIR}" ${_xr_target} "$<CONFIG>"
                    "$<TARGET_FILE:${_xr_target}>" ${_xr_emulator})
        set_tests_properties(${_xr_target} PROPERTIES ${_xr_props})
    elseif(_xr_kind STREQUAL "fragment")
        add_library(${_xr_target} OBJECT EXCLUDE_FROM_ALL "${_xr_dir}/src/${_xr_name}")
        target_link_libraries(${_xr_target} PRIVATE xshm xshm_build_options)
        if(NOT MSVC)
            # a fragment may declare what it does not use
            target_compile_options(${_xr_target} PRIVATE
                -Wno-unused-variable -Wno-unused-but-set-variable -Wno-unused-function)
        endif()
        add_test(NAME ${_xr_target}
            COMMAND "${XSHM_BASH}" "${_xr_script}" run "${_xr_dir}" "${_xr_name}"
                    "${CMAKE_COMMAND}" "${CMAKE_BINARY_DIR}" ${_xr_target} "$<CONFIG>" "-")
        set_tests_properties(${_xr_target} PROPERTIES ${_xr_props})
    elseif(_xr_kind STREQUAL "project" AND XSHM_INSTALL)
        add_test(NAME ${_xr_target}
            COMMAND "${XSHM_BASH}" "${_xr_script}" project "${_xr_dir}" "${_xr_name}"
                    "${CMAKE_COMMAND}" "${CMAKE_BINARY_DIR}" "$<CONFIG>"
                    "${CMAKE_TOOLCHAIN_FILE}" "${_xr_flags}" ${_xr_emulator})
        set_tests_properties(${_xr_target} PROPERTIES ${_xr_props})
    endif()
endforeach()
