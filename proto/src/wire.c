#include "orderbus/wire.h"
