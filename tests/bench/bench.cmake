# orderbus-bench: a program that prints figures, not a test.
add_executable(orderbus-bench ${CMAKE_CURRENT_SOURCE_DIR}/bench/bench.c
                              ${CMAKE_CURRENT_SOURCE_DIR}/bench/bench_subs.c)
target_link_libraries(orderbus-bench PRIVATE ob_flags orderbus_static ob_broker_proc PkgConfig::LMDB
                      Threads::Threads)
target_compile_definitions(orderbus-bench PRIVATE
                           OB_BENCH_BROKER="$<TARGET_FILE:orderbus-broker>")

# orderbus-gateway-bench: the gateway's latency (double event to subscriber, triggers on) and
# backlog drain rate, with a real broker, Marketplace double and gateway.
add_executable(orderbus-gateway-bench ${CMAKE_CURRENT_SOURCE_DIR}/bench/bench_gateway.c)
target_link_libraries(orderbus-gateway-bench PRIVATE ob_flags orderbus_static ob_broker_proc
                      ob_gw_proc ob_mp_double_proc PkgConfig::CZMQ PkgConfig::CURL
                      PkgConfig::JANSSON)
target_compile_definitions(orderbus-gateway-bench PRIVATE
                           OB_BENCH_BROKER="$<TARGET_FILE:orderbus-broker>"
                           OB_BENCH_GATEWAY="$<TARGET_FILE:orderbus-gateway>"
                           OB_BENCH_MP_DOUBLE="$<TARGET_FILE:orderbus-mp-double>")
add_dependencies(orderbus-gateway-bench orderbus-broker orderbus-gateway orderbus-mp-double)

# orderbus-webhook-bench: the webhook adapter's delivery rate to a local keep-alive receiver,
# signatures on, one topic or several (issue 16).
add_executable(orderbus-webhook-bench ${CMAKE_CURRENT_SOURCE_DIR}/bench/bench_webhook.c)
target_link_libraries(orderbus-webhook-bench PRIVATE ob_flags orderbus_static ob_broker_proc
                      ob_gw_proc PkgConfig::CZMQ PkgConfig::MHD Threads::Threads)
target_compile_definitions(orderbus-webhook-bench PRIVATE
                           OB_BENCH_BROKER="$<TARGET_FILE:orderbus-broker>"
                           OB_BENCH_WEBHOOK="$<TARGET_FILE:orderbus-webhook>")
add_dependencies(orderbus-webhook-bench orderbus-broker orderbus-webhook)

# orderbus-rest-bench: REST publish throughput (single events and batches over 64
# connections) and HTTP subscription fetch-and-ack, each beside the same run's ZeroMQ figure,
# with a real broker and gateway.
add_executable(orderbus-rest-bench ${CMAKE_CURRENT_SOURCE_DIR}/bench/bench_rest.c)
target_link_libraries(orderbus-rest-bench PRIVATE ob_flags orderbus_static ob_broker_proc
                      ob_gw_proc ob_common PkgConfig::CZMQ PkgConfig::CURL Threads::Threads)
target_compile_definitions(orderbus-rest-bench PRIVATE
                           OB_BENCH_BROKER="$<TARGET_FILE:orderbus-broker>"
                           OB_BENCH_GATEWAY="$<TARGET_FILE:orderbus-gateway>")
add_dependencies(orderbus-rest-bench orderbus-broker orderbus-gateway)

# The Ordering API facade (issue 17), each with a real broker, Marketplace double and gateway
# on loopback: orderbus-facade-bench reads events through it (limit 100, by from_seq pages);
# orderbus-facade-write-bench times a write through it against the same write to the double.
foreach(bench facade facade_write)
  string(REPLACE "_" "-" name "orderbus-${bench}-bench")
  add_executable(${name} ${CMAKE_CURRENT_SOURCE_DIR}/bench/bench_${bench}.c)
  target_link_libraries(${name} PRIVATE ob_flags orderbus_static ob_broker_proc ob_gw_proc
                        ob_mp_double_proc ob_common PkgConfig::CZMQ PkgConfig::CURL
                        PkgConfig::JANSSON Threads::Threads)
  target_compile_definitions(${name} PRIVATE
                             OB_BENCH_BROKER="$<TARGET_FILE:orderbus-broker>"
                             OB_BENCH_GATEWAY="$<TARGET_FILE:orderbus-gateway>"
                             OB_BENCH_MP_DOUBLE="$<TARGET_FILE:orderbus-mp-double>")
  add_dependencies(${name} orderbus-broker orderbus-gateway orderbus-mp-double)
endforeach()
