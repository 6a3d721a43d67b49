import CLibbpf
import Glibc
import SystemPackage

/// Writes fixed-size records of type `Record` into a BPF_MAP_TYPE_USER_RINGBUF
/// (user -> kernel) through libbpf's `user_ring_buffer`. The kernel side reads them when
/// it drains the ring (bpf_user_ringbuf_drain), so a submit wakes nothing by itself.
public final class RingProducer<Record: BitwiseCopyable> {
    @usableFromInline let ring: OpaquePointer

    public init(mapFD: Int32) throws(RingError) {
        guard let rb = user_ring_buffer__new(mapFD, nil) else {
            throw .system(call: "user_ring_buffer__new", errno: Errno(rawValue: errno))
        }
        ring = rb
    }

    deinit { user_ring_buffer__free(ring) }

    /// Sends one record; throws `.full` when the kernel side is behind. Inlinable, so that
    /// it is specialised for the record type in the caller (it is on the hot path).
    @inlinable
    public func send(_ record: Record) throws(RingError) {
        guard let slot = user_ring_buffer__reserve(ring, UInt32(MemoryLayout<Record>.size)) else {
            let err = Errno(rawValue: errno)
            throw err == .noSpace ? .full : .system(call: "user_ring_buffer__reserve", errno: err)
        }
        slot.storeBytes(of: record, as: Record.self)
        user_ring_buffer__submit(ring, slot)
    }

    /// Sends records in order until the ring is full; returns how many were sent.
    @inlinable
    public func send(_ records: UnsafeBufferPointer<Record>) throws(RingError) -> Int {
        var sent = 0
        for r in records {
            do {
                try send(r)
            } catch .full {
                break
            }
            sent += 1
        }
        return sent
    }
}
