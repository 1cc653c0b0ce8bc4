/* engine: images, containers, runtime, supervision and the planner (see ../shared DESIGN.md). */
#ifndef BERTH_ENGINE_H
#define BERTH_ENGINE_H
#include "../common/common.h"
#endif
