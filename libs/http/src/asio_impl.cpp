// The compiled parts of Asio, Asio SSL and Beast, built once for this library
// (BOOST_ASIO_SEPARATE_COMPILATION / BOOST_BEAST_SEPARATE_COMPILATION, set privately in CMake)
// instead of in every translation unit that includes them.
//
// Only third-party code lives here. With -fsanitize GCC 12 reports a false -Wmaybe-uninitialized
// inside Beast's parser (a boost::optional), which -Werror would turn into a failed build.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
