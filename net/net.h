/* net: netlink, IPAM, nftables, DNS and ports. */
#ifndef BERTH_NET_H
#define BERTH_NET_H
#include "../common/common.h"
#endif
