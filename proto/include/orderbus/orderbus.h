/*  orderbus: the public API of liborderbus. Include this one header. */
#ifndef OB_ORDERBUS_H
#define OB_ORDERBUS_H

#define OB_VERSION_MAJOR 0
#define OB_VERSION_MINOR 2
#define OB_VERSION_PATCH 0
#define OB_VERSION_STRING "0.5.0"

#include "orderbus/client.h"
#include "orderbus/error.h"
#include "orderbus/event.h"
#include "orderbus/event_json.h"
#include "orderbus/limits.h"
#include "orderbus/pattern.h"
#include "orderbus/result_json.h"
#include "orderbus/wire.h"

#endif
