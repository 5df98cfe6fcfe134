# find_package(mattecast): the imported target mattecast::mattecast (the engine library and its
# public header, include/mattecast/mattecast.h). Its dependencies are private to the shared library.
include("${CMAKE_CURRENT_LIST_DIR}/mattecastTargets.cmake")
