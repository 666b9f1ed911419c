# Tests of the broker's classes (broker/): the store on LMDB, the configuration, and the
# server actor driven in-process over a real socket (tests/integration/test_broker.c).
# Dependencies are wrapped at link time (-Wl,--wrap) where a test needs to fail them.
ob_cmocka_test(test_broker_store
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_store.c
  LIBS ob_broker_core -Wl,--wrap=mdb_txn_commit -Wl,--wrap=fdatasync)
# The store's write-ahead log: fdatasync and pwritev wrapped to fail on demand.
ob_cmocka_test(test_broker_journal
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_journal.c
  LIBS ob_broker_core -Wl,--wrap=fdatasync -Wl,--wrap=pwritev)
# The writer actor and the commit of a lone batch in the server's thread (writer.h).
ob_cmocka_test(test_broker_writer
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_writer.c
  LIBS ob_test_peer -Wl,--wrap=fdatasync)
# The subscriptions engine's DELIVER runs through a sink of the test's own (no sockets).
ob_cmocka_test(test_broker_subs_runs
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_subs_runs.c
  LIBS ob_broker_core -Wl,--wrap=realloc)
# The configuration needs only config.c, ob_common (options), liborderbus (pattern.c) and the
# metrics address check (metrics_http.c), not the store, the writer or the server: compiling
# it in keeps this test building while those change.
ob_cmocka_test(test_broker_config
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_config.c ${PROJECT_SOURCE_DIR}/broker/config.c
          ${PROJECT_SOURCE_DIR}/broker/metrics_http.c
  LIBS ob_common PkgConfig::MHD)
target_include_directories(test_broker_config PRIVATE ${PROJECT_SOURCE_DIR}/broker)
target_compile_definitions(test_broker_config PRIVATE OB_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
# The broker's metrics and their HTTP listener, driven directly (HTTP through libcurl).
ob_cmocka_test(test_broker_metrics
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_broker_metrics.c
  LIBS ob_broker_core PkgConfig::CURL)
# Subscriptions end to end through the server actor, with raw protocol peers (peer.h).
add_library(ob_test_peer STATIC ${CMAKE_CURRENT_SOURCE_DIR}/integration/peer.c)
target_include_directories(ob_test_peer PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/integration)
target_link_libraries(ob_test_peer PUBLIC ob_broker_core PkgConfig::CMOCKA ob_flags)
target_compile_definitions(ob_test_peer PRIVATE OB_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
ob_cmocka_test(test_broker TIMEOUT 180
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_broker.c
  LIBS ob_test_peer)
target_compile_definitions(test_broker PRIVATE OB_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
ob_cmocka_test(test_subs TIMEOUT 180
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_subs.c
  LIBS ob_test_peer)
# The limits that protect the broker from one client (PROTOCOL.md 5.4); fdatasync wrapped to
# stand for a slow disk, under which max_pending is reached.
ob_cmocka_test(test_limits TIMEOUT 120
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_limits.c
  LIBS ob_test_peer -Wl,--wrap=fdatasync)
# Binding (PROTOCOL.md 3.1): localhost, ipc socket modes, abstract ipc, the endpoint file.
# test_broker_endpoint_ipv6 binds tcp://[::1] and is reported as skipped without IPv6 loopback.
ob_cmocka_test(test_broker_endpoint
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_endpoint.c
  LIBS ob_broker_core)
add_test(NAME test_broker_endpoint_ipv6 COMMAND test_broker_endpoint ipv6)
set_tests_properties(test_broker_endpoint_ipv6 PROPERTIES TIMEOUT 60 SKIP_RETURN_CODE 77)
# A full disk through the server actor: the ERROR reason and the rate of log lines.
ob_cmocka_test(test_broker_diskfull TIMEOUT 120
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_diskfull.c
  LIBS ob_test_peer -Wl,--wrap=mdb_txn_commit -Wl,--wrap=zclock_mono)
# The broker's memory within its documented bound under stalled consumers and connection
# floods: a real broker process (broker_proc.h) and raw peers (README "Memory").
ob_cmocka_test(test_memory TIMEOUT 240
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_memory.c
  LIBS ob_test_peer ob_broker_proc)
if(OB_INSTRUMENTED)
  target_compile_definitions(test_memory PRIVATE OB_TEST_RSS_UNRELIABLE)
else()
  # The stalled consumers for the 30 s of issue 12 (label long: ctest -LE long skips it);
  # not under sanitizers, where RssAnon is not checked and it would add nothing.
  add_test(NAME test_memory_long COMMAND test_memory long)
  set_tests_properties(test_memory_long PROPERTIES TIMEOUT 300 LABELS long
                       ENVIRONMENT "OB_BROKER=$<TARGET_FILE:orderbus-broker>")
endif()
# A session ends when its connection closes, SIGKILL included (PROTOCOL.md 5.4, 15).
ob_cmocka_test(test_sessions TIMEOUT 60
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_sessions.c
  LIBS ob_test_peer ob_broker_proc)
# The codecs of the stored subscription and position records (sub_record.h, pos_record.h).
ob_cmocka_test(test_sub_record
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_sub_record.c
  LIBS ob_broker_core)
# The store's durability path: unclean stops (a child that never closes the store, or is
# killed), the journal cut at every byte of its last records, a flipped bit, a data file
# put next to a journal it does not belong to, checkpoints that fail (fdatasync wrapped)
# (tests/unit/test_store_journal.c).
ob_cmocka_test(test_broker_store_journal TIMEOUT 300
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_store_journal.c
  LIBS ob_test_peer -Wl,--wrap=fdatasync)
# A restart after 1 GiB written since the last checkpoint replays it all (labelled long: it
# writes 2 GiB; sanitizer builds write 64 MiB).
ob_cmocka_test(test_broker_store_replay TIMEOUT 600
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_store_replay.c
  LIBS ob_test_peer)
set_tests_properties(test_broker_store_replay PROPERTIES LABELS long)
if(OB_INSTRUMENTED)
  # the same path with less data: 1 GiB through ASan or TSan would take minutes for nothing more
  set_tests_properties(test_broker_store_replay PROPERTIES ENVIRONMENT "T_REPLAY_MB=64")
endif()
# The journal's commit records (broker/store_record.h): round trip and refusals.
ob_cmocka_test(test_broker_store_record
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_store_record.c
  LIBS ob_broker_core)
