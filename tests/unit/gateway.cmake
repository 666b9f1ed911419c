# The gateway's pure logic (gateway/, ob_gateway_core, issue 14): Marketplace response
# parsers, the enriched event and its id, the feed cursor against scripted feeds, the OMS
# commands and their outcomes. No HTTP, no broker: the classes are driven directly.
# The parsers' tests wrap the allocator (-Wl,--wrap, gw_alloc.c) to fail each allocation
# in turn.
set(OB_GW_WRAP_ALLOC -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc
    -Wl,--wrap=strdup)
ob_cmocka_test(test_gw_mp_parse
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_gw_mp_parse.c
          ${CMAKE_CURRENT_SOURCE_DIR}/unit/gw_alloc.c
  LIBS ob_gateway_core PkgConfig::JANSSON ${OB_GW_WRAP_ALLOC})
ob_cmocka_test(test_gw_mp_event
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_gw_mp_event.c
  LIBS ob_gateway_core)
ob_cmocka_test(test_gw_poller
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_gw_poller.c
          ${CMAKE_CURRENT_SOURCE_DIR}/unit/gw_alloc.c
  LIBS ob_gateway_core PkgConfig::JANSSON ${OB_GW_WRAP_ALLOC})
ob_cmocka_test(test_gw_command
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_gw_command.c
          ${CMAKE_CURRENT_SOURCE_DIR}/unit/gw_alloc.c
  LIBS ob_gateway_core PkgConfig::JANSSON ${OB_GW_WRAP_ALLOC})
# The daemon's trigger request parser (gateway/trigger.c, in ob_gateway_daemon).
ob_cmocka_test(test_gw_trigger
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_gw_trigger.c
  LIBS ob_gateway_daemon)
# The daemon's configuration (gateway/gw_config.c): sections, flags, checks, secrets.
ob_cmocka_test(test_gw_config
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_gw_config.c
  LIBS ob_gateway_daemon)
