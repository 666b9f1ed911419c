#include "orderbus/event.h"
