/*
 * The reference for the RingBridge benchmark: the same round trip as the Swift bridge
 * (user ring -> kernel program -> kernel ring -> user space), written as a plain C loop
 * over libbpf, to be measured in the same process and the same run.
 */
#ifndef CRINGLOOP_H
#define CRINGLOOP_H

#include <stdint.h>

/*
 * Sends `total` dispatch records in batches of `batch` through the user ring (fd
 * dispatched_fd), runs the echo program (prog_fd) after each batch, and reads every
 * queued record back from the kernel ring (fd queued_fd), checking their order.
 * Returns the records received, or a negative errno.
 */
long c_ring_round_trip(int prog_fd, int queued_fd, int dispatched_fd, long total, int batch);

#endif
