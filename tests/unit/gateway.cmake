# The gateway's pure logic (gateway/, ob_gateway_core, issue 14): Marketplace response
# parsers, the enriched event and its id, the feed cursor against scripted feeds, the OMS
# commands and their outcomes. No HTTP, no broker: the classes are driven directly.
foreach(name mp_parse mp_event poller command)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_gw_${name}.c)
    ob_cmocka_test(test_gw_${name}
      SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_gw_${name}.c
      LIBS ob_gateway_core PkgConfig::JANSSON)
  endif()
endforeach()
