import CLibbpf
import Glibc
import SystemPackage

/// Reads fixed-size records of type `Record` from a BPF_MAP_TYPE_RINGBUF (kernel -> user)
/// through libbpf's `ring_buffer`.
///
/// Records are copied into storage allocated once, `capacity` records long, so the steady
/// state allocates nothing. libbpf hands records to a C callback one at a time; the
/// callback appends to that storage and stops the consumption when it is full, after
/// storing the last record, so no record is ever consumed without being kept.
public final class RingConsumer<Record: BitwiseCopyable> {
    @usableFromInline let ring: OpaquePointer
    @usableFromInline let sink: UnsafeMutablePointer<Sink>
    @usableFromInline let storage: UnsafeMutablePointer<Record>
    public let capacity: Int

    /// `mapFD`: the ring buffer map; `capacity`: records kept per consume (at least 2).
    public init(mapFD: Int32, capacity: Int) throws(RingError) {
        precondition(capacity >= 2, "a ring consumer needs room for at least 2 records")
        self.capacity = capacity
        storage = .allocate(capacity: capacity)
        sink = .allocate(capacity: 1)
        sink.initialize(to: Sink(base: UnsafeMutableRawPointer(storage), capacity: capacity, count: 0,
                                 recordSize: MemoryLayout<Record>.size, badSize: 0))
        guard let rb = ring_buffer__new(mapFD, sinkCallback, UnsafeMutableRawPointer(sink), nil) else {
            let err = Errno(rawValue: errno)
            sink.deallocate()
            storage.deallocate()
            throw .system(call: "ring_buffer__new", errno: err)
        }
        ring = rb
    }

    deinit {
        ring_buffer__free(ring)
        sink.deallocate()
        storage.deallocate()
    }

    /// The records of the last `consume` or `wait`, valid until the next call.
    @inlinable
    public var records: UnsafeBufferPointer<Record> {
        UnsafeBufferPointer(start: storage, count: sink.pointee.count)
    }

    /// Takes every record available now (up to `capacity`) without blocking; returns how
    /// many. More may remain when it returns `capacity`.
    @discardableResult
    public func consume() throws(RingError) -> Int {
        sink.pointee.count = 0
        try check(ring_buffer__consume(ring), call: "ring_buffer__consume")
        return sink.pointee.count
    }

    /// Blocks (epoll) until the kernel side wakes us or `timeoutMs` passes, then takes
    /// what is available as `consume` does. Returns 0 on timeout.
    @discardableResult
    public func wait(timeoutMs: Int32) throws(RingError) -> Int {
        sink.pointee.count = 0
        try check(ring_buffer__poll(ring, timeoutMs), call: "ring_buffer__poll")
        return sink.pointee.count
    }

    /// Bytes written by the kernel side and not read yet: the queue in the ring.
    public var pendingBytes: Int {
        guard let r = ring_buffer__ring(ring, 0) else { return 0 }
        return Int(ring__avail_data_size(r))
    }

    private func check(_ result: Int32, call: String) throws(RingError) {
        if sink.pointee.badSize != 0 {
            let got = sink.pointee.badSize
            sink.pointee.badSize = 0
            throw .badRecordSize(expected: MemoryLayout<Record>.size, got: got)
        }
        if result >= 0 || result == -ENOSPC || result == -EINTR { return }
        throw .system(call: call, errno: Errno(rawValue: -result))
    }
}

/// What the C callback sees through its context pointer (outside the generic class: a C
/// callback cannot live in a generic context).
@usableFromInline
struct Sink {
    @usableFromInline var base: UnsafeMutableRawPointer
    @usableFromInline var capacity: Int
    @usableFromInline var count: Int
    @usableFromInline var recordSize: Int
    @usableFromInline var badSize: Int  // size of the first record of another size, 0 if none
}

private func sinkCallback(_ ctx: UnsafeMutableRawPointer?, _ data: UnsafeMutableRawPointer?, _ size: Int) -> Int32 {
    let sink = ctx!.assumingMemoryBound(to: Sink.self)
    guard size == sink.pointee.recordSize else {
        if sink.pointee.badSize == 0 { sink.pointee.badSize = size }
        return 0
    }
    let slot = sink.pointee.base + sink.pointee.count * size
    slot.copyMemory(from: data!, byteCount: size)
    sink.pointee.count += 1
    // Full: stop here. This record is already kept, so nothing is lost.
    return sink.pointee.count == sink.pointee.capacity ? -ENOSPC : 0
}
