# Tests of the broker's classes (broker/): the store on LMDB, the configuration, and the
# server actor driven in-process over a real socket (tests/integration/test_broker.c).
# Dependencies are wrapped at link time (-Wl,--wrap) where a test needs to fail them.
ob_cmocka_test(test_broker_store
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_store.c
  LIBS ob_broker_core -Wl,--wrap=mdb_txn_commit)
ob_cmocka_test(test_broker_config
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_config.c
  LIBS ob_broker_core)
target_compile_definitions(test_broker_config PRIVATE OB_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
ob_cmocka_test(test_broker TIMEOUT 180
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_broker.c
  LIBS ob_broker_core)
target_compile_definitions(test_broker PRIVATE OB_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
