# Fuzz targets (tests/fuzz/fuzz_<name>.c, each an LLVMFuzzerTestOneInput): the codec's
# decoders, and the broker's configuration parser (config) and command handling (broker, a
# server actor in the process fed sequences of frames; see the top of fuzz_broker.c). Both
# broker targets keep scratch files in /dev/shm/ob-fuzz-*-PID, removed at exit (not after a
# crash).
# The gateway's parsers of Marketplace responses (mp_parse) and of OMS commands (command), its
# trigger request parser (trigger), and of its REST side (issue 15): the tokens file (tokens),
# the request bodies and delivery handles (rest_parse); the Ordering API facade's requests and
# the events its view indexes (facade, issue 17), and its writes (facade_write: request bodies
# to commands, outcomes to answers).
# The broker's stored records (records: sub_record.h, pos_record.h, the commit records of
# store_record.h).
# The store's write-ahead log (journal: its record parser, and a journal made of the input).
# orderbus-webhook's configuration, secret files and Retry-After values (webhook_config).
# Its verification of the signed requests of the way back (webhook_verify).
# orderbus-jira's configuration, the snapshots its builders read and Jira's webhooks (jira).
# The two readers of event JSON behind ob_event_from_json, compared (event_json_diff): it
# includes liborderbus's internal header proto/src/event_json_read.h.
#
# Always: replay_<name> (the target + replay_main.c) and the CTest fuzz_replay_<name>, which
# replays the committed corpus and every regression input, so that a crash once found stays
# fixed in every build, sanitizers or not.
# With OB_FUZZ (the fuzz preset, clang): fuzz_<name>, linked with libFuzzer. For example:
#   build/fuzz/tests/fuzz_event -max_total_time=60 /tmp/corpus-event tests/fuzz/corpus/event
# (new inputs go to the first directory; copy a crash input into regressions/<name>/).
#
# ob_gen_corpus writes the valid seeds of corpus/ from the encoders; see gen_corpus.c.
# Every target links liborderbus, ob_codec and ob_common (base64: common/base64.h).
# Targets of the broker's classes (OB_FUZZ_BROKER_TARGETS) also link ob_broker_core.
set(OB_FUZZ_TARGETS event wire mpscan pattern config broker perms event_json monitor_result base64
    mp_parse command trigger records tokens rest_parse webhook_config webhook_verify jira facade
    facade_write event_json_diff journal)
set(OB_FUZZ_BROKER_TARGETS config broker perms records journal)
# The monitor's reader of admin results (monitor/result.c) links ob_monitor_core.
set(OB_FUZZ_MONITOR_TARGETS monitor_result)
# Targets that see liborderbus's private sources (proto/src).
set(OB_FUZZ_PROTO_INTERNAL_TARGETS event_json_diff)
# The gateway's targets link ob_gateway_rest (which holds ob_gateway_core).
set(OB_FUZZ_GATEWAY_TARGETS mp_parse command tokens rest_parse facade facade_write)
# The trigger request parser lives in the daemon's library (it uses common/base64.h).
set(OB_FUZZ_GATEWAY_DAEMON_TARGETS trigger)
# The webhook adapter's targets link ob_webhook_core.
set(OB_FUZZ_WEBHOOK_TARGETS webhook_config webhook_verify)
# The Jira adapter's target links ob_jira_core.
set(OB_FUZZ_JIRA_TARGETS jira)
set(OB_FUZZ_DIR ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)

foreach(target IN LISTS OB_FUZZ_TARGETS)
  add_executable(replay_${target} ${OB_FUZZ_DIR}/fuzz_${target}.c ${OB_FUZZ_DIR}/replay_main.c)
  target_link_libraries(replay_${target} PRIVATE ob_flags orderbus_static ob_codec ob_common)
  if(target IN_LIST OB_FUZZ_BROKER_TARGETS)
    target_link_libraries(replay_${target} PRIVATE ob_broker_core)
  endif()
  if(target IN_LIST OB_FUZZ_PROTO_INTERNAL_TARGETS)
    target_include_directories(replay_${target} PRIVATE ${PROJECT_SOURCE_DIR}/proto/src)
  endif()
  if(target IN_LIST OB_FUZZ_MONITOR_TARGETS)
    target_link_libraries(replay_${target} PRIVATE ob_monitor_core)
  endif()
  if(target IN_LIST OB_FUZZ_GATEWAY_TARGETS)
    target_link_libraries(replay_${target} PRIVATE ob_gateway_rest)
  endif()
  if(target IN_LIST OB_FUZZ_GATEWAY_DAEMON_TARGETS)
    target_link_libraries(replay_${target} PRIVATE ob_gateway_daemon)
  endif()
  if(target IN_LIST OB_FUZZ_WEBHOOK_TARGETS)
    target_link_libraries(replay_${target} PRIVATE ob_webhook_core)
  endif()
  if(target IN_LIST OB_FUZZ_JIRA_TARGETS)
    target_link_libraries(replay_${target} PRIVATE ob_jira_core)
  endif()
  add_test(NAME fuzz_replay_${target}
           COMMAND replay_${target} ${OB_FUZZ_DIR}/corpus/${target}
                   ${OB_FUZZ_DIR}/regressions/${target})
  set_tests_properties(fuzz_replay_${target} PROPERTIES TIMEOUT 300)

  if(OB_FUZZ)
    add_executable(fuzz_${target} ${OB_FUZZ_DIR}/fuzz_${target}.c)
    target_link_libraries(fuzz_${target} PRIVATE ob_flags orderbus_static ob_codec ob_common)
    if(target IN_LIST OB_FUZZ_BROKER_TARGETS)
      target_link_libraries(fuzz_${target} PRIVATE ob_broker_core)
    endif()
    if(target IN_LIST OB_FUZZ_PROTO_INTERNAL_TARGETS)
      target_include_directories(fuzz_${target} PRIVATE ${PROJECT_SOURCE_DIR}/proto/src)
    endif()
    if(target IN_LIST OB_FUZZ_MONITOR_TARGETS)
      target_link_libraries(fuzz_${target} PRIVATE ob_monitor_core)
    endif()
    if(target IN_LIST OB_FUZZ_GATEWAY_TARGETS)
      target_link_libraries(fuzz_${target} PRIVATE ob_gateway_rest)
    endif()
    if(target IN_LIST OB_FUZZ_GATEWAY_DAEMON_TARGETS)
      target_link_libraries(fuzz_${target} PRIVATE ob_gateway_daemon)
    endif()
    if(target IN_LIST OB_FUZZ_WEBHOOK_TARGETS)
      target_link_libraries(fuzz_${target} PRIVATE ob_webhook_core)
    endif()
    if(target IN_LIST OB_FUZZ_JIRA_TARGETS)
      target_link_libraries(fuzz_${target} PRIVATE ob_jira_core)
    endif()
    target_link_options(fuzz_${target} PRIVATE -fsanitize=fuzzer)
  endif()
endforeach()

add_executable(ob_gen_corpus ${OB_FUZZ_DIR}/gen_corpus.c)
# It links ob_broker_core for the journal's seeds (segments the journal writes).
target_link_libraries(ob_gen_corpus PRIVATE ob_flags orderbus_static ob_broker_core)
