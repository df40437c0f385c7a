# Project-wide helpers: warnings, sanitizers, libraries, tests and embedded SQL.

add_library(dm_warnings INTERFACE)
target_compile_options(dm_warnings INTERFACE -Wall -Wextra -Wpedantic $<$<CXX_COMPILER_ID:GNU>:-Wshadow=local>
  -Wnon-virtual-dtor -Wno-missing-field-initializers)
if(DM_WERROR)
  target_compile_options(dm_warnings INTERFACE -Werror)
endif()
if(DM_SANITIZE)
  target_compile_options(dm_warnings INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer)
  target_link_options(dm_warnings INTERFACE -fsanitize=address,undefined)
endif()

# dm_library(<name> SOURCES ... DEPS ...): libs/<name> with include/ public, src/ private.
function(dm_library name)
  cmake_parse_arguments(A "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(dm_${name} STATIC ${A_SOURCES})
  add_library(dm::${name} ALIAS dm_${name})
  target_include_directories(dm_${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include
    PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_link_libraries(dm_${name} PUBLIC ${A_PUBLIC_DEPS} PRIVATE dm_warnings ${A_PRIVATE_DEPS})
endfunction()

# dm_test(<name> SOURCES ... DEPS ... [LABELS ...]): a Catch2 test executable registered with CTest.
function(dm_test name)
  cmake_parse_arguments(A "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_link_libraries(${name} PRIVATE dm_catch_main dm_warnings ${A_DEPS})
  add_test(NAME ${name} COMMAND ${name})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES TIMEOUT ${A_TIMEOUT}
    ENVIRONMENT "DM_SOURCE_DIR=${PROJECT_SOURCE_DIR};DM_BINARY_DIR=${PROJECT_BINARY_DIR}")
  if(A_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${A_LABELS}")
  endif()
endfunction()

# dm_embed_migrations(<target> <dir> <namespace>): numbered SQL files (NNNN_name.sql) become
# a generated C++ function `<namespace>::migrations()` compiled into <target>, so a binary
# carries its schema with it.
function(dm_embed_migrations target dir ns)
  file(GLOB sql_files CONFIGURE_DEPENDS ${dir}/*.sql)
  list(SORT sql_files)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${target}_migrations.cpp)
  # '|' instead of ';' so the list survives the shell of the build tool.
  string(JOIN "|" files_arg ${sql_files})
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DNS=${ns} "-DFILES=${files_arg}"
            -P ${PROJECT_SOURCE_DIR}/cmake/embed_migrations.cmake
    VERBATIM
    DEPENDS ${sql_files} ${PROJECT_SOURCE_DIR}/cmake/embed_migrations.cmake
    COMMENT "Embedding migrations for ${target}")
  target_sources(${target} PRIVATE ${out})
endfunction()

# dm_service(<name> SOURCES ... DEPS ...): services/<name> as executable dm-<name>.
function(dm_service name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(dm-${name} ${A_SOURCES})
  # Test stacks provision streams with dm-provision (tools/) before starting a service: build
  # it too (resolved when the build is generated, so tools/ may come later).
  add_dependencies(dm-${name} dm-provision)
  target_include_directories(dm-${name} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(dm-${name} PRIVATE dm_warnings dm::service ${A_DEPS})
  # The services allocate a small document per message on several threads, a pattern glibc's
  # malloc serves slowly (arena locks, and RapidJSON's 64 KiB pool chunks make every free of a
  # document consolidate the heap). AddressSanitizer brings its own allocator.
  if(NOT DM_SANITIZE)
    target_link_libraries(dm-${name} PRIVATE PkgConfig::JEMALLOC)
  endif()
  # Every service carries its migrations (possibly none yet) as dm::<name>::migrations().
  string(REPLACE "-" "_" ns ${name})
  dm_embed_migrations(dm-${name} ${CMAKE_CURRENT_SOURCE_DIR}/migrations dm::${ns})
endfunction()

# dm_embed_text(<target> <file> <cxx_name>): the file's text becomes
# `extern const char* const <cxx_name>;` in the target (documents shipped inside a binary).
function(dm_embed_text target file name)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${target}_${name}.cpp)
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DIN=${file} -DOUT=${out} -DNAME=${name} -P ${PROJECT_SOURCE_DIR}/cmake/embed_text.cmake
    DEPENDS ${file} ${PROJECT_SOURCE_DIR}/cmake/embed_text.cmake VERBATIM)
  target_sources(${target} PRIVATE ${out})
endfunction()
