# GradusConfig.cmake — defines the imported target Gradus::gradus (libgradus.so + include/gradus.h).
#
# Relocatable: every path derives from this file's location.
#   installed at <prefix>/lib/cmake/Gradus/  -> <prefix>/lib/libgradus.so, <prefix>/include
#   in a checkout (-DGradus_DIR=<repo>/cmake) -> the newest of <repo>/.build-dist/release, .build/release,
#                                                .build/debug, and <repo>/include
#
#   find_package(Gradus 0.2 REQUIRED CONFIG)
#   target_link_libraries(app PRIVATE Gradus::gradus)   # libopenblas/libnuma come in through DT_NEEDED
include_guard(GLOBAL)

get_filename_component(_gradus_here "${CMAKE_CURRENT_LIST_DIR}" REALPATH)
set(_gradus_lib "")
if(EXISTS "${_gradus_here}/../../../include/gradus.h")
  get_filename_component(_gradus_prefix "${_gradus_here}/../../.." ABSOLUTE)
  set(_gradus_include "${_gradus_prefix}/include")
  if(EXISTS "${_gradus_prefix}/lib/libgradus.so")
    set(_gradus_lib "${_gradus_prefix}/lib/libgradus.so")
  endif()
elseif(EXISTS "${_gradus_here}/../include/gradus.h")
  get_filename_component(_gradus_repo "${_gradus_here}/.." ABSOLUTE)
  set(_gradus_include "${_gradus_repo}/include")
  foreach(_gradus_candidate IN ITEMS .build-dist/release .build/release .build/debug)
    set(_gradus_file "${_gradus_repo}/${_gradus_candidate}/libgradus.so")
    if(EXISTS "${_gradus_file}")
      if(NOT _gradus_lib OR "${_gradus_file}" IS_NEWER_THAN "${_gradus_lib}")
        set(_gradus_lib "${_gradus_file}")
      endif()
    endif()
  endforeach()
endif()

if(NOT _gradus_lib)
  set(Gradus_FOUND FALSE)
  set(Gradus_NOT_FOUND_MESSAGE "libgradus.so not found next to ${CMAKE_CURRENT_LIST_FILE} (install Gradus or build it)")
  return()
endif()

if(NOT TARGET Gradus::gradus)
  add_library(Gradus::gradus SHARED IMPORTED)
  set_target_properties(Gradus::gradus PROPERTIES
    IMPORTED_LOCATION "${_gradus_lib}"
    INTERFACE_INCLUDE_DIRECTORIES "${_gradus_include}")
endif()
set(Gradus_INCLUDE_DIRS "${_gradus_include}")
set(Gradus_LIBRARIES Gradus::gradus)
set(Gradus_FOUND TRUE)
