# Every third-party dependency is found here, once. tools/setup.sh installs them.
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(Boost 1.81 CONFIG REQUIRED)           # headers only: Asio, Beast
find_package(OpenSSL REQUIRED)
find_package(PostgreSQL REQUIRED)

# Debian's CMake package for libnats is broken; pkg-config works.
pkg_check_modules(NATS REQUIRED IMPORTED_TARGET libnats)
pkg_check_modules(MOSQUITTO REQUIRED IMPORTED_TARGET libmosquitto)
# jemalloc replaces glibc's malloc in the service executables (see README, Dependencies).
pkg_check_modules(JEMALLOC REQUIRED IMPORTED_TARGET jemalloc)
# LZ4 compresses the batches on the durable streams (libs/contract, batch.hpp).
pkg_check_modules(LZ4 REQUIRED IMPORTED_TARGET liblz4)

find_path(RAPIDJSON_INCLUDE_DIR rapidjson/document.h REQUIRED)
add_library(dm_rapidjson INTERFACE)
target_include_directories(dm_rapidjson SYSTEM INTERFACE ${RAPIDJSON_INCLUDE_DIR})
# std::string support and 64-bit size types in RapidJSON, project-wide.
target_compile_definitions(dm_rapidjson INTERFACE RAPIDJSON_HAS_STDSTRING=1)

# V8 from Debian's libnode, unpacked into a project-local prefix by tools/setup.sh.
set(DM_LIBNODE_PREFIX ${PROJECT_SOURCE_DIR}/.deps/libnode/usr CACHE PATH "libnode prefix")
if(EXISTS ${DM_LIBNODE_PREFIX}/include/node/v8.h)
  add_library(dm_v8 INTERFACE)
  target_include_directories(dm_v8 SYSTEM INTERFACE ${DM_LIBNODE_PREFIX}/include/node)
  target_link_libraries(dm_v8 INTERFACE ${DM_LIBNODE_PREFIX}/lib/x86_64-linux-gnu/libnode.so.108)
  target_link_options(dm_v8 INTERFACE "-Wl,-rpath,${DM_LIBNODE_PREFIX}/lib/x86_64-linux-gnu")
  # Debian builds libnode without pointer compression: defining V8_COMPRESS_POINTERS here would
  # make V8 abort at start-up on the mismatch.
  set(DM_HAVE_V8 ON)
else()
  message(FATAL_ERROR "V8 headers not found under ${DM_LIBNODE_PREFIX}: run tools/setup.sh")
endif()

find_path(CATCH2_INCLUDE_DIR catch2/catch.hpp REQUIRED)
add_library(dm_catch_main STATIC ${PROJECT_SOURCE_DIR}/tests/catch_main.cpp)
target_include_directories(dm_catch_main SYSTEM PUBLIC ${CATCH2_INCLUDE_DIR})
target_compile_definitions(dm_catch_main PUBLIC CATCH_CONFIG_FAST_COMPILE)

# Boost.Asio/Beast compile faster with separate compilation: one TU holds the implementation.
add_compile_definitions(BOOST_ASIO_NO_DEPRECATED BOOST_BEAST_USE_STD_STRING_VIEW)
