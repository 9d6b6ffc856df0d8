# CompileFatbin.cmake — run at build time (cmake -P) to compile one kernel family into a fatbin with nvcc and to
# check ptxas' resource report: the build fails when any kernel spills registers or uses local memory (a stack
# frame), naming the kernel and the architecture.
#
# Variables: NVCC, CCBIN (may be empty), SOURCE (the family's unity .cu), OUTPUT (.fatbin), REPORT (where the
# ptxas report is written), INCLUDE_DIRS, GENCODE (-gencode values), EXTRA (more flags): lists separated by "|"
# (a ";" does not survive the command line of a custom command).

foreach(var NVCC SOURCE OUTPUT REPORT GENCODE)
    if(NOT DEFINED ${var})
        message(FATAL_ERROR "CompileFatbin.cmake: ${var} is not set")
    endif()
endforeach()

foreach(list_var INCLUDE_DIRS GENCODE EXTRA)
    string(REPLACE "|" ";" ${list_var} "${${list_var}}")
endforeach()

set(args --fatbin -std=c++17 -O3 -Xptxas -v -Werror all-warnings)
if(CCBIN)
    list(APPEND args -ccbin "${CCBIN}")
endif()
foreach(dir IN LISTS INCLUDE_DIRS)
    list(APPEND args "-I${dir}")
endforeach()
foreach(code IN LISTS GENCODE)
    list(APPEND args -gencode "${code}")
endforeach()
list(APPEND args ${EXTRA} -o "${OUTPUT}.tmp" "${SOURCE}")

get_filename_component(output_dir "${OUTPUT}" DIRECTORY)
file(MAKE_DIRECTORY "${output_dir}")
execute_process(
    COMMAND "${NVCC}" ${args}
    RESULT_VARIABLE rc
    OUTPUT_VARIABLE out
    ERROR_VARIABLE err)
set(report "${out}${err}")
file(WRITE "${REPORT}" "${report}")
if(NOT rc EQUAL 0)
    file(REMOVE "${OUTPUT}.tmp")
    message(FATAL_ERROR "nvcc failed on ${SOURCE} (exit ${rc}):\n${report}")
endif()

# ptxas -v prints, per function and architecture:
#   ptxas info    : Compiling entry function 'NAME' for 'sm_80'
#   ptxas info    : Function properties for NAME
#       S bytes stack frame, T bytes spill stores, U bytes spill loads
#   ptxas info    : Used R registers, ... [B bytes lmem] ...
string(REPLACE "\n" ";" lines "${report}")
set(arch "?")
set(function "?")
set(problems "")
set(kernels 0)
foreach(line IN LISTS lines)
    if(line MATCHES "Compiling entry function '([^']+)' for '([^']+)'")
        set(function "${CMAKE_MATCH_1}")
        set(arch "${CMAKE_MATCH_2}")
        math(EXPR kernels "${kernels} + 1")
    elseif(line MATCHES "Function properties for ([^ ]+)")
        set(function "${CMAKE_MATCH_1}")
    elseif(line MATCHES "([0-9]+) bytes stack frame, ([0-9]+) bytes spill stores, ([0-9]+) bytes spill loads")
        if(NOT CMAKE_MATCH_1 EQUAL 0 OR NOT CMAKE_MATCH_2 EQUAL 0 OR NOT CMAKE_MATCH_3 EQUAL 0)
            string(APPEND problems "\n  ${function} (${arch}): ${CMAKE_MATCH_1} bytes stack frame (local memory), "
                   "${CMAKE_MATCH_2} bytes spill stores, ${CMAKE_MATCH_3} bytes spill loads")
        endif()
    elseif(line MATCHES "Used ([0-9]+) registers.* ([0-9]+) bytes lmem")
        if(NOT CMAKE_MATCH_2 EQUAL 0)
            string(APPEND problems "\n  ${function} (${arch}): ${CMAKE_MATCH_2} bytes lmem (local memory)")
        endif()
    endif()
endforeach()

if(problems)
    file(REMOVE "${OUTPUT}.tmp")
    message(FATAL_ERROR "kernels in ${SOURCE} spill registers or use local memory (full ptxas report: ${REPORT}):"
                        "${problems}\nKeep arrays indexed by constants (fully unrolled loops), reduce live values, "
                        "or lower the registers' demand (__launch_bounds__).")
endif()
if(kernels EQUAL 0)
    file(REMOVE "${OUTPUT}.tmp")
    message(FATAL_ERROR "nvcc compiled no kernel from ${SOURCE} (is -Xptxas -v output missing?)")
endif()
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
