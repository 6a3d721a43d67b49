/* Swift's view of the kernel/user ABI: exactly bpf/intf.h, nothing added. */
#ifndef SWIFTLAND_ABI_H
#define SWIFTLAND_ABI_H
#include <linux/types.h>
#include "../../../bpf/intf.h"
#endif
