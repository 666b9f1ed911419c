# The layout rule of STYLE.md: monitor/, gateway/ and adapters/ include only liborderbus's
# installed headers and common/ (check_layout.sh, a CTest), and the monitor links only
# liborderbus and ob_common (checked here, at configure time: a wrong link fails the build's
# configuration, not only a test).
add_test(NAME check_layout COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/check_layout.sh
                                   ${PROJECT_SOURCE_DIR})
set_tests_properties(check_layout PROPERTIES TIMEOUT 60)

set(OB_MONITOR_LINK_ALLOWED orderbus_static orderbus ob_common ob_flags PkgConfig::JANSSON)
foreach(target IN ITEMS ob_monitor_core orderbus-monitor)
  get_target_property(libs ${target} LINK_LIBRARIES)
  foreach(lib IN LISTS libs)
    if(NOT lib IN_LIST OB_MONITOR_LINK_ALLOWED AND NOT lib STREQUAL "ob_monitor_core")
      message(FATAL_ERROR "${target} links ${lib}: the monitor links only liborderbus and "
                          "ob_common (STYLE.md, Layout)")
    endif()
  endforeach()
endforeach()
