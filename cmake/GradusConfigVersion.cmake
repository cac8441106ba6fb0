# GradusConfigVersion.cmake — the version comes from gradus.h next to this package (installed or checkout).
# Compatible when the requested version is not newer and the ABI line matches: same major, and while the major
# is 0, the same minor.
get_filename_component(_gradus_vhere "${CMAKE_CURRENT_LIST_DIR}" REALPATH)
set(_gradus_header "${_gradus_vhere}/../../../include/gradus.h")
if(NOT EXISTS "${_gradus_header}")
  set(_gradus_header "${_gradus_vhere}/../include/gradus.h")
endif()
file(STRINGS "${_gradus_header}" _gradus_defs REGEX "^#define GRADUS_VERSION_(MAJOR|MINOR|PATCH) ")
foreach(_part MAJOR MINOR PATCH)
  string(REGEX REPLACE ".*#define GRADUS_VERSION_${_part} ([0-9]+).*" "\\1" _gradus_${_part} "${_gradus_defs}")
endforeach()
set(PACKAGE_VERSION "${_gradus_MAJOR}.${_gradus_MINOR}.${_gradus_PATCH}")

set(PACKAGE_VERSION_COMPATIBLE FALSE)
if(NOT PACKAGE_FIND_VERSION OR PACKAGE_FIND_VERSION VERSION_EQUAL PACKAGE_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
  if(PACKAGE_FIND_VERSION)
    set(PACKAGE_VERSION_EXACT TRUE)
  endif()
elseif(PACKAGE_FIND_VERSION VERSION_LESS PACKAGE_VERSION
       AND PACKAGE_FIND_VERSION_MAJOR EQUAL _gradus_MAJOR
       AND (NOT _gradus_MAJOR EQUAL 0 OR PACKAGE_FIND_VERSION_MINOR EQUAL _gradus_MINOR))
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
endif()
