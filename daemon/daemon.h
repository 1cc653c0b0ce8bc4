/* daemon: berthd's event loop and HTTP API. */
#ifndef BERTH_DAEMON_H
#define BERTH_DAEMON_H
#include "../common/common.h"
#endif
